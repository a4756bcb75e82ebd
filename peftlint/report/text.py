"""`--format text`: `path:line:col: CODE [severity] message`, the fix below, then a summary."""

from __future__ import annotations

import os
from typing import TextIO

from peftlint.pipeline import Report
from peftlint.report.summary import summary

_COLOURS = {"error": "31", "warning": "33", "info": "36"}


def _paint(text: str, code: str, colour: bool) -> str:
    return f"\033[{code}m{text}\033[0m" if colour else text


def use_colour(out: TextIO) -> bool:
    """https://no-color.org and FORCE_COLOR first (a set, non-empty value wins), then: is it a terminal?"""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return out.isatty()


def write(report: Report, out: TextIO) -> None:
    colour = use_colour(out)
    for f in report.findings:
        where = f.file or "-"
        if f.line is not None:
            where += f":{f.line}:{f.column or 1}"
        level = _paint(f"[{f.severity}]", _COLOURS[f.severity], colour)
        out.write(f"{where}: {_paint(f.code, '1', colour)} {level} {f.message}\n")
        if f.fix:
            out.write(f"  fix: {f.fix}\n")
    counts = summary(report)
    total = counts["errors"] + counts["warnings"] + counts["infos"]
    if counts["files"] == 0 and not report.suppressed:
        skipped = f" ({len(report.skipped)} file(s) skipped: -v says why)" if report.skipped else ""
        out.write(f"No PEFT config found{skipped}: nothing to check.\n")
        return
    if total == 0 and not report.suppressed:
        out.write(f"All checked: no problems in {counts['files']} file(s).\n")
        return
    line = (
        f"Found {total} problem(s) in {counts['files']} file(s): "
        f"{counts['errors']} error(s), {counts['warnings']} warning(s), {counts['infos']} info(s)"
    )
    if report.suppressed:
        line += f"; {report.suppressed} suppressed"
    out.write(line + ".\n")
