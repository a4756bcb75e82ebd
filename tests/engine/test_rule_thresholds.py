"""Every numeric threshold in a rule's conditions sits between two of the rule's own examples.

A rule's examples pin its threshold only if one example lies just inside it (fires, or escalates)
and one just outside (stays quiet, or keeps its severity). The test reads every threshold from the
`when` schema and from each `escalate` condition, moves it one step each way, and runs the rule's
examples against the moved rule, as a custom rule in a temporary folder: some example's findings
(how many, and their severities) must change in both directions. A step is 1 for an
integer threshold up to 10,000 (a count, a rank, a token number: the pair sits exactly on the
boundary, e.g. r=64 and r=65), otherwise 5% of the value, unless STEPS below says why a wider one is
the closest the published models allow.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from peftlint.engine import Rule, load_rules
from peftlint.engine.examples import write_example
from peftlint.enrich.stage import ModelOptions
from peftlint.pipeline import lint_paths

NUMBERS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
COUNTS = ("minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties")

# (code, keyword path) -> (step, why): where no example can sit within the default step.
STEPS: dict[tuple[str, str], tuple[float, str]] = {
    ("PL340", "/when/properties/model/properties/total_params/exclusiveMaximum"): (
        0.25 * 60e9,
        "no published model lies within 5% of 60B: the nearest bundled ones are Mixtral-8x7B (46.7B) and Llama-2-70B (69.0B)",
    ),
}
# (code, keyword path) -> why the threshold has no neighbour an example could take.
NO_NEIGHBOUR = {
    ("PL401", "/when/properties/model/properties/memory/properties/over_budget_bytes/exclusiveMinimum"): (
        "a sign test on an estimate in bytes: `fits` against `does not fit`, which the rule's good and bad examples are"
    ),
    ("PL610", "/when/properties/model/properties/memory/properties/versus_ddp/properties/sharded_saving_bytes/exclusiveMinimum"): (
        "a sign test on estimates in bytes: sharding the weights holds less or not, which the bad examples and the small model's good one are"
    ),
    ("PL305", "/when/properties/derived/properties/same_settings_other_tasks/minItems"): (
        "a guard: the fact is set only when another task shares the settings, so it is never an empty list"
    ),
}


def thresholds(node: Any, pointer: str = "") -> Iterator[tuple[str, str, int | float]]:
    """(JSON pointer of the keyword, keyword, value) of every numeric bound in a schema."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in NUMBERS + COUNTS and isinstance(value, (int, float)) and not isinstance(value, bool):
                yield f"{pointer}/{key}", key, value
            else:
                yield from thresholds(value, f"{pointer}/{key}")
    elif isinstance(node, list):
        for n, value in enumerate(node):
            yield from thresholds(value, f"{pointer}/{n}")


def _conditions(rule: Rule) -> dict[str, Any]:
    """The parts of a rule file that hold conditions: `when` and `escalate`."""
    data = yaml.safe_load(Path(rule.path).read_text(encoding="utf-8"))
    return {key: data[key] for key in ("when", "escalate") if key in data}


def _cases() -> list[Any]:
    cases = []
    for rule in load_rules():
        for pointer, keyword, value in thresholds(_conditions(rule)):
            marks = ()
            if (rule.code, pointer) in NO_NEIGHBOUR:
                marks = (pytest.mark.skip(reason=NO_NEIGHBOUR[rule.code, pointer]),)
            cases.append(pytest.param(rule, pointer, keyword, value, id=f"{rule.code}{pointer}", marks=marks))
    return cases


def _step(rule: Rule, pointer: str, value: int | float) -> float:
    if (rule.code, pointer) in STEPS:
        return STEPS[rule.code, pointer][0]
    return 1 if isinstance(value, int) and abs(value) <= 10_000 else abs(value) * 0.05


def _moved(conditions: dict[str, Any], pointer: str, value: float) -> dict[str, Any]:
    moved = copy.deepcopy(conditions)
    *parents, last = pointer.strip("/").split("/")
    node: Any = moved
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[last] = value
    return moved


def _mutant_code(rule: Rule) -> str:
    """A free code in the rule's hundred: the stage decides which files a rule sees (PL5xx: training YAMLs)."""
    return f"{rule.code[:3]}99"


def _outcomes(rule: Rule, conditions: dict[str, Any], folder: Path) -> dict[str, list[str]]:
    """The severities of the findings of the rule with `conditions` on each of its examples."""
    folder.mkdir()
    (folder / "pyproject.toml").write_text('[tool.peftlint]\nrules = ["rules"]\n', encoding="utf-8")
    (folder / "rules").mkdir()
    data = yaml.safe_load(Path(rule.path).read_text(encoding="utf-8"))
    mutant = _mutant_code(rule)
    data.update(code=mutant, name="moved-threshold", aliases=[], **conditions)
    (folder / "rules" / f"{mutant}-moved-threshold.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    outcomes = {}
    for kind, examples in rule.examples.items():
        for n, example in enumerate(examples):
            path = write_example(example, folder)
            report = lint_paths([str(path)], select=(mutant,), model=ModelOptions(model=example.get("model")))
            outcomes[f"{kind}[{n}]"] = sorted(f.severity for f in report.findings if f.code == mutant)
            path.unlink()
    return outcomes


_UNMOVED: dict[str, dict[str, list[str]]] = {}


def _unmoved(rule: Rule, folder: Path) -> dict[str, list[str]]:
    if rule.code not in _UNMOVED:  # once per rule: every threshold of it compares with the same run
        _UNMOVED[rule.code] = _outcomes(rule, _conditions(rule), folder)
    return _UNMOVED[rule.code]


@pytest.mark.parametrize(("rule", "pointer", "keyword", "value"), _cases())
def test_examples_sit_on_both_sides_of_the_threshold(rule: Rule, pointer: str, keyword: str, value: int | float, tmp_path: Path) -> None:
    step = _step(rule, pointer, value)
    unmoved = _unmoved(rule, tmp_path / "unmoved")
    for direction in (+1, -1):
        moved = value + direction * step
        if keyword in COUNTS and moved < 0:
            continue  # a count cannot go below 0: the other direction is the only one
        outcomes = _outcomes(rule, _moved(_conditions(rule), pointer, moved), tmp_path / f"moved{direction:+d}")
        changed = [name for name, found in outcomes.items() if found != unmoved[name]]
        assert changed, (
            f"{rule.code}: moving `{keyword}: {value}` to {moved:g} changes no example's outcome: "
            f"add an example between the two, on the side that changes ({unmoved})"
        )
