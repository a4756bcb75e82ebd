"""Rule documentation rendered from rule files: `peftlint explain`, docs/rules/ (one page per
rule and an index), the README table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from peftlint.engine import Rule
from peftlint.engine.edits import specs


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

    from peftlint.engine.examples import EXAMPLE_FOLDER, lint_example
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
    for step in _escalations(rule):
        lines += _wrap(step)
    lines.append("  (policy: docs/severity.md)")
    if rule.fix_applicability:
        lines += ["", "Fix safety", *("  " + line for line in _fix_safety(rule))]
    if rule.training_only:
        lines += ["", "Saved adapters", f"  {SAVED_ADAPTERS}"]
    if rule.inputs:
        lines += ["", "Needs", f"  {_needs(rule)}"]
    lines += ["", "References", f"  {rule.source}"]
    return "\n".join(lines) + "\n"


SAFETY = {
    "safe": "safe: the edit keeps what the config meant and what peft does (a misspelt key renamed with its value, a value peft corrects to anyway); `--fix` applies it",
    "unsafe": "unsafe: the fix changes what is trained; `--fix` applies it only with --unsafe-fixes, after review",
}
SAVED_ADAPTERS = "not checked: this is about how to train, moot once the adapter has trained"


def _escalations(rule: Rule) -> list[str]:
    return [f"{step['severity']} when {step['if']}" for step in rule.escalate]


def _needs(rule: Rule) -> str:
    return ", ".join(rule.inputs) + " (silent when not set)"


def _fix_safety(rule: Rule) -> list[str]:
    """The Fix safety section, one sentence a line (explain indents them, the docs list them)."""
    alternatives = specs(rule.fix_edit) if rule.fix_edit else []
    lines = [SAFETY[rule.fix_applicability or "unsafe"]]
    if not alternatives:
        lines.append("no automatic edit: it needs a choice only you can make")
    if len(alternatives) > 1:  # e.g. rename to the close match, else remove
        lines.append(
            "edits, the first that applies: "
            + "; ".join(f"{a['op']} ({a.get('applicability', rule.fix_applicability)})" for a in alternatives)
        )
    changing = [a["op"] for a in alternatives if a["op"] != "remove-key"]
    if changing:
        lines.append(f"never applied to a saved adapter ({', '.join(changing)}): it would change what the trained weights mean")
    return lines


def _wrap(text: str) -> list[str]:
    """A paragraph of the Severity section, wrapped like the rationale (100 columns)."""
    import textwrap

    return textwrap.wrap(" ".join(text.split()), width=100, initial_indent="  ", subsequent_indent="  ")


def rule_page_name(rule: Rule) -> str:
    """The file of the rule's page under docs/rules/ (and the SARIF helpUri's)."""
    return f"{rule.code}-{rule.name}.md"


def rules_table(rules: list[Rule], *, link: str = "") -> str:
    """The rules as a Markdown table; `link`: the folder of the rule pages, relative to the table's
    page, to link each code to its page (empty: no links)."""
    rows = ["| code | name | severity | what it checks | source |", "| --- | --- | --- | --- | --- |"]
    for rule in rules:
        summary = rule.summary.replace("|", "\\|")
        code = f"[{rule.code}]({link}{rule_page_name(rule)})" if link else rule.code
        rows.append(f"| {code} | `{rule.name}` | {rule.severity} | {summary} | {rule.source.replace('|', '/')} |")
    return "\n".join(rows) + "\n"


def _markdown_example(example: dict[str, Any]) -> list[str]:
    language = (
        "python"
        if str(example.get("filename", "")).endswith(".py")
        else "json"
        if str(example.get("filename", "")).endswith(".json")
        else "yaml"
    )
    return [f"```{language}", _example(example), "```"]


def _markdown_references(source: str, docs: str) -> str:
    """`[key] §section` citations with each key linked to its row of the sources page."""
    import re

    return re.sub(r"\[([a-z0-9.-]+)\](?!\()", rf"[\\[\1\\]]({docs}/sources.md)", source)


def rule_page(rule: Rule) -> str:
    """One rule's page of the docs site, in ruff's section order (real Markdown, no text fence)."""
    header = [
        f"# {rule.code} `{rule.name}`",
        "",
        f"Generated from `rules/{Path(rule.path).name}` by `scripts/gen_rule_docs.py`; do not edit.",
        "",
    ]
    return "\n".join(header) + "\n" + rule_markdown(rule, docs="..")


def rule_markdown(rule: Rule, *, docs: str, with_output: bool = True) -> str:
    """A rule's documentation from "What it does" to "References", as Markdown whose links to the
    other docs pages start at `docs` (`..` on the site; an absolute URL where the page is read
    elsewhere, as SARIF viewers read a rule's help). `with_output` runs the bad example to show
    peftlint's real message on it."""
    parts = [
        "## What it does",
        "",
        rule.summary,
        "",
        "## Why it matters",
        "",
        " ".join(rule.rationale.split()),
        "",
        "## Severity",
        "",
        f"**{rule.severity}**: {' '.join(rule.severity_reason.split())}",
        "",
        *(f"- {step}" for step in _escalations(rule)),
        *([""] if rule.escalate else []),
        f"The policy: [severity]({docs}/severity.md).",
        "",
        "## Example",
        "",
        *_markdown_example(rule.examples["bad"][0]),
    ]
    sample = _sample_output(rule) if with_output else []
    if sample:
        parts += ["", "peftlint says on that example:", "", "```text", *(line.strip() for line in sample[2:]), "```"]
    parts += ["", "## Use instead", "", *_markdown_example(rule.examples["good"][0])]
    if rule.fix_applicability:
        parts += [
            "",
            "## Fix safety",
            "",
            *(f"- {line}" for line in _fix_safety(rule)),
            "",
            f"How fixes are judged: [fix safety]({docs}/fix-safety.md).",
        ]
    if rule.training_only:
        parts += ["", "## Saved adapters", "", SAVED_ADAPTERS.capitalize() + f" ([saved adapters]({docs}/saved-adapters.md))."]
    if rule.inputs:
        parts += ["", "## Needs", "", _needs(rule)]
    parts += ["", "## References", "", _markdown_references(rule.source, docs), ""]
    return "\n".join(parts)


def rules_index(rules: list[Rule]) -> str:
    parts = [
        "# Rules",
        "",
        "Generated from `rules/` by `scripts/gen_rule_docs.py`; do not edit. Each rule has a page;",
        "`peftlint explain CODE` prints the same documentation, and `peftlint rules` the list.",
        "",
        rules_table(rules, link="./"),
    ]
    return "\n".join(parts)
