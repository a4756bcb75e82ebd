"""Parameter counts and adapter file sizes against peft itself.

The oracle is `get_peft_model(...).get_nb_trainable_parameters()` on the real architecture
(meta device: no weights), and for file sizes an actual `save_pretrained` of a tiny model on CPU.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

from peftlint.enrich.architecture import module_tree_from_config
from peftlint.enrich.counts import NotModelled, PeftRejects, count_parameters, factorization
from peftlint.enrich.modules import ModuleTree
from peftlint.enrich.targets import resolve_targets
from peftlint.enrich.torch_tree import module_tree
from tests.enrich.conftest import (
    BUNDLED_MODELS,
    TASKS,
    build_model,
    default_task,
    model_config,
    peft_model,
    raw_config,
    tiny_config,
)


def check_against_peft(hf_config: Any, raw: dict[str, Any], config: dict[str, Any], peft_type: str, task_type: str | None) -> None:
    """`raw` is the config.json peftlint reads; peft reads the loaded `hf_config`."""
    tree = _tree(hf_config, task_type)
    model = build_model(hf_config, task_type)
    try:
        counts = count_parameters(tree, config, peft_type, task_type, model_config=raw)
    except PeftRejects:
        # a config we call invalid for this model must be one peft refuses too
        with pytest.raises((ValueError, TypeError, KeyError)):
            peft_model(model, config, peft_type, task_type, "meta")
        return
    except NotModelled as exc:
        pytest.skip(f"not modelled: {exc}")
    expected = peft_model(model, config, peft_type, task_type, "meta").get_nb_trainable_parameters()
    assert (counts.trainable, counts.total) == expected


_TREES: dict[tuple[str, str | None], ModuleTree] = {}


def _tree(hf_config: Any, task_type: str | None) -> ModuleTree:
    key = (json.dumps(hf_config.to_diff_dict(), sort_keys=True, default=str), task_type)
    if key not in _TREES:
        _TREES[key] = module_tree(build_model(hf_config, task_type))
    return _TREES[key]


# --- a variant list that works on any architecture ------------------------------------------------


def model_names(tree: ModuleTree, task_type: str | None) -> dict[str, Any]:
    """Leaf names to build configs from: two linear targets and the input embedding."""
    linear = resolve_targets(tree, {"target_modules": "all-linear"}, "LORA", task_type).targeted
    leaves = list(dict.fromkeys(m.name.rsplit(".", 1)[-1] for m in linear))
    assert tree.input_embedding is not None
    return {"pair": leaves[:2], "other": leaves[2:3], "embedding": tree.input_embedding.rsplit(".", 1)[-1]}


def variants(names: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    pair, other, embedding = names["pair"], names["other"], names["embedding"]
    return [
        ("LORA", {}),
        ("LORA", {"target_modules": "all-linear", "r": 16}),
        ("LORA", {"target_modules": "all-linear", "use_dora": True}),
        ("LORA", {"target_modules": "all-linear", "use_rslora": True, "rank_pattern": {r".*\.0\..*": 32}}),
        ("LORA", {"target_modules": pair, "layers_to_transform": [0, 2], "bias": "lora_only", "lora_bias": True}),
        ("LORA", {"target_modules": "all-linear", "exclude_modules": other, "bias": "all"}),
        ("LORA", {"target_modules": pair + [embedding], "modules_to_save": other}),
        ("LORA", {"target_modules": pair, "modules_to_save": [embedding], "use_dora": True}),
        ("ADALORA", {"total_step": 100}),
        ("ADALORA", {"total_step": 100, "target_modules": "all-linear", "init_r": 6}),
        ("IA3", {}),
        ("IA3", {"target_modules": pair + other, "feedforward_modules": other}),
        ("PREFIX_TUNING", {"num_virtual_tokens": 20}),
        ("PREFIX_TUNING", {"num_virtual_tokens": 20, "prefix_projection": True, "encoder_hidden_size": 128}),
        ("PROMPT_TUNING", {"num_virtual_tokens": 20}),
        ("P_TUNING", {"num_virtual_tokens": 20, "encoder_hidden_size": 128}),
        ("P_TUNING", {"num_virtual_tokens": 10, "encoder_reparameterization_type": "LSTM", "encoder_hidden_size": 64}),
        ("LOHA", {"target_modules": pair, "rank_pattern": {pair[0]: 4}}),
        ("LOKR", {"target_modules": pair + other}),
        ("LOKR", {"target_modules": pair, "r": 2, "decompose_both": True, "decompose_factor": 8}),
        ("VERA", {"target_modules": pair + other, "r": 64}),
        ("OFT", {"target_modules": pair}),
        ("OFT", {"target_modules": pair + [embedding], "r": 8, "oft_block_size": 0, "block_share": True}),
    ]


TINY = {
    "llama": dict(
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=101,
        tie_word_embeddings=True,
    ),
    "gpt2": dict(n_embd=64, n_layer=3, n_head=4, vocab_size=101),
    "bert": dict(hidden_size=64, intermediate_size=96, num_hidden_layers=3, num_attention_heads=4, vocab_size=101),
    "t5": dict(d_model=64, d_kv=16, d_ff=96, num_layers=3, num_decoder_layers=2, num_heads=4, vocab_size=101),
    # fused experts (transformers v5): `all-linear` adapts them through peft's conversion to `target_parameters`
    "mixtral": dict(
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=101,
        num_local_experts=4,
    ),
}


def tiny(model_type: str) -> Any:
    return tiny_config(model_type, **TINY[model_type])


VARIANT_IDS = [f"{t}-{i}" for i, (t, _) in enumerate(variants({"pair": ["a", "b"], "other": ["c"], "embedding": "e"}))]


@pytest.mark.parametrize("model_type", sorted(TINY))
@pytest.mark.parametrize("variant", range(len(VARIANT_IDS)), ids=VARIANT_IDS)
def test_tiny_models_equal_peft(model_type: str, variant: int) -> None:
    hf_config = tiny(model_type)
    task = default_task(hf_config)
    peft_type, config = variants(model_names(_tree(hf_config, task), task))[variant]
    check_against_peft(hf_config, hf_config.to_diff_dict(), config, peft_type, task)


@pytest.mark.parametrize(
    ("model_name", "peft_type", "config"),
    [
        ("bundled/meta-llama--Llama-3.2-1B", "LORA", {"target_modules": "all-linear", "r": 16}),
        ("bundled/Qwen--Qwen2.5-0.5B", "PREFIX_TUNING", {"num_virtual_tokens": 30}),  # GQA: prefix sized for KV heads
        ("bundled/google-bert--bert-base-uncased", "IA3", {}),
        ("bundled/openai-community--gpt2", "LORA", {"target_modules": ["c_attn"], "use_dora": True}),
    ],
    ids=lambda v: str(v)[:30],
)
def test_real_models_equal_peft(model_name: str, peft_type: str, config: dict[str, Any]) -> None:
    hf_config = model_config(model_name)
    check_against_peft(hf_config, raw_config(model_name), config, peft_type, default_task(hf_config))


CORE_VARIANTS = (1, 2, 10, 12)  # LoRA all-linear, DoRA, IA3 defaults, prefix tuning


def real_model_cases() -> list[Any]:
    """Every variant on the first model of each architecture, the core ones on its siblings (which
    differ only in sizes): the whole matrix would double the run time and test nothing new. A model
    whose module tree equals one already listed (an -Instruct beside its base) has the same counts
    by construction and is left out."""
    seen: set[str] = set()
    trees: set[Any] = set()
    cases = []
    for name in BUNDLED_MODELS:
        model_type = raw_config(name)["model_type"]
        tree = module_tree_from_config(raw_config(name), TASKS.get(model_type, "CAUSAL_LM"))
        key = (tuple(tree.modules), tuple(sorted(tree.tied.items())))
        if key in trees:
            continue
        trees.add(key)
        chosen = range(len(VARIANT_IDS)) if model_type not in seen else CORE_VARIANTS
        seen.add(model_type)
        cases += [pytest.param(name, v, id=f"{VARIANT_IDS[v]}-{name}") for v in chosen]
    return cases


@pytest.mark.slow
@pytest.mark.parametrize(("model_name", "variant"), real_model_cases())
def test_every_real_model_equals_peft(model_name: str, variant: int) -> None:
    hf_config = model_config(model_name)
    task = default_task(hf_config)
    peft_type, config = variants(model_names(_tree(hf_config, task), task))[variant]
    check_against_peft(hf_config, raw_config(model_name), config, peft_type, task)


@pytest.mark.slow
@pytest.mark.parametrize("model_name", ["bundled/Qwen--Qwen2.5-0.5B", "bundled/meta-llama--Llama-3.2-1B"])
@pytest.mark.parametrize("peft_type", ["LORA", "PREFIX_TUNING"])
def test_classification_heads_equal_peft(model_name: str, peft_type: str) -> None:
    config = {"target_modules": "all-linear"} if peft_type == "LORA" else {"num_virtual_tokens": 8}
    check_against_peft(model_config(model_name), raw_config(model_name), config, peft_type, "SEQ_CLS")


# --- adapter_model.safetensors ----------------------------------------------------------------------


def saved_header(peft: Any, directory: Path) -> tuple[int, dict[str, Any]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peft.save_pretrained(directory)
    data = (directory / "adapter_model.safetensors").read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    header.pop("__metadata__")
    return len(data), {key: (entry["dtype"], tuple(entry["shape"])) for key, entry in header.items()}


SAVE_CASES = [
    ("llama", "LORA", {"target_modules": ["q_proj", "embed_tokens", "lm_head"], "use_dora": True}, "bfloat16"),
    ("llama", "LORA", {"target_modules": "all-linear", "modules_to_save": ["norm"], "bias": "all"}, "float16"),
    ("gpt2", "LORA", {"target_modules": ["c_attn"], "bias": "all", "lora_bias": True}, "float32"),
    ("bert", "LORA", {"target_modules": ["query"], "bias": "lora_only"}, "bfloat16"),
    ("bert", "ADALORA", {"total_step": 10}, "float32"),
    ("gpt2", "IA3", {}, "float32"),
    ("llama", "VERA", {"target_modules": ["q_proj", "down_proj"], "r": 16}, "float32"),
    ("llama", "VERA", {"target_modules": ["q_proj"], "save_projection": False}, "float32"),
    ("llama", "LOHA", {"target_modules": ["q_proj", "up_proj"]}, "float32"),
    ("llama", "LOKR", {"target_modules": ["q_proj", "up_proj"], "r": 2, "decompose_both": True}, "float32"),
    ("llama", "OFT", {"target_modules": ["q_proj", "embed_tokens"], "oft_block_size": 16}, "float32"),
    ("llama", "BOFT", {"target_modules": ["q_proj", "down_proj"], "boft_block_size": 4}, "float32"),
    ("gpt2", "PREFIX_TUNING", {"num_virtual_tokens": 5, "prefix_projection": True}, "float32"),
    ("llama", "P_TUNING", {"num_virtual_tokens": 5}, "float32"),
    ("bert", "PROMPT_TUNING", {"num_virtual_tokens": 5}, "bfloat16"),
    # LoRA on parameters: nested ParamWrappers on one module, 2-d ones, v4 expert names converted
    ("mixtral", "LORA", {"target_modules": [], "target_parameters": ["experts.gate_up_proj", "experts.down_proj"]}, "bfloat16"),
    ("mixtral", "LORA", {"target_modules": ["q_proj", "gate", "w1", "w2", "w3"], "bias": "all"}, "float16"),
    ("llama", "LORA", {"target_modules": ["v_proj"], "target_parameters": ["q_proj.weight", "embed_tokens.weight"]}, "float32"),
]


@pytest.mark.parametrize(("model_type", "peft_type", "config", "dtype"), SAVE_CASES, ids=lambda v: str(v)[:30])
def test_adapter_file_equals_save_pretrained(model_type: str, peft_type: str, config: dict[str, Any], dtype: str, tmp_path: Path) -> None:
    import torch

    hf_config = tiny(model_type)
    task = default_task(hf_config)
    tree = _tree(hf_config, task)
    counts = count_parameters(tree, config, peft_type, task, model_config=hf_config.to_diff_dict(), base_dtype=dtype)
    model = build_model(hf_config, task, device="cpu").to(getattr(torch, dtype))
    peft = peft_model(model, config, peft_type, task, "cpu")

    size, header = saved_header(peft, tmp_path)

    assert {t.key: (t.dtype, t.shape) for t in counts.tensors if t.saved} == header
    assert counts.adapter_bytes == size
    assert (counts.trainable, counts.total) == peft.get_nb_trainable_parameters()


# --- units ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dimension", [1, 2, 7, 64, 127, 128, 768, 896, 3072, 4864, 50257, 151936])
@pytest.mark.parametrize("factor", [-1, 4, 8, 16])
def test_factorization_equals_peft(dimension: int, factor: int) -> None:
    from peft.tuners.lokr.layer import factorization as peft_factorization

    assert factorization(dimension, factor) == peft_factorization(dimension, factor)


def test_unmodelled_option_is_refused() -> None:
    tree = _tree(tiny("llama"), "CAUSAL_LM")
    with pytest.raises(NotModelled, match="layer_replication"):
        count_parameters(tree, {"target_modules": ["q_proj"], "layer_replication": [[0, 2]]}, "LORA", "CAUSAL_LM")


def test_weight_tying_of_a_saved_embedding_equals_peft() -> None:
    hf_config = tiny("llama")
    config = {"target_modules": ["q_proj"], "modules_to_save": ["embed_tokens"], "ensure_weight_tying": True}
    check_against_peft(hf_config, hf_config.to_diff_dict(), config, "LORA", "CAUSAL_LM")


@pytest.mark.parametrize("embedding", ["embed_tokens", "lm_head"])
def test_tied_embedding_adapter_is_not_modelled(embedding: str) -> None:
    tree = _tree(tiny("llama"), "CAUSAL_LM")
    config = {"target_modules": [embedding, "q_proj"], "ensure_weight_tying": True}
    with pytest.raises(NotModelled, match="ensure_weight_tying"):
        count_parameters(tree, config, "LORA", "CAUSAL_LM")


def test_trainable_percent_and_per_module() -> None:
    tree = _tree(tiny("llama"), "CAUSAL_LM")
    counts = count_parameters(tree, {"target_modules": ["q_proj"], "r": 4}, "LORA", "CAUSAL_LM")

    assert counts.per_module == {f"model.layers.{i}.self_attn.q_proj": 4 * (64 + 64) for i in range(3)}
    assert counts.trainable_percent == pytest.approx(100 * counts.trainable / counts.total)


# --- LoRA on parameters: `target_parameters` and fused-MoE experts ------------------------------------

MIXTRAL = "bundled/mistralai--Mixtral-8x7B-v0.1"
PARAMETER_CASES = [
    {"target_modules": [], "target_parameters": ["experts.gate_up_proj", "experts.down_proj"]},  # nested on one module
    {"target_parameters": ["mlp.experts.down_proj"], "r": 16, "rank_pattern": {r"layers\.0\.mlp\.experts\.down_proj": 4}},
    {"target_modules": [], "target_parameters": ["q_proj.weight", "gate.weight"]},  # 2-d: a single expert
    # neither `exclude_modules` nor `layers_to_transform` filters parameters
    {
        "target_modules": ["k_proj"],
        "target_parameters": ["experts.gate_up_proj"],
        "layers_to_transform": [0],
        "exclude_modules": ["experts"],
    },
    # v4 expert names: peft converts them, `w1` + `w3` (fused into gate_up_proj) at twice the rank
    {"target_modules": ["q_proj", "v_proj", "w1", "w2", "w3"]},
    {"target_modules": ["gate", "w1", "w3"], "r": 4, "rank_pattern": {"gate_up_proj": 2}, "bias": "all"},
    {"target_modules": "all-linear", "r": 16},
    {"target_modules": r".*\.(q_proj|w1|w3)"},
]


def check_parameters_against_peft(hf_config: Any, raw: dict[str, Any], config: dict[str, Any]) -> None:
    """Counts from the template tree (what `estimate` reads) equal peft's; no case may be skipped."""
    tree = module_tree_from_config(raw, "CAUSAL_LM")
    counts = count_parameters(tree, config, "LORA", "CAUSAL_LM", model_config=raw)
    peft = peft_model(build_model(hf_config, "CAUSAL_LM"), config, "LORA", "CAUSAL_LM")
    assert (counts.trainable, counts.total) == peft.get_nb_trainable_parameters()
    assert {p.key for p in counts.resolution.parameters} == set(peft.base_model.targeted_parameter_names)


