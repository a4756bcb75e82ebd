"""Rule documentation rendered from rule files: `peftlint explain`, docs/rules.md, README table."""

from __future__ import annotations

from typing import Any

import yaml

from peftlint.edits import specs
from peftlint.engine import Rule


def _example(example: dict[str, Any]) -> str:
    if "text" in example:
        body = example["text"].rstrip("\n")
    else:
        body = yaml.safe_dump(example["config"], sort_keys=False, default_flow_style=None).rstrip("\n")
    context = []
    if example.get("model"):
        context.append(f"# with --model {example['model']}")
    if example.get("profile"):
        context.append("# profile: " + ", ".join(f"{k}={v}" for k, v in example["profile"].items()))
    return "\n".join(context + [body])


def _sample_output(rule: Rule) -> list[str]:
    """What peftlint prints for the bad example: real output, not a template."""
    import tempfile
    from pathlib import Path

    from peftlint.examples import EXAMPLE_FOLDER, lint_example
    from peftlint.resources import rules_dir

    folder = Path(rule.path).parent
    custom = [folder] if folder.resolve() != rules_dir().resolve() else []  # a user rule folder's rule
    with tempfile.TemporaryDirectory() as tmp:
        finding = next(iter(lint_example(rule, rule.examples["bad"][0], Path(tmp), custom)), None)
        if finding is None:
            return []
        # messages may name the example's files: show them relative, as a user would see them
        lines = ["", "Message on that example", f"  {finding.message}"]
        if finding.fix:
            lines.append(f"  fix: {finding.fix}")
        return [line.replace(f"{tmp}/{EXAMPLE_FOLDER}/", "").replace(tmp + "/", "") for line in lines]


def explain(rule: Rule, *, with_output: bool = True) -> str:
    """ruff's section order: what it does, why, example, use instead, fix, references."""
    lines = [
        f"{rule.code} {rule.name} ({rule.severity})",
        "",
        "What it does",
        f"  {rule.summary}",
        "",
        "Why is this bad?",
        *("  " + line for line in rule.rationale.strip().splitlines()),
        "",
        "Example",
        *("  " + line for line in _example(rule.examples["bad"][0]).splitlines()),
        *(_sample_output(rule) if with_output else []),
        "",
        "Use instead",
        *("  " + line for line in _example(rule.examples["good"][0]).splitlines()),
    ]
    lines += ["", "Severity", *_wrap(f"{rule.severity}: {rule.severity_reason.strip()}")]
    for step in rule.escalate:
        lines += _wrap(f"{step['severity']} when {step['if']}")
    lines.append("  (policy: docs/severity.md)")
    if rule.fix_applicability:
        safety = {
            "safe": "safe: the edit keeps what the config meant and what peft does (a misspelt key renamed with its value, a value peft corrects to anyway); `--fix` applies it",
            "unsafe": "unsafe: the fix changes what is trained; `--fix` applies it only with --unsafe-fixes, after review",
        }
        alternatives = specs(rule.fix_edit) if rule.fix_edit else []
        lines += ["", "Fix safety", f"  {safety[rule.fix_applicability]}"]
        if not alternatives:
            lines.append("  no automatic edit: it needs a choice only you can make")
        if len(alternatives) > 1:  # e.g. rename to the close match, else remove
            lines.append("  edits, the first that applies: " + "; ".join(f"{a['op']} ({a.get('applicability', rule.fix_applicability)})" for a in alternatives))
        changing = [a["op"] for a in alternatives if a["op"] != "remove-key"]
        if changing:
            lines.append(f"  never applied to a saved adapter ({', '.join(changing)}): it would change what the trained weights mean")
    if rule.training_only:
        lines += ["", "Saved adapters", "  not checked: this is about how to train, moot once the adapter has trained"]
    if rule.inputs:
        lines += ["", "Needs", "  " + ", ".join(rule.inputs) + " (silent when not set)"]
    lines += ["", "References", f"  {rule.source}"]
    return "\n".join(lines) + "\n"


def _wrap(text: str) -> list[str]:
    """A paragraph of the Severity section, wrapped like the rationale (100 columns)."""
    import textwrap

    return textwrap.wrap(" ".join(text.split()), width=100, initial_indent="  ", subsequent_indent="  ")


def rules_table(rules: list[Rule]) -> str:
    rows = ["| code | name | severity | what it checks | source |", "| --- | --- | --- | --- | --- |"]
    for rule in rules:
        summary = rule.summary.replace("|", "\\|")
        rows.append(f"| {rule.code} | `{rule.name}` | {rule.severity} | {summary} | {rule.source.replace('|', '/')} |")
    return "\n".join(rows) + "\n"


def rules_markdown(rules: list[Rule]) -> str:
    parts = ["# peftlint rules", "", "Generated from `rules/` by `scripts/gen_rule_docs.py`; do not edit.", ""]
    for rule in rules:
        parts += [f"## {rule.code} `{rule.name}`", "", "```text", explain(rule).rstrip("\n"), "```", ""]
    return "\n".join(parts)
