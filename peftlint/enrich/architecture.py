"""The module tree PEFT would see, from a `config.json` as plain JSON (no torch, no transformers).

`data/architectures/` (written by `scripts/gen_architectures.py` from transformers on the meta
device) holds, per `model_type`, templates of the modules that own parameters: dotted names with
repeated blocks, and every shape as data over named config quantities (`hidden_size`,
`num_key_value_heads`, ...). This module only resolves those quantities from a user's config the
way transformers' config classes do (defaults, derived values such as `head_dim`) and expands the
template. Each model_type's file is read once, on first use.

Template vocabulary (all plain data, never evaluated as code):
  dim        int | quantity name | [[coefficient, quantity, ...], ...]  (sum of products); a quantity
             is a config field, a derived value, or `<list field>#len`, the length of a list field
  condition  [["eq" | "ne", q1, q2] | ["pos" | "nonpos", q] | ["is", field, value], ...]  (all hold)
  leaf       {"n": name, "k": kind, "i": dim|null, "o": dim|null, "b": bool|condition, "if": condition?,
              "t": [[tensor, [dim, ...], condition?], ...],  -- the parameters it owns, in registration order
              "s": [...]?,  -- its parameters first registered elsewhere (not counted again)
              "x": true?}  -- fused experts stored (experts, in, out) (transformers' `is_transposed`)
  variant    {"when": {switch: value | {"set": true}, ...}, "heads": {head: template index}}: the
             first variant whose every switch has its value ({"set": true}: any value but null)
  group      {"n": name, "r": quantity, "items": items, "first": items?}  -- `name.0.`, `name.1.`, ...
             repeated; "first", when present, replaces "items" for block 0 (T5's position bias)
  kinds      {"n": name, "r": quantity, "by": rule, "kinds": {kind: items, ...}}  -- blocks of several
             kinds (Nemotron-H's Mamba, attention and MoE layers): `LAYER_KINDS[rule]` gives each
             block's kind from the config, as transformers reads it; their number sets `r`
  items      [leaf | group, ...] | index into the model type's shared "blocks"

Composite (multimodal) configs keep the sizes of each sub-model in a nested config (`text_config`,
`vision_config`), each with its own model_type and config class. Their fields are quantities named
by path (`text_config.hidden_size`), and `attribute_map`, `defaults` and `derived` use those paths
too; a derived rule of `text_config.head_dim` reads `text_config.hidden_size`. The entry says where:
  sub_configs  {key: {"model_types": [...], "legacy": bool}}  -- the nested configs; the model_types
               transformers builds that template from (another one is refused, not guessed); with
               "legacy", a config without the key keeps those fields at its top level (Qwen2-VL's
               first config.json files), as transformers then reads them
  text         the key of the language model's sub-config (its layer count is the model's)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from peftlint.enrich.legacy import modern_config
from peftlint.enrich.modules import Module, ModuleTree
from peftlint.resources import data_dir

# The PEFT task types (and peftlint's names for other heads) -> the template head they build.
TASK_HEADS: dict[str | None, str] = {
    None: "base",
    "FEATURE_EXTRACTION": "base",
    "CAUSAL_LM": "causal_lm",
    "SEQ_2_SEQ_LM": "seq2seq_lm",
    "SEQ_CLS": "seq_cls",
    "TOKEN_CLS": "token_cls",
    "QUESTION_ANS": "question_ans",
    "MASKED_LM": "masked_lm",
    "IMAGE_CLS": "image_cls",
}

# Sizes beyond any published model: a dimension this large is a typo or a unit mistake, and
# letting it through would only produce astronomically wrong counts.
MAX_DIMENSION = 1 << 24
MAX_REPEAT = 4096


class ArchitectureError(ValueError):
    """The config cannot be turned into a module tree; the message says why."""


class UnknownArchitecture(ArchitectureError):
    """A model_type (or a setting of one) peftlint has no template for; `[exact]` can still build it."""

    def __init__(self, model_type: str, detail: str = "") -> None:
        self.model_type = model_type
        self.detail = detail
        if detail:
            super().__init__(f"peftlint has no `{model_type}` template for {detail}")
        else:
            super().__init__(f"model_type `{model_type}` is not known to peftlint")


class InvalidModelConfig(ArchitectureError):
    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"`{field}` {reason}" if field else reason)


class UnsupportedTaskType(ArchitectureError):
    def __init__(self, model_type: str, task_type: str, supported: list[str]) -> None:
        self.model_type = model_type
        self.task_type = task_type
        if task_type in TASK_HEADS:
            problem = f"has no `{model_type}` model class"
        else:
            problem = "is not a task type"
        super().__init__(f"task_type `{task_type}` {problem}; use one of {', '.join(supported)}")


def _label_count(q: ConfigQuantities) -> Any:
    # as PretrainedConfig: `num_labels` wins (over a labels map of another length), else the
    # size of `id2label`, else 2
    if q.config.get("num_labels") is not None:
        return q.config["num_labels"]
    labels = q.config.get("id2label")
    return len(labels) if isinstance(labels, Mapping) else 2


# How transformers fills a field the config leaves out (or sets to null) when its default depends
# on other fields. `scripts/gen_architectures.py` checks every rule against transformers and
# refuses to write a template that needs a rule missing here.
DERIVED: dict[str, Callable[[ConfigQuantities], Any]] = {
    "head_dim": lambda q: q.size("hidden_size") // q.size("num_attention_heads"),
    "num_key_value_heads": lambda q: q.size("num_attention_heads"),
    "num_kv_heads": lambda q: q.size("num_attention_heads"),
    "n_inner": lambda q: 4 * q.size("hidden_size"),
    "intermediate_size": lambda q: 4 * q.size("hidden_size"),  # RWKV
    "attention_hidden_size": lambda q: q.size("hidden_size"),  # RWKV
    "ffn_hidden_size": lambda q: 4 * q.size("hidden_size"),
    "num_decoder_layers": lambda q: q.size("num_layers"),
    "word_embed_proj_dim": lambda q: q.size("hidden_size"),
    "pooler_output_size": lambda q: q.size("hidden_size"),
    "pooler_hidden_size": lambda q: q.size("hidden_size"),
    "is_gated_act": lambda q: str(q.raw("feed_forward_proj")).split("-")[0] == "gated",
    "num_patches": lambda q: (q.size("image_size") // q.size("patch_size")) ** 2,
    "num_labels": _label_count,
}
# `<list field>#len`: the length of a list field (Qwen3-VL's one merger per `deepstack_visual_indexes` entry).
LENGTH = "#len"
# Quantities that are never config fields: always computed.
ALWAYS_DERIVED = frozenset({"num_patches", "num_labels"})

# transformers' `_LEGACY_LAYER_TYPE_REMAP` (configuration_utils.py): older names in a layer list
_LEGACY_LAYER_TYPES = {"mamba": "linear_attention", "attention": "full_attention"}
# NemotronHConfig._pattern_to_list
_NEMOTRON_H_PATTERN = {"M": "linear_attention", "E": "moe", "*": "full_attention", "-": "mlp"}


def _layer_list(q: ConfigQuantities, field: str) -> list[str] | None:
    listed = q.config.get(field)
    if listed is None:
        return None
    if not isinstance(listed, list) or not all(isinstance(kind, str) for kind in listed):
        raise InvalidModelConfig(field, f"must be a list of layer types, got {json.dumps(listed)}")
    kinds: list[str] = listed
    return [_LEGACY_LAYER_TYPES.get(kind, kind) for kind in kinds]


def _nemotron_h_layers(q: ConfigQuantities) -> list[str]:
    # NemotronHConfig.__post_init__: an explicit list (`layer_types` aliases it), else the legacy
    # `hybrid_override_pattern` string, else the class default; `num_hidden_layers` is ignored
    listed = _layer_list(q, "layers_block_type")
    if listed is not None:
        return listed
    pattern = q.config.get("hybrid_override_pattern")
    if pattern is None:
        return ["linear_attention", "moe", "full_attention", "mlp"]
    if not isinstance(pattern, str) or not set(pattern) <= set(_NEMOTRON_H_PATTERN):
        raise InvalidModelConfig(
            "hybrid_override_pattern", f"must be a string of {', '.join(_NEMOTRON_H_PATTERN)}, got {json.dumps(pattern)}"
        )
    return [_NEMOTRON_H_PATTERN[char] for char in pattern]


def _qwen3_next_layers(q: ConfigQuantities) -> list[str]:
    # Qwen3NextConfig: `layer_types`, else full attention every `full_attention_interval` (4)
    # layers; Qwen3NextDecoderLayer: a MoE unless listed in `mlp_only_layers` or off the
    # `decoder_sparse_step`, or without experts
    count = q.size("num_hidden_layers", limit=MAX_REPEAT)
    types = _layer_list(q, "layer_types")
    if types is None:
        interval = _setting(q, "full_attention_interval", 4)
        types = ["linear_attention" if (i + 1) % interval else "full_attention" for i in range(count)]
    if len(types) < count:
        raise InvalidModelConfig("layer_types", f"lists {len(types)} layers, fewer than `num_hidden_layers` ({count})")
    mlps = _qwen_moe_layers(q)
    return [f"{types[i]}+{mlps[i]}" for i in range(count)]


def _qwen_moe_layers(q: ConfigQuantities) -> list[str]:
    # Qwen2MoE/Qwen3MoE/Qwen3NextDecoderLayer: a MoE unless the layer is listed in
    # `mlp_only_layers`, is off the `decoder_sparse_step`, or the model has no experts
    count = q.size("num_hidden_layers", limit=MAX_REPEAT)
    dense = q.config.get("mlp_only_layers") or []
    if not isinstance(dense, list):
        raise InvalidModelConfig("mlp_only_layers", f"must be a list of layer indices, got {json.dumps(dense)}")
    step = _setting(q, "decoder_sparse_step", 1)
    experts = q.size("num_experts", minimum=0)
    return ["moe" if i not in dense and experts > 0 and (i + 1) % step == 0 else "mlp" for i in range(count)]


def _kimi_linear_layers(q: ConfigQuantities) -> list[str]:
    # KimiLinearConfig: `layer_types`, else the 1-based `kda_layers`/`full_attn_layers` of
    # `linear_attn_config`, else full attention every 4th layer after the first; `mlp_layer_types`,
    # else dense for the first `first_k_dense_replace` (1) layers
    count = q.size("num_hidden_layers", limit=MAX_REPEAT)
    types = _layer_list(q, "layer_types")
    nested = q.config.get("linear_attn_config")
    if types is None and isinstance(nested, Mapping) and "full_attn_layers" in nested and "kda_layers" in nested:
        listed: list[str | None] = [None] * count
        try:
            for index in nested["full_attn_layers"]:
                listed[index - 1] = "full_attention"
            for index in nested["kda_layers"]:
                listed[index - 1] = "linear_attention"
        except (TypeError, IndexError):
            raise InvalidModelConfig("linear_attn_config", "lists a layer outside 1..num_hidden_layers") from None
        if None in listed:
            raise InvalidModelConfig("linear_attn_config", "leaves a layer in neither `kda_layers` nor `full_attn_layers`")
        types = [str(kind) for kind in listed]
    if types is None:
        types = ["full_attention" if i and i % 4 == 0 else "linear_attention" for i in range(count)]
    mlps = _layer_list(q, "mlp_layer_types")
    if mlps is None:
        dense = _setting(q, "first_k_dense_replace", 1, minimum=0)
        mlps = ["dense" if i < dense else "sparse" for i in range(count)]
    if len(types) < count or len(mlps) < count:
        raise InvalidModelConfig("layer_types", f"lists fewer layers than `num_hidden_layers` ({count})")
    return [f"{types[i]}+{'moe' if mlps[i] == 'sparse' else 'mlp'}" for i in range(count)]


def _glm4_moe_lite_layers(q: ConfigQuantities) -> list[str]:
    # Glm4MoeLiteConfig: `mlp_layer_types`, else one dense layer then sparse ones
    # (`first_k_dense_replace` is not read); Glm4MoeLiteDecoderLayer: a MoE where "sparse"
    count = q.size("num_hidden_layers", limit=MAX_REPEAT)
    listed = _layer_list(q, "mlp_layer_types")
    if listed is None:
        listed = ["dense"] + ["sparse"] * (count - 1)
    if len(listed) < count:
        raise InvalidModelConfig("mlp_layer_types", f"lists {len(listed)} layers, fewer than `num_hidden_layers` ({count})")
    return ["moe" if kind == "sparse" else "mlp" for kind in listed[:count]]


def _qwen3_5_layers(q: ConfigQuantities) -> list[str]:
    # Qwen3_5TextConfig / Qwen3_5MoeTextConfig (the language model of a composite config):
    # `layer_types`, else full attention every `full_attention_interval` (4) layers; the MLP is the
    # same in every layer (a MoE in every layer of Qwen3.5-MoE, whatever `mlp_only_layers` says)
    text = _Scope(q, "text_config")
    count = text.size("num_hidden_layers", limit=MAX_REPEAT)
    types = _layer_list(text, "layer_types")
    if types is None:
        interval = _setting(text, "full_attention_interval", 4)
        types = ["linear_attention" if (i + 1) % interval else "full_attention" for i in range(count)]
    if len(types) != count:
        raise InvalidModelConfig("text_config.layer_types", f"lists {len(types)} layers, not `num_hidden_layers` ({count})")
    return types


def _deepseek_v2_layers(q: ConfigQuantities) -> list[str]:
    # DeepseekV2DecoderLayer: a dense MLP in the first `first_k_dense_replace` (0) layers, then MoE
    count = q.size("num_hidden_layers", limit=MAX_REPEAT)
    dense = _setting(q, "first_k_dense_replace", 0, minimum=0)
    return ["mlp" if i < dense else "moe" for i in range(count)]


def _setting(q: ConfigQuantities, name: str, default: int, minimum: int = 1) -> int:
    """An integer the layer layout depends on, with the config class's default when unset."""
    value = q.config.get(name, default)
    if value is None:
        value = default
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_REPEAT:
        raise InvalidModelConfig(name, f"must be an integer from {minimum} to {MAX_REPEAT}, got {json.dumps(value)}")
    return value


