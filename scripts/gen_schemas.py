"""Generate the JSON Schemas of peft's adapter configs from the installed peft (dev time only).

Writes one Draft 2020-12 schema per PEFT type to ``schemas/peft/<PEFT_TYPE>.schema.json`` and the
index ``peftlint/data/peft_types.json`` that the runtime reads instead of importing peft.

    .venv/bin/python scripts/gen_schemas.py           # (re)write the files
    .venv/bin/python scripts/gen_schemas.py --check   # exit 1 and name the files that differ

How a field becomes a property:

- the JSON type comes from the dataclass annotation (``Optional`` adds null, a ``Union`` becomes a
  type list, ``Literal``/``Enum`` become ``enum``; ``float`` is ``number`` so integers pass; ``bool``
  stays apart from ``integer``); a nested config dataclass becomes a ``$ref`` into ``$defs``;
- in a ``Union`` with a ``Literal``/``Enum``, ``str`` is dropped: it is there so that the enum's
  *value* may be passed, which is what a config file holds (peft checks e.g. ``task_type`` and ROAD's
  ``variant`` against the value list); likewise ``Union[SomeConfig, dict]`` is ``SomeConfig``, because
  peft writes the dataclass as the dict;
- a field whose default is ``None`` accepts null even when its annotation says otherwise
  (``num_virtual_tokens: int = None``): peft writes that null itself;
- ``peft_type`` is a ``const``: ``__post_init__`` always sets it to the config's own type;
- value constraints that the annotation cannot express come from ``CONSTRAINTS`` below, each citing
  the line of peft (or torch) that enforces it, or the reason the value would be meaningless.
  Citations are checked against the installed sources, so a peft upgrade that moves them fails here
  instead of leaving a stale reference.
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import json
import sys
import types
import typing
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jsonschema_rs
import peft
from peft.mapping import PEFT_TYPE_TO_CONFIG_MAPPING
from peft.tuners.waveft.constants import WAVELET_REDUCTIONS
from transformers.activations import ACT2FN

REPO_ROOT = Path(__file__).resolve().parents[1]
SCHEMA_DIR = REPO_ROOT / "schemas" / "peft"
INDEX_PATH = REPO_ROOT / "peftlint" / "data" / "peft_types.json"
SCHEMA_SUFFIX = ".schema.json"
DRAFT = "https://json-schema.org/draft/2020-12/schema"

# Keywords that define what a value may be; an overlay carrying any of them replaces the generated
# type instead of narrowing it.
TYPE_KEYWORDS = frozenset({"type", "enum", "const", "anyOf", "$ref", "if", "then", "else"})


class Source(NamedTuple):
    """A line of an installed package that enforces a constraint."""

    path: str  # relative to site-packages, e.g. "peft/tuners/lora/layer.py"
    line: int
    text: str  # must occur on that line; keeps the citation honest across upgrades

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


class Constraint(NamedTuple):
    """Extra schema for one field of some PEFT types, or of a nested config ("EvaConfig.rho")."""

    field: str
    schema: dict[str, Any]
    why: str
    sources: tuple[Source, ...] = ()
    types: tuple[str, ...] = ()  # empty: every type that has the field
    required: bool = False  # peft raises on the field's default, so a config must set it


def _positive_rank(peft_type: str, source: Source) -> Constraint:
    return Constraint("r", {"minimum": 1}, "peft raises for r <= 0", (source,), (peft_type,))


_POSITIVE_RANK_SOURCES = {
    "LORA": Source("peft/tuners/lora/layer.py", 240, "`r` should be a positive integer"),
    "VERA": Source("peft/tuners/vera/layer.py", 80, "`r` should be a positive integer"),
    "PVERA": Source("peft/tuners/pvera/layer.py", 84, "`r` should be a positive integer"),
    "RANDLORA": Source("peft/tuners/randlora/layer.py", 109, "`r` should be a positive integer"),
    "LOHA": Source("peft/tuners/loha/layer.py", 126, "`r` should be a positive integer"),
    "LOKR": Source("peft/tuners/lokr/layer.py", 185, "`r` should be a positive integer"),
    "HRA": Source("peft/tuners/hra/layer.py", 73, "`r` should be a positive integer"),
    "MISS": Source("peft/tuners/miss/layer.py", 79, "`r` should be a positive integer"),
    "SHIRA": Source("peft/tuners/shira/layer.py", 90, "`r` should be a positive integer"),
    "HIRA": Source("peft/tuners/hira/layer.py", 126, "`r` should be a positive integer"),
    "GRALORA": Source("peft/tuners/gralora/layer.py", 80, "`r` should be a positive integer"),
    "DELORA": Source("peft/tuners/delora/config.py", 162, "`r` must be a positive integer"),
    "LILY": Source("peft/tuners/lily/layer.py", 81, "`r` should be a positive integer"),
    "DEFT": Source("peft/tuners/deft/layer.py", 95, "`r` should be a positive integer"),
    "POLY": Source("peft/tuners/poly/layer.py", 56, "`r` should be a positive integer"),
    "VBLORA": Source("peft/tuners/vblora/layer.py", 81, "should be a positive integer"),
    "UNILORA": Source("peft/tuners/unilora/config.py", 208, "`r` should be a positive integer"),
    "TINYLORA": Source("peft/tuners/tinylora/config.py", 196, "`r` should be a positive integer"),
    "SHADOW": Source("peft/tuners/shadow/layers.py", 256, "`r` should be a positive integer"),
    "PSOFT": Source("peft/tuners/psoft/config.py", 284, "`r` must be a positive integer"),
    "PEANUT": Source("peft/tuners/peanut/config.py", 188, "`r` must be a positive integer"),
}

# Every dropout-like field is a probability: peft hands it to torch.nn.Dropout or compares it with
# torch.rand. p = 1 is accepted by torch but drops every input, so the adapter never learns.
_DROPOUT_FIELDS = (
    "boft_dropout", "deft_dropout", "encoder_dropout", "frod_dropout", "gralora_dropout",
    "hira_dropout", "lora_dropout", "miss_dropout", "module_dropout", "psoft_dropout",
    "pvera_dropout", "randlora_dropout", "rank_dropout", "shadow_dropout", "tinylora_dropout",
    "unilora_dropout", "vblora_dropout", "vera_dropout", "xlora_dropout_p",
)  # fmt: skip
_TORCH_DROPOUT = Source("torch/nn/modules/dropout.py", 24, "if p < 0 or p > 1")

# peft's base tuner accepts "none", "all" and any "<method>_only" for a `bias` annotated as plain str.
_GENERIC_BIAS_TYPES = (
    "BOFT", "C3A", "DEFT", "FOURIERFT", "FROD", "GLORA", "GRALORA", "HRA", "MISS", "PVERA",
    "RANDLORA", "TINYLORA", "VBLORA", "VERA", "WAVEFT",
)  # fmt: skip

_PROMPT_LEARNING_TYPES = (
    "CARTRIDGE", "CPT", "MULTITASK_PROMPT_TUNING", "PREFIX_TUNING", "PROMPT_TUNING", "P_TUNING",
)  # fmt: skip


def _src(path: str, line: int, text: str) -> tuple[Source, ...]:
    return (Source(path, line, text),)


CONSTRAINTS: tuple[Constraint, ...] = (
    *(_positive_rank(peft_type, source) for peft_type, source in _POSITIVE_RANK_SOURCES.items()),
    Constraint(
        "r",
        {"minimum": 1},
        "a rank-0 GLoRA factor has no parameters (peft does not check it)",
        types=("GLORA",),
    ),
    Constraint(
        "r",
        {"type": ["integer", "null"], "minimum": 1},
        "peft raises unless r is None or > 0",
        _src("peft/tuners/supertuning/config.py", 153, "r must be a positive integer or None"),
        ("SUPERTUNING",),
    ),
    Constraint(
        "r",
        {"minimum": 0},
        "OFT's r is a block count and 0 means 'use oft_block_size'; negative is meaningless",
        types=("OFT",),
    ),
    Constraint(
        "oft_block_size",
        {"minimum": 0},
        "a block size; 0 means 'use r'; negative is meaningless",
        types=("OFT",),
    ),
    Constraint(
        "boft_block_size",
        {"minimum": 0},
        "a block size; 0 means 'use boft_block_num'",
        types=("BOFT",),
    ),
    Constraint(
        "boft_block_num",
        {"minimum": 0},
        "a block count; 0 means 'use boft_block_size'",
        types=("BOFT",),
    ),
    *(
        Constraint(
            field,
            {"minimum": 0, "exclusiveMaximum": 1},
            "a dropout probability; torch raises outside [0, 1] and p = 1 drops every input",
            (_TORCH_DROPOUT,),
        )
        for field in _DROPOUT_FIELDS
    ),
    Constraint(
        "lora_alpha",
        {"type": "number"},
        "annotated int, but only used in the float scaling lora_alpha / r; peft itself writes a "
        "fractional value when it converts a PiSSA/OLoRA adapter with use_rslora",
        _src("peft/peft_model.py", 407, "lora_alpha *= 2**0.5"),
        ("LORA",),
    ),
    Constraint(
        "rank_pattern",
        {"additionalProperties": {"type": "integer", "minimum": 1}},
        "values are per-module ranks, checked like r",
        (_POSITIVE_RANK_SOURCES["LORA"],),
        ("LORA",),
    ),
    Constraint(
        "alpha_pattern",
        {"additionalProperties": {"type": "number"}},
        "values are per-module lora_alpha",
        types=("LORA",),
    ),
    Constraint(
        "init_lora_weights",
        {
            # if/then/else rather than anyOf, so that a typo fails the enum and gets a did-you-mean
            "if": {"type": "string", "pattern": "^pissa_niter_"},
            "then": {"pattern": "^pissa_niter_[0-9]+$"},
            "else": {"enum": [True, False, "gaussian", "eva", "olora", "pissa", "corda", "loftq", "orthogonal", "mica", "lora_ga"]},
        },  # fmt: skip
        "the annotation's 'pissa_niter_[number of iters]' is a pattern, and peft also accepts 'lora_ga', which the annotation omits",
        (
            Source("peft/tuners/lora/layer.py", 308, 'init_lora_weights == "lora_ga"'),
            Source("peft/tuners/lora/layer.py", 445, 'split("_niter_")) == 2'),
        ),
        ("LORA",),
    ),
    Constraint(
        "init_r",
        {"minimum": 1},
        "the initial rank of every adapted layer; 0 leaves nothing to train (the layer accepts 0 only for ranks pruned via rank_pattern)",
        types=("ADALORA",),
    ),
    Constraint(
        "target_r",
        {"minimum": 1},
        "the rank budget per layer; 0 prunes every rank",
        types=("ADALORA",),
    ),
    Constraint(
        # a missing or null total_step is rule PL341's, which says what the value means
        "total_step",
        {"type": ["integer", "null"], "minimum": 1},
        "peft raises unless total_step > 0",
        _src("peft/tuners/adalora/config.py", 102, "does not work when `total_step` is None"),
        ("ADALORA",),
    ),
    Constraint(
        "use_dora",
        {"const": False},
        "AdaLoRA raises for use_dora=True",
        _src("peft/tuners/adalora/config.py", 74, "if self.use_dora:"),
        ("ADALORA",),
    ),
    Constraint(
        "orth_reg_weight",
        {"minimum": 0},
        "peft raises for a negative weight",
        _src("peft/tuners/adalora/config.py", 104, "self.orth_reg_weight < 0"),
        ("ADALORA",),
    ),
    Constraint(
        "deltaT",
        {"minimum": 1},
        "the step interval of rank allocation; it is used as a modulus",
        _src("peft/tuners/adalora/layer.py", 406, "step % self.peft_config.deltaT"),
        ("ADALORA",),
    ),
    Constraint(
        "num_virtual_tokens",
        {"minimum": 1},
        "a prompt of no virtual tokens trains nothing",
        types=_PROMPT_LEARNING_TYPES,
    ),
    Constraint(
        "task_type",
        {"enum": ["CAUSAL_LM"]},
        "CPT raises for any other task_type, None included",
        _src("peft/tuners/cpt/config.py", 83, "self.task_type != TaskType.CAUSAL_LM"),
        ("CPT",),
        required=True,
    ),
    Constraint(
        "num_frozen_tokens",
        {"minimum": 0},
        "peft raises for a negative count",
        _src("peft/tuners/cartridge/config.py", 65, "self.num_frozen_tokens < 0"),
        ("CARTRIDGE",),
    ),
    Constraint(
        "bias",
        {"type": "string", "pattern": "^(none|all|.+_only)$"},
        "peft's base tuner accepts 'none', 'all' or '<method>_only' and raises otherwise",
        _src("peft/tuners/tuners_utils.py", 539, "Requested bias: {bias}, is not implemented"),
        _GENERIC_BIAS_TYPES,
    ),
    Constraint(
        "bias",
        {"enum": ["none", "all", "unilora_only"]},
        "UniLoRA raises for any other value",
        _src("peft/tuners/unilora/config.py", 215, 'self.bias not in {"none", "all", "unilora_only"}'),
        ("UNILORA",),
    ),
    Constraint(
        "theta_d_length",
        {"minimum": 1},
        "peft raises for theta_d_length <= 0",
        _src("peft/tuners/unilora/config.py", 209, "self.theta_d_length <= 0"),
        ("UNILORA",),
    ),
    Constraint(
        "init_theta_d_bound",
        {"exclusiveMinimum": 0},
        "peft raises for init_theta_d_bound <= 0",
        _src("peft/tuners/unilora/config.py", 213, "self.init_theta_d_bound <= 0"),
        ("UNILORA",),
    ),
    Constraint(
        "init_weights",
        {"enum": ["orthogonal", False, None]},
        "AdaMSS turns False into None before checking, so false is accepted too",
        _src("peft/tuners/adamss/config.py", 345, "if self.init_weights is False"),
        ("ADAMSS",),
    ),
    Constraint(
        "n_frequency",
        {"minimum": 1},
        "peft raises for n_frequency <= 0",
        _src("peft/tuners/fourierft/layer.py", 64, "`n_frequency` should be a positive integer"),
        ("FOURIERFT",),
    ),
    Constraint(
        "n_frequency",
        {"minimum": 1},
        "peft raises for n_frequency <= 0",
        _src("peft/tuners/waveft/layer.py", 81, "`n_frequency` should be a positive integer"),
        ("WAVEFT",),
    ),
    Constraint(
        "block_size",
        {"minimum": 1},
        "peft raises for block_size <= 0",
        _src("peft/tuners/c3a/layer.py", 65, "`block_size` should be a positive integer"),
        ("C3A",),
    ),
    Constraint(
        "topk",
        {"minimum": 1},
        "peft raises for topk <= 0",
        _src("peft/tuners/vblora/layer.py", 83, "`topk` {topk} should be a positive integer"),
        ("VBLORA",),
    ),
    Constraint(
        "gralora_k",
        {"minimum": 1},
        "peft raises for gralora_k <= 0",
        _src("peft/tuners/gralora/config.py", 182, "self.gralora_k <= 0"),
        ("GRALORA",),
    ),
    Constraint(
        "hybrid_r",
        {"minimum": 0},
        "peft raises for a negative hybrid_r",
        _src("peft/tuners/gralora/layer.py", 82, "`hybrid_r` should be a non-negative integer"),
        ("GRALORA",),
    ),
    Constraint(
        "u",
        {"minimum": 1},
        "peft raises for u <= 0",
        _src("peft/tuners/tinylora/config.py", 197, "self.u <= 0"),
        ("TINYLORA",),
    ),
    Constraint(
        "weight_tying",
        {"minimum": 0, "maximum": 1},
        "peft raises outside [0, 1]",
        _src("peft/tuners/tinylora/config.py", 199, "0.0 <= self.weight_tying <= 1.0"),
        ("TINYLORA",),
    ),
    Constraint(
        "stride_A",
        {"minimum": 1},
        "peft raises for stride_A < 1",
        _src("peft/tuners/lily/config.py", 234, "self.stride_A < 1"),
        ("LILY",),
    ),
    Constraint(
        "num_B",
        {"minimum": 2},
        "peft raises for num_B < 2",
        _src("peft/tuners/lily/config.py", 236, "self.num_B < 2"),
        ("LILY",),
    ),
    Constraint(
        "depth",
        {"minimum": 0},
        "peft raises for a negative depth",
        _src("peft/tuners/peanut/config.py", 189, "self.depth < 0"),
        ("PEANUT",),
    ),
    Constraint(
        "sparse_rate",
        {"minimum": 0, "maximum": 1},
        "peft raises outside [0, 1]",
        _src("peft/tuners/frod/config.py", 191, "self.sparse_rate < 0 or self.sparse_rate > 1"),
        ("FROD",),
    ),
    Constraint(
        "sparsity",
        {"minimum": 0, "exclusiveMaximum": 1},
        "peft raises outside [0, 1)",
        _src("peft/tuners/supertuning/config.py", 148, "0.0 <= self.sparsity < 1.0"),
        ("SUPERTUNING",),
    ),
    Constraint(
        "group_size",
        {"minimum": 2, "multipleOf": 2},
        "peft raises unless group_size is even and > 0",
        _src("peft/tuners/road/config.py", 125, "self.group_size % 2 != 0"),
        ("ROAD",),
    ),
    Constraint(
        "xlora_depth",
        {"minimum": 1},
        "the X-LoRA classifier raises for depth <= 0",
        _src("peft/tuners/xlora/classifier.py", 80, "X-LoRA depth must be strictly positive"),
        ("XLORA",),
    ),
    Constraint(
        "runtime_config",
        {},
        "never written: LoraConfig.to_dict() drops it, and from_json_file() ignores it with a warning",
        (
            Source("peft/tuners/lora/config.py", 1006, 'rv.pop("runtime_config")'),
            Source("peft/config.py", 283, '"runtime_config" in json_object'),
        ),
        ("ADALORA", "LORA"),
    ),
    # nested configs: these apply wherever the dataclass is used
    Constraint(
        "VeloraConfig.num_groups",
        {"minimum": 1},
        "peft raises for num_groups <= 0",
        _src("peft/tuners/lora/config.py", 112, "self.num_groups <= 0"),
    ),
    Constraint(
        "VeloraConfig.scale",
        {"exclusiveMinimum": 0},
        "peft raises for scale <= 0",
        _src("peft/tuners/lora/config.py", 114, "self.scale <= 0"),
    ),
    Constraint(
        "ArrowConfig.top_k",
        {"minimum": 1},
        "peft raises for top_k <= 0 (its message says 'negative')",
        _src("peft/tuners/lora/config.py", 182, "self.top_k <= 0"),
    ),
    Constraint(
        "ArrowConfig.router_temperature",
        {"exclusiveMinimum": 0},
        "peft raises for router_temperature <= 0",
        _src("peft/tuners/lora/config.py", 184, "self.router_temperature <= 0"),
    ),
    Constraint(
        "EvaConfig.rho",
        {"minimum": 1},
        "peft raises for rho < 1",
        _src("peft/tuners/lora/config.py", 307, "self.rho < 1.0"),
    ),
    Constraint(
        "EvaConfig.tau",
        {"minimum": 0, "maximum": 1},
        "peft raises outside [0, 1]",
        _src("peft/tuners/lora/config.py", 309, "self.tau < 0.0 or self.tau > 1.0"),
    ),
    Constraint(
        "KasaConfig.beta",
        {"minimum": 0},
        "peft raises for a negative beta",
        _src("peft/tuners/lora/config.py", 370, "self.beta < 0"),
    ),
    Constraint(
        "KasaConfig.gamma",
        {"minimum": 0},
        "peft raises for a negative gamma",
        _src("peft/tuners/lora/config.py", 372, "self.gamma < 0"),
    ),
    Constraint(
        "MontecloraConfig.num_samples",
        {"minimum": 1},
        "peft raises for num_samples <= 0",
        _src("peft/tuners/lora/config.py", 1257, "self.num_samples <= 0"),
    ),
    Constraint(
        "MontecloraConfig.dirichlet_prior",
        {"exclusiveMinimum": 0},
        "peft raises for dirichlet_prior <= 0",
        _src("peft/tuners/lora/config.py", 1259, "self.dirichlet_prior <= 0"),
    ),
    Constraint(
        "MontecloraConfig.buffer_size",
        {"minimum": 1},
        "peft raises for buffer_size <= 0",
        _src("peft/tuners/lora/config.py", 1261, "self.buffer_size <= 0"),
    ),
    # peft checks these against tables of the installed peft / transformers, read here at generation time
    Constraint(
        "wavelet_family",
        {"enum": sorted(WAVELET_REDUCTIONS)},
        "peft raises for any other family",
        _src("peft/tuners/waveft/config.py", 262, "not in WAVELET_REDUCTIONS"),
        ("WAVEFT",),
    ),
    Constraint(
        "act_fn",
        {"enum": sorted(ACT2FN)},
        "peft raises unless act_fn is a key of transformers' ACT2FN",
        _src("peft/tuners/peanut/config.py", 191, "self.act_fn not in ACT2FN"),
        ("PEANUT",),
    ),
)


# --- annotation -> JSON Schema -------------------------------------------------------------------

_SCALARS = {type(None): "null", bool: "boolean", int: "integer", float: "number", str: "string"}
# Key order inside a property, so that the files read top-down: what it is, limits, then prose.
_KEY_ORDER = (
    "const", "enum", "type", "$ref", "anyOf", "if", "then", "else",
    "items", "prefixItems", "minItems", "maxItems", "additionalProperties",
    "pattern", "minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum", "multipleOf",
    "title", "description", "default", "$comment",
)  # fmt: skip


def _ordered(schema: dict[str, Any]) -> dict[str, Any]:
    rank = {key: index for index, key in enumerate(_KEY_ORDER)}
    return dict(sorted(schema.items(), key=lambda item: rank.get(item[0], len(rank))))


def _is_enum_like(tp: Any) -> bool:
    return typing.get_origin(tp) is typing.Literal or (isinstance(tp, type) and issubclass(tp, enum.Enum))


def _union_members(args: tuple[Any, ...]) -> list[Any]:
    members = list(args)
    if str in members and any(_is_enum_like(member) for member in members):
        members.remove(str)  # the enum's value form, see the module docstring
    if dict in members and any(dataclasses.is_dataclass(member) for member in members):
        members.remove(dict)  # the dataclass as peft writes it, see the module docstring
    return members


def _finite_values(schema: dict[str, Any]) -> list[Any] | None:
    """The values a schema allows if it is a small finite set, else None."""
    if set(schema) == {"enum"}:
        return list(schema["enum"])
    return {"null": [None], "boolean": [True, False]}.get(schema.get("type")) if len(schema) == 1 else None


JSON_TYPE_ORDER = ["boolean", "integer", "number", "string", "array", "object", "null"]


def _merge_union(members: list[dict[str, Any]]) -> dict[str, Any]:
    """One schema for a Union: an enum, a type list, or (when neither fits) anyOf."""
    if len(members) == 1:
        return members[0]
    values = [_finite_values(member) for member in members]
    if any("enum" in member for member in members) and None not in values:
        return {"enum": [value for member_values in values for value in member_values]}
    type_names = [member.get("type") for member in members]
    # "$ref" merges too: it only ever points at a nested config, which constrains objects alone
    plain = all(isinstance(name, str) for name in type_names) and not any(
        TYPE_KEYWORDS & (set(member) - {"type", "$ref"}) for member in members
    )
    if not plain or len(set(type_names)) != len(type_names):
        return {"anyOf": members}
    if "integer" in type_names and "number" in type_names:
        type_names.remove("integer")  # number already admits integers
    # typing caches Unions regardless of member order, so the order seen here depends on which
    # module built an equal Union first: sort, so the generated files do not depend on import order.
    type_names.sort(key=JSON_TYPE_ORDER.index)
    # The remaining keywords (items, additionalProperties, $ref) each apply to one JSON type only.
    keywords = {key: value for member in members for key, value in member.items() if key != "type"}
    return {"type": type_names if len(type_names) > 1 else type_names[0], **keywords}


def annotation_schema(tp: Any, defs: dict[str, dict[str, Any]], owner: str) -> dict[str, Any]:
    """The JSON Schema of the values peft writes for a field annotated ``tp``.

    Nested config dataclasses are added to ``defs`` and referenced. ``owner`` names the field in the
    error raised for an annotation without a JSON form, so that a new peft fails loudly here.
    """
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp in _SCALARS:
        return {"type": _SCALARS[tp]}
    if origin is typing.Literal:
        return {"enum": list(args)}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"enum": [member.value for member in tp]}
    if origin in (typing.Union, types.UnionType):
        return _merge_union([annotation_schema(arg, defs, owner) for arg in _union_members(args)])
    if tp is dict or origin is dict:
        value_schema = {"additionalProperties": annotation_schema(args[1], defs, owner)} if args else {}
        return {"type": "object", **value_schema}
    if origin is list:
        return {"type": "array", "items": annotation_schema(args[0], defs, owner)}
    if origin is tuple:  # fixed-length, e.g. layer_replication's (start, end) pairs
        items = [annotation_schema(arg, defs, owner) for arg in args]
        return {"type": "array", "prefixItems": items, "minItems": len(items), "maxItems": len(items)}
    if dataclasses.is_dataclass(tp):
        if tp.__name__ not in defs:
            defs[tp.__name__] = dataclass_schema(tp, defs)
        # The type sits here, not in $defs, so that Optional[...] can merge into type: [object, null]
        # and errors inside the nested config point at the nested key rather than at an anyOf.
        return {"type": "object", "$ref": f"#/$defs/{tp.__name__}"}
    raise TypeError(f"{owner}: no JSON Schema mapping for annotation {tp!r}; extend annotation_schema()")


def accepts_null(schema: dict[str, Any]) -> bool:
    if "enum" in schema:
        return None in schema["enum"]
    if "anyOf" in schema:
        return any(accepts_null(member) for member in schema["anyOf"])
    type_names = schema.get("type")
    return type_names == "null" or (isinstance(type_names, list) and "null" in type_names)


def allow_null(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` widened to also accept null."""
    if "enum" in schema:
        return {**schema, "enum": [*schema["enum"], None]}
    if isinstance(schema.get("type"), str):
        return {**schema, "type": [schema["type"], "null"]}
    if isinstance(schema.get("type"), list):
        return {**schema, "type": [*schema["type"], "null"]}
    if "anyOf" in schema:
        return {**schema, "anyOf": [*schema["anyOf"], {"type": "null"}]}
    return {"anyOf": [schema, {"type": "null"}]}


