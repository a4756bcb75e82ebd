"""`peftlint check --fix` and `--diff`: apply the edits that findings carry, changing nothing else.

Each edit is spliced into the file's text where the parser says its key or value is, so
comments, key order, quoting, indentation, line endings and a BOM stay byte for byte as they were:
YAML at PyYAML's node marks (a round-trip library re-emits the whole file, which normalises
indentation and spacing), JSON at the same marks (JSON is YAML flow syntax; the new values are
written as JSON), Python at the `ast` positions of the config call's literals (the file is
parsed, never run). A JSON file PyYAML cannot read is parsed and written back with its own
indentation, key order and line endings.

The fixes of one file are planned together. Key renames come first and alone: until a typo'd
key is renamed, every other finding of its document was computed without the user's value (a
default stood in for it), so its edit could invent a value the rename is about to supply. The
file is linted again after the renames (in memory, nothing is written before the end) and the
other fixes are planned from the new findings, until nothing changes.

A saved adapter (`source.saved_adapter`) is what trained weights were saved with: no edit may
change what they mean, so only removing a key peft drops when it loads (an unknown key, an older
peft's) is ever applied to one.
"""

from __future__ import annotations

import ast
import codecs
import difflib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from peftlint.finding import Edit, Finding
from peftlint.load import LoadError


class NotApplicable(Exception):
    """This edit cannot be made on this file as it is now (the key moved, a value is computed, ...)."""


MAX_PASSES = 5  # renames, then what they bring into view; a fix whose finding stays ends the loop
# the edits a saved adapter may take: removing a key peft ignores when it loads (an older peft's)
SAVED_ADAPTER = "a saved adapter: this edit would change what its trained weights mean"


class FileFix(NamedTuple):
    path: str
    original: str
    fixed: str
    applied: tuple[Finding, ...] = ()
    skipped: tuple[tuple[Finding, str], ...] = ()  # (finding, why its edit was not made)
    bom: bool = False
    deferred: tuple[Finding, ...] = ()  # planned again once this pass's renames are in

    @property
    def changed(self) -> bool:
        return self.fixed != self.original

    def diff(self) -> str:
        before, after = self.original.splitlines(keepends=True), self.fixed.splitlines(keepends=True)
        return "".join(difflib.unified_diff(before, after, self.path, self.path))

    def write(self) -> None:
        data = self.fixed.encode("utf-8")
        with open(self.path, "wb") as handle:
            handle.write((codecs.BOM_UTF8 if self.bom else b"") + data)


def wanted(finding: Finding, *, unsafe: bool) -> bool:
    return finding.edit is not None and (finding.edit.safe or unsafe) and finding.file is not None


def plan_fixes(findings: Iterable[Finding], *, unsafe: bool = False, texts: Mapping[str, str] | None = None) -> list[FileFix]:
    """One pass: the fixed text of every file with applicable edits (nothing is written). `texts`
    holds files as earlier passes left them."""
    by_file: dict[str, list[Finding]] = {}
    for finding in findings:
        if wanted(finding, unsafe=unsafe):
            by_file.setdefault(str(finding.file), []).append(finding)
    return [_fix_file(path, items, (texts or {}).get(path)) for path, items in by_file.items()]


def _read(path: str) -> tuple[str, bool]:
    with open(path, "rb") as handle:
        raw = handle.read()
    bom = raw.startswith(codecs.BOM_UTF8)
    return raw[len(codecs.BOM_UTF8) :].decode("utf-8") if bom else raw.decode("utf-8"), bom