@pytest.mark.parametrize("config", PARAMETER_CASES, ids=lambda c: str(c)[:60])
def test_lora_on_parameters_of_tiny_mixtral_equals_peft(config: dict[str, Any]) -> None:
    hf_config = tiny("mixtral")
    check_parameters_against_peft(hf_config, hf_config.to_diff_dict(), config)


@pytest.mark.slow
@pytest.mark.parametrize("config", PARAMETER_CASES, ids=lambda c: str(c)[:60])
def test_lora_on_parameters_of_mixtral_8x7b_equals_peft(config: dict[str, Any]) -> None:
    check_parameters_against_peft(model_config(MIXTRAL), raw_config(MIXTRAL), config)


MOE_SIZES = dict(
    hidden_size=64,
    intermediate_size=96,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    vocab_size=101,
    num_experts_per_tok=2,
)


@pytest.mark.parametrize(
    ("model_type", "sizes", "config"),
    [
        ("qwen3_moe", {"num_experts": 4, "moe_intermediate_size": 32}, {"target_modules": ["q_proj", "gate_proj", "up_proj", "down_proj"]}),
        ("olmoe", {"num_experts": 4}, {"target_modules": "all-linear"}),
        # experts stored (experts, in, out): transformers' `is_transposed`
        (
            "gpt_oss",
            {"num_local_experts": 4, "head_dim": 16, "layer_types": ["full_attention"] * 2},
            {"target_modules": [], "target_parameters": ["experts.gate_up_proj", "experts.down_proj"]},
        ),
    ],
    ids=lambda v: str(v)[:30],
)
def test_lora_on_fused_experts_of_untemplated_models_equals_peft(model_type: str, sizes: dict[str, Any], config: dict[str, Any]) -> None:
    """Fused-MoE types without a template go through the [exact] fallback's torch tree: same counts, same shapes."""
    hf_config = tiny_config(model_type, **MOE_SIZES, **sizes)
    counts = count_parameters(_tree(hf_config, "CAUSAL_LM"), config, "LORA", "CAUSAL_LM")
    peft = peft_model(build_model(hf_config, "CAUSAL_LM"), config, "LORA", "CAUSAL_LM")

    assert (counts.trainable, counts.total) == peft.get_nb_trainable_parameters()
    adapter = {name.replace(".default", ""): tuple(p.shape) for name, p in peft.named_parameters() if "lora_" in name}
    assert {t.key: t.shape for t in counts.tensors} == adapter


