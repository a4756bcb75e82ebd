"""Read one file into Documents: size limit, text decoding, format detection, dispatch.

Every failure is a `LoadError` (one line, with a position when one is known), whatever the
bytes: callers report it and go on with the next file.

The format comes from the extension and the content together:
- `.py` is Python, `.json` is JSON;
- `.yaml`/`.yml` and files with any other extension are read as JSON when they start with `{`
  or `[` and are valid JSON (JSON positions are exact, and YAML 1.1 would read some JSON
  differently), else as YAML;
- a file with another extension is Python when it parses as Python and calls a peft config
  class (a YAML document can be valid Python too: `r: 8` is an annotation).
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Mapping
from pathlib import Path

from peftlint.load import Document, LoadError

MAX_BYTES = 10_000_000
# Real PEFT configs nest 3-4 levels deep; 100 leaves room for any honest file while keeping
# every loader far below Python's recursion limit.
MAX_DEPTH = 100

_FORMAT_BY_SUFFIX = {".yaml": "yaml", ".yml": "yaml", ".json": "json", ".py": "python"}

# UTF-32 LE's mark starts with UTF-16 LE's, so it is tried first.
_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_ENCODING_NAMES = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "utf-16": "UTF-16", "utf-32": "UTF-32"}


def load_path(path: str | Path, *, max_bytes: int = MAX_BYTES, config_classes: Mapping[str, str] | None = None) -> list[Document]:
    """The configs in the file at `path` ([] for an empty file); raises only LoadError."""
    name = os.fspath(path)
    return load_bytes(_read(name, max_bytes), name, config_classes=config_classes)


def load_bytes(raw: bytes, path: str, *, config_classes: Mapping[str, str] | None = None) -> list[Document]:
    """The configs in `raw`, the content of a file named `path`; raises only LoadError."""
    return load_text(decode(raw, path), path, config_classes=config_classes)


def load_text(text: str, path: str, *, config_classes: Mapping[str, str] | None = None) -> list[Document]:
    """The configs in decoded `text`, with the format chosen as the module docstring says."""
    if not text.strip():
        return []
    suffix_format = _FORMAT_BY_SUFFIX.get(Path(path).suffix.lower())
    if suffix_format == "python":
        from peftlint.load.python_ import load_python

        return load_python(text, path, config_classes=config_classes)
    if suffix_format == "json" or text.lstrip()[0] in "{[":
        from peftlint.load.json_ import load_json

        try:
            return load_json(text, path, max_depth=MAX_DEPTH)
        except LoadError:
            if suffix_format == "json":
                raise
            # a YAML flow collection (`{r: 8}`) or broken JSON: YAML reads the one, reports the other
    if suffix_format is None:
        documents = _python_configs(text, path, config_classes)
        if documents:
            return documents
    from peftlint.load.yaml_ import load_yaml

    return load_yaml(text, path, max_depth=MAX_DEPTH)


def _python_configs(text: str, path: str, config_classes: Mapping[str, str] | None) -> list[Document]:
    from peftlint.load.python_ import default_config_classes, load_python

    classes = default_config_classes() if config_classes is None else config_classes
    if not any(name in text for name in classes):  # cheap test before parsing
        return []
    try:
        return load_python(text, path, config_classes=classes)
    except LoadError:  # not Python, then
        return []


def _read(path: str, max_bytes: int) -> bytes:
    limit = f"(limit {max_bytes:,} bytes)"
    try:
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            if size > max_bytes:  # spares reading a huge file at all
                raise LoadError(path, f"file too large: {size:,} bytes {limit}")
            # bounded, for what fstat cannot size: pipes, /dev/zero, a file growing meanwhile
            raw = file.read(max_bytes + 1)
    except OSError as exc:
        raise LoadError(path, f"cannot read file: {exc.strerror or exc}") from None
    if len(raw) > max_bytes:
        raise LoadError(path, f"file too large: more than {max_bytes:,} bytes {limit}")
    return raw


def decode(raw: bytes, path: str) -> str:
    """UTF-8 (with or without BOM), or UTF-16/UTF-32 with a BOM; anything else is a LoadError."""
    encoding = next((name for mark, name in _BYTE_ORDER_MARKS if raw.startswith(mark)), "utf-8")
    if encoding.startswith("utf-8"):
        nul = raw.find(b"\0")
        if nul >= 0:
            raise LoadError(path, f"binary file, not text (NUL byte at offset {nul})")
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        before = raw[: exc.start].decode(encoding, errors="replace")
        line = before.count("\n") + 1
        column = len(before) - (before.rfind("\n") + 1) + 1
        message = f"not {_ENCODING_NAMES[encoding]} text (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        raise LoadError(path, message, line, column) from None
    if "\0" in text:
        raise LoadError(path, f"binary file, not text (NUL character in {_ENCODING_NAMES[encoding]})")
    return text
