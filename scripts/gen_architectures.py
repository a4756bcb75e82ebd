#!/usr/bin/env python
"""Write `peftlint/data/architectures/` (an index and one JSON file per model_type): per model_type, the module tree transformers builds,
as templates over named config quantities (see `peftlint/enrich/architecture.py` for the format).

Dev-time only (torch + transformers, meta device, no weights). How a template is learned:

1. Probe. Build each task head of the model on the meta device from its seed config (a bundled
   config.json, or the config class defaults) with every size field replaced by a distinct value:
   widths 40*prime (even, and divisible as partial-rotary factors need), counts small primes,
   head counts multiples of the KV-head count. Three probes with different values.
2. Match. Every observed dimension is matched to the simplest sum of products of quantities that
   reproduces it in all three probes (`hidden_size`, `[[1, "num_attention_heads", "head_dim"],
   [2, "num_key_value_heads", "head_dim"]]`, ...). ModuleLists whose length follows a quantity
   become repeated groups.
3. Switches. Each boolean field is flipped: a flip that only adds or drops biases becomes a bias
   condition; one that changes the structure (tied head, extra norms) becomes a variant key, and
   the flipped value gets its own templates. String fields that differ between seeds are tried
   the same way. Modules that exist only when two sizes differ (OPT's `project_in`) or when a
   size is positive (`type_vocab_size: 0`) get conditions.
4. Verify. Every seed, at its real sizes (layer and expert counts capped), must give exactly the
   tree `torch_tree.module_tree` reads from transformers; generation fails otherwise.

A composite (multimodal) config nests the configs of its sub-models (`text_config`, `vision_config`).
Its fields are handled by path (`text_config.hidden_size`): seeds and probes are flat dicts of such
paths, nested again only to build the model, so every step above treats a sub-config's fields like
the top level's (each sub-config's hidden size a multiple of its own head counts). Only bundled
seeds are learned for composite model types: their sub-model types are the ones the template
accepts. The language-model head of a multimodal model is its image-text-to-text class (what
LLaMA-Factory, axolotl and `AutoModelForImageTextToText` load for it) when transformers has no
causal-LM class that takes the composite config.

Usage: python scripts/gen_architectures.py [--check]
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import math
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))

from peftlint.enrich import bundled  # noqa: E402
from peftlint.enrich.architecture import (  # noqa: E402
    ALWAYS_DERIVED,
    DERIVED,
    LAYER_KINDS,
    TASK_HEADS,
    ArchitectureIndex,
    ConfigQuantities,
)
from peftlint.enrich.modules import ModuleTree  # noqa: E402

OUTPUT = REPO / "peftlint" / "data" / "architectures"  # index.json + one <model_type>.json each

# Auto-class mappings per template head (first match wins).
HEAD_MAPPINGS: dict[str, tuple[str, ...]] = {
    "base": ("MODEL_MAPPING_NAMES",),
    "causal_lm": ("MODEL_FOR_CAUSAL_LM_MAPPING_NAMES", "MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES"),
    "seq2seq_lm": ("MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES", "MODEL_FOR_SPEECH_SEQ_2_SEQ_MAPPING_NAMES"),
    "seq_cls": ("MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES",),
    "token_cls": ("MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES",),
    "question_ans": ("MODEL_FOR_QUESTION_ANSWERING_MAPPING_NAMES",),
    "masked_lm": ("MODEL_FOR_MASKED_LM_MAPPING_NAMES",),
    "image_cls": ("MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES",),
}
# Heads on which a flipped switch is tried: the bare model and the language-model heads.
FLIP_HEADS = ("base", "causal_lm", "seq2seq_lm", "masked_lm")

# Fields that only steer the forward pass; flipping them is pointless.
RUNTIME_FLAGS = frozenset({"output_hidden_states", "return_dict", "output_attentions", "use_cache", "torchscript"})
# Config keys dropped from seeds: provenance, remote code, and lists recomputed from the layer count.
DROPPED_KEYS = frozenset({"_name_or_path", "transformers_version", "auto_map", "layer_types", "_commit_hash"})
# Integers that steer behaviour, not sizes (kept at the seed's value while probing).
BEHAVIOUR_WORDS = (
    "per_tok",
    "window",
    "sparse_step",
    "dense_replace",
    "layer_freq",
    "layer_step",
    "max_distance",
    "pretraining_tp",
    "stride",
    "scalar",
    "chunk_size",
)
COUNT_WORDS = frozenset({"layers", "layer", "heads", "head", "experts", "channels", "groups", "labels", "depth"})
# A list field's length as a quantity (`vision_config.deepstack_visual_indexes#len`: Qwen3-VL builds
# one merger per listed layer); probed as a count, with the list `range(length)`. Composite types only.
LENGTH = "#len"
# Sizes that multiply others squared (a vision merger's `hidden_size * spatial_merge_size**2`):
# probed with small values like counts, as widths would overflow even the meta device.
FACTOR_FIELDS = ("spatial_merge_size", "temporal_patch_size")
KV_WORDS = frozenset({"kv", "key_value"})
HIDDEN_FIELDS = ("hidden_size", "n_embd", "d_model", "dim")
WIDTH_PRIMES = (7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73)
WIDTH_UNIT = 40
# Further distinct values once those run out (a composite config has many more size fields).
EXTRA_WIDTH_PRIMES = (79, 83, 89, 97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167)
EXTRA_COUNTS = (29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71)
# Derived quantities a template may use although the config class has no such field.
DERIVED_ONLY = ("head_dim", *sorted(ALWAYS_DERIVED))
PROBES = 3
MAX_COMBINED_SWITCHES = 4
MAX_COEFFICIENT = 8
VERIFY_REPEAT_CAP = 3
# Models whose blocks differ by kind (architecture.LAYER_KINDS): what probes set so that a few
# blocks show every kind, given the kinds the seeds and the class default list (Nemotron-H: its
# list, each kind twice; Qwen3-Next: linear and full attention, each with a dense MLP and a MoE;
# DeepSeek-V2: two dense layers before the MoE ones).
KIND_PROBES: dict[str, Any] = {
    "nemotron_h": lambda seen: {"layers_block_type": seen * 2},
    "qwen3_next": lambda seen: {
        "num_hidden_layers": 8,
        "layer_types": ["linear_attention", "full_attention"] * 4,
        "mlp_only_layers": [0, 1],
        "decoder_sparse_step": 1,
    },
    "deepseek_v2": lambda seen: {"num_hidden_layers": 5, "first_k_dense_replace": 2},
    "qwen3_moe": lambda seen: {"num_hidden_layers": 4, "mlp_only_layers": [0], "decoder_sparse_step": 1},
    "glm4_moe_lite": lambda seen: {"num_hidden_layers": 4, "mlp_layer_types": ["dense", "dense", "sparse", "sparse"]},
    # Kimi-Linear: the sizes its linear_attn_config would override come from the probe
    "kimi_linear": lambda seen: {
        "num_hidden_layers": 8,
        "linear_attn_config": {},
        "layer_types": ["linear_attention", "full_attention"] * 4,
        "mlp_layer_types": ["dense", "dense", "sparse", "sparse"] * 2,
    },
    # Qwen3.5 (composite: the language model's fields by path): linear and full attention
    **dict.fromkeys(
        ("qwen3_5", "qwen3_5_moe"),
        lambda seen: {"text_config.num_hidden_layers": 4, "text_config.layer_types": ["linear_attention", "full_attention"] * 2},
    ),
}
# layer lists that must match the layer count (Kimi-Linear's 1-based layer indices and
# mlp_layer_types): verified at the seed's own depth
UNCAPPED_KINDS = frozenset({"kimi_linear"})
KINDS = "@kinds"  # a ModuleList whose length is the number of listed kinds
_LEGACY_NAMES = {"linear_attention": "mamba", "full_attention": "attention"}
# Other ways a config lists the kinds, each verified like the seeds: Nemotron-H without its
# `hybrid_override_pattern` (the class default list), and with an explicit `layer_types` list (an
# alias) in the legacy names transformers still maps, in another order.
KIND_VARIATIONS: dict[str, tuple[Any, ...]] = {
    "nemotron_h": (
        lambda seed, kinds: {k: v for k, v in seed.items() if k != "hybrid_override_pattern"},
        lambda seed, kinds: {**seed, "layer_types": [_LEGACY_NAMES.get(k, k) for k in reversed(kinds)]},
    ),
    # layer types from `full_attention_interval` or its default, or listed; dense layers by list and step
    "qwen3_next": (
        lambda seed, kinds: {**seed, "num_hidden_layers": 6, "full_attention_interval": 3, "mlp_only_layers": [4]},
        lambda seed, kinds: {**{k: v for k, v in seed.items() if k != "full_attention_interval"}, "num_hidden_layers": 5},
        lambda seed, kinds: {
            **seed,
            "num_hidden_layers": 4,
            "layer_types": ["full_attention", "attention", "linear_attention", "full_attention"],
            "decoder_sparse_step": 2,
        },
    ),
    "qwen3_moe": (lambda seed, kinds: {**seed, "num_hidden_layers": 5, "mlp_only_layers": [3], "decoder_sparse_step": 2},),
    "glm4_moe_lite": (
        lambda seed, kinds: {**seed, "num_hidden_layers": 4, "mlp_layer_types": ["dense", "sparse", "dense", "sparse"]},
        lambda seed, kinds: {**seed, "num_hidden_layers": 3},
    ),
    # full attention every other layer, or by the default interval: both kinds at the capped depth
    **dict.fromkeys(
        ("qwen3_5", "qwen3_5_moe"),
        (
            lambda seed, kinds: {**seed, "text_config": {**_without_layer_types(seed), "full_attention_interval": 2}},
            lambda seed, kinds: {**seed, "text_config": {**_without_layer_types(seed), "num_hidden_layers": 4}},
        ),
    ),
    "deepseek_v2": (
        lambda seed, kinds: {**seed, "num_hidden_layers": 4, "first_k_dense_replace": 3},
        lambda seed, kinds: {**{k: v for k, v in seed.items() if k != "first_k_dense_replace"}, "num_hidden_layers": 3},
    ),
}


def _without_layer_types(seed: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in seed["text_config"].items() if k not in ("layer_types", "full_attention_interval")}


class GenerationError(RuntimeError):
    pass


# --- transformers helpers ------------------------------------------------------------------------


def _transformers() -> Any:
    import transformers
    from transformers.utils import logging

    logging.set_verbosity_error()
    warnings.filterwarnings("ignore")
    return transformers


def sub_config_keys(config_class: Any) -> tuple[str, ...]:
    """The keys of a composite config's nested sub-configs (empty for a plain config)."""
    defaults = config_class().to_dict()
    return tuple(sorted(k for k in getattr(config_class, "sub_configs", {}) if isinstance(defaults.get(k), Mapping)))