def _fix_file(path: str, findings: list[Finding], current: str | None = None) -> FileFix:
    try:
        text, bom = _read(path)
    except (OSError, UnicodeDecodeError) as exc:
        reason = "only UTF-8 files are edited" if isinstance(exc, UnicodeDecodeError) else str(exc.strerror)
        return FileFix(path, "", "", skipped=tuple((f, reason) for f in findings))
    fixed = text if current is None else current
    try:
        apply = _EDITORS[_format(path, fixed)]
    except LoadError as exc:  # changed since it was checked
        return FileFix(path, text, fixed, skipped=tuple((f, f"the file no longer parses: {exc.message}") for f in findings), bom=bom)
    applied: list[Finding] = []
    skipped: list[tuple[Finding, str]] = []
    deferred: list[Finding] = []
    ready = []
    for finding in findings:
        assert finding.edit is not None
        if finding.edit.changes_adapter:
            skipped.append((finding, SAVED_ADAPTER))
        else:
            ready.append(finding)
    renamed: set[int] = set()  # documents with a rename made in this pass
    for finding in sorted(ready, key=lambda f: f.edit.op != "rename-key"):  # type: ignore[union-attr]
        edit = finding.edit
        assert edit is not None
        if edit.op != "rename-key" and edit.document in renamed:
            deferred.append(finding)
            continue
        try:
            fixed = apply(fixed, edit)
        except NotApplicable as exc:
            skipped.append((finding, str(exc)))
        else:
            applied.append(finding)
            if edit.op == "rename-key":
                renamed.add(edit.document)
    return FileFix(path, text, fixed, tuple(applied), tuple(skipped), bom, tuple(deferred))


def _format(path: str, text: str) -> str:
    from peftlint.load.files import load_text

    documents = load_text(text, path)
    return documents[0].format if documents else "yaml"


# --- values as each format writes them ----------------------------------------------------------


def _scalar(value: Any, style: str | None, json_: bool) -> str:
    """A value as the file's format writes it: JSON in a JSON file, YAML in the node's style otherwise."""
    return json.dumps(value, ensure_ascii=False) if json_ else _yaml_scalar(value, style)


def _yaml_scalar(value: Any, style: str | None = None) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_yaml_scalar(item) for item in value) + "]"
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


def _python_literal(value: Any, quote: str = '"') -> str:
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_python_literal(item, quote) for item in value) + "]"
    if isinstance(value, str):
        body = value.replace("\\", "\\\\").replace(quote, "\\" + quote).replace("\n", "\\n")
        return quote + body + quote
    return json.dumps(value)


def _new_items(old: str, new: list[str], existing: list[Any]) -> list[str]:
    """The items `old` becomes, without those the list already has elsewhere."""
    others = [item for item in existing if item != old]
    return [item for item in new if item not in others]


# --- YAML: splice at the composed nodes' marks ----------------------------------------------------


def _yaml_node(text: str, document: int, path: tuple[Any, ...]) -> tuple[Node, list[Node]]:
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
        node = _yaml_child(node, part)
    return node, trail


def _yaml_child(node: Node, part: Any) -> Node:
    if isinstance(node, MappingNode):
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.value == str(part):
                return value
    elif isinstance(node, SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part]
    raise NotApplicable(f"`{part}` is not in the file")


def _yaml_key(mapping: Node, name: str) -> ScalarNode | None:
    if not isinstance(mapping, MappingNode):
        raise NotApplicable("not a mapping")
    return next((k for k, _ in mapping.value if isinstance(k, ScalarNode) and k.value == name), None)


def _splice(text: str, start: int, end: int, new: str) -> str:
    return text[:start] + new + text[end:]


def _line_end(text: str, index: int) -> int:
    """The index just after the line break ending the line that holds `index` (or the end of text)."""
    found = text.find("\n", index)
    return len(text) if found < 0 else found + 1


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _yaml_rename(text: str, edit: Edit, json_: bool = False) -> str:
    _, trail = _yaml_node(text, edit.document, edit.path)
    parent = trail[-1]
    if _yaml_key(parent, str(edit.value)) is not None:
        raise NotApplicable(f"`{edit.value}` is already set")
    key = _yaml_key(parent, str(edit.path[-1]))
    assert key is not None  # _yaml_node found its value
    return _splice(text, key.start_mark.index, key.end_mark.index, _scalar(edit.value, key.style, json_))


