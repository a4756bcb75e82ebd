"""Did-you-mean: the known name closest to a misspelt one."""

from __future__ import annotations

from typing import Iterable


def closest(word: str, known: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The candidate most like `word` (difflib's ratio of at least `cutoff`), or None."""
    import difflib  # here: only a misspelling needs it, and most runs have none

    return next(iter(difflib.get_close_matches(word, list(known), n=1, cutoff=cutoff)), None)
