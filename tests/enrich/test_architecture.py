"""Module trees from config.json as plain JSON, checked against transformers on the meta device.

The oracle is the tree `torch_tree` reads from the model transformers builds from the same file;
equality covers every module's name, kind, shape, bias and parameter count, the total, the layer
count, tied weights and the embedding modules.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from peftlint.enrich.architecture import (
    InvalidModelConfig,
    UnknownArchitecture,
    UnsupportedTaskType,
    known_model_types,
    language_model_config,
    module_tree_from_config,
)
from peftlint.enrich.bundled import bundled_config, bundled_ids
from peftlint.resources import data_dir
from tests.enrich.conftest import BUNDLED_MODELS, model_config, raw_config
from tests.generated_versions import version_mismatch

REPO = Path(__file__).resolve().parents[2]

# Task type -> the auto-class mappings transformers picks the model class from (first match).
TASK_MAPPINGS: dict[str | None, tuple[str, ...]] = {
    None: ("MODEL_MAPPING_NAMES",),
    # a multimodal model without a causal-LM class: what AutoModelForImageTextToText builds
    "CAUSAL_LM": ("MODEL_FOR_CAUSAL_LM_MAPPING_NAMES", "MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES"),
    "SEQ_2_SEQ_LM": ("MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES", "MODEL_FOR_SPEECH_SEQ_2_SEQ_MAPPING_NAMES"),
    "SEQ_CLS": ("MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES",),
    "TOKEN_CLS": ("MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES",),
    "QUESTION_ANS": ("MODEL_FOR_QUESTION_ANSWERING_MAPPING_NAMES",),
    "MASKED_LM": ("MODEL_FOR_MASKED_LM_MAPPING_NAMES",),
    "IMAGE_CLS": ("MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES",),
}


def model_class(model_type: str, task_type: str | None) -> str | None:
    from transformers.models.auto import modeling_auto

    for mapping in TASK_MAPPINGS[task_type]:
        name = getattr(modeling_auto, mapping).get(model_type)
        if name:
            return name if isinstance(name, str) else name[0]
    return None


def transformers_tree(config: Any, task_type: str | None) -> Any:
    import torch
    import transformers

    from peftlint.enrich.torch_tree import module_tree

    cls = model_class(config.model_type, task_type)
    assert cls is not None
    model_class_ = getattr(transformers, cls)
    model_type = config.model_type
    if getattr(model_class_, "config_class", None) is getattr(config, "sub_configs", {}).get("text_config"):
        config = config.get_text_config()  # a multimodal model's text-only class, as the auto classes build it
    with torch.device("meta"):
        return module_tree(model_class_._from_config(config), model_type)


def _bundled_cases() -> list[Any]:
    """Every bundled config under every task type its model type has a class for."""
    from transformers.models.auto import modeling_auto

    fast = {
        ("bundled/meta-llama--Llama-3.2-1B", "CAUSAL_LM"),
        ("bundled/openai-community--gpt2", "CAUSAL_LM"),
        ("bundled/google-bert--bert-base-uncased", "SEQ_CLS"),
        ("bundled/google-t5--t5-base", "SEQ_2_SEQ_LM"),
        ("bundled/mistralai--Mixtral-8x7B-v0.1", "CAUSAL_LM"),
        ("bundled/tiiuae--falcon-7b-instruct", "CAUSAL_LM"),
        ("bundled/facebook--opt-350m", None),
        ("bundled/microsoft--Phi-3-mini-4k-instruct", "CAUSAL_LM"),
        ("bundled/llava-hf--llava-1.5-7b-hf", "CAUSAL_LM"),
        ("bundled/nvidia--NVIDIA-Nemotron-3-Nano-30B-A3B-BF16", "CAUSAL_LM"),
    }
    cases = []
    for name in BUNDLED_MODELS:
        model_type = raw_config(name)["model_type"]
        for task in TASK_MAPPINGS:
            if any(model_type in getattr(modeling_auto, m) for m in TASK_MAPPINGS[task]):
                marks = () if (name, task) in fast else (pytest.mark.slow,)
                cases.append(pytest.param(name, task, marks=marks, id=f"{name.removeprefix('bundled/')}-{task}"))
    return cases


@pytest.mark.parametrize(("name", "task_type"), _bundled_cases())
def test_bundled_config_gives_the_tree_transformers_builds(name: str, task_type: str | None) -> None:
    assert module_tree_from_config(raw_config(name), task_type) == transformers_tree(model_config(name), task_type)


NEMOTRON = "nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16"

# Settings the bundled files do not show: each case changes a bundled config the way another
# published model (or a user) does, and must still match transformers exactly.
VARIATIONS = [
    # biases switched on by a flag; GQA with tied embeddings
    ("meta-llama/Llama-3.2-1B", {"attention_bias": True, "mlp_bias": True}, "CAUSAL_LM"),
    ("meta-llama/Llama-3.2-1B", {"tie_word_embeddings": False, "head_dim": None}, "CAUSAL_LM"),
    # labels from `id2label`, or from `num_labels` alone
    ("Qwen/Qwen2.5-0.5B", {"id2label": {str(i): f"L{i}" for i in range(5)}}, "SEQ_CLS"),
    ("Qwen/Qwen2.5-0.5B", {"num_labels": 3}, "TOKEN_CLS"),
    ("google-bert/bert-base-uncased", {"id2label": {"0": "no", "1": "yes"}, "num_labels": 5}, "SEQ_CLS"),
    # GPT-2: explicit MLP width, generic alias for the width, cross-attention blocks
    ("openai-community/gpt2", {"n_inner": 1000, "n_layer": 2}, "CAUSAL_LM"),
    ("openai-community/gpt2", {"hidden_size": 256, "n_head": 4}, "CAUSAL_LM"),
    ("openai-community/gpt2", {"add_cross_attention": True}, None),
    # Falcon-40B (new decoder, 8 KV heads) and Falcon-RW (multi-head, sequential, biases)
    (
        "tiiuae/falcon-7b-instruct",
        {"new_decoder_architecture": True, "num_kv_heads": 8, "num_attention_heads": 64, "hidden_size": 8192, "num_hidden_layers": 3},
        "CAUSAL_LM",
    ),
    (
        "tiiuae/falcon-7b-instruct",
        {"multi_query": False, "parallel_attn": False, "bias": True, "alibi": True, "hidden_size": 2048, "num_attention_heads": 32},
        "SEQ_CLS",
    ),
    # OPT: projections appear when the embedding width differs from the hidden size
    ("facebook/opt-125m", {"word_embed_proj_dim": 512, "do_layer_norm_before": False}, "CAUSAL_LM"),
    ("facebook/opt-350m", {"word_embed_proj_dim": 1024, "enable_bias": False}, "CAUSAL_LM"),
    # T5: asymmetric stacks, a gated activation spelled differently, an explicit head width
    ("google-t5/t5-base", {"num_decoder_layers": 3, "feed_forward_proj": "gated-silu", "d_kv": 32}, "SEQ_2_SEQ_LM"),
    # BART: the generic alias overrides the field (transformers applies aliases last)
    ("facebook/bart-base", {"num_hidden_layers": 2, "encoder_layers": 5}, "SEQ_2_SEQ_LM"),
    # DeBERTa-v3: token-type embeddings exist only for a positive vocabulary
    ("microsoft/deberta-v3-base", {"type_vocab_size": 2}, "SEQ_CLS"),
    # Whisper: different encoder and decoder widths of attention
    ("openai/whisper-small", {"decoder_attention_heads": 8, "decoder_ffn_dim": 2048, "encoder_layers": 2}, "SEQ_2_SEQ_LM"),
    # ViT: positions follow image and patch size; labels size the classifier
    ("google/vit-base-patch16-224-in21k", {"image_size": 384, "id2label": {str(i): str(i) for i in range(10)}}, "IMAGE_CLS"),
    # Phi-2 with per-head norms, Mixtral with fewer experts, Gemma 2 untied
    ("microsoft/phi-2", {"qk_layernorm": True}, "CAUSAL_LM"),
    ("mistralai/Mixtral-8x7B-v0.1", {"num_local_experts": 4, "num_hidden_layers": 2}, "CAUSAL_LM"),
    ("google/gemma-2-2b", {"tie_word_embeddings": False}, "CAUSAL_LM"),
    # Nemotron-H: blocks of four kinds from a pattern (a dense `-` MLP the published file lacks), an
    # explicit list in legacy names that wins over the pattern and over `num_hidden_layers`
    (NEMOTRON, {"hybrid_override_pattern": "M-*E-M", "mlp_bias": True, "use_conv_bias": False}, "CAUSAL_LM"),
    (NEMOTRON, {"layer_types": ["mamba", "attention", "moe"], "n_groups": 4, "num_hidden_layers": 9}, None),
    # Qwen3-Next: full attention every third layer, a dense MLP where listed or off the sparse step
    (
        "Qwen/Qwen3-Next-80B-A3B-Instruct",
        {"num_hidden_layers": 6, "full_attention_interval": 3, "mlp_only_layers": [1], "decoder_sparse_step": 2, "num_experts": 4},
        "CAUSAL_LM",
    ),
    # Qwen3-MoE with dense layers (listed, and off the sparse step); GLM-4.7-Flash's MLP kinds listed
    ("Qwen/Qwen3-30B-A3B", {"num_hidden_layers": 5, "mlp_only_layers": [0], "decoder_sparse_step": 2}, "CAUSAL_LM"),
    ("zai-org/GLM-4.7-Flash", {"num_hidden_layers": 4, "mlp_layer_types": ["dense", "dense", "sparse", "dense"]}, "CAUSAL_LM"),
    # DeepSeek-V2: three dense layers first; the null `q_lora_rank` (a plain q_proj) kept
    ("deepseek-ai/DeepSeek-V2-Lite", {"num_hidden_layers": 4, "first_k_dense_replace": 3, "n_routed_experts": 8}, "CAUSAL_LM"),
    # Kimi-Linear: KDA and MLA layers by linear_attn_config's 1-based lists, whose sizes it also holds
    (
        "moonshotai/Kimi-Linear-48B-A3B-Instruct",
        {
            "num_hidden_layers": 4,
            "first_k_dense_replace": 2,
            "linear_attn_config": {"full_attn_layers": [2], "kda_layers": [1, 3, 4], "head_dim": 64, "num_heads": 16},
        },
        "CAUSAL_LM",
    ),
    # sizes a null switches off: DeepSeek-V2's low-rank query, Nemotron-3 Super's latent MoE
    ("deepseek-ai/DeepSeek-V2-Lite", {"num_hidden_layers": 2, "q_lora_rank": 384}, "CAUSAL_LM"),
    (NEMOTRON, {"hybrid_override_pattern": "ME*E", "moe_latent_size": 1024}, "CAUSAL_LM"),
]


@pytest.mark.parametrize(("model_id", "changes", "task_type"), VARIATIONS, ids=[f"{m}-{'-'.join(c)}" for m, c, _ in VARIATIONS])
def test_varied_configs_give_the_tree_transformers_builds(model_id: str, changes: dict[str, Any], task_type: str | None) -> None:
    from transformers import AutoConfig

    config = {**copy.deepcopy(bundled_config(model_id)), **changes}  # type: ignore[arg-type]
    expected = transformers_tree(AutoConfig.for_model(**config), task_type)
    assert module_tree_from_config(config, task_type) == expected


# --- composite (multimodal) configs ----------------------------------------------------------------


def _composite_variations() -> list[Any]:
    qwen25 = bundled_config("Qwen/Qwen2.5-VL-7B-Instruct")
    llava = bundled_config("llava-hf/llava-1.5-7b-hf")
    qwen3 = bundled_config("Qwen/Qwen3-VL-4B-Instruct")
    assert qwen25 and llava and qwen3
    return [
        # a nested text_config wins over the first layout's top-level text fields (the bundled file's)
        pytest.param(
            {
                **qwen25,
                "text_config": {"model_type": "qwen2_5_vl_text", "hidden_size": 1024, "num_attention_heads": 16, "num_hidden_layers": 2},
            },
            id="qwen2.5-vl-nested-text",
        ),
        # sub-config fields given in part: the rest are the sub-config class's defaults
        pytest.param(
            {**llava, "text_config": {**llava["text_config"], "num_hidden_layers": 2, "num_key_value_heads": 8}}, id="llava-gqa-text"
        ),
        pytest.param({**llava, "vision_config": {**llava["vision_config"], "image_size": 224, "num_hidden_layers": 3}}, id="llava-vision"),
        # one DeepStack merger per listed layer
        pytest.param({**qwen3, "vision_config": {**qwen3["vision_config"], "deepstack_visual_indexes": [2, 4], "depth": 5}}, id="qwen3-vl"),
        pytest.param(
            {**qwen3, "tie_word_embeddings": False, "text_config": {**qwen3["text_config"], "tie_word_embeddings": False}},
            id="qwen3-untied",
        ),
        # layers of two kinds (linear and full attention), by an explicit list or by the interval
        pytest.param(
            _qwen35(layer_types=["full_attention", "linear_attention", "linear_attention"], num_hidden_layers=3), id="qwen3.5-list"
        ),
        pytest.param(_qwen35(full_attention_interval=2, num_hidden_layers=5), id="qwen3.5-interval"),
    ]


def _qwen35(**text: Any) -> dict[str, Any]:
    """Qwen3.5-4B with its language model's fields changed (`layer_types` dropped unless given)."""
    config = copy.deepcopy(bundled_config("Qwen/Qwen3.5-4B"))
    assert config is not None
    config["text_config"] = {k: v for k, v in config["text_config"].items() if k != "layer_types"} | text
    return config