def flatten_config(config: Mapping[str, Any], subs: Sequence[str]) -> dict[str, Any]:
    """A composite config as one flat dict: sub-config fields named by path (`text_config.hidden_size`)."""
    flat = {k: v for k, v in config.items() if k not in subs or not isinstance(v, Mapping)}
    for key in subs:
        if isinstance(config.get(key), Mapping):
            flat.update((f"{key}.{k}", v) for k, v in config[key].items())
    return flat


def nest_config(flat: Mapping[str, Any], subs: Sequence[str]) -> dict[str, Any]:
    """The inverse of `flatten_config`: what transformers builds from."""
    config: dict[str, Any] = {}
    for name, value in flat.items():
        key, dot, rest = name.partition(".")
        if dot and key in subs:
            if not isinstance(config.get(key), dict):
                config[key] = {}
            config[key][rest] = value
        elif not (name in subs and isinstance(config.get(name), dict)):
            config[name] = value
    return config


def leaf_name(name: str) -> str:
    """A field's own name without its sub-config path."""
    return name.rpartition(".")[2]


def head_classes(model_type: str) -> dict[str, str]:
    from transformers.models.auto import modeling_auto

    heads: dict[str, str] = {}
    for head, mappings in HEAD_MAPPINGS.items():
        for mapping in mappings:
            name = getattr(modeling_auto, mapping).get(model_type)
            if name:
                heads[head] = name if isinstance(name, str) else name[0]
                break
    return heads


def build(model_type: str, config_dict: Mapping[str, Any], class_name: str) -> Any:
    import torch

    transformers = _transformers()
    config = transformers.CONFIG_MAPPING[model_type].from_dict(dict(config_dict))
    model_class = getattr(transformers, class_name)
    text_class = getattr(config, "sub_configs", {}).get("text_config")
    if text_class is not None and getattr(model_class, "config_class", None) is text_class:
        # as the auto classes build a multimodal model's text-only class (Llama4ForCausalLM):
        # from its text sub-config
        config = config.get_text_config()
    with torch.device("meta"):
        return model_class._from_config(config)


def oracle_tree(model: Any, model_type: str | None = None) -> ModuleTree:
    from peftlint.enrich.torch_tree import module_tree

    return module_tree(model, model_type)


# --- a built model, as a structure of leaves and repeated groups ---------------------------------


@dataclass(frozen=True)
class Leaf:
    name: str
    kind: str
    in_features: int | None
    out_features: int | None
    tensors: tuple[tuple[str, tuple[int, ...]], ...]  # the parameters it owns (not tied ones), registration order
    bias: bool
    shared: tuple[tuple[str, tuple[int, ...]], ...] = ()  # its parameters registered earlier elsewhere
    transposed: bool = False  # fused experts stored (experts, in, out): LoRA's ParamWrapper reads them so


@dataclass(frozen=True)
class Group:
    name: str
    repeat: str  # the quantity giving the length
    length: int
    items: tuple[Leaf | Group, ...]
    first: tuple[Leaf | Group, ...] | None = None  # block 0, when it differs from the others
    kinds: tuple[tuple[str, tuple[Leaf | Group, ...]], ...] | None = None  # blocks by kind (`items` is empty)
    by: str | None = None  # the architecture.LAYER_KINDS rule giving each block's kind


Item = Leaf | Group


@dataclass(frozen=True)
class Raw:
    """One built model: its parameter-owning modules (full names) and its ModuleLists."""

    leaves: tuple[Leaf, ...]
    lists: tuple[tuple[str, int], ...]
    tied: tuple[tuple[str, str], ...]
    embeddings: tuple[str | None, str | None]  # input, output

    def structure(self, drop_bias: bool) -> tuple[Any, ...]:
        return tuple(signature_of(leaf, drop_bias) for leaf in self.leaves), self.tied, self.embeddings

    def tensor_count(self) -> int:
        return sum(len(leaf.tensors) for leaf in self.leaves)


def read_raw(model: Any) -> Raw:
    import torch.nn as nn

    tree = oracle_tree(model)
    mods = dict(model.named_modules(remove_duplicate=False))
    leaves = []
    for module in tree.modules:
        own = mods[module.name].named_parameters(recurse=False)
        shared = tuple((t, tuple(int(s) for s in p.shape)) for t, p in own if t in module.shared)
        leaves.append(
            Leaf(module.name, module.kind, module.in_features, module.out_features, module.tensors, module.bias, shared, module.transposed)
        )
    lists = tuple((n, len(m)) for n, m in model.named_modules() if isinstance(m, nn.ModuleList) and len(m))
    return Raw(tuple(leaves), lists, tuple(sorted(tree.tied.items())), (tree.input_embedding, tree.output_embedding))


def _pattern(path: str) -> str:
    """A ModuleList path with its block indices blanked (`layers.3.experts` -> `layers.#.experts`)."""
    return ".".join("#" if part.isdigit() else part for part in path.split("."))