def _yaml_set(text: str, edit: Edit, json_: bool = False) -> str:
    try:
        node, _ = _yaml_node(text, edit.document, edit.path)
    except NotApplicable:
        return _yaml_add(text, edit, json_)
    if not isinstance(node, ScalarNode) and not getattr(node, "flow_style", False):
        raise NotApplicable("a block value is not replaced")
    style = node.style if isinstance(node, ScalarNode) else None
    return _splice(text, node.start_mark.index, node.end_mark.index, _scalar(edit.value, style, json_))


def _yaml_add(text: str, edit: Edit, json_: bool = False) -> str:
    parent, _ = _yaml_node(text, edit.document, edit.path[:-1])
    if not isinstance(parent, MappingNode) or not parent.value:
        raise NotApplicable("no mapping to add the key to")
    entry = f"{_scalar(str(edit.path[-1]), None, json_)}: {_scalar(edit.value, None, json_)}"
    first_key, last_value = parent.value[0][0], parent.value[-1][1]
    if parent.flow_style and first_key.start_mark.line != parent.end_mark.line:  # one key a line
        line_start = text.rfind("\n", 0, first_key.start_mark.index) + 1
        indent = text[line_start : first_key.start_mark.index]
        end = last_value.end_mark.index
        return _splice(text, end, end, f",{_newline(text)}{indent}{entry}")
    if parent.flow_style:
        close = parent.end_mark.index - 1
        return _splice(text, close, close, f", {entry}")
    end = last_value.end_mark.index
    at = end if end > 0 and text[end - 1] == "\n" else _line_end(text, end)
    prefix = "" if text[:at].endswith("\n") or not text[:at] else _newline(text)
    return _splice(text, at, at, prefix + " " * first_key.start_mark.column + entry + _newline(text))


def _yaml_remove(text: str, edit: Edit, json_: bool = False) -> str:
    """The key with its value: whole lines in a block mapping, `key: value, ` in a flow one (JSON's
    objects are flow mappings, so a pretty-printed key goes with its comma and line break)."""
    _, trail = _yaml_node(text, edit.document, edit.path)
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
            return _splice(text, key.start_mark.index, value.end_mark.index + after.end(), "")
        before = re.search(r",\s*$", text[: key.start_mark.index])
        return _splice(text, before.start() if before else key.start_mark.index, value.end_mark.index, "")
    line_start = text.rfind("\n", 0, key.start_mark.index) + 1
    if text[line_start : key.start_mark.index].strip():  # `- key: value`: the item's first key
        raise NotApplicable("the key shares its line with a list dash")
    end = value.end_mark.index
    end = end if end > 0 and text[end - 1] == "\n" else _line_end(text, end)  # a block value ends past its newline
    return _splice(text, line_start, end, "")


def _yaml_replace_item(text: str, edit: Edit, json_: bool = False) -> str:
    node, _ = _yaml_node(text, edit.document, edit.path)
    if isinstance(node, ScalarNode):  # LLaMA-Factory's comma-separated list
        parts = [part.strip() for part in node.value.split(",")]
        if edit.old not in parts:
            raise NotApplicable(f"`{edit.old}` is not in the list")
        items = _new_items(edit.old, edit.value, parts)
        at = parts.index(edit.old)
        joined = (", " if ", " in node.value else ",").join(parts[:at] + items + parts[at + 1 :])
        return _splice(text, node.start_mark.index, node.end_mark.index, _scalar(joined, node.style, json_))
    if not isinstance(node, SequenceNode):
        raise NotApplicable("not a list")
    values = [item.value if isinstance(item, ScalarNode) else None for item in node.value]
    if edit.old not in values:
        raise NotApplicable(f"`{edit.old}` is not in the list")
    item = node.value[values.index(edit.old)]
    items = _new_items(edit.old, edit.value, values)
    if not items:
        return _yaml_delete_item(text, node, item)
    first = _scalar(items[0], item.style, json_)
    if node.flow_style:
        rest = "".join(f", {_scalar(extra, item.style, json_)}" for extra in items[1:])
        return _splice(text, item.start_mark.index, item.end_mark.index, first + rest)
    line_start = text.rfind("\n", 0, item.start_mark.index) + 1
    dash = text[line_start : item.start_mark.index]  # `  - `, reused for each new item
    end = _line_end(text, item.end_mark.index)
    newline = _newline(text)
    extra = "".join(f"{dash}{_yaml_scalar(other, item.style)}{newline}" for other in items[1:])
    if extra and not text[:end].endswith("\n"):
        extra = newline + extra
    text = _splice(text, end, end, extra)
    return _splice(text, item.start_mark.index, item.end_mark.index, first)