@pytest.mark.parametrize("config", _composite_variations())
@pytest.mark.parametrize("task_type", [None, "CAUSAL_LM"])
def test_composite_configs_give_the_tree_transformers_builds(config: dict[str, Any], task_type: str | None) -> None:
    from transformers import AutoConfig

    expected = transformers_tree(AutoConfig.for_model(**copy.deepcopy(config)), task_type)
    tree = module_tree_from_config(config, task_type)
    assert tree == expected
    assert tree.num_layers == expected.num_layers > 0  # the language model's layers


def test_a_composite_model_is_named_as_transformers_5_names_it() -> None:
    tree = module_tree_from_config(bundled_config("Qwen/Qwen2.5-VL-7B-Instruct"), "CAUSAL_LM")  # type: ignore[arg-type]
    names = tree.by_name()
    assert "model.language_model.layers.27.self_attn.q_proj" in names and "model.visual.blocks.31.attn.qkv" in names
    assert tree.num_layers == 28 and tree.output_embedding == "lm_head"


COMPOSITE_MODELS = [name for name in BUNDLED_MODELS if "text_config" in model_config(name).to_dict()]


@pytest.mark.parametrize("name", COMPOSITE_MODELS)
def test_the_language_model_config_holds_what_transformers_loads(name: str) -> None:
    """llava-hf's text_config lists only what differs from LlamaConfig's defaults, Qwen2-VL's first
    files keep the text fields at the top level: both read as the loaded text_config holds them."""
    ours = language_model_config(raw_config(name))
    loaded = model_config(name).to_dict()["text_config"]
    entry = json.loads((data_dir() / "architectures" / f"{raw_config(name)['model_type']}.json").read_text())
    scope = entry["text"] + "."
    known = {path[len(scope) :] for path in [*entry["defaults"], *entry["derived"]] if path.startswith(scope)}
    # the sizes peft's prompt learning and the memory estimate read, and every one the template knows
    # that the loaded config stores (Qwen2-VL's head_dim is derived in the model, not stored)
    sizes = {"hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "model_type"}
    assert sizes <= set(ours)
    sizes |= known & set(loaded)
    assert {key: ours[key] for key in sizes} == {key: loaded[key] for key in sizes}


def test_a_plain_config_is_its_own_language_model_config() -> None:
    config = {"model_type": "llama", "hidden_size": 64}
    assert language_model_config(config) is config
    unknown = {"model_type": "some_vlm", "text_config": {"hidden_size": 64}}
    assert language_model_config(unknown) == {"hidden_size": 64}  # no template: as written


def test_a_sub_model_of_another_type_is_refused_not_guessed() -> None:
    llava = bundled_config("llava-hf/llava-1.5-7b-hf")
    assert llava is not None
    config = {**llava, "text_config": {**llava["text_config"], "model_type": "mistral"}}
    with pytest.raises(UnknownArchitecture, match='no `llava` template for text_config.model_type="mistral"'):
        module_tree_from_config(config, "CAUSAL_LM")


def test_a_hybrid_model_builds_each_layer_of_its_kind() -> None:
    tree = module_tree_from_config(bundled_config(NEMOTRON), "CAUSAL_LM")  # type: ignore[arg-type]
    names = tree.by_name()
    # "MEMEM*E...": Mamba-2 at 0, a mixture of experts at 1, attention at 5 (of 52 layers)
    assert names["model.layers.0.mixer.in_proj"].out_features == 2 * 64 * 64 + 2 * 8 * 128 + 64
    assert "model.layers.1.mixer.shared_experts.up_proj" in names and "model.layers.5.mixer.q_proj" in names
    assert "model.layers.5.mixer.in_proj" not in names and tree.num_layers == 52
    assert tree.total_params == 31_577_937_344  # transformers' num_parameters() on the meta device


def test_layers_of_an_unknown_kind_or_count_are_refused() -> None:
    with pytest.raises(InvalidModelConfig, match='names layer type "sliding_attention"'):
        module_tree_from_config(_qwen35(layer_types=["sliding_attention"] * 2, num_hidden_layers=2), "CAUSAL_LM")
    with pytest.raises(InvalidModelConfig, match="`text_config.layer_types` lists 1 layers, not `num_hidden_layers` \\(2\\)"):
        module_tree_from_config(_qwen35(layer_types=["full_attention"], num_hidden_layers=2), "CAUSAL_LM")


def test_an_integer_that_changes_the_layers_is_a_setting_the_template_holds_for() -> None:
    scout = bundled_config("meta-llama/Llama-4-Scout-17B-16E-Instruct")
    assert scout is not None
    maverick_like = {**scout, "text_config": {**scout["text_config"], "interleave_moe_layer_step": 2}}
    with pytest.raises(UnknownArchitecture, match="text_config.interleave_moe_layer_step=2"):
        module_tree_from_config(maverick_like, "CAUSAL_LM")


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"vision_config": None}, "vision_config", "is not set"),
        ({"vision_config": [1]}, "vision_config", "must be an object"),
        ({"text_config": {"model_type": "llama", "hidden_size": "4096"}}, "text_config.hidden_size", "must be an integer"),
    ],
)
def test_bad_sub_configs_name_the_field(changes: dict[str, Any], field: str, reason: str) -> None:
    with pytest.raises(InvalidModelConfig) as error:
        module_tree_from_config({**bundled_config("llava-hf/llava-1.5-7b-hf"), **changes}, "CAUSAL_LM")  # type: ignore[dict-item]
    assert error.value.field == field and reason in str(error.value)


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"hybrid_override_pattern": "MEX"}, "hybrid_override_pattern", 'must be a string of M, E, *, -, got "MEX"'),
        ({"layer_types": ["mamba", "conv"]}, "layers_block_type", 'names layer type "conv"'),
        ({"layer_types": "M*"}, "layers_block_type", "must be a list of layer types"),
    ],
)
def test_a_bad_layer_list_names_the_field(changes: dict[str, Any], field: str, reason: str) -> None:
    with pytest.raises(InvalidModelConfig) as error:
        module_tree_from_config({**bundled_config(NEMOTRON), **changes}, "CAUSAL_LM")  # type: ignore[dict-item]
    assert error.value.field == field and reason in str(error.value)


