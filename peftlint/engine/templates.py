"""`{dotted.name}` message templates filled from the facts document: lookup only.

A field is a dotted path of plain names into nested mappings; no indexing, attribute access,
conversion or arbitrary format spec, so a rule file can never reach Python objects
(`{x.__class__}` is refused when the rule is loaded, not at run time).
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping

_FIELD = re.compile(r"[A-Za-z][A-Za-z0-9_\-]*(\.[A-Za-z0-9_\-]+)*")
_SPEC = re.compile(r"(,|\.\d{1,2}[f%]|,\.\d{1,2}f|d)?")
MISSING = "unknown"


class TemplateError(ValueError):
    pass


def _parse(template: str) -> Any:
    """(literal, field, spec, conversion) parts, as str.format reads them."""
    import string  # here: a clean run renders no message (its Template class compiles a regex on import)

    return string.Formatter().parse(template)


def fields(template: str) -> list[str]:
    """The field names a template uses; raises TemplateError on anything but plain lookups."""
    names = []
    try:
        parsed = list(_parse(template))
    except ValueError as exc:
        raise TemplateError(f"bad template {template!r}: {exc}") from None
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if conversion or not _FIELD.fullmatch(name) or name.split(".")[-1].startswith("_"):
            raise TemplateError(f"`{{{name}}}` is not a plain facts lookup such as `{{effective.r}}`")
        if spec and not _SPEC.fullmatch(spec):
            raise TemplateError(f"format spec `{spec}` in `{{{name}:{spec}}}` is not one of `,`, `.1f`, `.0%`, `d`")
        names.append(name)
    return names


def lookup(context: Mapping[str, Any], name: str) -> Any:
    value: Any = context
    for part in name.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _text(value: Any, spec: str) -> str:
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "true" if value else "false"
    if spec and isinstance(value, (int, float)):
        return format(value, spec)
    if isinstance(value, list):
        return ", ".join(_text(v, "") for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return _one_line(str(value))


def _one_line(text: str) -> str:
    """Values come from user files: escape line breaks and control characters, keep messages one line."""
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def render(template: str, context: Mapping[str, Any]) -> str:
    out = []
    for literal, name, spec, _ in _parse(template):
        out.append(literal)
        if name is not None:
            out.append(_text(lookup(context, name), spec or ""))
    return "".join(out)
