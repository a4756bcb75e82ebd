"""Module roles from names: checked on every bundled architecture, with peft's own IA3 tables as the oracle."""

from __future__ import annotations

import os
from functools import lru_cache

import pytest

from peftlint.enrich.architecture import module_tree_from_config
from peftlint.enrich.bundled import bundled_config
from peftlint.enrich.roles import covered_roles, module_role
from peftlint.resources import data_dir

BUNDLED = sorted(d.replace("--", "/", 1) for d in os.listdir(data_dir() / "models") if "--" in d)


@lru_cache(maxsize=None)
def linear_names(model_id: str) -> tuple[str, ...]:
    tree = module_tree_from_config(bundled_config(model_id), None)
    return tuple(m.name for m in tree.modules if m.kind in ("linear", "conv1d"))


@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("model.layers.0.self_attn.q_proj", "q"),
        ("encoder.layer.3.attention.self.value", "v"),
        ("encoder.layer.3.attention.output.dense", "o"),  # BERT: attention output
        ("encoder.layer.3.intermediate.dense", "ffn"),
        ("encoder.layer.3.output.dense", "ffn"),  # BERT: the MLP's second projection
        ("h.0.attn.c_attn", "qkv"),
        ("h.0.attn.c_proj", "o"),  # GPT-2: same leaf name in attention ...
        ("h.0.mlp.c_proj", "ffn"),  # ... and in the MLP
        ("decoder.block.0.layer.1.EncDecAttention.k", "k"),
        ("decoder.block.0.layer.2.DenseReluDense.wo", "ffn"),
        ("transformer.layer.0.attention.out_lin", "o"),
        ("h.0.self_attention.dense", "o"),
        ("pooler.dense", "other"),
        ("lm_head", "other"),
        ("q_proj", "q"),  # bare config entries
        ("down_proj", "ffn"),
        ("dense", None),  # ambiguous without its block
        ("c_proj", None),
        ("wo", None),
        ("my_custom_layer", None),
    ],
)
def test_role_of_name(name: str, role: str | None) -> None:
    assert module_role(name) == role


def test_covered_roles_expands_fused_qkv_and_lists_unknowns() -> None:
    assert covered_roles(["c_attn", "mlp.c_proj"]) == (["q", "k", "v", "ffn"], [])
    assert covered_roles(["q_proj", "dense", "dense"]) == (["q"], ["dense"])
    # multi-head latent attention (GLM-4.7-Flash, DeepSeek-V2): low-rank query, shared key/value
    assert covered_roles(["self_attn.q_b_proj", "self_attn.kv_b_proj"]) == (["q", "k", "v"], [])
    assert covered_roles(["kv_a_proj_with_mqa"]) == (["k", "v"], [])


@pytest.mark.parametrize("model_id", BUNDLED)
def test_every_linear_layer_of_every_bundled_model_has_a_role(model_id: str) -> None:
    unknown = sorted({name for name in linear_names(model_id) if module_role(name) is None})
    assert not unknown, unknown


def _ia3_tables() -> tuple[dict, dict]:
    from peft.utils.constants import (
        TRANSFORMERS_MODELS_TO_IA3_FEEDFORWARD_MODULES_MAPPING,
        TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING,
    )

    return TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING, TRANSFORMERS_MODELS_TO_IA3_FEEDFORWARD_MODULES_MAPPING


# Entries peft's IA3 table lists as targets but not as feed-forward although they are: peft then scales
# their output, as it does for key/value. mT5's `wi_1` is the up projection of its gated MLP.
IA3_FEEDFORWARD_NOT_LISTED = {("mt5", "wi_1")}


def _matches(name: str, entry: str) -> bool:
    return name == entry or name.endswith("." + entry)  # peft's list matching


@pytest.mark.parametrize("model_id", BUNDLED)
def test_roles_agree_with_peft_ia3_tables(model_id: str) -> None:
    """peft's IA3 defaults name each architecture's key/value (attention) and feed-forward modules."""
    targets, feedforward = _ia3_tables()
    model_type = bundled_config(model_id)["model_type"]
    if model_type not in targets:
        pytest.skip(f"peft has no IA3 defaults for {model_type}")
    names = linear_names(model_id)
    checked = 0
    for entry in targets[model_type]:
        for name in (n for n in names if _matches(n, entry)):
            role = module_role(name)
            if entry in feedforward[model_type] or (model_type, entry) in IA3_FEEDFORWARD_NOT_LISTED:
                # peft's suffix match of BERT's `output.dense` also reaches `attention.output.dense`;
                # that module is the attention output, which is what peftlint calls it
                assert role == "ffn" or (role == "o" and "attention" in name), (name, role)
            else:
                assert role in ("q", "k", "v", "qkv"), (name, role)
            checked += 1
    assert checked > 0