def test_lora_on_fused_experts_is_one_pair_per_expert() -> None:
    tree = module_tree_from_config(raw_config(MIXTRAL), "CAUSAL_LM")
    config = {"target_modules": ["w1", "w2", "w3"], "r": 8}
    counts = count_parameters(tree, config, "LORA", "CAUSAL_LM")

    experts, hidden, intermediate = 8, 4096, 14336
    gate_up = 2 * 8 * experts * (hidden + 2 * intermediate)  # w1 + w3 fused: rank 16
    down = 8 * experts * (intermediate + hidden)
    assert counts.per_module == {f"model.layers.{i}.mlp.experts": gate_up + down for i in range(32)}
    assert {t.key.removeprefix("base_model.model.model.layers.0.mlp.experts."): t.shape for t in counts.tensors if ".0.mlp" in t.key} == {
        "base_layer.lora_A.weight": (16 * experts, hidden),  # gate_up_proj, registered first: the inner wrapper
        "base_layer.lora_B.weight": (2 * intermediate, 16 * experts),
        "lora_A.weight": (8 * experts, intermediate),
        "lora_B.weight": (hidden, 8 * experts),
    }


@pytest.mark.parametrize(
    ("model_type", "config", "outcome"),
    [
        ("mixtral", {"target_modules": ["w1", "w3"], "lora_dropout": 0.1}, PeftRejects),  # ParamWrapper refuses dropout
        ("mixtral", {"target_modules": ["w1", "w2"]}, PeftRejects),  # w3 is fused with w1
        ("mixtral", {"target_modules": [], "target_parameters": ["input_layernorm.weight"]}, PeftRejects),  # 1-d
        ("mixtral", {"target_modules": ["q_proj"], "target_parameters": ["q_proj.weight"]}, PeftRejects),
        ("mixtral", {"target_modules": [], "target_parameters": ["experts.down_proj"], "modules_to_save": ["experts"]}, PeftRejects),
        ("mixtral", {"target_modules": [], "target_parameters": ["experts.down_proj"], "modules_to_save": ["mlp"]}, NotModelled),
        ("mixtral", {"target_modules": ["q_proj"], "target_parameters": ["lora_A.default.weight"]}, NotModelled),
        ("llama", {"target_modules": [], "target_parameters": ["lm_head.weight"]}, NotModelled),  # tied to embed_tokens
    ],
    ids=lambda v: str(v)[:60],
)
def test_lora_on_parameters_beyond_the_tree(model_type: str, config: dict[str, Any], outcome: type[Exception]) -> None:
    """Each case peft rejects is rejected; each it accepts but the tree cannot describe is not modelled."""
    hf_config = tiny(model_type)
    with pytest.raises(outcome):
        count_parameters(_tree(hf_config, "CAUSAL_LM"), config, "LORA", "CAUSAL_LM")
    if outcome is PeftRejects:
        with pytest.raises((ValueError, TypeError)):
            peft_model(build_model(hf_config, "CAUSAL_LM"), config, "LORA", "CAUSAL_LM")
    else:
        peft_model(build_model(hf_config, "CAUSAL_LM"), config, "LORA", "CAUSAL_LM")


