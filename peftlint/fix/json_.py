"""JSON edits: spliced at PyYAML's marks (JSON is YAML flow syntax, new values are written as JSON);
parsed and written back with the file's own layout only when PyYAML cannot read it."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from peftlint.finding import Edit
from peftlint.fix.splice import NotApplicable, new_items, newline
from peftlint.fix.yaml_ import YAML_EDITORS


def json_edit_at_marks(text: str, edit: Edit) -> str:
    editor = YAML_EDITORS.get(edit.op)
    try:
        yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:  # JSON that is not YAML (a tab where YAML allows none, ...)
        editor = None
    return _json_edit(text, edit) if editor is None else editor(text, edit, True)


def _json_layout(text: str) -> dict[str, Any]:
    indent = re.search(r"\n([ \t]+)\S", text)
    return {
        "indent": None if indent is None else (indent.group(1) if "\t" in indent.group(1) else len(indent.group(1))),
        "ensure_ascii": text.isascii(),
    }


def _json_edit(text: str, edit: Edit) -> str:
    data = json.loads(text)
    parent: Any = data
    for part in edit.path[:-1]:
        try:
            parent = parent[part]
        except (KeyError, IndexError, TypeError):
            raise NotApplicable(f"`{part}` is not in the file") from None
    last = edit.path[-1]
    if not isinstance(parent, dict):
        raise NotApplicable("not a mapping")
    if edit.op == "rename-key":
        if last not in parent or edit.value in parent:
            raise NotApplicable(f"cannot rename `{last}` to `{edit.value}`")
        parent = _renamed(parent, str(last), str(edit.value))
        data = parent if len(edit.path) == 1 else _put(data, edit.path[:-1], parent)
    elif edit.op == "set":
        parent[last] = edit.value
    elif edit.op == "remove-key":
        if last not in parent:
            raise NotApplicable(f"`{last}` is not in the file")
        del parent[last]
    else:
        items = parent.get(last)
        if not isinstance(items, list) or edit.old not in items:
            raise NotApplicable(f"`{edit.old}` is not in the list")
        at = items.index(edit.old)
        parent[last] = items[:at] + new_items(edit.old, edit.value, items) + items[at + 1 :]
    layout = _json_layout(text)
    dumped = json.dumps(data, **layout, separators=(",", ": ") if layout["indent"] is not None else None)
    return dumped.replace("\n", newline(text)) + text[len(text.rstrip()) :]  # the file's own line ends and trailing whitespace


def _renamed(mapping: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    return {(new if key == old else key): value for key, value in mapping.items()}


def _put(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    return data