def test_a_null_size_stays_null_and_unset_takes_the_class_default() -> None:
    from transformers import AutoConfig

    lite = bundled_config("deepseek-ai/DeepSeek-V2-Lite")
    assert lite is not None and lite["q_lora_rank"] is None
    assert "model.layers.0.self_attn.q_proj" in module_tree_from_config(lite, "CAUSAL_LM").by_name()
    # without the key, DeepseekV2Config's 1536 builds the low-rank query (q_a_proj, q_b_proj)
    unset = {k: v for k, v in lite.items() if k != "q_lora_rank"} | {"num_hidden_layers": 2}
    tree = module_tree_from_config(unset, "CAUSAL_LM")
    assert tree.by_name()["model.layers.1.self_attn.q_a_proj"].out_features == 1536
    assert tree == transformers_tree(AutoConfig.for_model(**unset), "CAUSAL_LM")


def test_every_bundled_model_type_is_known() -> None:
    types = {bundled_config(i)["model_type"] for i in bundled_ids()}  # type: ignore[index]
    assert types <= set(known_model_types())


def test_a_tied_output_head_is_listed_once() -> None:
    tree = module_tree_from_config(bundled_config("meta-llama/Llama-3.2-1B"), "CAUSAL_LM")  # type: ignore[arg-type]
    assert tree.tied == {"lm_head": "model.embed_tokens"}
    assert "lm_head" not in tree.by_name() and tree.output_embedding == "lm_head"
    assert tree.total_params == 1_235_814_400  # transformers' num_parameters() of Llama-3.2-1B