def test_target_parameters_of_other_methods_are_not_modelled() -> None:
    tree = _tree(tiny("mixtral"), "CAUSAL_LM")
    config = {"target_modules": ["q_proj"], "target_parameters": ["experts.down_proj"], "total_step": 10}
    with pytest.raises(NotModelled, match="LoRA only"):
        count_parameters(tree, config, "ADALORA", "CAUSAL_LM")


@pytest.mark.slow
@pytest.mark.parametrize(
    "targets",
    [{"target_modules": ["q_proj", "v_proj", "w1", "w2", "w3"]}, {"target_parameters": ["experts.gate_up_proj", "experts.down_proj"]}],
    ids=["v4-expert-names", "target-parameters"],
)
def test_estimate_counts_fused_experts_exactly(targets: dict[str, Any], tmp_path: Path) -> None:
    config = {"r": 8, "lora_alpha": 16, **targets}
    path = tmp_path / "adapter.yaml"
    lines = [f"{k}: {json.dumps(v)}\n" for k, v in {"peft_type": "LORA", "task_type": "CAUSAL_LM", **config}.items()]
    path.write_text("".join(lines), encoding="utf-8")
    command = [sys.executable, "-m", "peftlint", "estimate", str(path), "--model", "mistralai/Mixtral-8x7B-v0.1", "--format", "json"]
    result = json.loads(subprocess.run(command, capture_output=True, text=True, timeout=300, check=True).stdout)

    assert not [w for w in result["warnings"] if "not modelled" in w or "no exact counts" in w]
    peft = peft_model(build_model(model_config(MIXTRAL), "CAUSAL_LM"), config, "LORA", "CAUSAL_LM")
    assert (result["trainable_params"], result["total_params"]) == peft.get_nb_trainable_parameters()


