"""Training-framework YAMLs (axolotl, LLaMA-Factory, TRL) read as one canonical PEFT config.

Each dialect is a table: which of its keys map to which `LoraConfig` key, how values convert,
the defaults the framework applies, and the training settings that feed the memory estimate.
Only the PEFT-relevant part of a (usually much larger) training file is read.

Mappings follow axolotl at commit 067b021c (2026-07-24; `src/axolotl/utils/schemas/peft.py`,
`config.py`, `loaders/adapter.py`) and LLaMA-Factory at ff6d4d12 (2026-08-18;
`src/llamafactory/hparams/finetuning_args.py`, `data_args.py`, `model_args.py`) and TRL at
f2cd5771 (2026-07-24; `trl/trainer/model_config.py` ModelConfig, `trl/trainer/utils.py`
get_peft_config, `trl/scripts/utils.py` TrlParser, `trl/trainer/sft_config.py`).
"""

from typing import Any, Callable, Mapping, NamedTuple

from peftlint.enrich.modules import ModuleKind
from peftlint.enrich.targets import LinearNames
from peftlint.suggest import closest

AXOLOTL, LLAMA_FACTORY, TRL = "axolotl", "llama-factory", "trl"
VERSIONS = {AXOLOTL: "axolotl 067b021c (2026-07-24)", LLAMA_FACTORY: "LLaMA-Factory ff6d4d12 (2026-08-18)", TRL: "TRL f2cd5771 (2026-07-24)"}
TITLES = {AXOLOTL: "axolotl", LLAMA_FACTORY: "LLaMA-Factory", TRL: "TRL"}
# what each framework does with a key it does not know
UNKNOWN_KEY_EFFECT = {
    AXOLOTL: "axolotl drops unknown keys without a word, so the default is used",
    LLAMA_FACTORY: 'LLaMA-Factory stops with "Some specified arguments are not used by the HfArgumentParser"',
    TRL: 'TrlParser stops with "Unknown arguments from config file"',
}
# the one setting that makes the framework train LoRA at all
LORA_SWITCH = {AXOLOTL: "`adapter: lora`", LLAMA_FACTORY: "`finetuning_type: lora`", TRL: "`use_peft: true`"}


