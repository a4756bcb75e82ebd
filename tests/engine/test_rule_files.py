"""Rule files: schema-valid, unique, cited, documented; malformed ones fail clearly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from peftlint.engine import RuleFileError, load_rules, parse_rule
from peftlint.resources import rules_dir

RULES = load_rules()
# The shipped rule set, pinned: a deleted or renamed rule must fail a test, not only a docs diff.
PINNED = Path(__file__).resolve().parents[1] / "fixtures" / "rule-codes.txt"


@pytest.mark.parametrize("path", sorted(rules_dir().glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_rule_file_is_valid(path: Path) -> None:
    parse_rule(path, validate=True)  # `check` skips this for shipped rules: the tests do it


def test_codes_and_names_are_unique() -> None:
    codes = [r.code for r in RULES]
    names = [r.name for r in RULES]
    assert len(set(codes)) == len(codes) and len(set(names)) == len(names)


def test_file_name_is_code_and_name() -> None:
    for rule in RULES:
        assert Path(rule.path).name == f"{rule.code}-{rule.name}.yaml"


def test_the_shipped_rules_are_the_pinned_set() -> None:
    pinned = PINNED.read_text(encoding="utf-8").splitlines()
    shipped = [f"{r.code} {r.name}" for r in RULES]
    # A code is never reused and a rename keeps the old name as an alias: change the list only
    # when a rule is added (or, deliberately, retired).
    assert shipped == pinned, f"missing: {sorted(set(pinned) - set(shipped))}, new: {sorted(set(shipped) - set(pinned))}"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "PL999-custom.yaml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD_RULE = (rules_dir() / "PL103-dropout-too-high.yaml").read_text(encoding="utf-8")


def test_user_rule_folder_is_loaded(tmp_path: Path) -> None:
    _write(tmp_path, GOOD_RULE.replace("PL103", "PL999").replace("dropout-too-high", "custom"))
    assert "PL999" in [r.code for r in load_rules([tmp_path])]


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("code: [", "(file)"),
        ("- a list", "(file)"),
        (GOOD_RULE.replace("severity: info", "severity: fatal"), "severity"),
        (GOOD_RULE.replace("source:", "sauce:"), "(top level)"),
        (GOOD_RULE.replace('message: "`lora_dropout', 'message: "{effective.__class__} `lora_dropout'), "message"),
        (GOOD_RULE.replace('message: "`lora_dropout', 'message: "{effective[r]} `lora_dropout'), "message"),
        (GOOD_RULE.replace('message: "`lora_dropout', 'message: "{effective.r!r} `lora_dropout'), "message"),
        (GOOD_RULE.replace("{type: number,", "{type: numeric,"), "when"),
        (GOOD_RULE.replace("{lora_dropout: {minimum: 0.5}}", "{lora_dropout: {minimum: half}}"), "escalate.0.when"),
        (GOOD_RULE.replace('because: "dropping', 'because: "{effective.__class__} dropping'), "escalate.0.because"),
        (GOOD_RULE.replace("severity_reason:", "why:"), "(top level)"),
    ],
)
def test_malformed_rule_names_file_and_field(tmp_path: Path, text: str, field: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(RuleFileError) as excinfo:
        parse_rule(path)
    assert str(path) in str(excinfo.value)
    assert f"field `{field}`" in str(excinfo.value)


def test_a_custom_rule_may_cite_any_source(tmp_path: Path) -> None:
    text = GOOD_RULE.replace("PL103", "PL999").replace("dropout-too-high", "custom")
    _write(tmp_path, re.sub(r"^source: .*$", 'source: "ACME wiki, Fine-tuning page"', text, flags=re.M))
    [custom] = [r for r in load_rules([tmp_path]) if r.code == "PL999"]
    assert custom.source == "ACME wiki, Fine-tuning page"


def test_duplicate_code_in_user_folder_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, GOOD_RULE)
    with pytest.raises(RuleFileError, match="already used"):
        load_rules([tmp_path])


def test_each_read_of_a_rules_examples_is_its_own_copy() -> None:
    # peft extends a SEQ_CLS config's modules_to_save in place: a shared cached list would carry
    # that change into every later check of the example
    rule = next(r for r in load_rules() if r.code == "PL214")
    rule.examples["good"][0]["config"]["modules_to_save"].append("score")
    assert rule.examples["good"][0]["config"]["modules_to_save"] == ["classifier"]