def repeat_quantities(raws: Sequence[Raw], counts: Sequence[Mapping[str, int]], kinds: Sequence[int] = ()) -> dict[str, str]:
    """ModuleList pattern -> the count quantity its length equals in every probe (KINDS: the
    number of listed layer kinds, `kinds` giving it per probe)."""
    candidates: dict[str, set[str]] = {}
    for k, (raw, count) in enumerate(zip(raws, counts, strict=True)):
        for path, length in raw.lists:
            matches = {q for q, v in count.items() if v == length}
            if kinds and length == kinds[k]:
                matches = {KINDS}
            candidates[_pattern(path)] = candidates.get(_pattern(path), matches) & matches
    ambiguous = {p: c for p, c in candidates.items() if len(c) > 1}
    if ambiguous:
        raise GenerationError(f"cannot tell which quantity repeats {ambiguous}")
    return {p: c.pop() for p, c in candidates.items() if c}


@dataclass(frozen=True)
class Kinds:
    """The kind of each block of a KINDS list, and how the runtime tells them."""

    rule: str  # architecture.LAYER_KINDS key
    count: str  # the layer-count field the list's length sets
    labels: tuple[str, ...]


def fold(raw: Raw, repeats: Mapping[str, str], kinds: Kinds | None = None) -> tuple[Item, ...]:
    paths = {path: repeats[_pattern(path)] for path, _ in raw.lists if _pattern(path) in repeats}
    for pair in raw.tied:
        if any(name.startswith(path + ".") for name in pair for path in paths):
            raise GenerationError(f"tied weights inside a repeated block: {pair}")
    return _fold([(leaf.name, leaf) for leaf in raw.leaves], "", paths, kinds)


def _fold(entries: list[tuple[str, Leaf]], scope: str, repeats: Mapping[str, str], kinds: Kinds | None = None) -> tuple[Item, ...]:
    """Fold `entries` (names relative to `scope`) into leaves and groups, checking that every
    repetition of a group (but possibly the first) is identical, or of a kinds group every block
    of one kind."""
    items: list[Item] = []
    i = 0
    while i < len(entries):
        rel = entries[i][0]
        group = next(
            (r[len(scope) :] for r in sorted(repeats, key=len) if r.startswith(scope) and rel.startswith(r[len(scope) :] + ".")), None
        )
        if group is None:
            leaf = entries[i][1]
            items.append(Leaf(rel, leaf.kind, leaf.in_features, leaf.out_features, leaf.tensors, leaf.bias, leaf.shared, leaf.transposed))
            i += 1
            continue
        prefix = group + "."
        run = list(itertools.takewhile(lambda e: e[0].startswith(prefix), entries[i:]))  # noqa: B023 (used at once)
        i += len(run)
        by_index: dict[int, list[tuple[str, Leaf]]] = {}
        for rel_name, leaf in run:
            index, _, rest = rel_name[len(group) + 1 :].partition(".")
            by_index.setdefault(int(index), []).append((rest, leaf))
        blocks = [_fold(by_index[k], scope + group + f".{k}.", repeats, kinds) for k in sorted(by_index)]
        if repeats[scope + group] == KINDS:
            items.append(_kinds_group(group, blocks, kinds, scope))
            continue
        if sorted(by_index) != list(range(len(by_index))) or any(b != blocks[-1] for b in blocks[1:]):
            raise GenerationError(f"the blocks of `{scope + group}` differ from each other")
        first = blocks[0] if blocks[0] != blocks[-1] else None
        items.append(Group(group, repeats[scope + group], len(blocks), blocks[-1], first))
    return tuple(items)


def _kinds_group(name: str, blocks: Sequence[tuple[Item, ...]], kinds: Kinds | None, scope: str) -> Group:
    if kinds is None or len(blocks) != len(kinds.labels):
        raise GenerationError(f"`{scope + name}` has {len(blocks)} blocks, not one per listed kind")
    by_kind: dict[str, tuple[Item, ...]] = {}
    for label, block in zip(kinds.labels, blocks, strict=True):
        if by_kind.setdefault(label, block) != block:
            raise GenerationError(f"the `{label}` blocks of `{scope + name}` differ from each other")
    return Group(name, kinds.count, len(blocks), (), None, tuple(sorted(by_kind.items())), kinds.rule)


def flatten(items: Sequence[Item], path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Item]]:
    """Every item with its path; a group's first block is entered under the extra step "first",
    a kinds group's blocks under their kind."""
    for item in items:
        yield path + (item.name,), item
        if isinstance(item, Group) and item.kinds is not None:
            for label, block in item.kinds:
                yield from flatten(block, path + (item.name, label))
        elif isinstance(item, Group):
            yield from flatten(item.items, path + (item.name,))
            if item.first is not None:
                yield from flatten(item.first, path + (item.name, "first"))


def signature_of(item: Item, drop_bias: bool) -> tuple[Any, ...]:
    """An item's structure and sizes (optionally ignoring its bias)."""
    if isinstance(item, Group):
        return ("group", item.name, item.length, item.first is not None, [k for k, _ in item.kinds or ()])
    tensors = tuple(t for t in item.tensors if not (drop_bias and t[0] == "bias"))
    bias = () if drop_bias else (item.bias,)
    return ("leaf", item.name, item.kind, item.in_features, item.out_features, tensors, item.shared, item.transposed) + bias


def shape_free(item: Item) -> tuple[Any, ...]:
    """What stays the same when only sizes change."""
    if isinstance(item, Group):
        return ("group", item.name, item.first is not None, tuple(k for k, _ in item.kinds or ()))
    return ("leaf", item.name, item.kind, tuple(t for t, _ in item.tensors), item.bias, tuple(t for t, _ in item.shared), item.transposed)


# --- seeds and probe values ------------------------------------------------------------------------


def clean_seed(config: Mapping[str, Any]) -> dict[str, Any]:
    seed = {k: v for k, v in config.items() if k not in DROPPED_KEYS}
    for key, value in seed.items():  # a composite config's sub-configs, likewise
        if isinstance(value, Mapping) and "model_type" in value:
            seed[key] = clean_seed(value)
    # Phi-3's `longrope` factors are one per rotary frequency, so a probe that changes head_dim
    # fails validation; rotary embeddings own no parameters, so the seed is built without them.
    for key in ("rope_scaling", "rope_parameters"):
        if isinstance(seed.get(key), Mapping) and "long_factor" in seed[key]:
            del seed[key]
    return seed


def _is_token_id(name: str) -> bool:
    return name.endswith("token_id") or name.endswith("token_ids")


def _words(name: str) -> set[str]:
    name = leaf_name(name)
    return set(name.strip("_").split("_")) | ({"key_value"} if "key_value" in name else set())


def is_count(name: str) -> bool:
    """Numbers of things (layers, heads, experts), as opposed to widths: named by their last word."""
    leaf = leaf_name(name)
    return leaf.strip("_").split("_")[-1] in COUNT_WORDS or leaf in FACTOR_FIELDS or leaf.endswith(LENGTH)


def size_fields(config: Mapping[str, Any]) -> list[str]:
    """Integer fields of a full config dict that may be sizes."""
    return sorted(
        k
        for k, v in config.items()
        if isinstance(v, int) and not isinstance(v, bool) and not _is_token_id(k) and not any(w in k for w in BEHAVIOUR_WORDS)
    )