def test_no_task_type_means_the_bare_base_model() -> None:
    config = bundled_config("meta-llama/Llama-3.2-1B")
    assert config is not None
    tree = module_tree_from_config(config)
    assert tree == module_tree_from_config(config, "FEATURE_EXTRACTION")
    assert tree.modules[0].name == "embed_tokens" and tree.num_layers == 16


# --- bad input -------------------------------------------------------------------------------------


LLAMA = "meta-llama/Llama-3.2-1B"


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"hidden_size": "2048"}, "hidden_size", 'must be an integer, got "2048"'),
        ({"hidden_size": 1e12}, "hidden_size", "must be an integer, got 1000000000000.0"),
        ({"hidden_size": 10**12}, "hidden_size", "larger than any real model"),
        ({"num_hidden_layers": -2}, "num_hidden_layers", "must be at least 1, got -2"),
        ({"num_hidden_layers": 0}, "num_hidden_layers", "must be at least 1, got 0"),
        ({"num_hidden_layers": True}, "num_hidden_layers", "must be an integer, got true"),
        ({"num_hidden_layers": 10**6}, "num_hidden_layers", "larger than any real model"),
        ({"num_key_value_heads": None, "num_attention_heads": "32"}, "num_attention_heads", "must be an integer"),
        ({"vocab_size": -5}, "vocab_size", "must be at least 1, got -5"),
        ({"tie_word_embeddings": "yes"}, "tie_word_embeddings", 'must be true or false, got "yes"'),
        ({"attention_bias": 1}, "attention_bias", "must be true or false, got 1"),
    ],
)
def test_bad_values_name_the_field(changes: dict[str, Any], field: str, reason: str) -> None:
    with pytest.raises(InvalidModelConfig) as error:
        module_tree_from_config({**bundled_config(LLAMA), **changes}, "CAUSAL_LM")  # type: ignore[dict-item]
    assert error.value.field == field
    assert reason in str(error.value) and f"`{field}`" in str(error.value)