# --- axolotl's `lora_target_linear`: the names it finds, passed to peft as a list ---------------------


def axolotl_names(model: Any, listed: list[str], quantized: bool) -> list[str]:
    """What axolotl's find_all_linear_names gives on the built model, unioned with the file's list
    (src/axolotl/loaders/adapter.py). bitsandbytes loads transformers' Conv1D as a Linear4bit."""
    import torch
    from transformers.pytorch_utils import Conv1D

    classes = (torch.nn.Linear, Conv1D) if quantized else (torch.nn.Linear,)
    found = {name.rsplit(".", 1)[-1] for name, module in model.named_modules() if isinstance(module, classes)}
    found.discard("embed_out" if model.config.model_type == "gpt_neox" else "lm_head")
    return sorted(set(listed) | found)


AXOLOTL_CASES = [
    ("mixtral", [], False),  # v5: the router and the experts hold bare parameters, so no name reaches them
    ("mixtral", ["gate"], True),  # a listed v4 name: peft's conversion applies to the list as usual
    ("llama", ["lm_head"], False),  # the output layer only by the list (tied: a Linear over embed_tokens)
    ("gpt2", [], True),  # Conv1D layers, loaded by bitsandbytes as Linear4bit
    ("gpt2", [], False),  # no Linear but lm_head: an empty list, which peft refuses
    ("gpt_neox", [], False),  # axolotl drops `embed_out`, GPT-NeoX's output layer
]