def to_json_value(value: Any) -> Any:
    """A default in the form save_pretrained writes it (asdict, enum values, sets as lists)."""
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json_value(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (set, frozenset)):
        return sorted(to_json_value(item) for item in value)
    if isinstance(value, (list, tuple)):
        return [to_json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_json_value(item) for key, item in value.items()}
    return value


def _field_default(field: dataclasses.Field[Any]) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def _annotation_text(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")


def _help_text(help_: str | tuple[str, ...]) -> str:
    # a stray comma turns a help string into a tuple of its parts (BOFTConfig.init_weights in 0.21.2)
    return help_ if isinstance(help_, str) else "".join(help_)


def field_schema(cls: type, field: dataclasses.Field[Any], hint: Any, defs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    schema = annotation_schema(hint, defs, f"{cls.__name__}.{field.name}")
    default = _field_default(field)
    if default is None and not accepts_null(schema):
        schema = allow_null(schema)
        schema["$comment"] = f"annotated {_annotation_text(hint)} but defaults to None, which peft writes as null"
    if "help" in field.metadata:
        schema["description"] = _help_text(field.metadata["help"])
    if default is not dataclasses.MISSING:
        schema["default"] = to_json_value(default)
    return _ordered(schema)


def _first_docstring_paragraph(cls: type) -> str | None:
    paragraph = (cls.__doc__ or "").strip().split("\n\n")[0]
    return " ".join(paragraph.split()) or None


def dataclass_schema(cls: type, defs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One property per field (``init=False`` ones too: asdict writes them); the caller states the type."""
    hints = typing.get_type_hints(cls)
    schema: dict[str, Any] = {"title": cls.__name__}
    description = _first_docstring_paragraph(cls)
    if description:
        schema["description"] = description
    return {
        **schema,
        "properties": {f.name: field_schema(cls, f, hints[f.name], defs) for f in dataclasses.fields(cls)},
        "additionalProperties": False,
    }


# --- per-type schemas ------------------------------------------------------------------------------


def check_sources(constraints: Iterable[Constraint], site_packages: Path) -> None:
    """Fail if a cited line no longer says what the citation claims (peft or torch moved it)."""
    for constraint in constraints:
        for source in constraint.sources:
            lines = (site_packages / source.path).read_text().splitlines()
            if source.line > len(lines) or source.text not in lines[source.line - 1]:
                raise ValueError(f"{source}: expected {source.text!r} for {constraint.field!r}; update CONSTRAINTS")


def _comment(constraint: Constraint) -> str:
    cited = ", ".join(str(source) for source in constraint.sources)
    return f"{constraint.why} ({cited})" if cited else constraint.why


def apply_constraint(prop: dict[str, Any], constraint: Constraint) -> dict[str, Any]:
    """``prop`` narrowed by ``constraint``; a constraint that states a type replaces the generated one."""
    if TYPE_KEYWORDS & set(constraint.schema):
        prop = {key: value for key, value in prop.items() if key not in TYPE_KEYWORDS}
    if constraint.required:
        prop = {key: value for key, value in prop.items() if key != "default"}  # peft rejects its own default
    comments = [text for text in (prop.get("$comment"), _comment(constraint)) if text]
    return _ordered({**prop, **constraint.schema, "$comment": "; ".join(comments)})


def _properties(schema: dict[str, Any], field: str) -> tuple[dict[str, Any], str]:
    """The properties holding ``field`` ("name" or "NestedConfig.name") in ``schema``, and the bare name."""
    owner, _, name = field.rpartition(".")
    holder = schema.get("$defs", {}).get(owner, {}) if owner else schema
    return holder.get("properties", {}), name


def _has_field(schema: dict[str, Any], field: str) -> bool:
    properties, name = _properties(schema, field)
    return name in properties


def _check_defaults(schema: dict[str, Any]) -> None:
    defs = schema.get("$defs", {})
    owners = [(schema["title"], schema["properties"]), *((name, d["properties"]) for name, d in defs.items())]
    for owner, properties in owners:
        for name, prop in properties.items():
            if "default" in prop and not jsonschema_rs.validator_for({**prop, "$defs": defs}).is_valid(prop["default"]):
                raise ValueError(f"{owner}.{name}: default {prop['default']!r} fails its own schema; fix CONSTRAINTS")


def config_schema(peft_type: str, cls: type, constraints: Sequence[Constraint]) -> dict[str, Any]:
    defs: dict[str, dict[str, Any]] = {}
    body = dataclass_schema(cls, defs)
    schema: dict[str, Any] = {
        "$schema": DRAFT,
        "$id": f"urn:peftlint:peft-config:{peft_type}",
        **{key: body[key] for key in ("title", "description") if key in body},
        "x-peft-version": peft.__version__,
        "x-peft-class": f"{cls.__module__}.{cls.__qualname__}",
        "x-peft-type": peft_type,
        "type": "object",
        "properties": body["properties"],
        "additionalProperties": False,
    }
    if defs:
        schema["$defs"] = dict(sorted(defs.items()))
    peft_type_prose = {k: v for k, v in schema["properties"]["peft_type"].items() if k == "description"}
    schema["properties"]["peft_type"] = _ordered({
        **peft_type_prose, "const": peft_type, "default": peft_type,
        "$comment": "__post_init__ always sets the config's own type",
    })  # fmt: skip
    for constraint in constraints:
        properties, name = _properties(schema, constraint.field)
        if name in properties and (not constraint.types or peft_type in constraint.types):
            properties[name] = apply_constraint(properties[name], constraint)
            if constraint.required:
                schema.setdefault("required", []).append(name)
    if "$defs" in schema:
        schema["$defs"] = schema.pop("$defs")  # after "required": the nested configs read best last
    _check_defaults(schema)
    return schema


def check_coverage(constraints: Sequence[Constraint], schemas: dict[str, dict[str, Any]]) -> None:
    """Every constraint must land on a field, and no dropout or bias field may go unconstrained."""
    for constraint in constraints:
        targets = constraint.types or tuple(schemas)
        hits = [t for t in targets if t in schemas and _has_field(schemas[t], constraint.field)]
        if not hits or (constraint.types and len(hits) != len(constraint.types)):
            raise ValueError(f"constraint on {constraint.field!r} for {constraint.types or 'all types'} misses")
    for peft_type, schema in schemas.items():
        for name, prop in schema["properties"].items():
            loose_bias = name == "bias" and "enum" not in prop and "pattern" not in prop
            loose_dropout = "dropout" in name and prop.get("type") == "number" and "minimum" not in prop
            if loose_bias or loose_dropout:
                raise ValueError(f"{peft_type}.{name} has no value constraint; add one to CONSTRAINTS")


# --- outputs ---------------------------------------------------------------------------------------


def config_classes() -> dict[str, type]:
    """PEFT type -> config class, for every type the installed peft registers."""
    return dict(sorted((str(getattr(t, "value", t)), cls) for t, cls in PEFT_TYPE_TO_CONFIG_MAPPING.items()))


def _refs(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"].rpartition("/")[2]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def build_index(schemas: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The runtime's view of peft: types, their keys, and where every exported config class belongs."""
    classes = {schema["title"]: peft_type for peft_type, schema in schemas.items()}
    subconfigs: dict[str, set[str]] = {}
    for peft_type, schema in schemas.items():
        for field, prop in schema["properties"].items():
            for name in _refs(prop):
                subconfigs.setdefault(name, set()).add(f"{peft_type}/{field}")
    exported = sorted(name for name in peft.__all__ if name.endswith("Config"))
    base_classes = [name for name in exported if name not in classes and name not in subconfigs]
    return {
        "peft_version": peft.__version__,
        "types": {
            peft_type: {
                "class": schema["title"],
                "schema": f"{peft_type}{SCHEMA_SUFFIX}",
                "keys": list(schema["properties"]),
            }
            for peft_type, schema in schemas.items()
        },
        "classes": dict(sorted(classes.items())),
        # nested config dataclasses -> the "<TYPE>/<field>" places that hold them
        "subconfigs": {name: sorted(places) for name, places in sorted(subconfigs.items())},
        # exported config classes that are neither a type's config nor nested in one
        "base_classes": base_classes,
    }


def dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def render_all() -> dict[Path, str]:
    """Every generated file (absolute path -> exact text) for the installed peft."""
    check_sources(CONSTRAINTS, Path(peft.__file__).resolve().parents[1])
    schemas = {peft_type: config_schema(peft_type, cls, CONSTRAINTS) for peft_type, cls in config_classes().items()}
    check_coverage(CONSTRAINTS, schemas)
    rendered = {SCHEMA_DIR / f"{peft_type}{SCHEMA_SUFFIX}": dump(schema) for peft_type, schema in schemas.items()}
    rendered[INDEX_PATH] = dump(build_index(schemas))
    return rendered


def differences(rendered: dict[Path, str]) -> list[Path]:
    """Files whose committed text differs from ``rendered``, stale schemas of vanished types included."""
    changed = [path for path, text in rendered.items() if not path.is_file() or path.read_text() != text]
    stale = [path for path in SCHEMA_DIR.glob(f"*{SCHEMA_SUFFIX}") if path not in rendered]
    return sorted(changed + stale)


def write(rendered: dict[Path, str]) -> None:
    for path in SCHEMA_DIR.glob(f"*{SCHEMA_SUFFIX}"):
        if path not in rendered:
            path.unlink()
    for path, text in rendered.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 and name the files that are out of date")
    args = parser.parse_args(argv)
    rendered = render_all()
    if not args.check:
        write(rendered)
        print(f"wrote {len(rendered)} files for peft {peft.__version__}", file=sys.stderr)
        return 0
    stale = differences(rendered)
    for path in stale:
        print(f"out of date: {path.relative_to(REPO_ROOT)}", file=sys.stderr)
    if stale:
        print("regenerate with: .venv/bin/python scripts/gen_schemas.py", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
