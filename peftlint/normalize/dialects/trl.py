"""TRL's `ModelConfig` YAML (used with `TrlParser`), read as a canonical PEFT config.

Follows TRL at commit f2cd5771 (2026-07-24): `trl/trainer/model_config.py` ModelConfig,
`trl/trainer/utils.py` get_peft_config, `trl/scripts/utils.py` TrlParser, `trl/trainer/sft_config.py`.
"""

from typing import Any, Mapping

from peftlint.normalize.dialects.base import Dialect, DialectConfig, Key, lora_keys, map_keys, shared_keys_with, typos

NAME = "trl"


def _target(value: Any) -> Any:
    """TRL's ModelConfig turns a one-item `lora_target_modules` list into that string (peft then
    reads it as `all-linear` or as a regex)."""
    return value[0] if isinstance(value, list) and len(value) == 1 else value


# ModelConfig's LoRA fields and what get_peft_config passes on
KEYS: dict[str, Key] = {
    "lora_r": Key("r"),
    "lora_alpha": Key("lora_alpha"),
    "lora_dropout": Key("lora_dropout"),
    "lora_target_modules": Key("target_modules", _target),
    "lora_target_parameters": Key("target_parameters", _target),
    "lora_modules_to_save": Key("modules_to_save"),
    "lora_task_type": Key("task_type"),
    "use_rslora": Key("use_rslora"),
    "use_dora": Key("use_dora"),
    "model_name_or_path": Key("base_model_name_or_path"),
}
# ModelConfig's other fields, and those of older TRL releases (not typos)
OTHER = {
    "use_peft",
    "model_revision",
    "dtype",
    "torch_dtype",
    "attn_implementation",
    "trust_remote_code",
    "load_in_8bit",
    "load_in_4bit",
    "bnb_4bit_quant_type",
    "use_bnb_nested_quant",
    "bnb_4bit_quant_storage",
    "use_flash_attention_2",
    "base_model_revision",
    "model_code_revision",
}
# keys no other framework has
ONLY = frozenset({"use_peft", "lora_task_type", "use_bnb_nested_quant"})
# LoRA's defaults in TRL's ModelConfig, which differ from LoraConfig's
DEFAULTS = {"r": 16, "lora_alpha": 32, "lora_dropout": 0.05, "task_type": "CAUSAL_LM", "bias": "none"}
_DTYPES = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32", "auto": "bf16"}


def claims(mapping: Mapping[str, Any]) -> bool:
    return not ONLY.isdisjoint(mapping)


def read(mapping: Mapping[str, Any]) -> DialectConfig:
    values, paths = map_keys(mapping, KEYS)
    for key, default in DEFAULTS.items():
        values.setdefault(key, default)
    dtype = mapping.get("dtype", mapping.get("torch_dtype")) or "float32"  # ModelConfig.dtype defaults to float32
    quantization = "4bit" if mapping.get("load_in_4bit") else "8bit" if mapping.get("load_in_8bit") else None
    training = {
        "dtype": _DTYPES.get(dtype, "fp32") if isinstance(dtype, str) else "fp32",
        "quantization": quantization,
        "optimizer": mapping.get("optim") or "adamw_torch",
        "batch_size": mapping.get("per_device_train_batch_size") or 8,  # transformers' TrainingArguments default
        "seq_len": mapping.get("max_length") or mapping.get("max_seq_length") or 1024,  # SFTConfig.max_length
        "gradient_checkpointing": mapping.get("gradient_checkpointing", True) is not False,  # on in TRL's configs
    }
    known = set(KEYS) | OTHER
    lora_only = set(KEYS) - {"model_name_or_path"}
    uses_lora = mapping.get("use_peft") is True
    return DialectConfig(NAME, values, paths, training, typos(mapping, known, ("lora_", "bnb_")), uses_lora, lora_keys(mapping, lora_only))


DIALECT = Dialect(
    name=NAME,
    title="TRL",
    version="TRL f2cd5771 (2026-07-24)",
    lora_switch="`use_peft: true`",
    unknown_key_effect='TrlParser stops with "Unknown arguments from config file"',
    keys=KEYS,
    claims=claims,
    claims_shared=shared_keys_with("model_name_or_path"),
    read=read,
)