@pytest.mark.parametrize(("model_type", "listed", "quantized"), AXOLOTL_CASES, ids=lambda v: str(v))
def test_axolotl_target_linear_equals_peft_on_the_names_axolotl_passes(model_type: str, listed: list[str], quantized: bool) -> None:
    from peftlint.normalize.dialects import AXOLOTL, read

    sizes = {"gpt_neox": dict(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4, vocab_size=101)}
    hf_config = tiny(model_type) if model_type in TINY else tiny_config(model_type, **sizes[model_type])
    training_file = {"adapter": "qlora" if quantized else "lora", "lora_r": 8, "lora_target_linear": True, "lora_target_modules": listed}
    dialect = read(AXOLOTL, training_file)
    model = build_model(hf_config, "CAUSAL_LM")
    config = {"r": 8, "target_modules": axolotl_names(model, listed, quantized)}
    assert_framework_list_counts_as_peft(hf_config, model, dialect, config, rejected=(model_type, quantized) == ("gpt2", False))


def assert_framework_list_counts_as_peft(hf_config: Any, model: Any, dialect: Any, config: dict[str, Any], rejected: bool) -> Any:
    """peftlint's counts for a dialect's own linear-name list equal get_peft_model given `config`,
    which holds the names the framework computes on `model`; `rejected`: peft raises instead."""
    try:
        counts = count_parameters(_tree(hf_config, "CAUSAL_LM"), dialect.values, "LORA", "CAUSAL_LM", linear_names=dialect.linear_names)
    except PeftRejects:
        with pytest.raises(ValueError):
            peft_model(model, config, "LORA", "CAUSAL_LM")
        assert rejected
        return None
    assert not rejected
    peft = peft_model(model, config, "LORA", "CAUSAL_LM")
    assert (counts.trainable, counts.total) == peft.get_nb_trainable_parameters()
    assert {m.name for m in counts.resolution.targeted} == set(peft.base_model.targeted_module_names)
    assert {p.key for p in counts.resolution.parameters} == set(peft.base_model.targeted_parameter_names)
    return counts


