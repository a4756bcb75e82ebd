"""Reporters: one small module per output format, registered by name."""

from __future__ import annotations

from typing import Callable, TextIO

from peftlint.pipeline import Report

Reporter = Callable[[Report, TextIO], None]


def reporter(name: str) -> Reporter:
    # Imported on demand: a run pays only for the format it prints.
    if name == "text":
        from peftlint.report.text import write
    elif name == "json":
        from peftlint.report.json_ import write
    elif name == "github":
        from peftlint.report.github import write
    elif name == "sarif":
        from peftlint.report.sarif import write
    else:
        raise KeyError(name)
    return write
