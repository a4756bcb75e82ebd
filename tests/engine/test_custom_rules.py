"""A team's own rules are first-class: any source text, listed by `rules`, documented by `explain`,
tested by `rules --test DIR`, and every problem of a malformed rule file reported at once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from peftlint.engine import RuleFileError, parse_rule
from tests.cli.test_cli import ROOT, run, write

PL103 = (ROOT / "rules" / "PL103-dropout-too-high.yaml").read_text(encoding="utf-8")
EXAMPLES = sum(len(v) for v in parse_rule(ROOT / "rules" / "PL103-dropout-too-high.yaml").examples.values())


def acme_rule(code: str = "ACME001", name: str = "acme-dropout") -> str:
    text = PL103.replace("PL103", code).replace("dropout-too-high", name)
    return re.sub(r"^source: .*$", 'source: "ACME wiki, Fine-tuning page"', text, flags=re.M)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project whose pyproject.toml names its rule folder, with one custom rule in it."""
    write(tmp_path, "acme-rules/ACME001-acme-dropout.yaml", acme_rule())
    write(tmp_path, "pyproject.toml", '[tool.peftlint]\nrules = ["acme-rules"]\n')
    return tmp_path


def test_rules_lists_the_configured_custom_rules(project: Path) -> None:
    result = run("rules", cwd=project)
    assert result.returncode == 0
    assert re.search(r"^ACME001  acme-dropout +info +`lora_dropout` above 0.3$", result.stdout, flags=re.M)
    assert "PL103" in result.stdout  # the shipped rules are still there


def test_explain_documents_a_custom_rule_with_its_own_source(project: Path) -> None:
    result = run("explain", "acme-dropout", cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ACME001 acme-dropout (info)\n")
    assert result.stdout.rstrip().endswith("References\n  ACME wiki, Fine-tuning page")
    # the real message on the bad example, with the example's file named as a user would see it
    assert "Message on that example\n  `lora_dropout=0.5` drops" in result.stdout


def test_rules_test_runs_every_example_and_passes(project: Path) -> None:
    result = run("rules", "--test", "acme-rules", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "ok    ACME001 bad[0]"
    assert lines[-1] == f"{EXAMPLES} passed, 0 failed (1 rule(s) in acme-rules)"


def test_rules_test_needs_no_configuration(tmp_path: Path) -> None:
    folder = write(tmp_path, "mine/ACME001-acme-dropout.yaml", acme_rule()).parent
    result = run("rules", "--test", str(folder), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == f"{EXAMPLES} passed, 0 failed (1 rule(s) in {folder})"


def test_rules_test_reports_a_failing_example_and_exits_1(tmp_path: Path) -> None:
    # the first good example now has the dropout the rule reports
    head, good = acme_rule().split("\n  good:\n")
    write(tmp_path, "mine/ACME001-acme-dropout.yaml", head + "\n  good:\n" + good.replace("lora_dropout: 0.05", "lora_dropout: 0.9", 1))
    result = run("rules", "--test", "mine", cwd=tmp_path)
    assert result.returncode == 1
    assert re.search(
        r"^FAIL  ACME001 good\[0\]: expected no finding, got: ACME001 warning line \d+: `lora_dropout=0.9`", result.stdout, flags=re.M
    )
    assert result.stdout.splitlines()[-1] == f"{EXAMPLES - 1} passed, 1 failed (1 rule(s) in mine)"


def test_rules_test_on_a_folder_without_rules_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = run("rules", "--test", "empty", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == "peftlint: error: empty: no rule files (*.yaml) in this folder\n"


def test_every_problem_of_a_rule_file_is_reported_at_once(tmp_path: Path) -> None:
    text = acme_rule().replace("severity: info", "severity: fatal", 1)
    text = text.replace('message: "`lora_dropout', 'message: "{effective.__class__} `lora_dropout')
    text = text.replace("{type: number,", "{type: numeric,")
    path = write(tmp_path, "ACME001-acme-dropout.yaml", text)
    with pytest.raises(RuleFileError) as excinfo:
        parse_rule(path)
    fields = [field for field, _ in excinfo.value.problems]
    assert {"severity", "message", "when"} <= set(fields)
    lines = str(excinfo.value).splitlines()
    assert len(lines) == len(fields) and all(line.startswith(f"{path}: invalid rule: field `") for line in lines)


def test_all_problems_reach_the_command_line(tmp_path: Path) -> None:
    text = acme_rule().replace("severity: info", "severity: fatal", 1)
    text = text.replace('message: "`lora_dropout', 'message: "{effective.__class__} `lora_dropout')
    write(tmp_path, "acme-rules/ACME001-acme-dropout.yaml", text)
    write(tmp_path, "pyproject.toml", '[tool.peftlint]\nrules = ["acme-rules"]\n')
    result = run("check", str(write(tmp_path, "a.yaml", "peft_type: LORA\nr: 8\n")), cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "field `severity`" in result.stderr and "field `message`" in result.stderr