def test_a_generic_alias_is_checked_under_the_field_it_sets() -> None:
    with pytest.raises(InvalidModelConfig, match="`n_embd` must be an integer"):
        module_tree_from_config({**bundled_config("gpt2"), "hidden_size": "768"}, "CAUSAL_LM")  # type: ignore[dict-item]


def test_a_size_without_default_must_be_set() -> None:
    config = {k: v for k, v in bundled_config("microsoft/deberta-v3-base").items() if k != "position_buckets"}  # type: ignore[union-attr]
    with pytest.raises(InvalidModelConfig, match="`position_buckets` is not set"):
        module_tree_from_config(config, "SEQ_CLS")


@pytest.mark.parametrize(
    ("config", "field", "reason"),
    [
        ([1, 2], "", "must be a JSON object"),
        ({"hidden_size": 8}, "model_type", "is missing: this is not a transformers model config"),
        ({"model_type": 7}, "model_type", "must be a string"),
    ],
)
def test_a_file_that_is_not_a_model_config_is_rejected(config: Any, field: str, reason: str) -> None:
    with pytest.raises(InvalidModelConfig) as error:
        module_tree_from_config(config)
    assert error.value.field == field and reason in str(error.value)


def test_an_unknown_model_type_says_so() -> None:
    with pytest.raises(UnknownArchitecture, match="model_type `my-custom-lm` is not known") as error:
        module_tree_from_config({"model_type": "my-custom-lm", "hidden_size": 64})
    assert error.value.model_type == "my-custom-lm"