# --- LLaMA-Factory's `lora_target: all`: the names it finds, passed to peft as a list ---------------


def llama_factory_names(model: Any, quantized: bool) -> list[str]:
    """What LLaMA-Factory's find_all_linear_modules gives on the built model
    (src/llamafactory/model/model_utils/misc.py @ ff6d4d12): the last name segment of every module
    whose class name has "Linear" and not "Embedding" in it, skipping paths that contain a
    forbidden name. bitsandbytes (quantization_bit) loads transformers' Conv1D as a Linear4bit."""
    from transformers.pytorch_utils import Conv1D

    forbidden = {"lm_head", *{"chatglm": ("output_layer",), "internlm2": ("output",)}.get(model.config.model_type, ())}
    found = set()
    for name, module in model.named_modules():
        if any(part in name for part in forbidden):
            continue
        cls = type(module).__name__
        if ("Linear" in cls and "Embedding" not in cls) or (quantized and isinstance(module, Conv1D)):
            found.add(name.split(".")[-1])
    return sorted(found)


LLAMA_FACTORY_CASES = [
    ("mixtral", False),  # v5 MoE: the router and the experts are no Linear, so only attention is adapted
    ("llama", False),  # tied lm_head (a Linear over embed_tokens): skipped by name
    ("llama-untied", False),  # its own lm_head: skipped by name too
    ("gpt_neox", False),  # transformers v5 names GPT-NeoX's output layer `lm_head` (v4: `embed_out`, which LLaMA-Factory would adapt)
    ("gpt2", True),  # Conv1D layers, loaded by bitsandbytes as Linear4bit
    ("gpt2", False),  # no Linear but lm_head: an empty list, which peft refuses
]


@pytest.mark.parametrize(("model_type", "quantized"), LLAMA_FACTORY_CASES, ids=lambda v: str(v))
def test_llama_factory_target_all_equals_peft_on_the_names_it_passes(model_type: str, quantized: bool) -> None:
    from peftlint.normalize.dialects import LLAMA_FACTORY, read

    sizes = {
        "gpt_neox": dict(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4, vocab_size=101),
        "llama-untied": {**TINY["llama"], "tie_word_embeddings": False},
    }
    hf_config = tiny(model_type) if model_type in TINY else tiny_config(model_type.split("-")[0], **sizes[model_type])
    training_file = {"model_name_or_path": "m", "finetuning_type": "lora", "lora_target": "all", "lora_rank": 8, "lora_dropout": 0.05}
    if quantized:
        training_file["quantization_bit"] = 4
    dialect = read(LLAMA_FACTORY, training_file)
    model = build_model(hf_config, "CAUSAL_LM")
    config = {"r": 8, "lora_alpha": 16, "lora_dropout": 0.05, "target_modules": llama_factory_names(model, quantized)}
    counts = assert_framework_list_counts_as_peft(hf_config, model, dialect, config, rejected=(model_type, quantized) == ("gpt2", False))
    if counts is not None:  # never the output layer, never a parameter (no fused-MoE conversion)
        assert not counts.resolution.parameters and not [m.name for m in counts.resolution.targeted if m.name.endswith("lm_head")]


