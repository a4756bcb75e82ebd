"""A recommended PEFT config written as the file each tool reads: a peft config (`LoraConfig`
keys), an axolotl, LLaMA-Factory or TRL (`TrlParser`) YAML, with the training settings the budget needs.

The framework keys follow the same versions as the `peftlint.normalize.dialects` plug-ins (axolotl 067b021c,
LLaMA-Factory ff6d4d12, TRL f2cd5771), so `peftlint check` reads back exactly what was written.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from peftlint.enrich.analysis import Training
from peftlint.enrich.distributed import Plan as DistributedPlan
from peftlint.normalize import PROFILE_KEY
from peftlint.normalize.dialects import AXOLOTL, LLAMA_FACTORY, TRL
from peftlint.settings.profile import FIELDS

PEFT = "peft"
DIALECTS = (PEFT, AXOLOTL, LLAMA_FACTORY, TRL)
# keys of the canonical config each framework has its own name for (the rest it sets itself)
_AXOLOTL_KEYS = {
    "r": "lora_r",
    "lora_alpha": "lora_alpha",
    "lora_dropout": "lora_dropout",
    "target_modules": "lora_target_modules",
    "fan_in_fan_out": "lora_fan_in_fan_out",
}
_LLAMA_FACTORY_KEYS = {"r": "lora_rank", "lora_alpha": "lora_alpha", "lora_dropout": "lora_dropout", "target_modules": "lora_target"}
_TRL_KEYS = {
    "r": "lora_r",
    "lora_alpha": "lora_alpha",
    "lora_dropout": "lora_dropout",
    "target_modules": "lora_target_modules",
    "modules_to_save": "lora_modules_to_save",
    "task_type": "lora_task_type",
}


def profile_block(profile: Mapping[str, Any], training: Training) -> dict[str, Any]:
    """The profile the config was made for, in `peftlint:` form; `batch_size` is the micro-batch it trains with."""
    block = {name: profile[name] for name in FIELDS if name in profile}
    if "gpu_memory" in block:
        block["gpu_memory"] = f"{block['gpu_memory']}GiB"
    if "batch_size" in block:
        block["batch_size"] = training.batch_size
    # a plain PEFT config cannot say how it is trained: the profile says it, so `check` estimates the same run
    if training.gradient_checkpointing:
        block["gradient_checkpointing"] = True
    if training.quantization:
        block["quantization"] = training.quantization
    return block


def _mapped(config: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    return {names[key]: value for key, value in config.items() if key in names}


def file_mapping(
    config: Mapping[str, Any],
    training: Training,
    dialect: str,
    *,
    model_id: str,
    accumulation: int = 1,
    profile: Mapping[str, Any] | None = None,
    distributed: DistributedPlan | None = None,
    layer_classes: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The mapping to write; `profile` adds a `peftlint:` block (peft files only: LLaMA-Factory
    refuses keys it does not know, and axolotl drops them); `distributed` adds a framework's
    `deepspeed:` / `fsdp:` keys (naming `layer_classes`, the blocks FSDP wraps, when known)."""
    from peftlint.recommender.launch import dialect_keys

    framework = {AXOLOTL: _axolotl, LLAMA_FACTORY: _llama_factory, TRL: _trl}.get(dialect)
    if framework is not None:
        return {
            **framework(config, training, model_id, accumulation),
            **(dialect_keys(dialect, distributed, training, layer_classes) if distributed else {}),
        }
    mapping = {**config, "base_model_name_or_path": model_id}
    if profile:
        mapping[PROFILE_KEY] = profile_block(profile, training)
    return mapping


def _axolotl(config: Mapping[str, Any], training: Training, model_id: str, accumulation: int) -> dict[str, Any]:
    mapping: dict[str, Any] = {"base_model": model_id, "adapter": "qlora" if training.quantization == "4bit" else "lora"}
    if training.quantization:
        mapping[f"load_in_{training.quantization}"] = True
    mapping.update(_mapped(config, _AXOLOTL_KEYS))
    mapping.update(sequence_len=training.seq_len, micro_batch_size=training.batch_size)
    if accumulation > 1:
        mapping["gradient_accumulation_steps"] = accumulation
    mapping.update(gradient_checkpointing=training.gradient_checkpointing, bf16=True, optimizer="adamw_torch")
    return mapping


def _llama_factory(config: Mapping[str, Any], training: Training, model_id: str, accumulation: int) -> dict[str, Any]:
    mapping: dict[str, Any] = {"model_name_or_path": model_id, "stage": "sft", "do_train": True, "finetuning_type": "lora"}
    mapping.update(_mapped(config, _LLAMA_FACTORY_KEYS))
    mapping["lora_target"] = ",".join(mapping["lora_target"])  # LLaMA-Factory's comma-separated list
    if training.quantization:
        mapping["quantization_bit"] = 4 if training.quantization == "4bit" else 8
    mapping.update(cutoff_len=training.seq_len, per_device_train_batch_size=training.batch_size)
    if accumulation > 1:
        mapping["gradient_accumulation_steps"] = accumulation
    mapping["bf16"] = True
    # LLaMA-Factory checkpoints by default; say so explicitly either way, as the estimate assumes it
    mapping["disable_gradient_checkpointing"] = not training.gradient_checkpointing
    return mapping


def _trl(config: Mapping[str, Any], training: Training, model_id: str, accumulation: int) -> dict[str, Any]:
    mapping: dict[str, Any] = {"model_name_or_path": model_id, "dtype": "bfloat16", "use_peft": True}
    mapping.update(_mapped(config, _TRL_KEYS))
    targets = mapping.get("lora_target_modules")
    if isinstance(targets, list) and len(targets) == 1:
        # TRL hands a one-item list to peft as that string, which peft matches against the whole
        # module path: the regex that means "every module of this name"
        mapping["lora_target_modules"] = rf".*\.{re.escape(targets[0])}"
    if training.quantization:
        mapping[f"load_in_{training.quantization}"] = True
    mapping.update(max_length=training.seq_len, per_device_train_batch_size=training.batch_size)
    if accumulation > 1:
        mapping["gradient_accumulation_steps"] = accumulation
    mapping.update(gradient_checkpointing=training.gradient_checkpointing, bf16=True, optim="adamw_torch")
    return mapping
