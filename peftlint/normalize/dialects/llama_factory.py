"""LLaMA-Factory's YAML, read as a canonical PEFT config.

Follows LLaMA-Factory at commit ff6d4d12 (2026-08-18): `src/llamafactory/hparams/finetuning_args.py`,
`data_args.py`, `model_args.py`; `lora_target: all` as `model/adapter.py` (_setup_lora_tuning) and
`model/model_utils/misc.py` (find_all_linear_modules), `model_utils/visual.py` resolve it.
"""

from typing import Any, Mapping

from peftlint.normalize.dialects.base import Dialect, DialectConfig, Key, LinearNames, claims_nothing, dtype, lora_keys, map_keys, typos

NAME = "llama-factory"


def _comma_list(value: Any) -> Any:
    """LLaMA-Factory writes lists as comma-separated strings."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _target(value: Any) -> Any:
    items = _comma_list(value)
    return "all-linear" if items == ["all"] else items


# LLaMA-Factory key -> canonical key (+ conversion)
KEYS: dict[str, Key] = {
    "lora_rank": Key("r"),
    "lora_alpha": Key("lora_alpha"),
    "lora_dropout": Key("lora_dropout"),
    "lora_target": Key("target_modules", _target),
    "additional_target": Key("modules_to_save", _comma_list),
    "use_dora": Key("use_dora"),
    "use_rslora": Key("use_rslora"),
    "model_name_or_path": Key("base_model_name_or_path"),
}
OTHER = {
    "finetuning_type",
    "pissa_init",
    "pissa_iter",
    "pissa_convert",
    "loraplus_lr_ratio",
    "loraplus_lr_embedding",
    "create_new_adapter",
    "lora_parameters",
    "lora_ratio",
    "adapter_name_or_path",
    "quantization_bit",
    "quantization_method",
    "quantization_type",
    "double_quantization",
}
# keys no other framework has
ONLY = frozenset({"finetuning_type", "lora_target", "additional_target"})
# `lora_rank` is also what many home-grown scripts (and mlx run records) call the rank: it means
# LLaMA-Factory only next to a key every LLaMA-Factory training file has
CONTEXT = frozenset({"model_name_or_path", "stage", "template", "do_train"})
# OFT shares `additional_target` and `create_new_adapter`; freeze/full share the quantization keys
LORA_ONLY = {"lora_rank", "lora_alpha", "lora_dropout", "lora_target", "use_dora", "use_rslora", "pissa_init", "loraplus_lr_ratio"}


# find_all_linear_modules skips every module whose dotted path contains one of these (its
# forbidden_modules): the output layer, by the names LLaMA-Factory knows; an output layer of
# another name is a Linear like the rest and is adapted
SKIPPED_PATHS = {"": ("lm_head",), "chatglm": ("output_layer",), "internlm2": ("output",)}
# COMPOSITE_MODELS (model_utils/visual.py): for these multimodal models find_all_linear_modules also
# skips the projector (and the vision tower unless `freeze_vision_tower: false`), and
# patch_target_modules then turns the names into every module path that contains one (substring
# match) outside the frozen parts and the `lora_conflict_keys`: not modelled here
COMPOSITE_MODEL_TYPES = frozenset(
    {
        "dots_ocr",
        "gemma3",
        "gemma3n",
        "gemma4",
        "glm4v",
        "glm4v_moe",
        "glm_ocr",
        "internvl",
        "interns1",
        "Keye",
        "kimi_vl",
        "llama4",
        "llava",
        "llava_next",
        "llava_next_video",
        "minicpmv",
        "minicpmv4_6",
        "minicpmo",
        "mistral3",
        "moss_vl",
        "mllama",
        "paligemma",
        "qwen2_audio",
        "qwen2_5_omni_thinker",
        "qwen2_vl",
        "qwen2_5_vl",
        "qwen3_vl",
        "qwen3_vl_moe",
        "qwen3_omni_moe_thinker",
        "qwen3_5",
        "qwen3_5_moe",
        "video_llava",
    }
)
UNMODELLED = dict.fromkeys(
    COMPOSITE_MODEL_TYPES,
    (
        "LLaMA-Factory's `lora_target: all` on a multimodal model (patch_target_modules: module paths by substring, "
        "the vision tower and projector left out) is not modelled"
    ),
)


def linear_names(mapping: Mapping[str, Any]) -> LinearNames:
    """`lora_target: all` (the default): _setup_lora_tuning passes peft find_all_linear_modules(model),
    the last name segment of every module whose class name has "Linear" (and not "Embedding") in
    it, outside the skipped paths. bitsandbytes, LLaMA-Factory's default `quantization_method`,
    loads transformers' Conv1D layers as Linear4bit / Linear8bitLt, so those count too."""
    bitsandbytes = mapping.get("quantization_bit") is not None and mapping.get("quantization_method", "bnb") == "bnb"
    kinds = ("linear", "conv1d") if bitsandbytes else ("linear",)
    return LinearNames((), kinds, skipped_paths=SKIPPED_PATHS, unmodelled=UNMODELLED)


def claims(mapping: Mapping[str, Any]) -> bool:
    return not ONLY.isdisjoint(mapping) or ("lora_rank" in mapping and not CONTEXT.isdisjoint(mapping))


def read(mapping: Mapping[str, Any]) -> DialectConfig:
    values, paths = map_keys(mapping, KEYS)
    rank = values.get("r", 8)
    values.setdefault("r", 8)
    if "lora_alpha" not in values and isinstance(rank, int):
        values["lora_alpha"] = 2 * rank  # LLaMA-Factory: lora_alpha defaults to lora_rank * 2
    values.setdefault("target_modules", "all-linear")  # lora_target defaults to "all"
    # "all" is LLaMA-Factory's own list of linear layers, never peft's `all-linear`
    names = linear_names(mapping) if values["target_modules"] == "all-linear" else None
    values.setdefault("task_type", "CAUSAL_LM")
    if mapping.get("pissa_init"):
        values["init_lora_weights"] = f"pissa_niter_{mapping.get('pissa_iter', 16)}"
        paths["init_lora_weights"] = "pissa_init"
    bits = mapping.get("quantization_bit")
    training = {
        "dtype": dtype(mapping, "bf16"),  # torch_dtype "auto": the checkpoint's dtype, bf16 for current LLMs
        # an int only: a list (unhashable) as the key of a dict lookup was a TypeError traceback
        "quantization": {4: "4bit", 8: "8bit"}.get(bits) if isinstance(bits, int) else None,
        "optimizer": mapping.get("optim") or "adamw_torch",
        "batch_size": mapping.get("per_device_train_batch_size") or 8,  # transformers' TrainingArguments default
        "seq_len": mapping.get("cutoff_len") or 2048,
        "gradient_checkpointing": not mapping.get("disable_gradient_checkpointing", False),  # on by default
    }
    known = set(KEYS) | OTHER
    uses_lora = mapping.get("finetuning_type", "lora") == "lora"
    return DialectConfig(NAME, values, paths, training, typos(mapping, known, ("lora_",)), uses_lora, lora_keys(mapping, LORA_ONLY), names)


DIALECT = Dialect(
    name=NAME,
    title="LLaMA-Factory",
    version="LLaMA-Factory ff6d4d12 (2026-08-18)",
    lora_switch="`finetuning_type: lora`",
    unknown_key_effect='LLaMA-Factory stops with "Some specified arguments are not used by the HfArgumentParser"',
    keys=KEYS,
    claims=claims,
    claims_shared=claims_nothing,  # it shares no LoRA key name with another framework
    read=read,
)