def assign(fields: Sequence[str], probe: int) -> dict[str, int]:
    """Distinct probe values for `fields` (see the module docstring)."""
    rotate = probe * 5
    widths = itertools.chain(WIDTH_PRIMES[rotate % len(WIDTH_PRIMES) :] + WIDTH_PRIMES[: rotate % len(WIDTH_PRIMES)], EXTRA_WIDTH_PRIMES)
    small = [2, 3, 5, 7, 11, 13, 17, 19, 23]
    # one KV-head count per config scope (a composite config's sub-configs each have their own),
    # so that a sub-config's KV heads are never mistaken for a stale top-level copy of them
    scopes = sorted({f.rpartition(".")[0] for f in fields})
    kv_values = {scope: ((2, 3, 5), (17, 19, 23), (29, 31, 37), (41, 43, 47))[k % 4][probe] for k, scope in enumerate(scopes)}
    used: set[int] = set(kv_values.values())
    values: dict[str, int] = {}

    def fresh_small(options: Sequence[int]) -> int:
        value = next(v for v in itertools.chain(options, EXTRA_COUNTS) if v not in used)
        used.add(value)
        return value

    kv_fields = [f for f in fields if _words(f) & KV_WORDS and is_count(f)]
    head_fields = [f for f in fields if f not in kv_fields and _words(f) & {"heads", "head"} and is_count(f)]
    for f in kv_fields:
        values[f] = kv_values[f.rpartition(".")[0]]
    for k, f in enumerate(head_fields):
        kv_value = kv_values[f.rpartition(".")[0]]
        group = (2, 3, 5, 7)[(probe + k) % 4]
        while kv_value * group in used:
            group += 2
        values[f] = kv_value * group
        used.add(values[f])
    layer_order = (3, 2, 4, 5, 6, 7)[probe:] + (3, 2, 4)[:probe] + (8, 9, 10)  # the tail: when heads took the rest
    for f in fields:
        if f in values or not is_count(f):
            continue
        values[f] = fresh_small(layer_order if _words(f) & {"layers", "layer"} else small[probe:] + small[:probe])
    for f in fields:
        if f in values:
            continue
        values[f] = WIDTH_UNIT * next(widths)
    for scope in sorted({f.rpartition(".")[0] for f in fields}):  # the top level, and each sub-config
        prefix = f"{scope}." if scope else ""
        hidden = next((prefix + f for f in HIDDEN_FIELDS if prefix + f in fields), None)
        heads = [f for f in head_fields if f.rpartition(".")[0] == scope]
        if hidden and heads:  # configs check divisibility even when `head_dim` is explicit
            values[hidden] = math.lcm(*(values[f] for f in heads)) * WIDTH_UNIT * next(widths)
        if prefix + "image_size" in values and prefix + "patch_size" in values:
            values[prefix + "image_size"] = values[prefix + "patch_size"] * (3, 5, 7)[probe]
    return values


def probe_dict(seed: Mapping[str, Any], values: Mapping[str, Any], num_labels: int, aliases: Mapping[str, str]) -> dict[str, Any]:
    """The config a probe builds from (and that the runtime resolves quantities from)."""
    # generic aliases (`num_hidden_layers` for BART's `encoder_layers`) would override the values
    config = {k: v for k, v in seed.items() if k not in ("id2label", "label2id", "num_labels") and k not in aliases}
    for key, value in config.items():  # small ids stay below the probe vocabulary sizes
        if _is_token_id(key) and isinstance(value, int) and not isinstance(value, bool) and value > 1:
            config[key] = 1
        elif _is_token_id(key) and isinstance(value, list):
            config[key] = [1]
    config.update(values)
    for name, length in values.items():
        if name.endswith(LENGTH):
            del config[name]
            config[name[: -len(LENGTH)]] = list(range(length))
    config["num_labels"] = num_labels
    return config


# --- matching sizes to expressions -----------------------------------------------------------------


Expr = Any  # int | str | list[list[Any]]