def test_a_setting_without_template_says_which() -> None:
    config = {**bundled_config("bert-base-uncased"), "add_cross_attention": True}  # type: ignore[dict-item]
    with pytest.raises(UnknownArchitecture, match="no `bert` template for add_cross_attention=true"):
        module_tree_from_config(config)


@pytest.mark.parametrize(
    ("task_type", "message"),
    [
        ("IMAGE_CLS", "task_type `IMAGE_CLS` has no `llama` model class; use one of FEATURE_EXTRACTION, CAUSAL_LM"),
        ("CAUSAL", "task_type `CAUSAL` is not a task type; use one of CAUSAL_LM"),
    ],
)
def test_an_unsupported_task_type_is_rejected(task_type: str, message: str) -> None:
    with pytest.raises(UnsupportedTaskType, match=message):
        module_tree_from_config(bundled_config(LLAMA), task_type)  # type: ignore[arg-type]


def test_errors_are_value_errors() -> None:
    assert issubclass(InvalidModelConfig, ValueError) and issubclass(UnknownArchitecture, ValueError)


# --- the runtime stays light ------------------------------------------------------------------------


def test_building_a_tree_imports_neither_torch_nor_transformers() -> None:
    code = (
        "import sys\n"
        "from peftlint.enrich.architecture import module_tree_from_config\n"
        "from peftlint.enrich.bundled import bundled_config\n"
        "module_tree_from_config(bundled_config('meta-llama/Llama-2-70b-hf'), 'CAUSAL_LM')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'torch', 'transformers', 'peft'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --- the generated knowledge is current ------------------------------------------------------------


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("gen_architectures", REPO / "scripts" / "gen_architectures.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


def _committed() -> dict[str, Any]:
    return json.loads((data_dir() / "architectures" / "index.json").read_text(encoding="utf-8"))


def test_architectures_json_was_generated_from_these_configs_and_this_transformers() -> None:
    import transformers

    document = _committed()
    assert document["transformers"] == transformers.__version__, version_mismatch()
    assert document["bundled_configs"] == _generator().bundled_fingerprint()


@pytest.mark.slow
def test_architectures_json_is_what_the_generator_writes_now() -> None:
    """Regenerate with `python scripts/gen_architectures.py`."""
    generator = _generator()
    assert generator.render(generator.generate()) == generator.committed(), version_mismatch()


def test_each_template_file_is_named_in_the_index_and_nothing_else_is_read() -> None:
    folder = data_dir() / "architectures"
    assert sorted(p.stem for p in folder.glob("*.json") if p.stem != "index") == _committed()["model_types"]
    with pytest.raises(UnknownArchitecture):  # a config's model_type never names a file outside the index
        module_tree_from_config({"model_type": "../architectures/index"})