def _comma_list(value: Any) -> Any:
    """LLaMA-Factory writes lists as comma-separated strings."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _trl_target(value: Any) -> Any:
    """TRL's ModelConfig turns a one-item `lora_target_modules` list into that string (peft then
    reads it as `all-linear` or as a regex)."""
    return value[0] if isinstance(value, list) and len(value) == 1 else value


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
# TRL's ModelConfig (used with TrlParser): the LoRA fields and what get_peft_config passes on
TRL_KEYS: dict[str, Key] = {
    "lora_r": Key("r"),
    "lora_alpha": Key("lora_alpha"),
    "lora_dropout": Key("lora_dropout"),
    "lora_target_modules": Key("target_modules", _trl_target),
    "lora_target_parameters": Key("target_parameters", _trl_target),
    "lora_modules_to_save": Key("modules_to_save"),
    "lora_task_type": Key("task_type"),
    "use_rslora": Key("use_rslora"),
    "use_dora": Key("use_dora"),
    "model_name_or_path": Key("base_model_name_or_path"),
}
# ModelConfig's other fields, and those of older TRL releases (not typos)
TRL_OTHER = {
    "use_peft", "model_revision", "dtype", "torch_dtype", "attn_implementation", "trust_remote_code",
    "load_in_8bit", "load_in_4bit", "bnb_4bit_quant_type", "use_bnb_nested_quant", "bnb_4bit_quant_storage",
    "use_flash_attention_2", "base_model_revision", "model_code_revision",
}
# LoRA's defaults in TRL's ModelConfig, which differ from LoraConfig's
TRL_DEFAULTS = {"r": 16, "lora_alpha": 32, "lora_dropout": 0.05, "task_type": "CAUSAL_LM", "bias": "none"}

# axolotl's find_all_linear_names (src/axolotl/loaders/adapter.py) drops the output layer by name:
# `get_linear_embedding_layers(model_type)[1]` (src/axolotl/loaders/utils.py), "" for every other type
AXOLOTL_OUTPUT_LAYERS = {"gpt_neox": "embed_out", "": "lm_head"}

# Keys of one framework only. `lora_r`, `lora_target_modules` and `lora_modules_to_save` are both
# axolotl's and TRL's (and many home-grown scripts'); the base model's key tells them apart
# (`base_model` / `model_name_or_path`), and without either they are no framework's.
AXOLOTL_ONLY = frozenset({"lora_target_linear", "peft_use_dora", "peft_use_rslora", "lora_model_dir", "lora_fan_in_fan_out"})
TRL_ONLY = frozenset({"use_peft", "lora_task_type", "use_bnb_nested_quant"})
SHARED_LORA_KEYS = frozenset({"lora_r", "lora_target_modules", "lora_modules_to_save"})
LLAMA_FACTORY_ONLY = frozenset({"finetuning_type", "lora_target", "additional_target"})
# `lora_rank` is also what many home-grown scripts (and mlx run records) call the rank: it means
# LLaMA-Factory only next to a key every LLaMA-Factory training file has
LLAMA_FACTORY_CONTEXT = frozenset({"model_name_or_path", "stage", "template", "do_train"})


def detect(mapping: Mapping[str, Any]) -> str | None:
    """Which framework wrote this training YAML, if any (never for a mapping with `peft_type`)."""
    if "peft_type" in mapping:
        return None
    keys = set(mapping)
    if mapping.get("adapter") in ("lora", "qlora") or keys & AXOLOTL_ONLY:
        return AXOLOTL
    if keys & TRL_ONLY:
        return TRL
    if keys & LLAMA_FACTORY_ONLY or ("lora_rank" in keys and keys & LLAMA_FACTORY_CONTEXT):
        return LLAMA_FACTORY
    if keys & SHARED_LORA_KEYS:  # whose: the base model's key says; neither is a script's own JSON
        if "base_model" in keys:
            return AXOLOTL
        if "model_name_or_path" in keys:
            return TRL
    return None


class DialectConfig(NamedTuple):
    name: str
    values: dict[str, Any]  # canonical LoraConfig keys
    key_paths: dict[str, str]  # canonical key -> the dialect key it came from, or the one to write
    training: dict[str, Any]  # dtype, quantization, optimizer, batch_size, seq_len, gradient_checkpointing
    unknown_keys: list[dict[str, Any]]  # LoRA-looking keys the framework does not have (typos)
    uses_lora: bool  # the framework will train a LoRA adapter with this file
    lora_keys: list[str] = []  # the file's LoRA-only keys that hold a value (not a blank placeholder)
    # `target_modules: all-linear` stands for the framework's own list of linear layers, not peft's shorthand
    linear_names: LinearNames | None = None


def _placeholder(value: Any) -> bool:
    """Blank template entries (`lora_r:`, `lora_target_modules: []`, `false`) set nothing."""
    return value is None or value is False or value in ("", [], {})


def _lora_keys(mapping: Mapping[str, Any], lora_only: set[str]) -> list[str]:
    return [key for key in mapping if key in lora_only and not _placeholder(mapping[key])]


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


def _axolotl_linear_names(listed: Any, quantization: str | None) -> LinearNames:
    """`lora_target_linear: true`: axolotl's _build_peft_lora_config passes peft
    `list(set(lora_target_modules + find_all_linear_names(model)))`. find_all_linear_names takes
    the last name segment of every torch / bitsandbytes Linear, so under bitsandbytes, which
    loads transformers' Conv1D layers as Linear4bit / Linear8bitLt, of those too."""
    entries = listed if isinstance(listed, list) else [] if listed is None else [listed]  # a string is one name here
    kinds: tuple[ModuleKind, ...] = ("linear", "conv1d") if quantization else ("linear",)
    return LinearNames(tuple(e for e in entries if isinstance(e, str)), kinds, AXOLOTL_OUTPUT_LAYERS)


