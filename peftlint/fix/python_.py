"""Python edits, spliced at the `ast` positions of the config call's literals (the file is parsed,
never run)."""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from peftlint.finding import Edit
from peftlint.fix.splice import NotApplicable, new_items, splice


def python_literal(value: Any, quote: str = '"') -> str:
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(python_literal(item, quote) for item in value) + "]"
    if isinstance(value, str):
        body = value.replace("\\", "\\\\").replace(quote, "\\" + quote).replace("\n", "\\n")
        return quote + body + quote
    return json.dumps(value)


# --- Python: splice at the ast positions of the config call ----------------------------------------

# the nodes a fix finds by position: arguments, keyword arguments, dict keys and list items
_Spanned = ast.expr | ast.keyword


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

    def span(self, node: _Spanned) -> tuple[int, int]:
        end_line, end_column = node.end_lineno, node.end_col_offset
        assert end_line is not None and end_column is not None  # set on every node ast.parse builds
        return self.offset(node.lineno, node.col_offset), self.offset(end_line, end_column)

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
        if (
            isinstance(node, ast.Call)
            and node.lineno == line
            and source.offset(line, node.col_offset) - source.starts[line - 1] == column - 1
        ):
            return node
    raise NotApplicable("the config call is gone")


def _python_target(call: ast.Call, path: tuple[Any, ...]) -> tuple[_Spanned | None, ast.expr]:
    """(the key node that names the last path part, or None for a list item; the value node)."""
    keyword = next((k for k in call.keywords if k.arg == path[0]), None)
    if keyword is None:
        raise NotApplicable(f"`{path[0]}` is not in the call")
    key: _Spanned | None = keyword
    node: ast.expr = keyword.value
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


def _quote(source: _Source, node: _Spanned) -> str:
    start, _ = source.span(node)
    return "'" if source.text[start : start + 1] == "'" else '"'


def python_edit(text: str, edit: Edit) -> str:
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
            return source.result(splice(source.text, start, start + len(str(key.arg)), str(edit.value)))
        if key is None:
            raise NotApplicable("a list item has no key")
        start, end = source.span(key)
        return source.result(splice(source.text, start, end, python_literal(edit.value, _quote(source, key))))
    if edit.op == "set":
        start, end = source.span(node)
        return source.result(splice(source.text, start, end, python_literal(edit.value)))
    if not isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        raise NotApplicable("not a literal list")
    values = [elt.value if isinstance(elt, ast.Constant) else None for elt in node.elts]
    if edit.old not in values:
        raise NotApplicable(f"`{edit.old}` is not in the list")
    item = node.elts[values.index(edit.old)]
    items = new_items(edit.old, edit.value, values)
    start, end = source.span(item)
    if not items:
        after = re.match(r"\s*,[ \t]*", source.text[end:])
        return source.result(splice(source.text, start, end + (after.end() if after else 0), ""))
    quote = _quote(source, item)
    return source.result(splice(source.text, start, end, ", ".join(python_literal(i, quote) for i in items)))


def _python_remove(source: _Source, key: _Spanned | None) -> str:
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
        return splice(text, line_start, end + rest.end(), "")
    after = re.match(r"\s*,[ \t]*", text[end:])
    if after:
        return splice(text, start, end + after.end(), "")
    before = re.search(r",\s*$", text[:start])
    return splice(text, before.start() if before else start, end, "")


def _python_add(source: _Source, call: ast.Call, name: str, value: Any) -> str:
    """A new keyword argument after the last one, in the call's own layout."""
    argument = f"{name}={python_literal(value)}"
    arguments: list[_Spanned] = [*call.args, *call.keywords]
    last = max(arguments, key=lambda n: source.span(n)[1], default=None)  # the one that ends last
    _, close = source.span(call)
    if last is None:
        return splice(source.text, close - 1, close - 1, argument)
    _, end = source.span(last)
    between = source.text[end : close - 1]
    if "\n" not in between:
        return splice(source.text, end, end, f", {argument}")
    line_start = source.text.rfind("\n", 0, source.span(last)[0]) + 1
    rest = source.text[line_start:]
    indent = rest[: len(rest) - len(rest.lstrip(" \t"))]
    comma = re.match(r"\s*,", between)
    at = end + comma.end() if comma else end
    return splice(source.text, at, at, ("" if comma else ",") + f"\n{indent}{argument}" + ("," if comma else ""))