def _yaml_delete_item(text: str, sequence: SequenceNode, item: Node) -> str:
    if sequence.flow_style:
        after = re.match(r"\s*,\s*", text[item.end_mark.index :])
        if after:
            return _splice(text, item.start_mark.index, item.end_mark.index + after.end(), "")
        before = re.search(r",\s*$", text[: item.start_mark.index])
        start = before.start() if before else item.start_mark.index
        return _splice(text, start, item.end_mark.index, "")
    if len(sequence.value) == 1:
        raise NotApplicable("it is the list's only item")
    line_start = text.rfind("\n", 0, item.start_mark.index) + 1
    return _splice(text, line_start, _line_end(text, item.end_mark.index), "")


# --- JSON: spliced at PyYAML's marks; parsed and written back only when PyYAML cannot read it ------


_YAML_EDITORS = {"rename-key": _yaml_rename, "set": _yaml_set, "replace-item": _yaml_replace_item, "remove-key": _yaml_remove}


def _json_splice(text: str, edit: Edit) -> str:
    editor = _YAML_EDITORS.get(edit.op)
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
        parent[last] = items[:at] + _new_items(edit.old, edit.value, items) + items[at + 1 :]
    layout = _json_layout(text)
    dumped = json.dumps(data, **layout, separators=(",", ": ") if layout["indent"] is not None else None)
    return dumped.replace("\n", _newline(text)) + text[len(text.rstrip()) :]  # the file's own line ends and trailing whitespace


