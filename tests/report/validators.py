"""Validators for the machine-readable outputs: SARIF (the official schema) and `--format json`."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs

ROOT = Path(__file__).resolve().parents[2]
SARIF_SCHEMA = ROOT / "tests" / "fixtures" / "sarif" / "sarif-schema-2.1.0.json"
OUTPUT_SCHEMA = ROOT / "schemas" / "output.schema.json"

# GitHub Actions workflow command: ::error file=F,line=L,col=C,title=T::MESSAGE. Property values
# escape `%`, CR, LF, `:` and `,`; the message escapes `%`, CR and LF.
GITHUB_LINE = re.compile(
    r"::(?P<command>error|warning|notice) file=(?P<file>[^,:\r\n]*)(?:,line=(?P<line>\d+))?(?:,col=(?P<col>\d+))?"
    r",title=(?P<title>[^,:\r\n]*)::(?P<message>[^\r\n]*)"
)
ESCAPE = re.compile(r"%(25|0D|0A|3A|2C)")
_UNESCAPED = {"25": "%", "0D": "\r", "0A": "\n", "3A": ":", "2C": ","}


@cache
def sarif_validator() -> Any:
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    # The vendored revision nests region's anyOf inside `properties` (see the README beside it);
    # put it where the standard means it, so the schema compiles and the constraint applies.
    region = schema["definitions"]["region"]
    region["anyOf"] = region["properties"].pop("anyOf")
    return jsonschema_rs.validator_for(schema, validate_formats=True)


@cache
def output_validator() -> Any:
    return jsonschema_rs.validator_for(json.loads(OUTPUT_SCHEMA.read_text(encoding="utf-8")), validate_formats=True)


def problems(validator: Any, document: Any) -> list[str]:
    """Every schema violation, with where it is: the assertion message says what went wrong."""
    return [f"/{'/'.join(map(str, e.instance_path))}: {e.message}" for e in validator.iter_errors(document)]


def unescape(text: str) -> str:
    """A workflow-command value as GitHub reads it back."""
    return ESCAPE.sub(lambda match: _UNESCAPED[match.group(1)], text)
