"""Validators for the machine-readable outputs: SARIF (the official schema) and `--format json`."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs

ROOT = Path(__file__).resolve().parents[2]
SARIF_SCHEMA = ROOT / "tests" / "fixtures" / "sarif" / "sarif-schema-2.1.0.json"
OUTPUT_SCHEMA = ROOT / "schemas" / "output.schema.json"


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
