"""Training-framework YAMLs (axolotl, LLaMA-Factory) read as one canonical PEFT config.

Each dialect is a table: which of its keys map to which `LoraConfig` key, how values convert,
the defaults the framework applies, and the training settings that feed the memory estimate.
Only the PEFT-relevant part of a (usually much larger) training file is read.

Mappings follow axolotl at commit 067b021c (2026-07-24; `src/axolotl/utils/schemas/peft.py`,
`config.py`, `loaders/adapter.py`) and LLaMA-Factory at ff6d4d12 (2026-08-18;
`src/llamafactory/hparams/finetuning_args.py`, `data_args.py`, `model_args.py`).
"""

from typing import Any, Callable, Mapping, NamedTuple

from peftlint.suggest import closest

AXOLOTL, LLAMA_FACTORY = "axolotl", "llama-factory"
VERSIONS = {AXOLOTL: "axolotl 067b021c (2026-07-24)", LLAMA_FACTORY: "LLaMA-Factory ff6d4d12 (2026-08-18)"}
TITLES = {AXOLOTL: "axolotl", LLAMA_FACTORY: "LLaMA-Factory"}
# what each framework does with a key it does not know
UNKNOWN_KEY_EFFECT = {
    AXOLOTL: "axolotl drops unknown keys without a word, so the default is used",
    LLAMA_FACTORY: 'LLaMA-Factory stops with "Some specified arguments are not used by the HfArgumentParser"',
}


def _comma_list(value: Any) -> Any:
    """LLaMA-Factory writes lists as comma-separated strings."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _lf_target(value: Any) -> Any:
    items = _comma_list(value)
    return "all-linear" if items == ["all"] else items


class Key(NamedTuple):
    canonical: str  # the LoraConfig key
    convert: Callable[[Any], Any] | None = None


# dialect key -> canonical key (+ conversion)
AXOLOTL_KEYS: dict[str, Key] = {
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
AXOLOTL_OTHER = {
    "adapter", "lora_model_dir", "lora_target_linear", "lora_on_cpu", "loraplus_lr_ratio", "loraplus_lr_embedding",
    "merge_lora", "merge_method", "peft_autocast_adapter_dtype", "lora_mlp_kernel", "lora_qkv_kernel", "lora_o_kernel",
    "lora_kernel", "peft", "lora_embedding_kernel",
}
LLAMA_FACTORY_KEYS: dict[str, Key] = {
    "lora_rank": Key("r"),
    "lora_alpha": Key("lora_alpha"),
    "lora_dropout": Key("lora_dropout"),
    "lora_target": Key("target_modules", _lf_target),
    "additional_target": Key("modules_to_save", _comma_list),
    "use_dora": Key("use_dora"),
    "use_rslora": Key("use_rslora"),
    "model_name_or_path": Key("base_model_name_or_path"),
}
LLAMA_FACTORY_OTHER = {
    "finetuning_type", "pissa_init", "pissa_iter", "pissa_convert", "loraplus_lr_ratio", "loraplus_lr_embedding",
    "create_new_adapter", "lora_parameters", "lora_ratio", "adapter_name_or_path", "quantization_bit",
    "quantization_method", "quantization_type", "double_quantization",
}
AXOLOTL_MARKERS = frozenset({"lora_r", "lora_target_modules", "lora_target_linear", "lora_modules_to_save", "peft_use_dora", "peft_use_rslora"})
LLAMA_FACTORY_MARKERS = frozenset({"finetuning_type", "lora_rank", "lora_target", "additional_target"})


def detect(mapping: Mapping[str, Any]) -> str | None:
    """Which framework wrote this training YAML, if any (never for a mapping with `peft_type`)."""
    if "peft_type" in mapping:
        return None
    keys = set(mapping)
    if mapping.get("adapter") in ("lora", "qlora") or keys & AXOLOTL_MARKERS:
        return AXOLOTL
    if keys & LLAMA_FACTORY_MARKERS:
        return LLAMA_FACTORY
    return None


class DialectConfig(NamedTuple):
    name: str
    values: dict[str, Any]  # canonical LoraConfig keys
    key_paths: dict[str, str]  # canonical key -> the dialect key it came from, or the one to write
    training: dict[str, Any]  # dtype, quantization, optimizer, batch_size, seq_len, gradient_checkpointing
    unknown_keys: list[dict[str, Any]]  # LoRA-looking keys the framework does not have (typos)
    uses_lora: bool  # the framework will train a LoRA adapter with this file


def _map(mapping: Mapping[str, Any], keys: Mapping[str, Key]) -> tuple[dict[str, Any], dict[str, str]]:
    """Canonical values, and for every canonical key the dialect's name for it (set or not)."""
    values, paths = {}, {key.canonical: dialect_key for dialect_key, key in keys.items()}
    for dialect_key, key in keys.items():
        if dialect_key in mapping and mapping[dialect_key] is not None:
            value = mapping[dialect_key]
            values[key.canonical] = key.convert(value) if key.convert else value
    return values, paths