def _axolotl(mapping: Mapping[str, Any]) -> DialectConfig:
    values, paths = _map(mapping, AXOLOTL_KEYS)
    quantization = "4bit" if mapping.get("load_in_4bit") or mapping.get("adapter") == "qlora" else "8bit" if mapping.get("load_in_8bit") else None
    linear_names = None
    if mapping.get("lora_target_linear") is True:  # axolotl adds every Linear except the output layer
        linear_names = _axolotl_linear_names(values.get("target_modules"), quantization)
        values["target_modules"], paths["target_modules"] = "all-linear", "lora_target_linear"
    values.setdefault("bias", "none")  # hard-coded in axolotl's loaders/adapter.py
    values.setdefault("task_type", "CAUSAL_LM")  # axolotl trains causal LMs
    training = {
        "dtype": _dtype(mapping, "fp32"),
        "quantization": quantization,
        "optimizer": mapping.get("optimizer") or "adamw_torch",
        "batch_size": mapping.get("micro_batch_size") or 1,
        "seq_len": mapping.get("sequence_len") or 512,
        "gradient_checkpointing": bool(mapping.get("gradient_checkpointing")),
    }
    known = set(AXOLOTL_KEYS) | AXOLOTL_OTHER
    lora_only = known - {"base_model", "adapter", "peft", "merge_method"}
    uses_lora = mapping.get("adapter") in ("lora", "qlora")
    typos = _typos(mapping, known, ("lora_", "peft_"))
    return DialectConfig(AXOLOTL, values, paths, training, typos, uses_lora, _lora_keys(mapping, lora_only), linear_names)


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
    # OFT shares `additional_target` and `create_new_adapter`; freeze/full share the quantization keys
    lora_only = {"lora_rank", "lora_alpha", "lora_dropout", "lora_target", "use_dora", "use_rslora", "pissa_init", "loraplus_lr_ratio"}
    return DialectConfig(LLAMA_FACTORY, values, paths, training, _typos(mapping, known, ("lora_",)), uses_lora, _lora_keys(mapping, lora_only))


_TRL_DTYPES = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32", "auto": "bf16"}


def _trl(mapping: Mapping[str, Any]) -> DialectConfig:
    values, paths = _map(mapping, TRL_KEYS)
    for key, default in TRL_DEFAULTS.items():
        values.setdefault(key, default)
    dtype = mapping.get("dtype", mapping.get("torch_dtype")) or "float32"  # ModelConfig.dtype defaults to float32
    quantization = "4bit" if mapping.get("load_in_4bit") else "8bit" if mapping.get("load_in_8bit") else None
    training = {
        "dtype": _TRL_DTYPES.get(dtype, "fp32") if isinstance(dtype, str) else "fp32",
        "quantization": quantization,
        "optimizer": mapping.get("optim") or "adamw_torch",
        "batch_size": mapping.get("per_device_train_batch_size") or 8,  # transformers' TrainingArguments default
        "seq_len": mapping.get("max_length") or mapping.get("max_seq_length") or 1024,  # SFTConfig.max_length
        "gradient_checkpointing": mapping.get("gradient_checkpointing", True) is not False,  # on in TRL's configs
    }
    known = set(TRL_KEYS) | TRL_OTHER
    lora_only = set(TRL_KEYS) - {"model_name_or_path"}
    uses_lora = mapping.get("use_peft") is True
    return DialectConfig(TRL, values, paths, training, _typos(mapping, known, ("lora_", "bnb_")), uses_lora, _lora_keys(mapping, lora_only))


_READERS: dict[str, Callable[[Mapping[str, Any]], DialectConfig]] = {AXOLOTL: _axolotl, LLAMA_FACTORY: _llama_factory, TRL: _trl}


def read(name: str, mapping: Mapping[str, Any]) -> DialectConfig:
    return _READERS[name](mapping)
