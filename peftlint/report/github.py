"""`--format github`: GitHub Actions workflow commands, one annotation per finding."""

from __future__ import annotations

from typing import TextIO

from peftlint.pipeline import Report

_LEVEL = {"error": "error", "warning": "warning", "info": "notice"}


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def write(report: Report, out: TextIO) -> None:
    for f in report.findings:
        props = [f"file={_escape_property(f.file or '')}"]
        if f.line is not None:
            props.append(f"line={f.line}")
        if f.column is not None:
            props.append(f"col={f.column}")
        props.append(f"title={_escape_property(f.code + ' ' + f.name)}")
        message = f.message + (f"\n{f.fix}" if f.fix else "")
        out.write(f"::{_LEVEL[f.severity]} {','.join(props)}::{_escape_data(message)}\n")