def _typos(mapping: Mapping[str, Any], known: set[str], prefixes: tuple[str, ...]) -> list[dict[str, Any]]:
    unknown = []
    for key in mapping:
        if isinstance(key, str) and key.startswith(prefixes) and key not in known:
            suggestion = closest(key, sorted(known), cutoff=0.75)
            unknown.append({"key": key, "path": [key], "suggestion": suggestion})
    return unknown


def _dtype(mapping: Mapping[str, Any], default: str) -> str:
    if mapping.get("bf16") in (True, "auto", "true"):
        return "bf16"
    if mapping.get("fp16") in (True, "true"):
        return "fp16"
    return default


def _axolotl(mapping: Mapping[str, Any]) -> DialectConfig:
    values, paths = _map(mapping, AXOLOTL_KEYS)
    if mapping.get("lora_target_linear") is True:  # axolotl adds every Linear except the output layer
        values["target_modules"], paths["target_modules"] = "all-linear", "lora_target_linear"
    values.setdefault("bias", "none")  # hard-coded in axolotl's loaders/adapter.py
    values.setdefault("task_type", "CAUSAL_LM")  # axolotl trains causal LMs
    quantization = "4bit" if mapping.get("load_in_4bit") or mapping.get("adapter") == "qlora" else "8bit" if mapping.get("load_in_8bit") else None
    training = {
        "dtype": _dtype(mapping, "fp32"),
        "quantization": quantization,
        "optimizer": mapping.get("optimizer") or "adamw_torch",
        "batch_size": mapping.get("micro_batch_size") or 1,
        "seq_len": mapping.get("sequence_len") or 512,
        "gradient_checkpointing": bool(mapping.get("gradient_checkpointing")),
    }
    known = set(AXOLOTL_KEYS) | AXOLOTL_OTHER
    return DialectConfig(AXOLOTL, values, paths, training, _typos(mapping, known, ("lora_", "peft_")), mapping.get("adapter") in ("lora", "qlora"))


def _llama_factory(mapping: Mapping[str, Any]) -> DialectConfig:
    values, paths = _map(mapping, LLAMA_FACTORY_KEYS)
    rank = values.get("r", 8)
    values.setdefault("r", 8)
    if "lora_alpha" not in values and isinstance(rank, int):
        values["lora_alpha"] = 2 * rank  # LLaMA-Factory: lora_alpha defaults to lora_rank * 2
    values.setdefault("target_modules", "all-linear")  # lora_target defaults to "all"
    values.setdefault("task_type", "CAUSAL_LM")
    if mapping.get("pissa_init"):
        values["init_lora_weights"] = f"pissa_niter_{mapping.get('pissa_iter', 16)}"
        paths["init_lora_weights"] = "pissa_init"
    bits = mapping.get("quantization_bit")
    training = {
        "dtype": _dtype(mapping, "bf16"),  # torch_dtype "auto": the checkpoint's dtype, bf16 for current LLMs
        "quantization": {4: "4bit", 8: "8bit"}.get(bits),
        "optimizer": mapping.get("optim") or "adamw_torch",
        "batch_size": mapping.get("per_device_train_batch_size") or 8,  # transformers' TrainingArguments default
        "seq_len": mapping.get("cutoff_len") or 2048,
        "gradient_checkpointing": not mapping.get("disable_gradient_checkpointing", False),  # on by default
    }
    known = set(LLAMA_FACTORY_KEYS) | LLAMA_FACTORY_OTHER
    uses_lora = mapping.get("finetuning_type", "lora") == "lora"
    return DialectConfig(LLAMA_FACTORY, values, paths, training, _typos(mapping, known, ("lora_",)), uses_lora)


def read(name: str, mapping: Mapping[str, Any]) -> DialectConfig:
    return _axolotl(mapping) if name == AXOLOTL else _llama_factory(mapping)
