"""Run a rule's own examples: the test suite's cases and `peftlint explain`'s sample output."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml

from peftlint.engine import Rule
from peftlint.finding import Finding


def write_example(example: dict[str, Any], folder: Path) -> Path:
    """An example as the file a user would have: raw `text`, or `config` dumped as YAML."""
    path = folder / example.get("filename", "adapter.yaml")
    if "text" in example:
        path.write_text(example["text"], encoding="utf-8")
        return path
    data = dict(example["config"])
    if example.get("profile"):
        data["peftlint"] = example["profile"]
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def lint_example(rule: Rule, example: dict[str, Any], folder: Path | None = None) -> list[Finding]:
    """The findings of `rule` alone on `example` (in `folder`, or a temporary one)."""
    from peftlint.enrich.stage import ModelOptions
    from peftlint.lint import lint_paths

    if folder is None:
        with tempfile.TemporaryDirectory() as tmp:
            return lint_example(rule, example, Path(tmp))
    model = ModelOptions(model=example.get("model"))
    report = lint_paths([str(write_example(example, folder))], select=(rule.code,), model=model)
    return [f for f in report.findings if f.code == rule.code]
