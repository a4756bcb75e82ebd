"""Every rule's good and bad examples, run with only that rule enabled (sqlfluff's yaml cases)."""

from __future__ import annotations

from typing import Any

import pytest

from peftlint.engine import Rule, load_rules
from peftlint.engine.examples import example_problem

RULES = load_rules()


def _cases(kind: str) -> list[Any]:
    return [pytest.param(rule, example, id=f"{rule.code}-{kind}-{n}") for rule in RULES for n, example in enumerate(rule.examples[kind])]


@pytest.mark.parametrize(("rule", "example"), _cases("bad"))
def test_bad_example_fires(rule: Rule, example: dict[str, Any], tmp_path) -> None:
    problem = example_problem(rule, "bad", example, tmp_path)
    assert problem is None, f"{rule.code}: {problem}"


@pytest.mark.parametrize(("rule", "example"), _cases("good"))
def test_good_example_is_clean(rule: Rule, example: dict[str, Any], tmp_path) -> None:
    problem = example_problem(rule, "good", example, tmp_path)
    assert problem is None, f"{rule.code}: {problem}"
