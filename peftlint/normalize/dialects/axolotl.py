"""axolotl's YAML, read as a canonical PEFT config.

Follows axolotl at commit 067b021c (2026-07-24): `src/axolotl/utils/schemas/peft.py`,
`config.py`, `loaders/adapter.py`.
"""

from typing import Any, Mapping

from peftlint.normalize.dialects.base import (
    Dialect,
    DialectConfig,
    Key,
    LinearNames,
    dtype,
    lora_keys,
    map_keys,
    shared_keys_with,
    typos,
)

NAME = "axolotl"

# axolotl key -> canonical key (+ conversion)
KEYS: dict[str, Key] = {
    "lora_r": Key("r"),
    "lora_alpha": Key("lora_alpha"),
    "lora_dropout": Key("lora_dropout"),
    "lora_target_modules": Key("target_modules"),
    "lora_target_parameters": Key("target_parameters"),
    "lora_modules_to_save": Key("modules_to_save"),
    "lora_fan_in_fan_out": Key("fan_in_fan_out"),
    "lora_rank_pattern": Key("rank_pattern"),
    "lora_alpha_pattern": Key("alpha_pattern"),
    "peft_use_dora": Key("use_dora"),
    "peft_use_rslora": Key("use_rslora"),
    "peft_layers_to_transform": Key("layers_to_transform"),
    "peft_layers_pattern": Key("layers_pattern"),
    "peft_init_lora_weights": Key("init_lora_weights"),
    "peft_layer_replication": Key("layer_replication"),
    "peft_trainable_token_indices": Key("trainable_token_indices"),
    "peft_ensure_weight_tying": Key("ensure_weight_tying"),
    "base_model": Key("base_model_name_or_path"),
}
# keys axolotl knows that are PEFT-related but have no LoraConfig counterpart (not typos)
OTHER = {
    "adapter",
    "lora_model_dir",
    "lora_target_linear",
    "lora_on_cpu",
    "loraplus_lr_ratio",
    "loraplus_lr_embedding",
    "merge_lora",
    "merge_method",
    "peft_autocast_adapter_dtype",
    "lora_mlp_kernel",
    "lora_qkv_kernel",
    "lora_o_kernel",
    "lora_kernel",
    "peft",
    "lora_embedding_kernel",
}
# keys no other framework has
ONLY = frozenset({"lora_target_linear", "peft_use_dora", "peft_use_rslora", "lora_model_dir", "lora_fan_in_fan_out"})

# axolotl's find_all_linear_names (src/axolotl/loaders/adapter.py) drops the output layer by name:
# `get_linear_embedding_layers(model_type)[1]` (src/axolotl/loaders/utils.py), "" for every other type
OUTPUT_LAYERS = {"gpt_neox": "embed_out", "": "lm_head"}


def claims(mapping: Mapping[str, Any]) -> bool:
    return mapping.get("adapter") in ("lora", "qlora") or not ONLY.isdisjoint(mapping)


def _linear_names(listed: Any, quantization: str | None) -> LinearNames:
    """`lora_target_linear: true`: axolotl's _build_peft_lora_config passes peft
    `list(set(lora_target_modules + find_all_linear_names(model)))`. find_all_linear_names takes
    the last name segment of every torch / bitsandbytes Linear, so under bitsandbytes, which
    loads transformers' Conv1D layers as Linear4bit / Linear8bitLt, of those too."""
    entries = listed if isinstance(listed, list) else [] if listed is None else [listed]  # a string is one name here
    kinds = ("linear", "conv1d") if quantization else ("linear",)
    return LinearNames(tuple(e for e in entries if isinstance(e, str)), kinds, OUTPUT_LAYERS)


def read(mapping: Mapping[str, Any]) -> DialectConfig:
    values, paths = map_keys(mapping, KEYS)
    quantization = (
        "4bit" if mapping.get("load_in_4bit") or mapping.get("adapter") == "qlora" else "8bit" if mapping.get("load_in_8bit") else None
    )
    linear_names = None
    if mapping.get("lora_target_linear") is True:  # axolotl adds every Linear except the output layer
        linear_names = _linear_names(values.get("target_modules"), quantization)
        values["target_modules"], paths["target_modules"] = "all-linear", "lora_target_linear"
    values.setdefault("bias", "none")  # hard-coded in axolotl's loaders/adapter.py
    values.setdefault("task_type", "CAUSAL_LM")  # axolotl trains causal LMs
    training = {
        "dtype": dtype(mapping, "fp32"),
        "quantization": quantization,
        "optimizer": mapping.get("optimizer") or "adamw_torch",
        "batch_size": mapping.get("micro_batch_size") or 1,
        "seq_len": mapping.get("sequence_len") or 512,
        "gradient_checkpointing": bool(mapping.get("gradient_checkpointing")),
    }
    known = set(KEYS) | OTHER
    lora_only = known - {"base_model", "adapter", "peft", "merge_method"}
    uses_lora = mapping.get("adapter") in ("lora", "qlora")
    unknown = typos(mapping, known, ("lora_", "peft_"))
    return DialectConfig(NAME, values, paths, training, unknown, uses_lora, lora_keys(mapping, lora_only), linear_names)


DIALECT = Dialect(
    name=NAME,
    title="axolotl",
    version="axolotl 067b021c (2026-07-24)",
    lora_switch="`adapter: lora`",
    unknown_key_effect="axolotl drops unknown keys without a word, so the default is used",
    keys=KEYS,
    claims=claims,
    claims_shared=shared_keys_with("base_model"),
    read=read,
)