# The kind of each repeated block, for models whose layers differ (scripts/gen_architectures.py
# checks each rule against the blocks transformers builds).
LAYER_KINDS: dict[str, Callable[[ConfigQuantities], list[str]]] = {
    "nemotron_h": _nemotron_h_layers,
    "qwen3_next": _qwen3_next_layers,
    "qwen3_moe": _qwen_moe_layers,
    "glm4_moe_lite": _glm4_moe_lite_layers,
    "kimi_linear": _kimi_linear_layers,
    "deepseek_v2": _deepseek_v2_layers,
    "qwen3_5": _qwen3_5_layers,
    "qwen3_5_moe": _qwen3_5_layers,
}


def flatten_sub_configs(model_type: str, entry: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """`config` with each nested sub-config of the entry's `sub_configs` spread into path-named
    fields (`text_config.hidden_size`), checked to be a sub-model the templates were learned from."""
    subs: Mapping[str, Any] = entry.get("sub_configs", {})
    flat = {k: v for k, v in config.items() if k not in subs or v is None}
    for key, sub in subs.items():
        value = config.get(key)
        if value is None:
            if not sub.get("legacy"):
                raise InvalidModelConfig(key, f"is not set, and a `{model_type}` model cannot be sized without it")
            # transformers then reads the sub-model's fields from the top level
            flat.update((f"{key}.{k}", v) for k, v in config.items() if k not in subs and k != "model_type")
            continue
        if not isinstance(value, Mapping):
            raise InvalidModelConfig(key, f"must be an object, got {json.dumps(value)}")
        sub_type = value.get("model_type")
        if sub_type is not None and sub_type not in sub["model_types"]:
            raise UnknownArchitecture(model_type, f"{key}.model_type={json.dumps(sub_type)}")
        flat.update((f"{key}.{k}", v) for k, v in value.items())
    return flat


class ConfigQuantities:
    """A config's values by name, resolved as the model type's transformers config class does:
    aliases, class defaults, and derived defaults (`head_dim`, `num_key_value_heads`, ...).
    A composite config's sub-config fields are named by path (`text_config.hidden_size`)."""

    def __init__(self, model_type: str, entry: Mapping[str, Any], config: Mapping[str, Any]) -> None:
        self.model_type = model_type
        self.aliases: Mapping[str, str] = entry.get("attribute_map", {})
        self.defaults: Mapping[str, Any] = entry.get("defaults", {})
        self.derived = frozenset(entry.get("derived", ()))
        if entry.get("sub_configs"):
            config = flatten_sub_configs(model_type, entry, config)
        # A generic name in the config (e.g. `hidden_size` for GPT-2) sets the field it aliases,
        # as `PretrainedConfig.__setattr__` does after the class's own fields: the alias wins,
        # and of two aliases of one field the later.
        self.config: dict[str, Any] = dict(config)
        for key, value in config.items():
            if key in self.aliases:
                self.config[self.aliases[key]] = value
        self.values: dict[str, Any] = {}

    def raw(self, name: str) -> Any:
        """A field's value (bool, str, number) after defaults, without checking it is a size."""
        name = self.aliases.get(name, name)
        if name in self.values:
            return self.values[name]
        scope, _, field = name.rpartition(".")  # a sub-config's field: its rule reads its siblings
        value = None if field in ALWAYS_DERIVED else self.config.get(name)
        if field.endswith(LENGTH):
            listed = self.raw(name[: -len(LENGTH)])
            value = len(listed) if isinstance(listed, list) else listed
        elif value is None:
            if field in ALWAYS_DERIVED or name in self.derived:
                value = DERIVED[field](_Scope(self, scope) if scope else self)
            else:
                value = self.defaults.get(name)
        self.values[name] = value
        return value

    def size(self, name: str, minimum: int = 1, limit: int = MAX_DIMENSION) -> int:
        value = self.raw(name)
        field = self.aliases.get(name, name)
        if value is None:
            raise InvalidModelConfig(field, f"is not set, and a `{self.model_type}` model cannot be sized without it")
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidModelConfig(field, f"must be an integer, got {json.dumps(value)}")
        if value < minimum:
            raise InvalidModelConfig(field, f"must be at least {minimum}, got {value}")
        if value > limit:
            raise InvalidModelConfig(field, f"is {value}, larger than any real model (limit {limit})")
        return value

    def dim(self, spec: Any) -> int:
        if isinstance(spec, int):
            return spec
        if isinstance(spec, str):
            return self.size(spec)
        total = 0
        for coefficient, *factors in spec:
            term = coefficient
            for factor in factors:
                term *= self.size(factor)
            total += term
        if total < 1:
            raise InvalidModelConfig(_first_factor(spec), f"gives a dimension of {total}")
        return total

    def setting(self, name: str, expected: Any) -> Any:
        """A switch's value, checked to be of the kind the templates distinguish (a bool for flags).
        A size switched off by null (DeepSeek-V2-Lite's `q_lora_rank`) stays null when the config
        says so, as the config class keeps it, whatever the class default."""
        field = self.aliases.get(name, name)
        if expected is None and field in self.config and self.config[field] is None:
            return None
        value = self.raw(name)
        if isinstance(expected, bool) and value is not None and not isinstance(value, bool):
            raise InvalidModelConfig(self.aliases.get(name, name), f"must be true or false, got {json.dumps(value)}")
        return value

    def holds(self, condition: list[list[Any]]) -> bool:
        for test, *args in condition:
            if test == "is":
                field, value = args
                if self.setting(field, value) != value:
                    return False
            elif test in ("eq", "ne"):
                same = self.size(args[0]) == self.size(args[1])
                if same != (test == "eq"):
                    return False
            else:  # "pos" / "nonpos": a size that may be 0 (or -1) to switch a module off
                positive = self.size(args[0], minimum=-MAX_DIMENSION) > 0
                if positive != (test == "pos"):
                    return False
        return True


class _Scope(ConfigQuantities):
    """A sub-config's quantities seen from a derived rule: `hidden_size` means `<scope>.hidden_size`."""

    def __init__(self, whole: ConfigQuantities, scope: str) -> None:  # noqa: D107 (no parent state)
        self.whole = whole
        self.prefix = scope + "."
        self.model_type = whole.model_type
        self.config = {k[len(self.prefix) :]: v for k, v in whole.config.items() if k.startswith(self.prefix)}

    def raw(self, name: str) -> Any:
        return self.whole.raw(self.prefix + name)

    def size(self, name: str, minimum: int = 1, limit: int = MAX_DIMENSION) -> int:
        return self.whole.size(self.prefix + name, minimum, limit)


def _first_factor(spec: list[list[Any]]) -> str:
    return next((factor for _, *factors in spec for factor in factors), "")


def _shape(q: ConfigQuantities, tensor: list[Any]) -> tuple[int, ...] | None:
    """A tensor's shape, or None when its condition does not hold."""
    if len(tensor) > 2 and not q.holds(tensor[2]):
        return None
    return tuple(q.dim(spec) for spec in tensor[1])


def _numel(shape: tuple[int, ...]) -> int:
    numel = 1
    for dim in shape:
        numel *= dim
    return numel


def _expand(items: Any, prefix: str, q: ConfigQuantities, blocks: list[Any], out: list[Module]) -> None:
    for item in blocks[items] if isinstance(items, int) else items:
        if "if" in item and not q.holds(item["if"]):
            continue
        if "by" in item:
            _expand_kinds(item, prefix, q, blocks, out)
            continue
        if "r" in item:
            # sizes do not depend on the index: resolve a block once (and the first, when it differs)
            block: list[Module] = []
            _expand(item["items"], "", q, blocks, block)
            first = block
            if "first" in item:
                first = []
                _expand(item["first"], "", q, blocks, first)
            base = f"{prefix}{item['n']}."
            for index in range(q.size(item["r"], limit=MAX_REPEAT)):
                head = f"{base}{index}."
                # the block's modules under this index (`_replace` would cost ~40% more here)
                out.extend(Module(head + m.name, *m[1:]) for m in (first if index == 0 else block))
            continue
        tensors = []
        for tensor in item["t"]:
            shape = _shape(q, tensor)
            if shape is not None:
                tensors.append((tensor[0], shape))
        shared = []
        bias_params = next((_numel(shape) for name, shape in tensors if name == "bias"), 0)
        for tensor in item.get("s", ()):  # owned but counted where first registered (a shared bias)
            shape = _shape(q, tensor)
            if shape is not None:
                shared.append(tensor[0])
                if tensor[0] == "bias":
                    bias_params = _numel(shape)
        bias = item["b"] if isinstance(item["b"], bool) else q.holds(item["b"])
        in_f = None if item["i"] is None else q.dim(item["i"])
        out_f = None if item["o"] is None else q.dim(item["o"])
        params = sum(_numel(shape) for _, shape in tensors)
        out.append(
            Module(
                prefix + item["n"], item["k"], in_f, out_f, bias, params, bias_params, tuple(tensors), tuple(shared), item.get("x", False)
            )
        )


def _expand_kinds(item: Mapping[str, Any], prefix: str, q: ConfigQuantities, blocks: list[Any], out: list[Module]) -> None:
    kinds = LAYER_KINDS[item["by"]](q)
    if len(kinds) > MAX_REPEAT:
        raise InvalidModelConfig(item["r"], f"is {len(kinds)} layers, more than any real model (limit {MAX_REPEAT})")
    unknown = sorted(set(kinds) - set(item["kinds"]))
    if unknown:
        raise InvalidModelConfig(
            q.aliases.get("layer_types", "layer_types"),
            f"names layer type {', '.join(map(json.dumps, unknown))}; `{q.model_type}` has {', '.join(sorted(item['kinds']))}",
        )
    # the layer count is the list's length (transformers' `num_hidden_layers` is a property over it)
    q.values[q.aliases.get(item["r"], item["r"])] = len(kinds)
    resolved: dict[str, list[Module]] = {}
    for kind in sorted(set(kinds)):
        resolved[kind] = []
        _expand(item["kinds"][kind], "", q, blocks, resolved[kind])
    base = f"{prefix}{item['n']}."
    for index, kind in enumerate(kinds):
        head = f"{base}{index}."
        out.extend(Module(head + m.name, *m[1:]) for m in resolved[kind])


class ArchitectureIndex:
    """Architecture knowledge (the templates of data/architectures/) and the trees built from it."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.model_types: Mapping[str, Any] = document["model_types"]

    def module_tree(self, config: Mapping[str, Any], task_type: str | None = None) -> ModuleTree:
        if not isinstance(config, Mapping):
            raise InvalidModelConfig("", f"a model config must be a JSON object, got {type(config).__name__}")
        config = modern_config(dict(config))  # a legacy or nested form, as transformers reads it
        model_type = config.get("model_type")
        if model_type is None:
            raise InvalidModelConfig("model_type", "is missing: this is not a transformers model config")
        if not isinstance(model_type, str):
            raise InvalidModelConfig("model_type", f"must be a string, got {json.dumps(model_type)}")
        entry = self.model_types.get(model_type)
        if entry is None:
            raise UnknownArchitecture(model_type)
        if task_type not in TASK_HEADS:
            raise UnsupportedTaskType(model_type, str(task_type), sorted(k for k in TASK_HEADS if k))
        q = ConfigQuantities(model_type, entry, config)
        variant = self._variant(model_type, entry, q)
        head = TASK_HEADS[task_type]
        if head not in variant["heads"]:
            supported = [t for t, h in TASK_HEADS.items() if t and h in variant["heads"]]
            raise UnsupportedTaskType(model_type, str(task_type), supported)
        template = entry["templates"][variant["heads"][head]]
        modules: list[Module] = []
        _expand(template["items"], "", q, entry["blocks"], modules)
        # as torch_tree reads it off the (text) config: `num_hidden_layers` (or its alias), else `num_layers`
        scope = f"{entry['text']}." if "text" in entry else ""
        layers = next((q.size(scope + name) for name in ("num_hidden_layers", "num_layers") if q.raw(scope + name)), 0)
        return ModuleTree(
            model_type=model_type,
            modules=tuple(modules),
            total_params=sum(m.params for m in modules),
            num_layers=layers,
            tied=dict(template["tied"]),
            input_embedding=template["input_embedding"],
            output_embedding=template["output_embedding"],
        )

    @staticmethod
    def _variant(model_type: str, entry: Mapping[str, Any], q: ConfigQuantities) -> Mapping[str, Any]:
        variant: Mapping[str, Any]
        for variant in entry["variants"]:
            if all(_switched(q, field, value) for field, value in variant["when"].items()):
                return variant
        switches = sorted({field for v in entry["variants"] for field in v["when"]})
        found = ", ".join(f"{field}={json.dumps(q.raw(field))}" for field in switches)
        raise UnknownArchitecture(model_type, found)


def _switched(q: ConfigQuantities, field: str, value: Any) -> bool:
    if isinstance(value, Mapping):  # {"set": true}: a size that adds modules, set to any value (not null)
        return q.setting(field, None) is not None
    return bool(q.setting(field, value) == value)


class _CommittedTemplates(Mapping[str, Any]):
    """data/architectures/: the index names the model_types; each one's file is read when asked for."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        with open(folder / "index.json", encoding="utf-8") as handle:
            self.names: list[str] = json.load(handle)["model_types"]
        self.entries: dict[str, Any] = {}

    def __getitem__(self, model_type: str) -> Any:
        if model_type not in self.names:  # also keeps a config's model_type from naming other files
            raise KeyError(model_type)
        if model_type not in self.entries:
            with open(self.folder / f"{model_type}.json", encoding="utf-8") as handle:
                self.entries[model_type] = json.load(handle)
        return self.entries[model_type]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


@lru_cache(maxsize=1)
def _default_index() -> ArchitectureIndex:
    return ArchitectureIndex({"model_types": _CommittedTemplates(data_dir() / "architectures")})


def module_tree_from_config(config: Mapping[str, Any], task_type: str | None = None) -> ModuleTree:
    """The modules (with shapes and parameter counts) of the model transformers builds from
    `config` for `task_type` (None and FEATURE_EXTRACTION: the bare base model)."""
    return _default_index().module_tree(config, task_type)


def language_model_config(config: Mapping[str, Any]) -> Mapping[str, Any]:
    """The language model's fields of a config.json. A composite (multimodal) config with a template
    gives its text sub-config with every field the template knows filled as the config class fills
    it: llava-hf's `text_config` lists only what differs from LlamaConfig's defaults, and Qwen2-VL's
    first files keep those fields at the top level. peft (prompt learning) and transformers read the
    loaded config, which holds them. Another composite config gives its `text_config` as written,
    any other config itself."""
    model_type = config.get("model_type")
    written = config.get("text_config")
    model_types = _default_index().model_types
    if not isinstance(model_type, str) or model_type not in model_types or "text" not in model_types[model_type]:
        return written if isinstance(written, Mapping) else config
    entry = model_types[model_type]
    try:
        q = ConfigQuantities(model_type, entry, config)
    except ArchitectureError:  # a sub-model peftlint has no template for: what the file says
        return written if isinstance(written, Mapping) else config
    scope = entry["text"] + "."
    paths = [*q.config, *entry.get("defaults", {}), *entry.get("derived", ()), *q.aliases]
    names = {path[len(scope) :] for path in paths if path.startswith(scope)}
    resolved = {name: q.raw(scope + name) for name in sorted(names)}
    built = entry["sub_configs"][entry["text"]]["model_types"]
    if resolved.get("model_type") is None and len(built) == 1:  # the sub-config class transformers builds
        resolved["model_type"] = built[0]
    return {name: value for name, value in resolved.items() if value is not None}


def known_model_types() -> list[str]:
    """The model_types `module_tree_from_config` has templates for."""
    return sorted(_default_index().model_types)


def layer_classes(model_type: str) -> tuple[str, ...] | None:
    """The block classes accelerate's FSDP auto-wrap wraps for `model_type` (its `_no_split_modules`
    that the model builds, generated by scripts/gen_architectures.py); () when transformers declares
    none, None when peftlint has no template for `model_type`."""
    index = _default_index()
    if model_type not in index.model_types:
        return None
    return tuple(index.model_types[model_type].get("layer_classes", ()))