def _renamed(mapping: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    return {(new if key == old else key): value for key, value in mapping.items()}


def _put(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    return data


# --- Python: splice at the ast positions of the config call ----------------------------------------


class _Source:
    """Python text with `ast` positions (lines, UTF-8 byte columns) turned into text offsets."""

    def __init__(self, text: str):
        self.crlf = "\r\n" in text
        self.text = text.replace("\r\n", "\n")
        self.starts = [0]
        for line in self.text.split("\n"):
            self.starts.append(self.starts[-1] + len(line) + 1)

    def offset(self, line: int, byte_column: int) -> int:
        start = self.starts[line - 1]
        content = self.text[start : self.starts[line] - 1]
        return start + len(content.encode()[:byte_column].decode())

    def span(self, node: ast.AST) -> tuple[int, int]:
        return self.offset(node.lineno, node.col_offset), self.offset(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined, arg-type]

    def result(self, text: str) -> str:
        return text.replace("\n", "\r\n") if self.crlf else text


def _config_call(source: _Source, document: int) -> ast.Call:
    from peftlint.load.python_ import load_python

    try:
        documents = load_python(source.text, "<fix>")
        tree = ast.parse(source.text)
    except Exception as exc:  # LoadError, SyntaxError: the file changed under us
        raise NotApplicable(f"the file no longer parses: {exc}") from None
    if document >= len(documents):
        raise NotApplicable("the config call is gone")
    line, column = documents[document].positions[()]
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.lineno == line and source.offset(line, node.col_offset) - source.starts[line - 1] == column - 1:
            return node
    raise NotApplicable("the config call is gone")


def _python_target(call: ast.Call, path: tuple[Any, ...]) -> tuple[ast.AST | None, ast.AST]:
    """(the key node that names the last path part, or None for a list item; the value node)."""
    keyword = next((k for k in call.keywords if k.arg == path[0]), None)
    if keyword is None:
        raise NotApplicable(f"`{path[0]}` is not in the call")
    key: ast.AST | None = keyword
    node: ast.AST = keyword.value
    for part in path[1:]:
        if isinstance(node, ast.Dict):
            pairs = [(k, v) for k, v in zip(node.keys, node.values) if isinstance(k, ast.Constant) and str(k.value) == str(part)]
            if not pairs:
                raise NotApplicable(f"`{part}` is not in the file")
            key, node = pairs[0]
        elif isinstance(node, (ast.List, ast.Tuple, ast.Set)) and isinstance(part, int) and part < len(node.elts):
            key, node = None, node.elts[part]
        else:
            raise NotApplicable(f"`{part}` is not a literal in the file")
    return key, node


def _quote(source: _Source, node: ast.AST) -> str:
    start, _ = source.span(node)
    return "'" if source.text[start : start + 1] == "'" else '"'


def _python_edit(text: str, edit: Edit) -> str:
    source = _Source(text)
    call = _config_call(source, edit.document)
    if edit.op == "set" and len(edit.path) == 1 and all(k.arg != edit.path[0] for k in call.keywords):
        return source.result(_python_add(source, call, str(edit.path[0]), edit.value))
    key, node = _python_target(call, edit.path)
    if edit.op == "remove-key":
        return source.result(_python_remove(source, key))
    if edit.op == "rename-key":
        if isinstance(key, ast.keyword):
            if any(k.arg == edit.value for k in call.keywords):
                raise NotApplicable(f"`{edit.value}` is already set")
            start = source.offset(key.lineno, key.col_offset)
            return source.result(_splice(source.text, start, start + len(str(key.arg)), str(edit.value)))
        if key is None:
            raise NotApplicable("a list item has no key")
        start, end = source.span(key)
        return source.result(_splice(source.text, start, end, _python_literal(edit.value, _quote(source, key))))
    if edit.op == "set":
        start, end = source.span(node)
        return source.result(_splice(source.text, start, end, _python_literal(edit.value)))
    if not isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        raise NotApplicable("not a literal list")
    values = [elt.value if isinstance(elt, ast.Constant) else None for elt in node.elts]
    if edit.old not in values:
        raise NotApplicable(f"`{edit.old}` is not in the list")
    item = node.elts[values.index(edit.old)]
    items = _new_items(edit.old, edit.value, values)
    start, end = source.span(item)
    if not items:
        after = re.match(r"\s*,[ \t]*", source.text[end:])
        return source.result(_splice(source.text, start, end + (after.end() if after else 0), ""))
    quote = _quote(source, item)
    return source.result(_splice(source.text, start, end, ", ".join(_python_literal(i, quote) for i in items)))


def _python_remove(source: _Source, key: ast.AST | None) -> str:
    """A keyword argument (or dict entry) with its comma; its whole line when it is alone on it."""
    if key is None:
        raise NotApplicable("a list item has no key")
    if not isinstance(key, ast.keyword):
        raise NotApplicable("only a keyword argument of the call is removed")
    start, end = source.span(key)
    text = source.text
    line_start = text.rfind("\n", 0, start) + 1
    rest = re.match(r"[ \t]*,?[ \t]*(#[^\n]*)?(\n|$)", text[end:])
    if not text[line_start:start].strip() and rest:
        return _splice(text, line_start, end + rest.end(), "")
    after = re.match(r"\s*,[ \t]*", text[end:])
    if after:
        return _splice(text, start, end + after.end(), "")
    before = re.search(r",\s*$", text[:start])
    return _splice(text, before.start() if before else start, end, "")


def _python_add(source: _Source, call: ast.Call, name: str, value: Any) -> str:
    """A new keyword argument after the last one, in the call's own layout."""
    argument = f"{name}={_python_literal(value)}"
    last = max([*call.args, *call.keywords], key=lambda n: (n.end_lineno, n.end_col_offset), default=None)  # type: ignore[attr-defined]
    _, close = source.span(call)
    if last is None:
        return _splice(source.text, close - 1, close - 1, argument)
    _, end = source.span(last)
    between = source.text[end : close - 1]
    if "\n" not in between:
        return _splice(source.text, end, end, f", {argument}")
    line_start = source.text.rfind("\n", 0, source.span(last)[0]) + 1
    indent = re.match(r"[ \t]*", source.text[line_start:]).group(0)  # type: ignore[union-attr]
    comma = re.match(r"\s*,", between)
    at = end + comma.end() if comma else end
    return _splice(source.text, at, at, ("" if comma else ",") + f"\n{indent}{argument}" + ("," if comma else ""))


_EDITORS = {
    "yaml": lambda text, edit: _YAML_EDITORS[edit.op](text, edit),
    "json": _json_splice,
    "python": _python_edit,
}


class Outcome(NamedTuple):
    fixes: list[FileFix]
    hidden: int  # unsafe edits left out (no --unsafe-fixes)
    manual: tuple[Finding, ...] = ()  # warnings and errors whose fix no machine can make

    @property
    def changed(self) -> bool:
        return any(fix.changed for fix in self.fixes)

    def diff(self) -> str:
        return "".join(fix.diff() for fix in self.fixes if fix.changed)

    def summary(self, *, written: bool) -> str:
        applied = sum(len(fix.applied) for fix in self.fixes if fix.changed)
        files = sum(fix.changed for fix in self.fixes)
        left = self.hidden + len(self.manual) + sum(len(fix.skipped) + len(fix.deferred) for fix in self.fixes)
        # never a bare "0 to fix" while problems with a fix remain: say how many, and why below
        lines = [f"{'fixed' if written else 'would fix'} {applied} problem(s) in {files} file(s)" + (f"; {left} not fixed, see why below" if left else "")]
        lines += [f"not fixed: {f.file}:{f.line}: {f.code} {f.name}: {why}" for fix in self.fixes for f, why in fix.skipped]
        lines += [
            f"not fixed: {f.file}:{f.line}: {f.code} {f.name}: {RERUN}" for fix in self.fixes for f in fix.deferred
        ]
        lines += [f"not fixed: {f.file}:{f.line}: {f.code} {f.name}: {MANUAL}" for f in self.manual]
        if self.hidden:
            lines.append(f"{self.hidden} unsafe fix(es) not {'applied' if written else 'shown'}: they change training behaviour; review them and add --unsafe-fixes")
        return "\n".join(lines)


RERUN = "planned after a key rename of its document; run --fix again"
MANUAL = "no automatic edit: the fix needs a choice only you can make (see its fix line)"
Relint = Callable[[Mapping[str, str]], list[Finding]]


def fix_findings(findings: list[Finding], *, unsafe: bool = False, write: bool = True, relint: Relint | None = None) -> Outcome:
    """Apply the edits of the findings' fixes (safe ones, and unsafe ones when asked) to their files.

    With `relint` (the same check on files' edited text), passes repeat on the new findings until
    nothing changes; without it, one pass, and what it deferred is reported.
    """
    texts: dict[str, str] = {}
    first: dict[str, FileFix] = {}  # each file as it was read: original text and BOM
    applied: dict[str, list[Finding]] = {}
    last: dict[str, FileFix] = {}  # each file's latest pass: what is still skipped or deferred
    for _ in range(MAX_PASSES):
        progress = False
        last = {}
        for fix in plan_fixes(findings, unsafe=unsafe, texts=texts):
            first.setdefault(fix.path, fix)
            last[fix.path] = fix
            if fix.fixed != texts.get(fix.path, fix.original):
                applied.setdefault(fix.path, []).extend(fix.applied)
                texts[fix.path] = fix.fixed
                progress = True
        if not progress or relint is None:
            break
        findings = relint(texts)
    fixes = [
        FileFix(
            path,
            read.original,
            texts.get(path, read.original),
            tuple(applied.get(path, ())),
            last[path].skipped if path in last else (),
            read.bom,
            last[path].deferred if path in last else (),
        )
        for path, read in first.items()
    ]
    if write:
        for fix in fixes:
            if fix.changed:
                fix.write()
    hidden = 0 if unsafe else sum(f.edit is not None and not f.edit.safe for f in findings)
    manual = tuple(f for f in findings if f.edit is None and f.fix and f.severity != "info" and f.file is not None)
    return Outcome(fixes, hidden, manual)
