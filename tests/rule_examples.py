"""Turn a rule file's examples into files and lint them with only that rule enabled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from peftlint.engine import Rule
from peftlint.finding import Finding
from peftlint.lint import lint_paths


def write_example(example: dict[str, Any], folder: Path) -> Path:
    if "text" in example:
        path = folder / example.get("filename", "adapter.yaml")
        path.write_text(example["text"], encoding="utf-8")
        return path
    data = dict(example["config"])
    if example.get("profile"):
        data["peftlint"] = example["profile"]
    path = folder / example.get("filename", "adapter.yaml")
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def lint_example(rule: Rule, example: dict[str, Any], folder: Path) -> list[Finding]:
    path = write_example(example, folder)
    report = lint_paths([str(path)], select=(rule.code,))
    return [f for f in report.findings if f.code == rule.code]


def expectation_met(expected: dict[str, Any], finding: Finding) -> bool:
    return (
        finding.code == expected["code"]
        and ("key" not in expected or finding.key == expected["key"])
        and ("line" not in expected or finding.line == expected["line"])
        and expected.get("message_contains", "") in finding.message
    )
