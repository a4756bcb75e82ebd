"""A rule's `fix.edit` filled in for one finding: the machine-applicable half of a fix.

The spec's strings are the same safe templates as messages (`peftlint.engine.templates`); a string
that is exactly one lookup keeps the fact's own type, so `new: "{item.suggestions}"` is a list
and `value: "{derived.alpha_for_rank}"` a number. The key is canonical (`lora_alpha`) and is
mapped to where the file writes it (axolotl's `lora_alpha`, LLaMA-Factory's `lora_target`).
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping, Sequence

from peftlint.engine import templates
from peftlint.finding import Edit
from peftlint.normalize import PeftConfig

_MISSING = object()


EditSpec = Mapping[str, Any] | Sequence[Mapping[str, Any]]  # one edit, or alternatives in order


def specs(spec: EditSpec) -> list[Mapping[str, Any]]:
    """A rule's `fix.edit` as a list of alternatives: the first that the facts fill in is made."""
    return [spec] if isinstance(spec, Mapping) else list(spec)


def spec_strings(spec: EditSpec) -> Iterator[tuple[str, str]]:
    """(field, template) for every templated field of an edit spec (checked when the rule loads)."""
    for one in specs(spec):
        for name, value in one.items():
            if name not in ("op", "applicability") and isinstance(value, str):
                yield name, value


def _value(template: Any, context: Mapping[str, Any]) -> Any:
    """The filled-in value, or _MISSING when a lookup finds nothing."""
    if not isinstance(template, str):
        return template
    names = templates.fields(template)
    if len(names) == 1 and template == "{" + names[0] + "}":
        found = templates.lookup(context, names[0])
        return _MISSING if found is None else found
    if any(templates.lookup(context, name) is None for name in names):
        return _MISSING
    return templates.render(template, context)


def _key_path(value: Any) -> tuple[str | int, ...] | None:
    if isinstance(value, str) and value:
        return tuple(int(part) if part.isdigit() else part for part in value.split("."))
    if isinstance(value, list) and value and all(isinstance(part, (str, int)) for part in value):
        return tuple(value)
    return None


def _items(value: Any) -> list[str] | None:
    items = [value] if isinstance(value, str) else value
    if isinstance(items, list) and items and all(isinstance(item, str) and item for item in items):
        return list(dict.fromkeys(items))
    return None


def render_edit(spec: EditSpec, context: Mapping[str, Any], config: PeftConfig, *, safe: bool) -> Edit | None:
    """The edit for one finding: the first alternative the facts fill in (an alternative's own
    `applicability` overrides the fix's), or None when none can be."""
    for one in specs(spec):
        edit = _render_one(one, context, config, safe=one["applicability"] == "safe" if "applicability" in one else safe)
        if edit is not None:
            return edit
    return None


def _render_one(spec: Mapping[str, Any], context: Mapping[str, Any], config: PeftConfig, *, safe: bool) -> Edit | None:
    path = _key_path(_value(spec["key"], context))
    if path is None:
        return None
    op = spec["op"]
    old: Any = None
    if op == "rename-key":
        value = _value(spec["to"], context)
        if not isinstance(value, str) or not value or value == path[-1]:
            return None
    elif op == "remove-key":
        value = None
    elif op == "set":
        value = _value(spec["value"], context)
        if value is _MISSING:
            return None
    else:
        old, value = _value(spec["old"], context), _items(_value(spec["new"], context))
        if not isinstance(old, str) or value is None:
            return None
    file_path = config.root + config.source_path(path)
    changes_adapter = config.saved_adapter and not (op == "remove-key" and list(path) in _ignored_on_load(context))
    return Edit(op, file_path, value, old, document=config.document.ordinal, safe=safe, changes_adapter=changes_adapter)


def _ignored_on_load(context: Mapping[str, Any]) -> list[list[Any]]:
    """Key paths peft drops when it loads a saved adapter: keys no peft had, or only older ones."""
    problems = context.get("problems") or {}
    return [list(item.get("path", ())) for kind in ("unknown_keys", "legacy_keys") for item in problems.get(kind, ())]
