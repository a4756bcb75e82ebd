"""Every rule's good and bad examples, run with only that rule enabled (sqlfluff's yaml cases)."""

from __future__ import annotations

from typing import Any

import pytest

from peftlint.engine import Rule, load_rules
from peftlint.examples import lint_example
from tests.rule_examples import expectation_met

RULES = load_rules()


def _cases(kind: str) -> list[Any]:
    return [
        pytest.param(rule, example, id=f"{rule.code}-{kind}-{n}")
        for rule in RULES
        for n, example in enumerate(rule.examples[kind])
    ]


@pytest.mark.parametrize(("rule", "example"), _cases("bad"))
def test_bad_example_fires(rule: Rule, example: dict[str, Any], tmp_path) -> None:
    findings = lint_example(rule, example, tmp_path)
    expected = example["expect"]
    assert len(findings) == len(expected), f"{rule.code}: expected {expected}, got {findings}"
    for want in expected:
        want = {"severity": rule.severity, **want}  # an escalated finding's example says so
        assert any(expectation_met(want, f) for f in findings), f"{rule.code}: {want} not in {findings}"
    for finding in findings:
        assert finding.line is not None, f"{rule.code}: finding without a position: {finding}"
        for text in (finding.message, finding.fix or ""):  # a template field that found no fact
            assert "`unknown`" not in text and "=unknown" not in text, finding


@pytest.mark.parametrize(("rule", "example"), _cases("good"))
def test_good_example_is_clean(rule: Rule, example: dict[str, Any], tmp_path) -> None:
    assert lint_example(rule, example, tmp_path) == []
