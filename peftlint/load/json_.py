"""JSON -> one Document, with the line/column of every object key and array item.

`json.loads` decides what the file means: it is the reader peft itself uses for
`adapter_config.json`, so whatever peft would load loads here, including `NaN`, `Infinity`
and `-Infinity` (kept as floats; rules judge the values). A small token scanner runs first to
find where each key and item is written, to stop nesting deeper than `max_depth` before `json`
recurses into it, and to refuse duplicate keys, which `json` would silently resolve to the last.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right

from peftlint.load import Document, JsonPath, LoadError, shown

# The tokens that place keys and values. Commas, colons and whitespace are skipped: in valid
# JSON a string followed by a colon is a key and anything else starting a token is a value.
# Invalid JSON must not trip the scanner (json.loads reports it afterwards), hence the optional
# closing quote and the catch-all run.
_TOKEN = re.compile(
    r"""
      (?P<key> "[^"\\]*(?:\\.[^"\\]*)*" ) \s*:
    | "[^"\\]*(?:\\.[^"\\]*)*"?
    | [{}\[\]]
    | [^\s{}\[\]:,"]+
    """,
    re.DOTALL | re.VERBOSE,
)


def load_json(text: str, path: str, *, max_depth: int) -> list[Document]:
    """The file's single JSON value as a Document; [] when that value is `null`."""
    # CR and CRLF are only legal as whitespace in JSON, so this changes no value, and makes a
    # lone-CR file number its lines as YAML and Python (and editors) do.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    positions, duplicate = _scan(text, path, max_depth)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        # json words one message as a prefix of its own "... at: line 1 column 13"
        raise LoadError(path, f"invalid JSON: {exc.msg.removesuffix(' at')}", exc.lineno, exc.colno) from None
    except ValueError as exc:  # "Exceeds the limit (4300 digits) for integer string conversion: ..."
        raise LoadError(path, f"invalid JSON: {str(exc).partition(':')[0]}") from None
    except RecursionError:  # only reachable when a caller sets max_depth near the recursion limit
        raise LoadError(path, "invalid JSON: nesting too deep") from None
    if duplicate is not None:
        raise duplicate
    if data is None:
        return []
    return [Document(path, "json", data, positions)]


class _Container:
    __slots__ = ("path", "is_object", "index", "key")

    def __init__(self, path: JsonPath, is_object: bool):
        self.path = path
        self.is_object = is_object
        self.index = 0  # arrays: index of the next item
        # objects: the key whose value comes next (valid JSON names one before every value; in invalid
        # JSON, which json.loads then rejects, the paths do not matter)
        self.key = ""


def _scan(text: str, path: str, max_depth: int) -> tuple[dict[JsonPath, tuple[int, int]], LoadError | None]:
    """Positions of every key and item by JSON path, and the first duplicate key, if any.

    Tolerates invalid JSON (json.loads reports that afterwards) but enforces the depth limit.
    """
    line_starts = [0] + [match.end() for match in re.finditer("\n", text)]
    positions: dict[JsonPath, tuple[int, int]] = {}
    duplicate: LoadError | None = None
    stack: list[_Container] = []
    for match in _TOKEN.finditer(text):
        top = stack[-1] if stack else None
        if match.lastgroup == "key":
            if top is None or not top.is_object:
                continue  # invalid JSON
            key = top.key = _key(match.group("key"))
            key_path = top.path + (key,)
            position = _line_col(line_starts, match.start())
            if key_path not in positions:
                positions[key_path] = position
            elif duplicate is None:
                first_line = positions[key_path][0]
                duplicate = LoadError(path, f"duplicate key `{shown(key)}` (first at line {first_line})", *position)
            continue
        first = match.group()[0]
        if first == "}" or first == "]":
            if stack:
                stack.pop()
            continue
        # the start of a value
        if top is None:
            value_path: JsonPath = ()
            positions.setdefault((), _line_col(line_starts, match.start()))
        elif top.is_object:
            value_path = top.path + (top.key,)
        else:
            value_path = top.path + (top.index,)
            positions[value_path] = _line_col(line_starts, match.start())
            top.index += 1
        if first == "{" or first == "[":
            if len(stack) >= max_depth:
                raise LoadError(path, f"nesting deeper than {max_depth} levels", *_line_col(line_starts, match.start()))
            stack.append(_Container(value_path, first == "{"))
    return positions, duplicate


def _key(token: str) -> str:
    if "\\" not in token:
        return token[1:-1]
    try:
        key: str = json.loads(token)  # a string token decodes to a str
        return key
    except ValueError:  # a broken escape: json.loads of the whole text reports it with its position
        return token[1:-1]


def _line_col(line_starts: list[int], offset: int) -> tuple[int, int]:
    line = bisect_right(line_starts, offset)
    return (line, offset - line_starts[line - 1] + 1)
