"""What a targeted module does, from its name: attention query/key/value/output, feed-forward,
or something else (heads, embeddings, poolers).

The guides speak in roles ("start with Q+V", "all attention weights", "add FFN"), configs in
module names that differ per architecture (`q_proj`, `query`, `q_lin`, `c_attn`, ...). A full
dotted name (`h.0.attn.c_proj`) is read in its scope, so names that mean different things in
attention and in the MLP (`c_proj`, `dense`, `wo`) are told apart; a bare ambiguous entry such
as `dense` in a config has no role (None), and rules that need roles then stay silent.
"""

from __future__ import annotations

from typing import Iterable

ATTENTION_ROLES = ("q", "k", "v", "o")
FFN = "ffn"
OTHER = "other"  # heads, embeddings, poolers: neither attention nor feed-forward

_LEAVES = {
    # q_a_proj/q_b_proj: the low-rank query of multi-head latent attention (DeepSeek-V2/V3, GLM-4.7-Flash)
    "q": {"q_proj", "query", "q", "q_lin", "wq", "query_proj", "q_a_proj", "q_b_proj"},
    "k": {"k_proj", "key", "k", "k_lin", "wk", "key_proj"},
    "v": {"v_proj", "value", "v", "v_lin", "wv", "value_proj"},
    "qkv": {"c_attn", "query_key_value", "qkv_proj", "wqkv", "qkv", "w_pack", "in_proj"},
    # latent attention's shared key/value projections: one layer feeds both keys and values
    "kv": {"kv_a_proj_with_mqa", "kv_b_proj"},
    "o": {"o_proj", "out_proj", "o", "out_lin"},
    FFN: {
        "gate_proj",
        "up_proj",
        "down_proj",
        "gate_up_proj",
        "fc1",
        "fc2",
        "fc_in",
        "fc_out",
        "c_fc",
        "w1",
        "w2",
        "w3",
        "wi",
        "wi_0",
        "wi_1",
        "dense_h_to_4h",
        "dense_4h_to_h",
        "lin1",
        "lin2",
    },
    OTHER: {
        "lm_head",
        "embed_tokens",
        "wte",
        "wpe",
        "word_embeddings",
        "classifier",
        "score",
        "embed_out",
        "shared",
        "project_in",
        "project_out",
    },
}
_FUSED = {"qkv": ("q", "k", "v"), "kv": ("k", "v")}

# names whose role depends on the block they sit in (attention output or MLP projection)
_BY_SCOPE = {"dense", "c_proj", "wo", "proj", "output"}
_FFN_SCOPES = {"mlp", "feed_forward", "ffn", "intermediate", "densereludense", "experts", "block_sparse_moe", "moe"}
# ... and multimodal models' bridges from the vision tower to the language model (Qwen-VL's
# `merger`s, LLaVA's and Llama 4's `multi_modal_projector`, Llama 4's patch embedding)
_OTHER_SCOPES = {
    "pooler",
    "classifier",
    "lm_head",
    "embeddings",
    "score",
    "merger",
    "deepstack_merger_list",
    "multi_modal_projector",
    "patch_embedding",
    "patch_embed",
}
# linear attention (Qwen3.5's and Qwen3-Next's Gated DeltaNet, Kimi-Linear's KDA): the fused query/key/value input,
# and the gates (z, and the decay/step inputs a and b), which are none of q, k, v, o
_LINEAR_ATTENTION = {
    "in_proj_qkv": "qkv",
    "in_proj_qkvz": "qkv",
    "in_proj_z": OTHER,
    "in_proj_a": OTHER,
    "in_proj_b": OTHER,
    "in_proj_ba": OTHER,
    # Kimi Delta Attention: the write strength (b_proj), the low-rank decay (forget_gate.f_a_proj,
    # f_b_proj) and output gate (g_a_proj, g_b_proj)
    "b_proj": OTHER,
    "f_a_proj": OTHER,
    "f_b_proj": OTHER,
    "g_a_proj": OTHER,
    "g_b_proj": OTHER,
}


def _in_attention(scope: str) -> bool:
    return "attn" in scope or "attention" in scope  # self_attn, SelfAttention, EncDecAttention, encoder_attn


def module_role(name: str) -> str | None:
    """`q`, `k`, `v`, `qkv` or `kv` (fused), `o`, `ffn`, `other`, or None when the name alone cannot say."""
    parts = name.lower().split(".")
    leaf, scopes = parts[-1], parts[:-1]
    if any(_in_attention(s) for s in scopes):
        fixed = next((role for role in ("q", "k", "v", "qkv", "kv", "o") if leaf in _LEAVES[role]), None)
        return fixed or _LINEAR_ATTENTION.get(leaf) or ("o" if leaf in _BY_SCOPE else None)
    if any(s in _OTHER_SCOPES for s in scopes):
        return OTHER
    # BERT-style blocks put the MLP's second projection at `layer.N.output.dense`
    if any(s in _FFN_SCOPES or s == "output" for s in scopes) or leaf in _LEAVES[FFN]:
        return FFN
    return next((role for role, leaves in _LEAVES.items() if leaf in leaves), None)


def role_parts(role: str) -> tuple[str, ...]:
    """The roles a (possibly fused) role stands for: `qkv` is q, k and v; `kv` is k and v."""
    return _FUSED.get(role, (role,))


def covered_roles(names: Iterable[str]) -> tuple[list[str], list[str]]:
    """(roles covered, with fused `qkv`/`kv` counted as their parts; names whose role is unknown)."""
    roles: set[str] = set()
    unknown: list[str] = []
    for name in names:
        role = module_role(name)
        if role is None:
            unknown.append(name)
        else:
            roles.update(role_parts(role))
    order = (*ATTENTION_ROLES, FFN, OTHER)
    return [r for r in order if r in roles], sorted(set(unknown))
