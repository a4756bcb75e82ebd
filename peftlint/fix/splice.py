"""What every writer shares: splicing new text into a file's text, and the error an edit raises
when it cannot be made on the file as it is now."""

from __future__ import annotations

from typing import Any


class NotApplicable(Exception):
    """This edit cannot be made on this file as it is now (the key moved, a value is computed, ...)."""


def splice(text: str, start: int, end: int, new: str) -> str:
    return text[:start] + new + text[end:]


def line_end(text: str, index: int) -> int:
    """The index just after the line break ending the line that holds `index` (or the end of text)."""
    found = text.find("\n", index)
    return len(text) if found < 0 else found + 1


def newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def new_items(old: str, new: list[str], existing: list[Any]) -> list[str]:
    """The items `old` becomes, without those the list already has elsewhere."""
    others = [item for item in existing if item != old]
    return [item for item in new if item not in others]
