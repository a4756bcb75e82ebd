"""Bundled base-model configs: real published files, found by Hub id, each naming its source."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from peftlint.enrich.bundled import bundled_config, bundled_ids
from peftlint.enrich.legacy import modern_config
from peftlint.resources import data_dir

MODELS_DIR = data_dir() / "models"

# Parameter counts as the Hub / model cards publish them, and the class that holds them.
PUBLISHED: dict[str, tuple[float, str]] = {
    "meta-llama/Llama-2-7b-hf": (6.74e9, "AutoModelForCausalLM"),
    "meta-llama/Llama-2-13b-hf": (13.0e9, "AutoModelForCausalLM"),
    "meta-llama/Llama-2-70b-hf": (69.0e9, "AutoModelForCausalLM"),
    "meta-llama/Meta-Llama-3-8B": (8.03e9, "AutoModelForCausalLM"),
    "meta-llama/Llama-3.1-8B": (8.03e9, "AutoModelForCausalLM"),
    "meta-llama/Llama-3.2-1B": (1.24e9, "AutoModelForCausalLM"),
    "meta-llama/Llama-3.2-3B-Instruct": (3.21e9, "AutoModelForCausalLM"),
    "mistralai/Mistral-7B-v0.1": (7.24e9, "AutoModelForCausalLM"),
    "mistralai/Mistral-7B-v0.3": (7.25e9, "AutoModelForCausalLM"),
    "mistralai/Mistral-Nemo-Base-2407": (12.2e9, "AutoModelForCausalLM"),
    "mistralai/Mixtral-8x7B-v0.1": (46.7e9, "AutoModelForCausalLM"),
    "Qwen/Qwen2-7B": (7.62e9, "AutoModelForCausalLM"),
    "Qwen/Qwen1.5-7B-Chat": (7.72e9, "AutoModelForCausalLM"),
    "Qwen/Qwen2-1.5B-Instruct": (1.54e9, "AutoModelForCausalLM"),
    "Qwen/Qwen2.5-0.5B": (0.494e9, "AutoModelForCausalLM"),
    "Qwen/Qwen2.5-7B": (7.62e9, "AutoModelForCausalLM"),
    "Qwen/Qwen3-0.6B": (0.6e9, "AutoModelForCausalLM"),
    "Qwen/Qwen3-8B": (8.2e9, "AutoModelForCausalLM"),
    "google/gemma-2b": (2.51e9, "AutoModelForCausalLM"),
    "google/gemma-2-2b": (2.61e9, "AutoModelForCausalLM"),
    "google/gemma-2-9b": (9.24e9, "AutoModelForCausalLM"),
    "google/gemma-3-1b-it": (1.0e9, "AutoModelForCausalLM"),
    "microsoft/phi-2": (2.78e9, "AutoModelForCausalLM"),
    "microsoft/Phi-3-mini-4k-instruct": (3.82e9, "AutoModelForCausalLM"),
    "tiiuae/falcon-7b": (6.92e9, "AutoModelForCausalLM"),
    "tiiuae/falcon-7b-instruct": (6.92e9, "AutoModelForCausalLM"),
    "EleutherAI/gpt-j-6b": (6.05e9, "AutoModelForCausalLM"),
    "EleutherAI/pythia-1b": (1.01e9, "AutoModelForCausalLM"),
    "facebook/opt-125m": (125e6, "AutoModelForCausalLM"),
    "facebook/opt-350m": (331e6, "AutoModelForCausalLM"),
    "bigscience/bloom-560m": (559e6, "AutoModelForCausalLM"),
    "openai-community/gpt2": (124e6, "AutoModelForCausalLM"),
    "google-t5/t5-base": (223e6, "AutoModelForSeq2SeqLM"),
    "facebook/bart-base": (139e6, "AutoModelForSeq2SeqLM"),
    "google-bert/bert-base-uncased": (110e6, "AutoModel"),
    "google-bert/bert-large-uncased": (335e6, "AutoModel"),
    "FacebookAI/roberta-base": (125e6, "AutoModel"),
    "distilbert/distilbert-base-uncased": (66.4e6, "AutoModel"),
    "microsoft/deberta-v3-base": (184e6, "AutoModel"),
    "openai/whisper-small": (244e6, "AutoModelForSpeechSeq2Seq"),
    "google/vit-base-patch16-224-in21k": (86.4e6, "AutoModel"),
    # the base models most published adapters name, and their Instruct/chat variants
    "meta-llama/Meta-Llama-3-8B-Instruct": (8.03e9, "AutoModelForCausalLM"),
    "meta-llama/Llama-3.1-8B-Instruct": (8.03e9, "AutoModelForCausalLM"),
    "meta-llama/Llama-3.1-70B-Instruct": (70.6e9, "AutoModelForCausalLM"),
    "meta-llama/Llama-3.2-1B-Instruct": (1.24e9, "AutoModelForCausalLM"),
    "meta-llama/Llama-3.2-3B": (3.21e9, "AutoModelForCausalLM"),
    "TinyLlama/TinyLlama-1.1B-Chat-v1.0": (1.1e9, "AutoModelForCausalLM"),
    "TinyLlama/TinyLlama_v1.1": (1.1e9, "AutoModelForCausalLM"),
    "Qwen/Qwen2-0.5B-Instruct": (0.494e9, "AutoModelForCausalLM"),
    "Qwen/Qwen2-0.5B": (0.494e9, "AutoModelForCausalLM"),
    "Qwen/Qwen2.5-1.5B": (1.54e9, "AutoModelForCausalLM"),
    "Qwen/Qwen2.5-3B": (3.09e9, "AutoModelForCausalLM"),
    "Qwen/Qwen2.5-3B-Instruct": (3.09e9, "AutoModelForCausalLM"),
    "Qwen/Qwen2.5-14B": (14.8e9, "AutoModelForCausalLM"),
    "Qwen/Qwen2.5-32B": (32.8e9, "AutoModelForCausalLM"),
    "Qwen/Qwen3-1.7B": (1.72e9, "AutoModelForCausalLM"),
    "Qwen/Qwen3-14B": (14.8e9, "AutoModelForCausalLM"),
    "Qwen/Qwen3-32B": (32.8e9, "AutoModelForCausalLM"),
    "Qwen/Qwen3-30B-A3B": (30.5e9, "AutoModelForCausalLM"),
    "Qwen/Qwen3-30B-A3B-Instruct-2507": (30.5e9, "AutoModelForCausalLM"),
    "Qwen/Qwen3-235B-A22B-Instruct-2507": (235e9, "AutoModelForCausalLM"),
    "google/gemma-2-9b-it": (9.24e9, "AutoModelForCausalLM"),
    "google/gemma-2-27b-it": (27.2e9, "AutoModelForCausalLM"),
    "microsoft/phi-1_5": (1.42e9, "AutoModelForCausalLM"),
    "microsoft/Phi-3.5-mini-instruct": (3.82e9, "AutoModelForCausalLM"),
    "microsoft/Phi-4-mini-instruct": (3.84e9, "AutoModelForCausalLM"),
    "HuggingFaceTB/SmolLM-135M-Instruct": (135e6, "AutoModelForCausalLM"),
    "HuggingFaceTB/SmolLM-360M-Instruct": (362e6, "AutoModelForCausalLM"),
    "HuggingFaceTB/SmolLM-1.7B-Instruct": (1.71e9, "AutoModelForCausalLM"),
    "HuggingFaceTB/SmolLM2-135M-Instruct": (135e6, "AutoModelForCausalLM"),
    "HuggingFaceTB/SmolLM2-360M-Instruct": (362e6, "AutoModelForCausalLM"),
    "openai-community/gpt2-medium": (355e6, "AutoModelForCausalLM"),
    "google-t5/t5-small": (60.5e6, "AutoModelForSeq2SeqLM"),
    "google-t5/t5-large": (738e6, "AutoModelForSeq2SeqLM"),
    "Qwen/Qwen3-4B": (4.02e9, "AutoModelForCausalLM"),
    "Qwen/Qwen3-4B-Instruct-2507": (4.02e9, "AutoModelForCausalLM"),
    "meta-llama/Meta-Llama-3-70B": (70.6e9, "AutoModelForCausalLM"),
    "HuggingFaceTB/SmolLM2-1.7B-Instruct": (1.71e9, "AutoModelForCausalLM"),
    "google/gemma-2-2b-it": (2.61e9, "AutoModelForCausalLM"),
    "codellama/CodeLlama-7b-hf": (6.74e9, "AutoModelForCausalLM"),
    "mistralai/Mistral-7B-Instruct-v0.3": (7.25e9, "AutoModelForCausalLM"),
    "Qwen/Qwen2.5-0.5B-Instruct": (0.494e9, "AutoModelForCausalLM"),
    "Qwen/Qwen2.5-1.5B-Instruct": (1.54e9, "AutoModelForCausalLM"),
    "Qwen/Qwen2.5-7B-Instruct": (7.62e9, "AutoModelForCausalLM"),
    "Qwen/Qwen3-8B-Base": (8.2e9, "AutoModelForCausalLM"),
    "huggyllama/llama-7b": (6.74e9, "AutoModelForCausalLM"),
    "google/gemma-7b": (8.54e9, "AutoModelForCausalLM"),
    "openai/whisper-large-v3-turbo": (809e6, "AutoModelForSpeechSeq2Seq"),
    "EleutherAI/pythia-70m-deduped": (70.4e6, "AutoModelForCausalLM"),
    "EleutherAI/pythia-1.4b-deduped": (1.41e9, "AutoModelForCausalLM"),
    "openlm-research/open_llama_3b_v2": (3.43e9, "AutoModelForCausalLM"),
    "Salesforce/xgen-7b-8k-base": (6.9e9, "AutoModelForCausalLM"),
    "cerebras/Cerebras-GPT-1.3B": (1.32e9, "AutoModelForCausalLM"),
    "microsoft/phi-4": (14.7e9, "AutoModelForCausalLM"),
    "FacebookAI/xlm-roberta-base": (278e6, "AutoModel"),
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B": (1.78e9, "AutoModelForCausalLM"),
    "Qwen/Qwen2.5-32B-Instruct": (32.8e9, "AutoModelForCausalLM"),
    "microsoft/phi-1": (1.42e9, "AutoModelForCausalLM"),
    "FacebookAI/xlm-roberta-large": (560e6, "AutoModel"),
    "facebook/opt-6.7b": (6.66e9, "AutoModelForCausalLM"),
    "openai/gpt-oss-20b": (20.9e9, "AutoModelForCausalLM"),
    "facebook/nllb-200-distilled-600M": (615e6, "AutoModelForSeq2SeqLM"),
    "zai-org/GLM-4.7-Flash": (30.0e9, "AutoModelForCausalLM"),  # "30B-A3B"; its MTP layer is not built
    # multimodal: the language model with its vision tower, as AutoModelForImageTextToText builds it
    "Qwen/Qwen2.5-VL-7B-Instruct": (8.29e9, "AutoModelForImageTextToText"),
    "Qwen/Qwen3-VL-4B-Instruct": (4.44e9, "AutoModelForImageTextToText"),
    "llava-hf/llava-1.5-7b-hf": (7.06e9, "AutoModelForImageTextToText"),
    "nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16": (31.6e9, "AutoModelForCausalLM"),  # "31.6B total" (NVIDIA)
    "Qwen/Qwen3-Next-80B-A3B-Instruct": (80e9, "AutoModelForCausalLM"),
    "deepseek-ai/DeepSeek-V2-Lite": (15.7e9, "AutoModelForCausalLM"),
    "moonshotai/Kimi-Linear-48B-A3B-Instruct": (49.1e9, "AutoModelForCausalLM"),  # "48B": 49,122,681,728 in its safetensors
    "Qwen/Qwen2-VL-7B-Instruct": (8.29e9, "AutoModelForImageTextToText"),
    "google/gemma-3-4b-it": (4.30e9, "AutoModelForImageTextToText"),
    "meta-llama/Llama-4-Scout-17B-16E-Instruct": (109e9, "AutoModelForImageTextToText"),  # 17B active
    "Qwen/Qwen3.5-35B-A3B": (35e9, "AutoModelForImageTextToText"),  # 3B active
}
# T5 and mT5 files whose published size has an untied head: transformers 5 always ties their lm_head to
# `shared` (T5Config/MT5Config force `tie_word_embeddings`), so the same file builds one vocab x d_model less.
UNTIED_T5: dict[str, int] = {
    "google/t5-v1_1-base": 247_577_856,
    "google/flan-t5-base": 247_577_856,
    "google/flan-t5-small": 76_961_152,
    "google/mt5-small": 300_176_768,
    "google/mt5-base": 582_401_280,
    "bigscience/mt0-small": 300_176_768,
}


def test_at_least_thirty_models_are_bundled() -> None:
    assert len(bundled_ids()) >= 30


@pytest.mark.parametrize("model_id", bundled_ids())
def test_each_bundled_model_names_where_its_values_come_from(model_id: str) -> None:
    source = (MODELS_DIR / model_id.replace("/", "--") / "SOURCE.md").read_text(encoding="utf-8")
    assert source.startswith(f"# {model_id}\n")
    # a repository (`owner/name`), a public-code index file id, or the shared set it was copied from
    assert re.search(r"`[\w.-]+/[\w.-]+`|index file \d+|\.\./shared/models", source)


@pytest.mark.parametrize("model_id", bundled_ids())
def test_bundled_config_is_the_file_in_its_hub_id_directory(model_id: str) -> None:
    path = MODELS_DIR / model_id.replace("/", "--") / "config.json"
    # as the file says, or (Falcon's 2023 remote-code file) as transformers' conversion rewrites it
    assert bundled_config(model_id) == modern_config(json.loads(path.read_text(encoding="utf-8")))
    assert isinstance(bundled_config(model_id)["model_type"], str)  # type: ignore[index]


# Models published under a rounded size only ("4B" for 4.54B with the vision tower): checked instead
# against the module shapes a second source printed from transformers' own build (SOURCE.md).
PRINTED_SHAPES: dict[str, dict[str, tuple[int | None, int | None]]] = {
    "Qwen/Qwen3.5-4B": {
        "visual.blocks.0.attn.qkv": (1024, 3072),
        "visual.blocks.0.mlp.linear_fc1": (1024, 4096),
        "visual.merger.linear_fc2": (4096, 2560),
        "language_model.layers.0.linear_attn.in_proj_qkv": (2560, 8192),
        "language_model.layers.0.linear_attn.in_proj_z": (2560, 4096),
        "language_model.layers.0.linear_attn.in_proj_b": (2560, 32),
        "language_model.layers.0.linear_attn.out_proj": (4096, 2560),
        "language_model.layers.3.self_attn.q_proj": (2560, 8192),
        "language_model.layers.3.self_attn.k_proj": (2560, 1024),
        "language_model.layers.3.self_attn.o_proj": (4096, 2560),
        "language_model.layers.31.mlp.down_proj": (9216, 2560),
        "language_model.embed_tokens": (248320, 2560),
    },
}


def test_every_bundled_model_has_a_published_size_to_check() -> None:
    assert set(PUBLISHED) | set(UNTIED_T5) | set(PRINTED_SHAPES) == set(bundled_ids())


@pytest.mark.parametrize("model_id", sorted(PRINTED_SHAPES))
def test_bundled_config_gives_the_printed_module_shapes(model_id: str) -> None:
    from peftlint.enrich.architecture import module_tree_from_config

    modules = module_tree_from_config(bundled_config(model_id), None).by_name()  # type: ignore[arg-type]  # the bare model: vision and language
    assert {name: (modules[name].in_features, modules[name].out_features) for name in PRINTED_SHAPES[model_id]} == PRINTED_SHAPES[model_id]


def test_lookup_matches_the_id_exactly_or_ignoring_case() -> None:
    config = bundled_config("meta-llama/Llama-3.2-1B")
    assert config is not None and config["num_hidden_layers"] == 16
    assert bundled_config("META-LLAMA/llama-3.2-1b") == config
    assert bundled_config("meta-llama/Llama-3.2") is None
    assert bundled_config("Llama-3.2-1B") is None  # the name alone is another model's id
    assert bundled_config("") is None


def test_legacy_ids_the_hub_redirects_find_their_model() -> None:
    aliases = json.loads((MODELS_DIR / "aliases.json").read_text(encoding="utf-8"))
    assert bundled_config("gpt2") == bundled_config("openai-community/gpt2") is not None
    for alias, model_id in aliases.items():
        assert model_id in bundled_ids()
        assert bundled_config(alias) == bundled_config(model_id)


def test_re_uploads_find_the_model_they_re_upload() -> None:
    """unsloth's 4-bit and 16-bit re-uploads, as unsloth's own mapper names their originals, and
    other re-uploads, each with its evidence in MIRRORS.md."""
    mirrors = json.loads((MODELS_DIR / "mirrors.json").read_text(encoding="utf-8"))
    documented = (MODELS_DIR / "MIRRORS.md").read_text(encoding="utf-8")
    # pre-quantised re-uploads also carry their own quantization_config (test_quantization.py)
    prequantized = json.loads((MODELS_DIR / "prequantized.json").read_text(encoding="utf-8"))
    assert "unslothai/unsloth" in documented
    for mirror, model_id in mirrors.items():
        assert mirror.startswith("unsloth/") or f"| `{mirror}` | `{model_id}` |" in documented
        assert model_id in bundled_ids()
        config = bundled_config(mirror)
        assert config is not None
        assert config.pop("quantization_config", None) == prequantized.get(mirror)
        assert config == bundled_config(model_id)
    # ids as adapters name them, in any case
    assert bundled_config("unsloth/llama-3.2-3b-instruct-bnb-4bit") == bundled_config("meta-llama/Llama-3.2-3B-Instruct")
    assert bundled_config("unsloth/meta-llama-3.1-8b-bnb-4bit") == bundled_config("meta-llama/Llama-3.1-8B")
    assert bundled_config("unsloth/gemma-3-1b-it-unsloth-bnb-4bit") == bundled_config("google/gemma-3-1b-it")
    assert bundled_config("unsloth/not-a-model-bnb-4bit") is None


def test_published_adapters_named_as_a_model_find_their_base_model() -> None:
    """A recipe that trains on a published adapter trains on its base model (ADAPTERS.md)."""
    adapters = json.loads((MODELS_DIR / "adapters.json").read_text(encoding="utf-8"))
    documented = (MODELS_DIR / "ADAPTERS.md").read_text(encoding="utf-8")
    assert adapters
    for adapter, model_id in adapters.items():
        assert f"| `{adapter}` | `{model_id}` |" in documented
        assert model_id in bundled_ids() and adapter not in bundled_ids()
        assert bundled_config(adapter) == bundled_config(model_id)


def test_each_call_returns_a_fresh_dict() -> None:
    first = bundled_config("openai-community/gpt2")
    assert first is not None
    first["n_layer"] = 99
    assert bundled_config("openai-community/gpt2")["n_layer"] == 12  # type: ignore[index]


def _parameter_count(model_id: str, auto_class: str) -> int:
    import torch
    import transformers

    # what AutoConfig.from_pretrained does with the folder, after the legacy-file conversion
    bundled = bundled_config(model_id)
    assert bundled is not None
    config = transformers.CONFIG_MAPPING[bundled["model_type"]].from_dict(bundled)
    with torch.device("meta"):
        model: Any = getattr(transformers, auto_class).from_config(config)
    return int(model.num_parameters())


@pytest.mark.slow
@pytest.mark.parametrize("model_id", sorted(PUBLISHED))
def test_bundled_config_gives_the_published_model_size(model_id: str) -> None:
    published, auto_class = PUBLISHED[model_id]
    assert _parameter_count(model_id, auto_class) == pytest.approx(published, rel=0.015)


@pytest.mark.parametrize("model_id", sorted(UNTIED_T5))
def test_untied_t5_builds_with_a_tied_head_under_transformers_5(model_id: str) -> None:
    config = bundled_config(model_id)
    assert config is not None and config["tie_word_embeddings"] is False
    untied_head = config["vocab_size"] * config["d_model"]
    assert _parameter_count(model_id, "AutoModelForSeq2SeqLM") == UNTIED_T5[model_id] - untied_head