@pytest.mark.parametrize(
    ("model_name", "config"),
    [
        # every q/v projection: the vision tower's attention has none, so only the language model's
        ("bundled/Qwen--Qwen2.5-VL-7B-Instruct", {"target_modules": ["q_proj", "v_proj"], "r": 8}),
        # the vision tower's fused qkv and the language model's gate, by name
        ("bundled/Qwen--Qwen2.5-VL-7B-Instruct", {"target_modules": ["qkv", "gate_proj"], "r": 4}),
        # a regex over transformers 5's paths: the language model only
        ("bundled/llava-hf--llava-1.5-7b-hf", {"target_modules": r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj)", "r": 16}),
        ("bundled/Qwen--Qwen3-VL-4B-Instruct", {"target_modules": "all-linear", "r": 8}),
    ],
    ids=["qwen2.5-vl-qv", "qwen2.5-vl-qkv-gate", "llava-regex", "qwen3-vl-all-linear"],
)
def test_multimodal_models_from_config_json_equal_peft(model_name: str, config: dict[str, Any]) -> None:
    """The counts of the tree read from config.json (no torch) on a multimodal model, against
    get_peft_model on the model AutoModelForImageTextToText builds on the meta device."""
    raw = raw_config(model_name)
    hf_config = model_config(model_name)
    counts = count_parameters(module_tree_from_config(raw, "CAUSAL_LM"), config, "LORA", "CAUSAL_LM", model_config=raw)
    expected = peft_model(build_model(hf_config, "CAUSAL_LM"), config, "LORA", "CAUSAL_LM").get_nb_trainable_parameters()
    assert (counts.trainable, counts.total) == expected


@pytest.mark.parametrize(
    ("model_name", "peft_type", "targets", "kind"),
    [
        # `proj` also names Qwen2-VL's Conv3d patch embedding, which LoRA wraps too
        ("bundled/Qwen--Qwen2-VL-7B-Instruct", "LORA", ["proj"], "conv3d"),
        ("bundled/Qwen--Qwen2-VL-7B-Instruct", "IA3", ["proj"], "conv3d"),
    ],
)
def test_convolutions_peft_wraps_are_not_called_unsupported(model_name: str, peft_type: str, targets: list[str], kind: str) -> None:
    """No "would fail" for a Conv3d or torch Conv1d target: get_peft_model accepts it, and counts
    it as peftlint does from the kernel its weight's shape records."""
    raw = raw_config(model_name)
    tree = module_tree_from_config(raw, "CAUSAL_LM")
    config = {"target_modules": targets, **({"feedforward_modules": []} if peft_type == "IA3" else {})}
    resolution = resolve_targets(tree, config, peft_type, "CAUSAL_LM")
    assert resolution.error is None and kind in {m.kind for m in resolution.targeted}
    counts = count_parameters(tree, config, peft_type, "CAUSAL_LM", model_config=raw)
    model = peft_model(build_model(model_config(model_name), "CAUSAL_LM"), config, peft_type, "CAUSAL_LM")  # peft accepts it
    assert (counts.trainable, counts.total) == model.get_nb_trainable_parameters()


@pytest.mark.parametrize(
    ("peft_type", "config"),
    [
        ("LORA", {"target_modules": ["video", "image", "linear"], "r": 4}),
        ("LORA", {"target_modules": ["video", "image"], "r": 4, "use_dora": True}),
        ("LORA", {"target_modules": ["video", "image"], "r": 4, "lora_bias": True}),
        ("IA3", {"target_modules": ["video", "image", "linear"], "feedforward_modules": ["linear"]}),
        ("IA3", {"target_modules": ["video", "image", "linear"], "feedforward_modules": ["video", "image"]}),
        ("LORA", {"target_modules": ["depthwise"], "r": 8}),  # a grouped Conv1d: lora_B takes its groups
    ],
)
def test_convolutions_equal_peft(peft_type: str, config: dict[str, Any]) -> None:
    """LoRA and IA3 on Conv3d (Qwen-VL's video patch embedding), Conv2d and torch's Conv1d (Qwen3.5's
    depthwise convolution), sized by their kernels."""
    import peft
    import torch

    class Patches(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.video = torch.nn.Conv3d(3, 32, (2, 4, 4), stride=(2, 4, 4), bias=False)
            self.image = torch.nn.Conv2d(3, 16, 5)
            self.linear = torch.nn.Linear(32, 8)
            self.depthwise = torch.nn.Conv1d(8, 8, 4, groups=4)

    model = Patches()
    counts = count_parameters(module_tree(model, "patches"), config, peft_type)
    peft_config = peft.LoraConfig(**config) if peft_type == "LORA" else peft.IA3Config(**config)
    assert (counts.trainable, counts.total) == peft.get_peft_model(model, peft_config).get_nb_trainable_parameters()


def test_lora_on_a_grouped_convolution_fails_as_in_peft() -> None:
    """Qwen3.5's Gated DeltaNet Conv1d is depthwise (8192 groups): peft's LoRA refuses rank 8."""
    raw = raw_config("bundled/Qwen--Qwen3.5-4B")
    config = {"target_modules": ["conv1d"], "r": 8}
    resolution = resolve_targets(module_tree_from_config(raw, "CAUSAL_LM"), config, "LORA", "CAUSAL_LM")
    assert resolution.error is not None and "groups=8192 and rank 8" in resolution.error
    with pytest.raises(ValueError, match="groups=8192 and rank 8"):
        peft_model(build_model(model_config("bundled/Qwen--Qwen3.5-4B"), "CAUSAL_LM"), config, "LORA", "CAUSAL_LM")
