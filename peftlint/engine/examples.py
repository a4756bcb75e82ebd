"""Run a rule's own examples: the test suite's cases and `peftlint explain`'s sample output."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, Sequence

import yaml

from peftlint.engine import Rule
from peftlint.finding import Finding


def write_example(example: dict[str, Any], folder: Path) -> Path:
    """An example as the file a user would have: raw `text`, or `config` dumped as YAML."""
    path: Path = folder / example.get("filename", "adapter.yaml")
    if "text" in example:
        path.write_text(example["text"], encoding="utf-8")
        return path
    data = dict(example["config"])
    if example.get("profile"):
        data["peftlint"] = example["profile"]
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def lint_example(rule: Rule, example: dict[str, Any], folder: Path | None = None, rule_dirs: Sequence[Path] = ()) -> list[Finding]:
    """The findings of `rule` alone on `example` (in `folder`, or a temporary one).

    `rule_dirs`: the user rule folders the rule needs, configured as a user would, by a
    pyproject.toml beside the example's folder (`[tool.peftlint] rules = [...]`).
    """
    from peftlint.enrich.stage import ModelOptions
    from peftlint.pipeline import lint_paths

    if folder is None:
        with tempfile.TemporaryDirectory() as tmp:
            return lint_example(rule, example, Path(tmp), rule_dirs)
    if rule_dirs:
        # TOML basic strings take JSON's escapes: json.dumps quotes any path
        folders = ", ".join(json.dumps(str(Path(d).resolve())) for d in rule_dirs)
        (folder / "pyproject.toml").write_text(f"[tool.peftlint]\nrules = [{folders}]\n", encoding="utf-8")
        folder = folder / EXAMPLE_FOLDER  # the example may itself be a pyproject.toml
        folder.mkdir()
    model = ModelOptions(model=example.get("model"))
    report = lint_paths([str(write_example(example, folder))], select=(rule.code,), model=model)
    return [f for f in report.findings if f.code == rule.code]


EXAMPLE_FOLDER = "example"


def expectation_met(expected: dict[str, Any], finding: Finding) -> bool:
    """A bad example's `expect` entry matches the finding (code, and what else it names)."""
    return (
        finding.code == expected["code"]
        and ("key" not in expected or finding.key == expected["key"])
        and ("line" not in expected or finding.line == expected["line"])
        and ("severity" not in expected or finding.severity == expected["severity"])
        and expected.get("message_contains", "") in finding.message
    )


def example_problem(rule: Rule, kind: str, example: dict[str, Any], folder: Path, rule_dirs: Sequence[Path] = ()) -> str | None:
    """Why `example` (a `good` or `bad` one of `rule`) fails, or None when it passes: a good
    example has no finding; a bad one has exactly the findings it expects, each with a position
    and every template field filled in."""
    findings = lint_example(rule, example, folder, rule_dirs)
    if kind == "good":
        return None if not findings else "expected no finding, got: " + "; ".join(_brief(f) for f in findings)
    expected = example["expect"]
    if len(findings) != len(expected):
        return f"expected {len(expected)} finding(s), got {len(findings)}" + "".join(f"; {_brief(f)}" for f in findings)
    for want in expected:
        want = {"severity": rule.severity, **want}  # an escalated finding's example says so
        if not any(expectation_met(want, f) for f in findings):
            return f"expected {want}, got: " + "; ".join(_brief(f) for f in findings)
    for finding in findings:
        if finding.line is None:
            return f"finding without a position: {_brief(finding)}"
        for text in (finding.message, finding.fix or ""):
            if "`unknown`" in text or "=unknown" in text:
                return f"a template field found no fact: {_brief(finding)}"
    return None


def _brief(finding: Finding) -> str:
    return f"{finding.code} {finding.severity} line {finding.line}: {finding.message}"
