"""Hypothesis strategies for PEFT configs that peftlint can read, built from the generated schemas.

Random bytes and random value trees mostly stop at the loader (unreadable) or at the first
unknown key; these strategies draw a `peft_type`, some of that type's keys from
schemas/peft/<TYPE>.schema.json, and values of the types (enums, bounds, item types) the schema
gives, so that most examples get through loading and validation into the rules, near the values
the rules' thresholds care about.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from typing import Any

import yaml
from hypothesis import strategies as st

from peftlint.resources import schemas_dir

# Module names real models have (and a few they don't), so that target rules have work to do.
MODULE_NAMES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "query", "value",
                "c_attn", "lm_head", "embed_tokens", "layers", "h", "all-linear", "v_porj"]  # fmt: skip
# Bundled models (no network): a config naming one reaches the model-aware rules.
MODELS = ["meta-llama/Llama-3.2-1B", "openai-community/gpt2", "google-bert/bert-base-uncased", "Qwen/Qwen2.5-0.5B"]
# The types most configs are, drawn more often; every other type is drawn too.
COMMON_TYPES = ["LORA", "ADALORA", "IA3", "PREFIX_TUNING", "PROMPT_TUNING", "P_TUNING", "LOHA", "LOKR", "VERA", "OFT"]


@lru_cache(maxsize=None)
def schema(peft_type: str) -> dict[str, Any]:
    return json.loads((schemas_dir() / "peft" / f"{peft_type}.schema.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def peft_type_names() -> list[str]:
    return sorted(path.name.removesuffix(".schema.json") for path in (schemas_dir() / "peft").glob("*.schema.json"))


def _integers(node: dict[str, Any]) -> st.SearchStrategy[int]:
    low = math.ceil(node["minimum"]) if "minimum" in node else math.floor(node["exclusiveMinimum"]) + 1 if "exclusiveMinimum" in node else 0
    high = (
        math.floor(node["maximum"])
        if "maximum" in node
        else math.ceil(node["exclusiveMaximum"]) - 1
        if "exclusiveMaximum" in node
        else low + 1024
    )
    # the bounds and small values first: where thresholds and off-by-ones live
    return st.sampled_from(sorted({low, high, min(low + 1, high)})) | st.integers(low, high)


def _numbers(node: dict[str, Any]) -> st.SearchStrategy[float]:
    low = node.get("minimum", node.get("exclusiveMinimum", 0.0))
    high = node.get("maximum", node.get("exclusiveMaximum", 1024.0))
    return st.floats(low, high, exclude_min="exclusiveMinimum" in node, exclude_max="exclusiveMaximum" in node)


def value_for(node: Any, defs: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values that satisfy the schema `node` (the parts of JSON Schema peft's schemas use)."""
    if not isinstance(node, dict) or depth > 3:
        return st.none()
    if "const" in node:
        return st.just(node["const"])
    if "enum" in node:
        return st.sampled_from(node["enum"])
    if "$ref" in node:
        target = defs.get(node["$ref"].rsplit("/", 1)[-1], {})
        return st.just({}) | value_for({**target, "type": "object"}, defs, depth + 1)
    for combinator in ("anyOf", "oneOf"):
        if combinator in node:
            return st.one_of([value_for(option, defs, depth + 1) for option in node[combinator]])
    kinds = node.get("type", ["string", "integer", "boolean", "null"])
    kinds = [kinds] if isinstance(kinds, str) else kinds
    options: list[st.SearchStrategy[Any]] = []
    for kind in kinds:
        if kind == "null":
            options.append(st.none())
        elif kind == "boolean":
            options.append(st.booleans())
        elif kind == "integer":
            options.append(_integers(node))
        elif kind == "number":
            options.append(_numbers(node))
        elif kind == "string":
            options.append(st.sampled_from(MODULE_NAMES) | st.text(st.characters(codec="utf-8"), max_size=8))
        elif kind == "array":
            if "prefixItems" in node:
                options.append(st.tuples(*(value_for(item, defs, depth + 1) for item in node["prefixItems"])).map(list))
            else:
                items = node.get("items", {"type": "string"})
                options.append(st.lists(value_for(items, defs, depth + 1), min_size=node.get("minItems", 0), max_size=4))
        elif kind == "object":
            properties = node.get("properties", {})
            if properties:
                options.append(st.fixed_dictionaries({}, optional={k: value_for(v, defs, depth + 1) for k, v in properties.items()}))
            else:
                extra = node.get("additionalProperties")
                values = value_for(extra, defs, depth + 1) if isinstance(extra, dict) else st.integers(1, 64)
                options.append(st.dictionaries(st.sampled_from(MODULE_NAMES), values, max_size=3))
    return st.one_of(options) if options else st.none()


@st.composite
def peft_configs(draw: st.DrawFn) -> dict[str, Any]:
    """A config of one PEFT type: `peft_type`, a few of its keys with values of their schema's type,
    and sometimes a bundled base model."""
    peft_type = draw(st.sampled_from(COMMON_TYPES) | st.sampled_from(peft_type_names()))
    type_schema = schema(peft_type)
    defs = type_schema.get("$defs", {})
    properties = {k: v for k, v in type_schema["properties"].items() if k != "peft_type"}
    chosen = draw(st.lists(st.sampled_from(sorted(properties)), max_size=6, unique=True)) if properties else []
    config = {"peft_type": peft_type, **{key: draw(value_for(properties[key], defs)) for key in chosen}}
    if draw(st.integers(0, 3)) == 0:
        config["base_model_name_or_path"] = draw(st.sampled_from(MODELS))
    return config


@st.composite
def config_files(draw: st.DrawFn) -> tuple[str, bytes, dict[str, Any]]:
    """A drawn config written as a JSON or YAML file: (suffix, bytes, the config)."""
    config = draw(peft_configs())
    if draw(st.booleans()):
        return ".json", json.dumps(config, indent=draw(st.sampled_from([None, 2]))).encode(), config
    style = draw(st.sampled_from([None, False, True]))
    return ".yaml", yaml.safe_dump(config, sort_keys=False, allow_unicode=True, default_flow_style=style).encode(), config
