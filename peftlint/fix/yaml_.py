"""YAML edits, spliced at the composed nodes' marks (PyYAML), so comments, quoting and layout stay."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from peftlint.finding import Edit
from peftlint.fix.splice import NotApplicable, line_end, new_items, newline, splice


def scalar(value: Any, style: str | None, json_: bool) -> str:
    """A value as the file's format writes it: JSON in a JSON file, YAML in the node's style otherwise."""
    return json.dumps(value, ensure_ascii=False) if json_ else yaml_scalar(value, style)


def yaml_scalar(value: Any, style: str | None = None) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(yaml_scalar(item) for item in value) + "]"
    if not isinstance(value, str):
        return json.dumps(value)  # true, false, null and numbers are spelt alike in JSON and YAML
    if style == "'":
        return "'" + value.replace("'", "''") + "'"
    if style != '"':
        try:
            if yaml.safe_load(value) == value and value.strip() == value and "\n" not in value:
                return value
        except yaml.YAMLError:
            pass
    return json.dumps(value, ensure_ascii=False)


def yaml_node(text: str, document: int, path: tuple[Any, ...]) -> tuple[Node, list[Node]]:
    """The node at `path` and its ancestors (root first)."""
    try:
        roots = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise NotApplicable(f"the file no longer parses: {exc}") from None
    if document >= len(roots) or roots[document] is None:
        raise NotApplicable("the document is gone")
    node, trail = roots[document], []
    for part in path:
        trail.append(node)
        node = yaml_child(node, part)
    return node, trail


def yaml_child(node: Node, part: Any) -> Node:
    if isinstance(node, MappingNode):
        pairs: list[tuple[Node, Node]] = node.value  # PyYAML's stubs leave a node's value untyped
        for key, value in pairs:
            if isinstance(key, ScalarNode) and key.value == str(part):
                return value
    elif isinstance(node, SequenceNode) and isinstance(part, int) and part < len(node.value):
        items: list[Node] = node.value
        return items[part]
    raise NotApplicable(f"`{part}` is not in the file")


def yaml_key(mapping: Node, name: str) -> ScalarNode | None:
    if not isinstance(mapping, MappingNode):
        raise NotApplicable("not a mapping")
    return next((k for k, _ in mapping.value if isinstance(k, ScalarNode) and k.value == name), None)


def _yaml_rename(text: str, edit: Edit, json_: bool = False) -> str:
    _, trail = yaml_node(text, edit.document, edit.path)
    parent = trail[-1]
    if yaml_key(parent, str(edit.value)) is not None:
        raise NotApplicable(f"`{edit.value}` is already set")
    key = yaml_key(parent, str(edit.path[-1]))
    assert key is not None  # yaml_node found its value
    return splice(text, key.start_mark.index, key.end_mark.index, scalar(edit.value, key.style, json_))


def _yaml_set(text: str, edit: Edit, json_: bool = False) -> str:
    try:
        node, _ = yaml_node(text, edit.document, edit.path)
    except NotApplicable:
        return _yaml_add(text, edit, json_)
    if not isinstance(node, ScalarNode) and not getattr(node, "flow_style", False):
        raise NotApplicable("a block value is not replaced")
    style = node.style if isinstance(node, ScalarNode) else None
    return splice(text, node.start_mark.index, node.end_mark.index, scalar(edit.value, style, json_))


def _yaml_add(text: str, edit: Edit, json_: bool = False) -> str:
    parent, _ = yaml_node(text, edit.document, edit.path[:-1])
    if not isinstance(parent, MappingNode) or not parent.value:
        raise NotApplicable("no mapping to add the key to")
    entry = f"{scalar(str(edit.path[-1]), None, json_)}: {scalar(edit.value, None, json_)}"
    first_key, last_value = parent.value[0][0], parent.value[-1][1]
    if parent.flow_style and first_key.start_mark.line != parent.end_mark.line:  # one key a line
        line_start = text.rfind("\n", 0, first_key.start_mark.index) + 1
        indent = text[line_start : first_key.start_mark.index]
        end = last_value.end_mark.index
        return splice(text, end, end, f",{newline(text)}{indent}{entry}")
    if parent.flow_style:
        close = parent.end_mark.index - 1
        return splice(text, close, close, f", {entry}")
    end = last_value.end_mark.index
    at = end if end > 0 and text[end - 1] == "\n" else line_end(text, end)
    prefix = "" if text[:at].endswith("\n") or not text[:at] else newline(text)
    return splice(text, at, at, prefix + " " * first_key.start_mark.column + entry + newline(text))


def _yaml_remove(text: str, edit: Edit, json_: bool = False) -> str:
    """The key with its value: whole lines in a block mapping, `key: value, ` in a flow one (JSON's
    objects are flow mappings, so a pretty-printed key goes with its comma and line break)."""
    _, trail = yaml_node(text, edit.document, edit.path)
    parent = trail[-1]
    if not isinstance(parent, MappingNode):
        raise NotApplicable("not a mapping")
    if len(parent.value) == 1:
        raise NotApplicable("it is the mapping's only key")
    at = next(i for i, (k, _) in enumerate(parent.value) if isinstance(k, ScalarNode) and k.value == str(edit.path[-1]))
    key, value = parent.value[at]
    if parent.flow_style:
        after = re.match(r"\s*,\s*", text[value.end_mark.index :])
        if after:
            return splice(text, key.start_mark.index, value.end_mark.index + after.end(), "")
        before = re.search(r",\s*$", text[: key.start_mark.index])
        return splice(text, before.start() if before else key.start_mark.index, value.end_mark.index, "")
    line_start = text.rfind("\n", 0, key.start_mark.index) + 1
    if text[line_start : key.start_mark.index].strip():  # `- key: value`: the item's first key
        raise NotApplicable("the key shares its line with a list dash")
    end = value.end_mark.index
    end = end if end > 0 and text[end - 1] == "\n" else line_end(text, end)  # a block value ends past its newline
    return splice(text, line_start, end, "")


def _yaml_replace_item(text: str, edit: Edit, json_: bool = False) -> str:
    node, _ = yaml_node(text, edit.document, edit.path)
    if isinstance(node, ScalarNode):  # LLaMA-Factory's comma-separated list
        parts = [part.strip() for part in node.value.split(",")]
        if edit.old not in parts:
            raise NotApplicable(f"`{edit.old}` is not in the list")
        items = new_items(edit.old, edit.value, parts)
        at = parts.index(edit.old)
        joined = (", " if ", " in node.value else ",").join(parts[:at] + items + parts[at + 1 :])
        return splice(text, node.start_mark.index, node.end_mark.index, scalar(joined, node.style, json_))
    if not isinstance(node, SequenceNode):
        raise NotApplicable("not a list")
    values = [item.value if isinstance(item, ScalarNode) else None for item in node.value]
    if edit.old not in values:
        raise NotApplicable(f"`{edit.old}` is not in the list")
    item = node.value[values.index(edit.old)]
    items = new_items(edit.old, edit.value, values)
    if not items:
        return _yaml_delete_item(text, node, item)
    first = scalar(items[0], item.style, json_)
    if node.flow_style:
        rest = "".join(f", {scalar(extra, item.style, json_)}" for extra in items[1:])
        return splice(text, item.start_mark.index, item.end_mark.index, first + rest)
    line_start = text.rfind("\n", 0, item.start_mark.index) + 1
    dash = text[line_start : item.start_mark.index]  # `  - `, reused for each new item
    end = line_end(text, item.end_mark.index)
    ending = newline(text)
    extra = "".join(f"{dash}{yaml_scalar(other, item.style)}{ending}" for other in items[1:])
    if extra and not text[:end].endswith("\n"):
        extra = ending + extra
    text = splice(text, end, end, extra)
    return splice(text, item.start_mark.index, item.end_mark.index, first)


def _yaml_delete_item(text: str, sequence: SequenceNode, item: Node) -> str:
    if sequence.flow_style:
        after = re.match(r"\s*,\s*", text[item.end_mark.index :])
        if after:
            return splice(text, item.start_mark.index, item.end_mark.index + after.end(), "")
        before = re.search(r",\s*$", text[: item.start_mark.index])
        start = before.start() if before else item.start_mark.index
        return splice(text, start, item.end_mark.index, "")
    if len(sequence.value) == 1:
        raise NotApplicable("it is the list's only item")
    line_start = text.rfind("\n", 0, item.start_mark.index) + 1
    return splice(text, line_start, line_end(text, item.end_mark.index), "")


YAML_EDITORS = {"rename-key": _yaml_rename, "set": _yaml_set, "replace-item": _yaml_replace_item, "remove-key": _yaml_remove}


def yaml_edit(text: str, edit: Edit) -> str:
    return YAML_EDITORS[edit.op](text, edit)