class Matcher:
    """Finds the simplest sum of products of quantities that reproduces observed sizes."""

    def __init__(self, quantities: Sequence[Mapping[str, int]]) -> None:
        names = sorted(quantities[0])
        self.index: dict[tuple[int, ...], tuple[str, ...]] = {}
        for degree in (1, 2, 3):
            for factors in itertools.combinations_with_replacement(names, degree):
                key = tuple(math.prod(q[f] for f in factors) for q in quantities)
                if key not in self.index:  # sorted by degree then name: the first is the simplest
                    self.index[key] = factors
        self.monomials = list(self.index.items())
        self.cache: dict[tuple[int, ...], Expr] = {}

    def match(self, observed: tuple[int, ...]) -> Expr:
        if observed not in self.cache:
            self.cache[observed] = self._match(observed)
        return self.cache[observed]

    def _two_terms(self, observed: Sequence[int]) -> list[tuple[int, int, str, list[list[Any]]]]:
        """Every c1 * m1 + c2 * m2 (coefficients up to 4) giving `observed`, with its ranking key."""
        candidates = []
        for (first_values, first), c1 in itertools.product(self.monomials, range(1, 5)):
            rest = [v - c1 * f for v, f in zip(observed, first_values)]
            for c2 in range(1, 5):
                second = self._lookup(rest, c2)
                if second:
                    terms = sorted([[c1, *first], [c2, *second]], key=lambda t: (len(t), t[1:]))
                    candidates.append((len(first) + len(second), c1 + c2, json.dumps(terms), terms))
        return candidates

    def _lookup(self, values: Sequence[int], coefficient: int) -> tuple[str, ...] | None:
        if any(v <= 0 or v % coefficient for v in values):
            return None
        return self.index.get(tuple(v // coefficient for v in values))

    def _match(self, observed: tuple[int, ...]) -> Expr:
        if len(set(observed)) == 1 and observed[0] <= 4:  # kernel sizes, the 2 of a QA head
            return observed[0]
        for coefficient in range(1, MAX_COEFFICIENT + 1):
            factors = self._lookup(observed, coefficient)
            if factors:
                return factors[0] if coefficient == 1 and len(factors) == 1 else [[coefficient, *factors]]
        for offset in (1, -1, 2, -2):
            factors = self._lookup([v - offset for v in observed], 1)
            if factors:
                return [[1, *factors], [offset]]
        candidates = self._two_terms(observed)
        if candidates:
            return min(candidates)[3]
        # three terms, one of them a single quantity: Mamba-2's in_proj is
        # 2 * heads * head_dim + 2 * groups * state + heads
        for (values, factors), c3 in itertools.product(self.monomials, range(1, 5)):
            if len(factors) == 1:
                rest = tuple(v - c3 * f for v, f in zip(observed, values, strict=True))
                for degree, total, _, terms in self._two_terms(rest):
                    terms = sorted([*terms, [c3, *factors]], key=lambda t: (len(t), t[1:]))
                    candidates.append((degree + 1, total + c3, json.dumps(terms), terms))
        if candidates:
            return min(candidates)[3]
        if len(set(observed)) == 1:
            return observed[0]
        raise GenerationError(f"no expression over the config quantities gives the sizes {observed}")


# --- templates ----------------------------------------------------------------------------------------


def merge(probes: Sequence[tuple[Item, ...]], matcher: Matcher) -> list[dict[str, Any]]:
    """One template item list from the same structure observed at different sizes."""
    out: list[dict[str, Any]] = []
    for versions in zip(*probes, strict=True):
        first = versions[0]
        if len({shape_free(v) for v in versions}) != 1:
            raise GenerationError(f"`{first.name}` changes structure with the sizes")
        if isinstance(first, Group) and first.kinds is not None:
            groups = [dict(v.kinds or ()) for v in versions if isinstance(v, Group)]
            kinds = {label: merge([g[label] for g in groups], matcher) for label, _ in first.kinds}
            out.append({"n": first.name, "r": first.repeat, "by": first.by, "kinds": kinds})
        elif isinstance(first, Group):
            groups = [v for v in versions if isinstance(v, Group)]
            group = {"n": first.name, "r": first.repeat, "items": merge([g.items for g in groups], matcher)}
            if first.first is not None:
                group["first"] = merge([g.first for g in groups if g.first is not None], matcher)
            out.append(group)
        else:
            out.append(_merge_leaf([v for v in versions if isinstance(v, Leaf)], matcher))
    return out


def _merge_leaf(versions: Sequence[Leaf], matcher: Matcher) -> dict[str, Any]:
    first = versions[0]

    def dim(sizes: Sequence[int | None]) -> Expr:
        return None if sizes[0] is None else matcher.match(tuple(int(s) for s in sizes if s is not None))

    def shapes(tensors: Sequence[Sequence[tuple[str, tuple[int, ...]]]]) -> list[list[Any]]:
        return [
            [name, [matcher.match(tuple(t[i][1][d] for t in tensors)) for d in range(len(shape))]]
            for i, (name, shape) in enumerate(tensors[0])
        ]

    leaf = {
        "n": first.name,
        "k": first.kind,
        "i": dim([v.in_features for v in versions]),
        "o": dim([v.out_features for v in versions]),
        "t": shapes([v.tensors for v in versions]),
        "b": first.bias,
    }
    if first.shared:
        leaf["s"] = shapes([v.shared for v in versions])
    if first.transposed:
        leaf["x"] = True
    return leaf


def _find(items: list[dict[str, Any]], path: tuple[str, ...]) -> dict[str, Any]:
    item = next(i for i in items if i["n"] == path[0])
    if len(path) == 1:
        return item
    if path[1] == "first":
        return _find(item["first"], path[2:])
    if "kinds" in item:
        return _find(item["kinds"][path[1]], path[2:])
    return _find(item["items"], path[1:])


def add_condition(items: list[dict[str, Any]], path: tuple[str, ...], condition: list[Any]) -> None:
    _find(items, path).setdefault("if", []).append(condition)


@dataclass
class Variant:
    seed: dict[str, Any]  # the (cleaned) seed the templates are learned from
    when: dict[str, Any]
    heads: dict[str, dict[str, Any]] = field(default_factory=dict)


class ModelType:
    """Everything learned about one model_type."""

    def __init__(self, model_type: str, seeds: list[dict[str, Any]]) -> None:
        transformers = _transformers()
        self.model_type = model_type
        self.config_class = transformers.CONFIG_MAPPING[model_type]
        self.subs = sub_config_keys(self.config_class)
        self.seeds = [flatten_config(seed, self.subs) for seed in seeds]
        self.heads = head_classes(model_type)
        self.attribute_map = dict(getattr(self.config_class, "attribute_map", {}))
        # a sub-config's defaults are its class's, for the sub-model type of the seeds (llava's
        # text model is a llama): what transformers fills into a sub-config the file gives in part
        self.sub_types = {key: sorted({s[f"{key}.model_type"] for s in self.seeds if f"{key}.model_type" in s}) for key in self.subs}
        instance = self.config_class.from_dict({k: {"model_type": t[0]} for k, t in self.sub_types.items() if t})
        self.class_defaults = flatten_config(instance.to_dict(), self.subs)
        for key in self.subs:
            sub_class = type(getattr(instance, key))
            self.sub_types[key] = sorted({*self.sub_types[key], sub_class.model_type})
            self.attribute_map.update((f"{key}.{a}", f"{key}.{f}") for a, f in getattr(sub_class, "attribute_map", {}).items())
        self.switches: dict[str, str] = {}  # field -> "bool" | "str"
        self.kind_probe = self._kind_probe()
        self.bias_switches: dict[str, bool] = {}  # field -> the value that adds the biases
        self.referenced: set[str] = set()

    # -- building ----------------------------------------------------------------------------------

    def _kind_probe(self) -> dict[str, Any] | None:
        """What probes of a model of several block kinds set (KIND_PROBES)."""
        if self.model_type not in KIND_PROBES:
            return None
        seen: list[str] = []
        for config in [*self.seeds, self.class_defaults]:
            for label in self.kinds_of(config):
                if label not in seen:
                    seen.append(label)
        probe: dict[str, Any] = KIND_PROBES[self.model_type](seen)
        return probe

    def kinds_of(self, config: Mapping[str, Any]) -> list[str]:
        return LAYER_KINDS[self.model_type](ConfigQuantities(self.model_type, self.meta(), config))

    def kinds(self, config: Mapping[str, Any]) -> Kinds | None:
        if self.kind_probe is None:
            return None
        layers = "text_config.num_hidden_layers" if "text_config" in self.subs else "num_hidden_layers"  # a composite's language model
        count = self.attribute_map.get(layers, layers)
        return Kinds(self.model_type, count, tuple(self.kinds_of(config)))

    def full(self, seed: Mapping[str, Any]) -> dict[str, Any]:
        return flatten_config(self.config_class.from_dict(nest_config(seed, self.subs)).to_dict(), self.subs)

    def fields(self, seed: Mapping[str, Any]) -> list[str]:
        full = self.full(seed)
        lengths = []
        if self.subs:  # lists of layer indices whose length builds modules (see LENGTH)
            lengths = [
                k + LENGTH
                for k, v in full.items()
                if k.endswith("_indexes") and isinstance(v, list) and all(isinstance(i, int) and not isinstance(i, bool) for i in v)
            ]
        return sorted(size_fields(full) + lengths)

    def meta(self, derived: Sequence[str] = ()) -> dict[str, Any]:
        return {"attribute_map": self.attribute_map, "defaults": {}, "derived": list(derived)}

    def quantities(self, config: Mapping[str, Any], names: Sequence[str]) -> dict[str, int]:
        # quantities transformers computes without storing them (e.g. Falcon's head_dim), for the
        # top level and each sub-config (the label count only at the top, where the head is)
        scoped = [n for n in DERIVED_ONLY] + [f"{key}.{n}" for key in self.subs for n in DERIVED_ONLY if n != "num_labels"]
        derived_only = [n for n in scoped if n not in self.class_defaults and n not in names]
        q = ConfigQuantities(self.model_type, self.meta(derived_only), config)
        values = {n: q.raw(n) for n in names}
        for name in derived_only:
            try:
                values[name] = q.raw(name)
            except Exception:  # a rule whose inputs this model type does not have
                continue
        return {k: v for k, v in values.items() if isinstance(v, int) and not isinstance(v, bool) and v > 0}

    def probe(self, config: Mapping[str, Any], heads: Sequence[str]) -> dict[str, Raw]:
        return {h: read_raw(self.build_head(config, h)) for h in heads}

    def build_head(self, config: Mapping[str, Any], head: str) -> Any:
        try:
            return build(self.model_type, nest_config(config, self.subs), self.heads[head])
        except ValueError:
            if config.get("num_labels") == 2:
                raise
            # some heads insist on two labels (DistilBERT's question answering)
            return build(self.model_type, nest_config({**config, "num_labels": 2}, self.subs), self.heads[head])

    def probe_configs(self, seed: Mapping[str, Any], extra: Sequence[str] = ()) -> list[dict[str, Any]]:
        fields = sorted(set(self.fields(seed)) | set(extra))
        configs = [probe_dict(seed, assign(fields, k), (7, 11, 13)[k], self.attribute_map) for k in range(PROBES)]
        if self.kind_probe is not None:  # e.g. an explicit list wins over the seed's own (a pattern)
            for config in configs:
                config.update(copy.deepcopy(self.kind_probe))
        return configs

    # -- switches ----------------------------------------------------------------------------------

    def flip_heads(self) -> list[str]:
        return [h for h in FLIP_HEADS if h in self.heads]

    def classify(self, config: dict[str, Any], base: dict[str, Raw], field_name: str, value: Any) -> str:
        """How setting `field_name` to `value` changes the probe: same, bias+ / bias-, structure, error."""
        try:
            flipped = self.probe({**config, field_name: value}, list(base))
        except Exception:
            return "error"
        if all(flipped[h].structure(False) == base[h].structure(False) for h in base):
            return "same"
        if all(flipped[h].structure(True) == base[h].structure(True) for h in base):
            more = sum(flipped[h].tensor_count() for h in base) > sum(base[h].tensor_count() for h in base)
            return "bias+" if more else "bias-"
        return "structure"

    def find_switches(self) -> None:
        seen: set[str] = set()
        for seed in self.seeds:
            full = self.full(seed)
            key = json.dumps({k: v for k, v in full.items() if isinstance(v, (bool, str))}, sort_keys=True)
            if key in seen:
                continue
            seen.add(key)
            config = self.probe_configs(seed)[0]
            base = self.probe(config, self.flip_heads())
            for name, value in sorted(full.items()):
                if isinstance(value, bool) and name not in RUNTIME_FLAGS:
                    kind = self.classify(config, base, name, not value)
                    if kind in ("structure", "error"):
                        self.switches[name] = "bool"
                    elif kind.startswith("bias"):
                        self.bias_switches[name] = (not value) if kind == "bias+" else value
                elif value is None and name not in DERIVED and name not in RUNTIME_FLAGS:
                    # a size left unset that adds modules when set (Nemotron-H's `moe_latent_size`,
                    # DeepSeek-V2-Lite's `q_lora_rank`): templates for it unset and set (any value)
                    if self.classify(config, base, name, WIDTH_UNIT * WIDTH_PRIMES[-1]) == "structure":
                        self.switches[name] = "null"
        for name in sorted({k for s in self.seeds for k, v in self.full(s).items() if isinstance(v, str)}):
            values = {self.full(s).get(name) for s in self.seeds}
            if len(values) < 2 or leaf_name(name) == "model_type":
                continue
            config = self.probe_configs(self.seeds[0])[0]
            base = self.probe(config, self.flip_heads())
            if any(self.classify(config, base, name, v) == "structure" for v in sorted(values - {config.get(name)})):
                self.switches[name] = "str"
        if self.subs:
            self.find_pinned_integers()

    def find_pinned_integers(self) -> None:
        """Integers kept at the seed's value while probing (BEHAVIOUR_WORDS) that change the
        structure when they change (Llama 4's `interleave_moe_layer_step`: MoE in every layer or
        every other): the template holds only for the seeds' value, so it becomes a switch whose
        other values the runtime refuses. Composite model types only, so far."""
        seed = self.seeds[0]
        full = self.full(seed)
        config = self.probe_configs(seed)[0]
        base = self.probe(config, self.flip_heads())
        for name, value in sorted(full.items()):
            if (
                name in config
                and any(w in leaf_name(name) for w in BEHAVIOUR_WORDS)
                and isinstance(value, int)
                and not isinstance(value, bool)
            ):
                if self.classify(config, base, name, value + 1) in ("structure", "error"):
                    self.switches[name] = "int"

    def signature(self, seed: Mapping[str, Any]) -> dict[str, Any]:
        full = self.full(seed)
        return {name: _switch_value(self.switches[name], full.get(name)) for name in sorted(self.switches)}

    def variants(self) -> list[Variant]:
        """The seeds' switch settings, every other combination of the boolean switches (each
        one flipped alone when there are too many to combine), and each null switch both set and
        unset."""
        found: dict[str, Variant] = {}
        candidates = list(self.seeds)
        flags = sorted(name for name, kind in self.switches.items() if kind == "bool")
        for seed in self.seeds:
            if len(flags) <= MAX_COMBINED_SWITCHES:
                candidates += [{**seed, **dict(zip(flags, values))} for values in itertools.product((False, True), repeat=len(flags))]
            else:
                candidates += [{**seed, name: not self.full(seed).get(name)} for name in flags]
        for name in sorted(n for n, kind in self.switches.items() if kind == "null"):
            # the other side of a null switch: the class default, or any size when that is null
            on = self.class_defaults.get(name) or WIDTH_UNIT * WIDTH_PRIMES[-1]
            for candidate in list(candidates):
                try:
                    candidates.append({**candidate, name: None if self.full(candidate).get(name) is not None else on})
                except Exception:  # noqa: S112 - a combination transformers itself rejects
                    continue
        for seed in candidates:
            try:
                when = self.signature(seed)
                self.build_head(self.probe_configs(seed)[0], "base" if "base" in self.heads else next(iter(self.heads)))
            except Exception:
                continue  # a combination transformers itself rejects
            found.setdefault(json.dumps(when, sort_keys=True), Variant(seed, when))
        return [found[k] for k in sorted(found)]

    # -- templates ---------------------------------------------------------------------------------

    def learn(self, variant: Variant) -> None:
        # learn with every bias switched on; flipping each off then tells which biases it owns
        seed = {**variant.seed, **self.bias_switches}
        nullable = self.nullable_sizes(seed)
        configs = self.probe_configs(seed, nullable)
        names = sorted(set(self.fields(seed)) | set(nullable))
        quantities = [self.quantities(c, names) for c in configs]
        matcher = Matcher(quantities)
        counts = [{k: v for k, v in q.items() if v < WIDTH_UNIT} for q in quantities]
        raws = [self.probe(c, list(self.heads)) for c in configs]
        kinds = self.kinds(configs[0])
        lengths = [len(kinds.labels)] * len(configs) if kinds else []
        repeats = {h: repeat_quantities([r[h] for r in raws], counts, lengths) for h in self.heads}
        for head in self.heads:
            first = raws[0][head]
            if len({(r[head].tied, r[head].embeddings) for r in raws}) != 1:
                raise GenerationError(f"{head}: tied weights change with the sizes")
            items = merge([fold(r[head], repeats[head], self.kinds(c)) for r, c in zip(raws, configs, strict=True)], matcher)
            variant.heads[head] = {
                "items": items,
                "tied": dict(first.tied),
                "input_embedding": first.embeddings[0],
                "output_embedding": first.embeddings[1],
            }
        base = {h: fold(raws[0][h], repeats[h], kinds) for h in self.heads}
        self.bias_conditions(variant, configs[0], base, repeats)
        self.size_conditions(variant, configs[0], base, repeats, names)

    def nullable_sizes(self, seed: Mapping[str, Any]) -> list[str]:
        """Fields left null (transformers derives them in the model) that turn out to be sizes."""
        config = self.probe_configs(seed)[0]
        full = self.full(seed)
        base = self.probe(config, self.flip_heads())
        found = []
        for name, value in sorted(full.items()):
            if value is None and leaf_name(name) in DERIVED and leaf_name(name) not in ALWAYS_DERIVED:
                if self.classify(config, base, name, WIDTH_UNIT * WIDTH_PRIMES[-1]) != "same":
                    found.append(name)
        return found

    def bias_conditions(
        self, variant: Variant, config: dict[str, Any], base: dict[str, tuple[Item, ...]], repeats: Mapping[str, Mapping[str, str]]
    ) -> None:
        for name, on in sorted(self.bias_switches.items()):
            flipped = self.probe({**config, name: not on}, list(self.heads))
            condition = ["is", name, on]
            for head, template in variant.heads.items():
                after = dict(flatten(fold(flipped[head], repeats[head], self.kinds(config))))
                for path, item in flatten(base[head]):
                    other = after[path]
                    if not isinstance(item, Leaf):
                        continue
                    assert isinstance(other, Leaf)
                    leaf = _find(template["items"], path)
                    if item.bias != other.bias:
                        if not item.bias:
                            raise GenerationError(f"`{'.'.join(path)}` gains a bias when {name}={not on}")
                        leaf["b"] = [condition] if isinstance(leaf["b"], bool) else leaf["b"] + [condition]
                    dropped = {t for t, _ in item.tensors} - {t for t, _ in other.tensors}
                    for tensor in leaf["t"]:
                        if tensor[0] in dropped:
                            tensor.append([*tensor[2], condition] if len(tensor) > 2 else [condition])
            self.referenced.add(name)

    def size_conditions(
        self,
        variant: Variant,
        config: dict[str, Any],
        base: dict[str, tuple[Item, ...]],
        repeats: Mapping[str, Mapping[str, str]],
        names: list[str],
    ) -> None:
        """Modules present only when a size is positive, or when two sizes differ: tried for the
        non-positive sizes and equal widths of every seed (OPT-125m's `word_embed_proj_dim` equals
        its hidden size; OPT-350m's does not, and the projections it then has are conditional)."""
        tests: list[tuple[dict[str, Any], list[Any], list[Any]]] = []
        widths = [n for n in names if n in config and config[n] >= WIDTH_UNIT]
        seeds = [self.full(seed) for seed in self.seeds]
        for name in names:
            low = sorted({s[name] for s in seeds if isinstance(s.get(name), int) and s[name] <= 0})
            tests += [({name: value}, ["pos", name], ["nonpos", name]) for value in low[:1]]
        for a, b in itertools.combinations(widths, 2):
            if any(isinstance(s.get(a), int) and s.get(a) == s.get(b) for s in seeds):
                tests.append(({b: config[a]}, ["ne", a, b], ["eq", a, b]))
        for change, when_base, when_changed in tests:
            try:
                changed = self.probe({**config, **change}, list(self.heads))
            except Exception:
                continue
            for head, template in variant.heads.items():
                before = {p for p, _ in flatten(base[head])}
                after = {p for p, _ in flatten(fold(changed[head], repeats[head], self.kinds({**config, **change})))}
                for path in sorted(before - after):
                    add_condition(template["items"], path, when_base)
                    self.referenced.update(n for n in when_base[1:])
                for path in sorted(after - before):
                    raise GenerationError(f"{head}: `{'.'.join(path)}` appears only when {when_changed}")

    # -- defaults ----------------------------------------------------------------------------------

    def derived_fields(self, used: set[str]) -> tuple[list[str], set[str]]:
        """Used fields whose value, when a config leaves them out, transformers computes from others
        (each needs a rule in `architecture.DERIVED`, checked here against transformers on every
        seed), and the fields those rules read."""
        derived = []
        inputs: set[str] = set()
        for name in sorted(used):
            if leaf_name(name) in DERIVED:  # what the rule reads needs a default too
                rule = ConfigQuantities(self.model_type, {**self.meta([name]), "defaults": self.class_defaults}, {})
                try:
                    rule.raw(name)
                except Exception:  # noqa: S112 - a rule this model type cannot use is never called
                    continue
                inputs |= set(rule.values) - {name}
            if name.endswith(LENGTH):  # the list itself needs its default
                inputs.add(name[: -len(LENGTH)])
        for name in sorted(used - ALWAYS_DERIVED):
            default = self.class_defaults.get(name)
            if default is None:  # computed in the model; without a rule the runtime reports it missing
                if leaf_name(name) in DERIVED:
                    derived.append(name)
                continue
            dropped = {name} | {k for k, v in self.attribute_map.items() if v == name}
            for config in (c for seed in self.seeds for c in self.probe_configs(seed)):
                config = {k: v for k, v in config.items() if k not in dropped}
                try:
                    computed = self.full(config).get(name)
                except Exception:  # the class default does not fit these probe sizes
                    continue
                if computed == default:
                    continue
                if leaf_name(name) not in DERIVED:
                    raise GenerationError(
                        f"`{name}` defaults to a value derived from other fields ({computed}); add a rule to architecture.DERIVED"
                    )
                rule = ConfigQuantities(self.model_type, {**self.meta([name]), "defaults": self.class_defaults}, config)
                if rule.raw(name) != computed:
                    raise GenerationError(f"architecture.DERIVED[{name!r}] gives {rule.raw(name)}, transformers {computed}")
                derived.append(name)
                break
        return derived, inputs

    def prune_switches(self, variants: list[Variant]) -> list[Variant]:
        """Drop switches whose every value gives the same templates once the other switches are
        fixed (T5's `feed_forward_proj` only matters through `is_gated_act`)."""
        for name in sorted(self.switches):
            values = {json.dumps(v.when[name]) for v in variants}
            groups: dict[str, list[Variant]] = {}
            for variant in variants:
                rest = {k: v for k, v in variant.when.items() if k != name}
                groups.setdefault(json.dumps(rest, sort_keys=True), []).append(variant)
            if len(values) > 1 and all(
                len(g) == len(values) and len({json.dumps(v.heads, sort_keys=True) for v in g}) == 1 for g in groups.values()
            ):
                del self.switches[name]
                variants = [g[0] for g in groups.values()]
                for variant in variants:
                    del variant.when[name]
        return variants

    def entry(self) -> dict[str, Any]:
        self.find_switches()
        variants = self.variants()
        if not variants:
            raise GenerationError("no seed builds")
        for variant in variants:
            self.learn(variant)
        variants = self.prune_switches(variants)
        templates: list[dict[str, Any]] = []
        keys: dict[str, int] = {}
        out_variants = []
        for variant in variants:
            heads = {}
            for head, template in variant.heads.items():
                key = json.dumps(template, sort_keys=True)
                heads[head] = keys.setdefault(key, len(keys))
                if heads[head] == len(templates):
                    templates.append(template)
            out_variants.append({"when": variant.when, "heads": heads})
        blocks: list[Any] = []
        block_keys: dict[str, int] = {}
        for template in templates:
            _share_blocks(template["items"], blocks, block_keys)
        used = set(self.referenced) | set(self.switches) | _used_quantities(templates, blocks)
        text = "text_config." if "text_config" in self.subs else ""
        layer_fields = {self.attribute_map.get(text + n, text + n) for n in ("num_hidden_layers", "num_layers")}
        used |= layer_fields & set(self.class_defaults)  # read for ModuleTree.num_layers
        derived, inputs = self.derived_fields(used)
        defaults = {n: self.class_defaults[n] for n in sorted(used | inputs) if n in self.class_defaults}
        composite: dict[str, Any] = {}
        if self.subs:
            composite["sub_configs"] = {key: {"model_types": self.sub_types[key], "legacy": self.legacy(key)} for key in self.subs}
            if text:
                composite["text"] = "text_config"
        return {
            **composite,
            "attribute_map": dict(sorted(self.attribute_map.items())),
            "defaults": defaults,
            "derived": derived,
            "architectures": {cls: head for head, cls in sorted(self.heads.items())},
            "variants": out_variants,
            "templates": templates,
            "blocks": blocks,
            "layer_classes": self.layer_classes(),
        }

    def legacy(self, key: str) -> bool:
        """Whether transformers reads the sub-config's fields from the top level when the file has
        no such sub-config (Qwen2-VL's first config.json files keep the text model's there)."""
        probe = next((f for f in size_fields(self.full(self.seeds[0])) if f.startswith(key + ".")), None)
        if probe is None:
            return False
        config = {k: v for k, v in self.seeds[0].items() if not k.startswith(key + ".")}
        value = self.full(config).get(probe)
        changed = self.full({**config, leaf_name(probe): value + 1}).get(probe)
        return bool(changed == value + 1)

    def layer_classes(self) -> list[str]:
        """The block classes accelerate's FSDP TRANSFORMER_BASED_WRAP wraps when no
        `fsdp_transformer_layer_cls_to_wrap` is given: the model's `_no_split_modules` that the model
        instantiates (accelerate utils/dataclasses.py `set_auto_wrap_policy`). `recommend --format
        accelerate` names them; empty when transformers declares none (DistilBERT)."""
        # the whole model: an encoder-decoder's seq2seq head, not its decoder-only causal LM
        head = next(h for h in ("seq2seq_lm", "causal_lm", "base", *self.heads) if h in self.heads)
        model = self.build_head(self.seeds[0], head)
        present = {type(module).__name__ for module in model.modules()}
        # sorted: transformers 5 gathers `_no_split_modules` into a set, whose order changes with
        # PYTHONHASHSEED, and --check must see the same file on every run (accelerate's wrap policy
        # does not depend on the order)
        return sorted(name for name in (getattr(model, "_no_split_modules", None) or []) if name in present)


def _switch_value(kind: str, value: Any) -> Any:
    """A switch's value as a variant's `when` holds it: a null switch is null or {"set": true}."""
    return {"set": True} if kind == "null" and value is not None else value


def _share_blocks(items: list[dict[str, Any]], blocks: list[Any], keys: dict[str, int]) -> None:
    """Replace each group's item lists by an index into `blocks`, storing equal blocks once
    (the layers of a model are the same under every task head)."""
    for item in items:
        parts = [(item, part) for part in ("items", "first") if "r" in item and part in item]
        parts += [(item["kinds"], label) for label in item.get("kinds", {})]
        for holder, part in parts:
            _share_blocks(holder[part], blocks, keys)
            key = json.dumps(holder[part], sort_keys=True)
            if key not in keys:
                keys[key] = len(blocks)
                blocks.append(holder[part])
            holder[part] = keys[key]


def _used_quantities(templates: Sequence[Mapping[str, Any]], blocks: Sequence[Any]) -> set[str]:
    used: set[str] = set()

    def dims(spec: Any) -> None:
        if isinstance(spec, str):
            used.add(spec)
        elif isinstance(spec, list):
            for _, *factors in spec:
                used.update(factors)

    def walk(items: Any) -> None:
        for item in blocks[items] if isinstance(items, int) else items:
            for condition in item.get("if", []):
                used.update(a for a in condition[1:] if isinstance(a, str))
            if "r" in item:
                used.add(item["r"])
                for part in [item.get("items"), item.get("first"), *item.get("kinds", {}).values()]:
                    if part is not None:
                        walk(part)
                continue
            dims(item["i"])
            dims(item["o"])
            for tensor in item["t"] + item.get("s", []):
                for spec in tensor[1]:
                    dims(spec)

    for template in templates:
        walk(template["items"])
    return used


# --- verification ----------------------------------------------------------------------------------


def capped(config: Mapping[str, Any], entry: Mapping[str, Any]) -> dict[str, Any]:
    """`config` with every repeat count at most VERIFY_REPEAT_CAP (building is then fast)."""
    repeats: set[str] = set()

    def walk(items: Any) -> None:
        for item in entry["blocks"][items] if isinstance(items, int) else items:
            if "r" in item:
                if item.get("by") not in UNCAPPED_KINDS:
                    repeats.add(item["r"])
                for part in [item.get("items"), *item.get("kinds", {}).values()]:
                    if part is not None:
                        walk(part)

    for template in entry["templates"]:
        walk(template["items"])
    subs = entry.get("sub_configs", {})
    out = flatten_config(config, subs)
    aliases = {v: k for k, v in entry["attribute_map"].items()}
    for name in repeats:
        if leaf_name(name).split("_")[-1] not in ("layers", "layer", "experts", "depth"):
            continue  # e.g. StableLM's per-head norms: capping heads would break divisibility
        keys = {name, aliases.get(name)}
        scope = name.rpartition(".")[0]
        if scope in subs and subs[scope]["legacy"] and not isinstance(config.get(scope), Mapping):
            keys |= {leaf_name(k) for k in keys if k}  # read from the top level
        for key in keys:
            if key in out and isinstance(out[key], int) and out[key] > VERIFY_REPEAT_CAP:
                out[key] = VERIFY_REPEAT_CAP
    return nest_config(out, subs)


def verify(model_type: str, entry: Mapping[str, Any], seeds: Sequence[Mapping[str, Any]]) -> None:
    index = ArchitectureIndex({"model_types": {model_type: entry}})
    tasks = {head: next(t for t, h in TASK_HEADS.items() if h == head) for head in entry["architectures"].values()}
    if model_type in KIND_VARIATIONS:
        rule = LAYER_KINDS[model_type]
        seeds = [
            *seeds,
            *(
                vary(seed, rule(ConfigQuantities(model_type, entry, clean_seed(seed))))
                for seed in seeds
                for vary in KIND_VARIATIONS[model_type]
            ),
        ]
    for seed in seeds:
        config = capped(clean_seed(seed), entry)
        for cls, head in entry["architectures"].items():
            expected = oracle_tree(build(model_type, config, cls), model_type)  # a text-only head's config is the text sub-config's
            got = index.module_tree(config, tasks[head])
            if got != expected:
                raise GenerationError(f"{cls} from {seed.get('_name_or_path', 'a seed')}: {_diff(got, expected)}")


def _diff(got: ModuleTree, expected: ModuleTree) -> str:
    for a, b in itertools.zip_longest(got.modules, expected.modules):
        if a != b:
            return f"runtime {a} != transformers {b}"
    for name in ("total_params", "num_layers", "tied", "input_embedding", "output_embedding"):
        if getattr(got, name) != getattr(expected, name):
            return f"{name}: runtime {getattr(got, name)!r} != transformers {getattr(expected, name)!r}"
    return "trees differ"


# --- the document ----------------------------------------------------------------------------------


def peft_model_types() -> list[str]:
    """Model types peft knows default targets for (LoRA and IA3 maps)."""
    from peft.utils import constants

    return sorted(
        set(constants.TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING) | set(constants.TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING)
    )


def seeds_by_type() -> dict[str, list[dict[str, Any]]]:
    seeds: dict[str, list[dict[str, Any]]] = {}
    for model_id in bundled.bundled_ids():
        config = bundled.bundled_config(model_id)
        assert config is not None
        seeds.setdefault(config["model_type"], []).append({**config, "_name_or_path": model_id})
    return seeds


def generate(report: list[str] | None = None) -> dict[str, Any]:
    transformers = _transformers()
    import peft
    import torch

    seeds = seeds_by_type()
    extra = [
        t
        for t in peft_model_types()
        if t not in seeds and t in transformers.CONFIG_MAPPING and not _composite(transformers.CONFIG_MAPPING[t]().to_dict())
    ]
    if report is not None:
        report.extend(
            f"skipped {t}: "
            + ("a composite config (sizes live in sub-configs)" if t in transformers.CONFIG_MAPPING else "not a transformers model type")
            for t in peft_model_types()
            if t not in seeds and t not in extra
        )
    model_types: dict[str, Any] = {}
    for model_type in sorted(seeds) + extra:
        type_seeds = seeds.get(model_type) or [transformers.CONFIG_MAPPING[model_type]().to_dict()]
        try:
            learner = ModelType(model_type, [clean_seed(s) for s in type_seeds])
            entry = learner.entry()
            verify(model_type, entry, type_seeds)
        except Exception as error:
            if model_type in seeds:
                raise GenerationError(f"{model_type}: {error}") from error
            if report is not None:
                reason = (str(error).strip().splitlines() or [""])[-1].strip()
                report.append(f"skipped {model_type}: {type(error).__name__}: {reason}")
            continue
        model_types[model_type] = entry
        if report is not None:
            report.append(f"{model_type}: {len(entry['variants'])} variant(s), heads {sorted(entry['architectures'].values())}")
    return {
        "generated_by": "scripts/gen_architectures.py",
        "transformers": transformers.__version__,
        "torch": torch.__version__.split("+")[0],
        "peft": peft.__version__,
        "bundled_configs": bundled_fingerprint(),
        "model_types": model_types,
    }


def _composite(config: Mapping[str, Any]) -> bool:
    """Multimodal configs keep their sizes in nested sub-configs, which templates do not read."""
    return any(isinstance(v, Mapping) and "model_type" in v for v in config.values())


def bundled_fingerprint() -> str:
    """A digest of the seeds, so a cheap test can tell the JSON is stale after a config change."""
    import hashlib

    digest = hashlib.sha256()
    for model_id in bundled.bundled_ids():
        digest.update(model_id.encode())
        digest.update(json.dumps(bundled.bundled_config(model_id), sort_keys=True).encode())
    return digest.hexdigest()[:16]


def render(document: Mapping[str, Any]) -> dict[str, str]:
    """File name -> text: an index, and one file per model_type, so that `estimate` reads only the
    template of its model (all of them together are ~350 KB of JSON, ~8 ms to parse)."""

    def compact(value: Any) -> str:
        return json.dumps(value, separators=(",", ":"), sort_keys=False) + "\n"

    index = {**{k: v for k, v in document.items() if k != "model_types"}, "model_types": sorted(document["model_types"])}
    return {"index.json": compact(index), **{f"{name}.json": compact(entry) for name, entry in document["model_types"].items()}}


def committed() -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(OUTPUT.glob("*.json"))}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed JSON is stale")
    args = parser.parse_args(argv)
    report: list[str] = []
    files = render(generate(report))
    print("\n".join(report))
    if args.check:
        if committed() != files:
            print(f"{OUTPUT} is stale: run scripts/gen_architectures.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.mkdir(exist_ok=True)
    for stale in set(committed()) - set(files):
        (OUTPUT / stale).unlink()
    for name, text in files.items():
        (OUTPUT / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(files)} files to {OUTPUT.relative_to(REPO)} ({sum(map(len, files.values()))} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
