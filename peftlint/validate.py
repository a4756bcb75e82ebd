"""Check a PEFT config against the JSON Schema generated from peft for its type.

The result is facts (lists of problems), not Findings: rules PL001-PL004 turn them into
findings, so they can be selected, ignored, re-levelled and explained like any other rule.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Mapping

from peftlint.normalize import PeftConfig, peft_layout, peft_types, peft_versions
from peftlint.normalize.peft_versions import PeftVersion, version_key
from peftlint.resources import schemas_dir

if TYPE_CHECKING:
    import jsonschema_rs
from peftlint.suggest import closest

_JSON_TYPE_NAMES = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping",
    "null": "null",
}


@lru_cache(maxsize=None)
def schema_for(peft_type: str) -> dict[str, Any] | None:
    entry = peft_types()["types"].get(peft_type)
    if entry is None:
        return None
    schema: dict[str, Any] = json.loads((schemas_dir() / "peft" / entry["schema"]).read_text(encoding="utf-8"))
    return schema


def effective_config(values: Mapping[str, Any], peft_type: str) -> dict[str, Any]:
    """The user's values over peft's defaults for the type (from the schema generated from peft)."""
    schema = schema_for(peft_type) or {"properties": {}}
    merged = {key: prop["default"] for key, prop in schema["properties"].items() if "default" in prop}
    merged.update(values)
    return merged


@lru_cache(maxsize=None)
def _validator(peft_type: str) -> jsonschema_rs.Validator:
    import jsonschema_rs  # imported here: only files that hold a PEFT config pay for it

    schema = schema_for(peft_type)
    assert schema is not None  # validate() asks only for a type it found the schema of
    return jsonschema_rs.validator_for(schema)


def _dotted(path: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in path)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


# The methods people use most, named first when a key belongs to several other types.
COMMON_TYPES = ("LORA", "PREFIX_TUNING", "PROMPT_TUNING", "P_TUNING", "IA3", "ADALORA", "LOHA", "LOKR", "VERA", "OFT", "BOFT")


def _owner_types(key: str, own_type: str) -> list[str]:
    owners = [t for t, entry in peft_types()["types"].items() if t != own_type and key in entry["keys"]]
    return sorted(owners, key=lambda t: (COMMON_TYPES.index(t) if t in COMMON_TYPES else len(COMMON_TYPES), t))


def _unknown_key(config: PeftConfig, parent: tuple[Any, ...], key: str, known: list[str]) -> dict[str, Any]:
    suggestion = closest(key, known, cutoff=0.75)
    owners = _owner_types(key, config.peft_type) if not parent else []
    if suggestion:
        hint = f"did you mean `{suggestion}`?"
    elif owners:
        hint = f"`{key}` belongs to {', '.join(owners[:3])}, not {config.peft_type}"
    else:
        hint = f"{config.peft_type} has no such option; see `peftlint explain PL001`"
    fix = f"Rename `{key}` to `{suggestion}`" if suggestion else f"Remove `{key}`"
    path = [*parent, key]
    return {"key": _dotted(tuple(path)), "path": path, "suggestion": suggestion, "hint": hint, "owners": owners, "fix": fix}


def _known_keys(schema: dict[str, Any], parent: tuple[Any, ...]) -> list[str]:
    """Property names of the (possibly nested, `$ref`'d) object at `parent`."""
    node = schema
    for part in parent:
        node = node.get("properties", {}).get(part, {})
        for option in [node, *node.get("anyOf", [])]:
            ref = option.get("$ref", "")
            if ref.startswith("#/$defs/"):
                node = schema["$defs"][ref.split("/")[-1]]
                break
    return sorted(node.get("properties", {}))


def _non_finite(values: dict[str, Any]) -> list[dict[str, Any]]:
    """NaN and infinities (YAML `.nan`, JSON `NaN`) are no valid value for any peft option."""
    return [
        {"key": key, "path": [key], "value": str(value), "expected": f"must be a finite number, not `{value}`"}
        for key, value in values.items()
        if isinstance(value, float) and not math.isfinite(value)
    ]


def _float_for_integer(schema: dict[str, Any], values: dict[str, Any]) -> list[dict[str, Any]]:
    """`r: 8.0` passes JSON Schema's integer check, but peft's layers fail on a float rank."""
    problems = []
    for key, value in values.items():
        prop = schema["properties"].get(key, {})
        types = prop.get("type", [])
        types = [types] if isinstance(types, str) else types
        if isinstance(value, float) and value.is_integer() and "integer" in types and "number" not in types:
            expected = f"must be an integer, not the float `{_show(value)}`"
            problems.append({"key": key, "path": [key], "value": value, "expected": expected})
    return problems


def _invalid(error: Any) -> tuple[str, dict[str, Any]]:
    path = tuple(error.instance_path)
    key = _dotted(path)
    details = error.kind.as_dict()
    value = error.instance
    kind = error.kind.name
    if kind == "type":
        wanted = " or ".join(_JSON_TYPE_NAMES.get(t, t) for t in details["types"])
        expected = f"must be {wanted}, not {_JSON_TYPE_NAMES[_json_type(value)]} `{_show(value)}`"
        return "invalid_types", {"key": key, "path": list(path), "value": value, "expected": expected}
    if kind == "required":  # reported at the missing key, e.g. AdaLoRA's `total_step`
        missing = details["property"]
        return "invalid_values", {
            "key": _dotted((*path, missing)),
            "path": [*path, missing],
            "value": None,
            "expected": "is required and has no usable default",
        }
    if kind == "enum":
        options = ", ".join(f"`{_show(o)}`" for o in details["options"])
        suggestion = closest(str(value), [str(o) for o in details["options"]], cutoff=0.5)
        expected = f"must be one of {options}, not `{_show(value)}`"
        if suggestion:
            expected += f" (did you mean `{suggestion}`?)"
        return "invalid_values", {"key": key, "path": list(path), "value": value, "expected": expected}
    bounds = {
        "minimum": "at least {limit}",
        "maximum": "at most {limit}",
        "exclusiveMinimum": "greater than {limit}",
        "exclusiveMaximum": "less than {limit}",
        "minItems": "a list of at least {limit} item(s)",
        "minLength": "at least {limit} character(s) long",
        "const": "`{value}`",
    }
    if kind in bounds:
        expected = "must be " + bounds[kind].format(limit=details.get("limit"), value=_show(details.get("value")))
        expected += f", not `{_show(value)}`"
    else:
        expected = error.message
    return "invalid_values", {"key": key, "path": list(path), "value": value, "expected": expected}


# Not judged by version: what peft wrote a file with; an older peft ignores it.
_VERSION_NEUTRAL = frozenset({"peft_version"})
NOT_READ = "not read: no key of this config depends on the peft version"
_UNSET: tuple[object, ...] = (None, False, {}, [], "")


def peft_version_in_use(config: PeftConfig, explicit: tuple[str, str] | None) -> PeftVersion:
    """The peft the config is for (peftlint/normalize/peft_versions.py); the installed peft's metadata is
    read only when a key of the config is not in every release since its type's first."""
    file_version = config.values.get("peft_version")
    if (
        explicit is None
        and not isinstance(file_version, str)
        and peft_versions.version_independent(config.peft_type, sorted(config.values))
    ):
        newest = peft_versions.history()["versions"][-1]
        return PeftVersion(newest, NOT_READ, newest)
    return peft_versions.resolve(explicit, file_version)


def _is_default(schema: dict[str, Any], key: str, value: Any) -> bool:
    prop = schema["properties"].get(key, {})
    return "default" in prop and prop["default"] == value and type(prop["default"]) is type(value)


def _other_version_key(config: PeftConfig, key: str, in_use: PeftVersion) -> tuple[str, dict[str, Any]] | None:
    """A top-level key the current peft lacks, judged by the release in use: (kind, problem); None
    when no release had it (a typo: unknown_keys); ("", {}) when it is no problem."""
    history = peft_versions.key_history(config.peft_type, key, in_use.release)
    if history is None:
        if config.values.get(key) in _UNSET and (config.saved_adapter or peft_layout(config.values, config.document.format)):
            # peft wrote the file, and this key unset: a field of a newer (or development) peft
            # than the data knows (peft's benchmark configs carry `astra_config: null`). A peft
            # without it skips it on loading and nothing changes, like a newer key at its default.
            return "", {}
        written_by = config.values.get("peft_version")
        if (
            isinstance(written_by, str)
            and peft_versions.is_development(written_by)
            and (config.saved_adapter or peft_layout(config.values, config.document.format))
        ):
            # peft wrote it from a source checkout: a field of that unreleased build (peft's own
            # benchmark saved GraLoRA's `gralora_alpha` so, renamed before release); peft skips it
            return "legacy_keys", {
                "key": key,
                "path": [key],
                "last": f"{written_by} (a development build no release matches)",
                "fix": f"Remove `{key}`",
            }
        return None
    if history.present:
        return "", {}
    if version_key(history.first) > version_key(in_use.release):
        return "newer_keys", _newer(key, history.first, in_use)
    problem = {"key": key, "path": [key], "last": history.last, "fix": f"Remove `{key}`"}
    if config.document.class_name is not None:  # a keyword argument of peft's class: TypeError
        hint = f"a key of peft <= {history.last}; {config.document.class_name}() of peft {in_use.release} raises TypeError on it"
        return "unknown_keys", {**problem, "suggestion": None, "hint": hint, "owners": []}
    return "legacy_keys", problem


def _newer(key: str, since: str, in_use: PeftVersion, shown: str | None = None) -> dict[str, Any]:
    return {"key": key, "path": [key], "shown": shown or f"`{key}`", "since": since, "in_use": in_use.version, "source": in_use.source}


def _newer_keys(config: PeftConfig, schema: dict[str, Any], in_use: PeftVersion) -> list[dict[str, Any]]:
    """Keys (and the type itself) that only releases after the one in use have. A saved file's key
    at peft's default is left alone: an older peft's from_pretrained ignores it, and the default is
    what that peft does anyway; a class call (`LoraConfig(use_dora=False)`) raises TypeError."""
    newest = peft_versions.history()["versions"][-1]
    if in_use.release == newest:
        return []
    found = []
    since = peft_versions.type_since(config.peft_type)
    if since is not None and version_key(since) > version_key(in_use.release):  # the method itself: its keys follow
        return [_newer("peft_type", since, in_use, f"`peft_type: {config.peft_type}`")]
    for key, value in config.values.items():
        if key in _VERSION_NEUTRAL or key not in schema["properties"] or key == "peft_type":
            continue
        history = peft_versions.key_history(config.peft_type, key, in_use.release)
        if history is None or history.present or version_key(history.first) < version_key(in_use.release):
            continue
        if config.document.class_name is None and _is_default(schema, key, value):
            continue
        found.append(_newer(key, history.first, in_use))
    return found


def _removed_type(config: PeftConfig, peft_version: PeftVersion | None) -> str | None:
    """For a type some older peft had (BONE, replaced by MISS in 0.18.0): a hint saying so, or ""
    when the peft in use still has it; None for a type no release had."""
    releases = peft_versions.type_releases(config.peft_type)
    if releases is None:
        return None
    since, last = releases
    in_use = peft_version or peft_version_in_use(config, None)
    if version_key(since) <= version_key(in_use.release) <= version_key(last):
        return ""
    return f"a method of peft {since} to {last} only; peft {in_use.release} no longer has it"


def validate(config: PeftConfig, peft_version: PeftVersion | None = None) -> dict[str, list[dict[str, Any]]]:
    """Problems by kind: unknown_peft_type, unknown_keys, legacy_keys, newer_keys, invalid_types,
    invalid_values. Keys are judged by `peft_version`, the peft the config is for (default: the
    one peft_version_in_use finds)."""
    problems: dict[str, list[dict[str, Any]]] = {
        "unknown_peft_type": [],
        "unknown_keys": [],
        "legacy_keys": [],
        "newer_keys": [],
        "invalid_types": [],
        "invalid_values": [],
    }
    schema = schema_for(config.peft_type)
    if schema is None:
        known = sorted(peft_types()["types"])
        suggestion = closest(config.peft_type.upper(), known, cutoff=0.6)
        hint = f"did you mean `{suggestion}`?" if suggestion else "peft's types include " + ", ".join(f"`{t}`" for t in COMMON_TYPES[:6])
        removed = _removed_type(config, peft_version)
        if removed == "":
            return problems  # a method of the peft in use, which the current schemas lack: nothing to check against
        hint = removed or hint
        problems["unknown_peft_type"].append(
            {
                "key": "peft_type",
                "path": ["peft_type"],
                "value": config.peft_type,
                "suggestion": suggestion or "LORA",
                "hint": hint,
                "known": known,
            }
        )
        return problems
    values = dict(config.values)
    values.setdefault("peft_type", config.peft_type)
    non_finite = _non_finite(values)
    problems["invalid_values"] += non_finite
    for key in (p["key"] for p in non_finite):  # JSON Schema has no NaN: keep them out of its way
        values.pop(key)
    in_use = peft_version or peft_version_in_use(config, None)
    for error in _validator(config.peft_type).iter_errors(values):
        if error.kind.name == "additionalProperties":
            parent = tuple(error.instance_path)
            known = _known_keys(schema, parent)
            for key in error.kind.as_dict()["unexpected"]:
                judged = None if parent else _other_version_key(config, key, in_use)
                if judged is None:
                    problems["unknown_keys"].append(_unknown_key(config, parent, key, known))
                elif judged[0]:
                    problems[judged[0]].append(judged[1])
            continue
        kind, problem = _invalid(error)
        problems[kind].append(problem)
    problems["invalid_types"] += _float_for_integer(schema, values)
    problems["newer_keys"] += _newer_keys(config, schema, in_use)
    return problems
