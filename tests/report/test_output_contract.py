"""Every output format keeps its contract on every example file and every rule example.

One real `python -m peftlint check` run per format over all of them: `json` validates against
schemas/output.schema.json, `sarif` against the official SARIF 2.1.0 schema, `github` lines follow
the workflow-command grammar with its escaping, and `text` has one line per finding. The four
formats must report the same findings.
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from peftlint.engine.examples import write_example
from peftlint.pipeline import rule_set
from tests.report.validators import ESCAPE, GITHUB_LINE, ROOT, output_validator, problems, sarif_validator, unescape

LEVELS = {"error": "error", "warning": "warning", "info": "note"}
GITHUB_COMMANDS = {"error": "error", "warning": "warning", "info": "notice"}


def example_paths(folder: Path) -> list[str]:
    """examples/ (as relative paths, run from the repository) and each rule example in its own folder."""
    paths = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "examples").glob("*/*")) if p.is_file()]
    for rule in rule_set(()):
        for kind, examples in sorted(rule.examples.items()):
            for n, example in enumerate(examples):
                case = folder / f"{rule.code}-{kind}-{n}"
                case.mkdir()
                paths.append(str(write_example(example, case)))
    return paths


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess[str]]:
    paths = example_paths(tmp_path_factory.mktemp("rule-examples"))
    return {
        fmt: subprocess.run(
            [sys.executable, "-m", "peftlint", "check", "--format", fmt, *paths],
            cwd=ROOT,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=300,
        )
        for fmt in ("json", "sarif", "github", "text")
    }


@cache
def _json(stdout: str) -> dict[str, Any]:
    return json.loads(stdout)


def findings(outputs: dict[str, subprocess.CompletedProcess[str]]) -> list[dict[str, Any]]:
    return _json(outputs["json"].stdout)["findings"]


def test_every_format_exits_alike_and_quietly(outputs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    # the bad PL000 examples cannot be read: exit 2, and every other file is still reported
    assert {fmt: (r.returncode, r.stderr) for fmt, r in outputs.items()} == {fmt: (2, "") for fmt in outputs}
    # a bad example that names a model needs `--model`, which one run for all files cannot give
    standalone = {r.code for r in rule_set(()) if any("model" not in example for example in r.examples["bad"])}
    assert {f["code"] for f in findings(outputs)} >= standalone, "some rule's bad example did not fire"


def test_json_matches_its_schema(outputs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    document = _json(outputs["json"].stdout)
    assert problems(output_validator(), document) == []
    severities = [f["severity"] for f in document["findings"]]
    assert {k: document["summary"][k] for k in ("errors", "warnings", "infos")} == {
        "errors": severities.count("error"),
        "warnings": severities.count("warning"),
        "infos": severities.count("info"),
    }
    assert document["summary"]["files"] >= len({f["file"] for f in document["findings"]})


def test_sarif_matches_the_official_schema(outputs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    document = json.loads(outputs["sarif"].stdout)
    assert problems(sarif_validator(), document) == []
    [run] = document["runs"]
    expected = findings(outputs)
    assert [(r["ruleId"], r["level"]) for r in run["results"]] == [(f["code"], LEVELS[f["severity"]]) for f in expected]
    for result, finding in zip(run["results"], expected):
        location = result["locations"][0]["physicalLocation"]
        assert location["region"] == {"startLine": finding["line"], "startColumn": finding["column"]}
        if finding["file"].startswith("examples/"):  # inside the working folder: relative
            assert location["artifactLocation"] == {"uri": finding["file"], "uriBaseId": "%SRCROOT%"}
        else:
            assert location["artifactLocation"] == {"uri": Path(finding["file"]).as_uri()}
    prints = [r["partialFingerprints"]["peftlint/v1"] for r in run["results"]]
    assert len(set(prints)) == len(prints)
    assert run["invocations"] == [{"executionSuccessful": False}]  # the unreadable PL000 examples


def test_github_lines_follow_the_workflow_command_grammar(outputs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    lines = outputs["github"].stdout.split("\n")
    assert lines.pop() == ""
    expected = findings(outputs)
    assert len(lines) == len(expected)
    for line, finding in zip(lines, expected):
        match = GITHUB_LINE.fullmatch(line)
        assert match, line
        for value in match.group("file", "title", "message"):
            assert "%" not in ESCAPE.sub("", value), f"unescaped % in {value!r}"
        assert match["command"] == GITHUB_COMMANDS[finding["severity"]]
        assert unescape(match["file"]) == finding["file"]
        assert (match["line"], match["col"]) == (str(finding["line"]), str(finding["column"]))
        assert unescape(match["title"]) == f"{finding['code']} {finding['name']}"
        assert unescape(match["message"]) == finding["message"] + (f"\n{finding['fix']}" if finding["fix"] else "")


def test_text_has_one_line_per_finding_then_a_summary(outputs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    lines = outputs["text"].stdout.splitlines()
    expected = []
    for f in findings(outputs):
        expected.append(f"{f['file']}:{f['line']}:{f['column']}: {f['code']} [{f['severity']}] {f['message']}")
        if f["fix"]:
            expected.append(f"  fix: {f['fix']}")
    assert lines[:-1] == expected
    summary = _json(outputs["json"].stdout)["summary"]
    assert lines[-1].startswith(f"Found {len(findings(outputs))} problem(s) in {summary['files']} file(s)")


def test_github_escaping_of_awkward_paths_and_messages(tmp_path: Path) -> None:
    """`%`, `:` and `,` in a file name and a newline in a value survive the round trip."""
    folder = tmp_path / "50%, a:b"
    folder.mkdir()
    path = folder / "c,d.yaml"
    path.write_text('peft_type: LORA\nr: 8\ntarget_modules: [q_proj]\nbias: "a\\r\\nb%"\n', encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "peftlint", "check", "--format", "github", str(path)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )
    [line] = result.stdout.splitlines()
    match = GITHUB_LINE.fullmatch(line)
    assert match, line
    assert unescape(match["file"]) == str(path)
    assert "%2C" in match["file"] and "%3A" in match["file"] and "%25" in match["file"]
