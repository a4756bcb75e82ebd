"""Shared helpers for the enrich tests: real transformers models on the meta device, and peft
applied to them as the oracle. torch/transformers/peft are imported inside the helpers so that
collecting tests that don't need them stays cheap."""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path
from typing import Any

from peftlint.enrich.exact import AUTO_CLASSES as EXACT_AUTO_CLASSES
from peftlint.enrich.legacy import modern_config
from peftlint.resources import data_dir

# Real published config.json files, the set peftlint bundles (each with its SOURCE.md), so that the
# tests need nothing outside the repository.
MODELS_DIR = data_dir() / "models"
BUNDLED_MODELS = sorted(f"bundled/{p.parent.name}" for p in MODELS_DIR.glob("*/config.json"))
# One model per family the team checks every change against: too slow for all of BUNDLED_MODELS.
REFERENCE_MODELS = [
    f"bundled/{name}"
    for name in (
        "meta-llama--Llama-2-7b-hf",
        "meta-llama--Meta-Llama-3-8B",
        "meta-llama--Llama-3.2-1B",
        "mistralai--Mistral-7B-v0.1",
        "Qwen--Qwen2.5-0.5B",
        "Qwen--Qwen2.5-7B",
        "openai-community--gpt2",
        "google-bert--bert-base-uncased",
        "distilbert--distilbert-base-uncased",
        "FacebookAI--roberta-base",
    )
]

# What each architecture is usually fine-tuned as, where that is not a causal LM.
TASKS = {
    **dict.fromkeys(("bert", "roberta", "distilbert", "deberta-v2", "electra", "xlm-roberta"), "SEQ_CLS"),
    **dict.fromkeys(("t5", "mt5", "bart", "m2m_100", "whisper"), "SEQ_2_SEQ_LM"),
    "vit": None,
}
AUTO_CLASSES = {**EXACT_AUTO_CLASSES, None: "AutoModel"}  # the classes the [exact] fallback builds
SPEECH = {"whisper"}  # their seq2seq heads live in AutoModelForSpeechSeq2Seq


def _config_dir(name: str) -> Path:
    directory = MODELS_DIR / name.removeprefix("bundled/")
    assert (directory / "config.json").is_file(), f"{directory} is not a bundled model"
    return directory


def model_config(name: str) -> Any:
    """The transformers config of a bundled model (`bundled/<dir>`)."""
    from transformers import AutoConfig

    raw = raw_config(name)
    if raw != _file(name):  # a legacy file (Falcon's RefinedWebModel): transformers reads its conversion
        return AutoConfig.for_model(**raw)
    return AutoConfig.from_pretrained(_config_dir(name))


def _file(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((_config_dir(name) / "config.json").read_text(encoding="utf-8"))
    return loaded


def raw_config(name: str) -> dict[str, Any]:
    """The same model's config.json as plain JSON: what peftlint reads at runtime (a legacy file
    as transformers' conversion script rewrites it)."""
    return modern_config(_file(name))


def tiny_config(model_type: str, **overrides: Any) -> Any:
    from transformers import AutoConfig

    return AutoConfig.for_model(model_type, **overrides)


def default_task(config: Any) -> str | None:
    return TASKS.get(config.model_type, "CAUSAL_LM")


def build_model(config: Any, task_type: str | None, device: str = "meta") -> Any:
    """A freshly initialised model (no weights, no download) for `task_type`."""
    import torch
    import transformers

    speech = config.model_type in SPEECH and task_type == "SEQ_2_SEQ_LM"
    auto = getattr(transformers, "AutoModelForSpeechSeq2Seq" if speech else AUTO_CLASSES[task_type])
    if task_type == "CAUSAL_LM" and config.model_type not in transformers.models.auto.modeling_auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        auto = transformers.AutoModelForImageTextToText  # a multimodal model: what LLaMA-Factory and axolotl load
    with torch.device(device):
        return auto.from_config(config)


def peft_model(model: Any, config: dict[str, Any], peft_type: str, task_type: str | None, device: str = "meta") -> Any:
    """The oracle: `get_peft_model` with the config as a user would pass it (peft mutates its lists)."""
    import torch
    from peft import PEFT_TYPE_TO_CONFIG_MAPPING, get_peft_model

    with warnings.catch_warnings(), torch.device(device):
        warnings.simplefilter("ignore")  # peft warns about exactly the choices these tests make on purpose
        peft_config = PEFT_TYPE_TO_CONFIG_MAPPING[peft_type](task_type=task_type, **copy.deepcopy(config))
        return get_peft_model(model, peft_config)
