"""`--format sarif` (peftlint/report/sarif.py), in process, validated by the official SARIF schema."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import tomllib
import yaml

from peftlint.docs import explain
from peftlint.pipeline import Report, lint_paths, rule_set
from peftlint.report import reporter
from peftlint.report.sarif import DEFAULT_REPOSITORY, FINGERPRINT_KEY, artifact_location, repository_url, sarif_log
from tests.report.validators import ROOT, problems, sarif_validator

WARN = "peft_type: LORA\nr: 128\nlora_alpha: 256\ntarget_modules: [q_proj, v_proj]\n"
TYPO = "peft_type: LORA\nr: 8\nlora_aplha: 16\ntarget_modules: [q_proj, v_proj]\n"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def sarif_of(report: Report, root: Path) -> dict[str, Any]:
    document = sarif_log(report, root)
    assert problems(sarif_validator(), document) == []
    return document


def run_of(document: dict[str, Any]) -> dict[str, Any]:
    [run] = document["runs"]
    return run


def test_every_shipped_rule_is_described(tmp_path: Path) -> None:
    document = sarif_of(lint_paths([str(write(tmp_path, "a.yaml", WARN))]), tmp_path)
    descriptors = run_of(document)["tool"]["driver"]["rules"]
    rules = rule_set(())
    assert [d["id"] for d in descriptors] == [r.code for r in rules]
    for descriptor, rule in zip(descriptors, rules):
        help_text = explain(rule, with_output=False)
        assert descriptor["name"] == rule.name
        assert descriptor["shortDescription"] == {"text": rule.summary}
        assert descriptor["fullDescription"] == {"text": rule.rationale.strip()}
        assert descriptor["help"]["text"] == help_text
        markdown = descriptor["help"]["markdown"]
        # the docs page's own Markdown (no text fence), its links absolute: a viewer shows it off the site
        assert markdown.startswith(f"## What it does\n\n{rule.summary}\n")
        assert "## References" in markdown and "](../" not in markdown
        assert f"]({repository_url()}/blob/main/docs/severity.md)" in markdown
        assert descriptor["defaultConfiguration"] == {"level": LEVELS[rule.severity]}
        assert descriptor["helpUri"] == f"{repository_url()}/blob/main/docs/rules/{rule.code}-{rule.name}.md"
        assert " ".join(descriptor["properties"]["tags"]) in rule.source.replace("; ", " ")


def test_help_uris_point_at_pages_of_docs_rules(tmp_path: Path) -> None:
    document = sarif_of(lint_paths([str(write(tmp_path, "a.yaml", WARN))]), tmp_path)
    for descriptor in run_of(document)["tool"]["driver"]["rules"]:
        page = descriptor["helpUri"].split("/blob/main/", 1)[1]
        assert (ROOT / page).is_file(), descriptor["id"]


def test_repository_url_comes_from_pyproject() -> None:
    urls = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"].get("urls", {})
    by_label = {label.lower(): url for label, url in urls.items()}
    expected = next((by_label[k] for k in ("repository", "source", "source code", "code", "homepage") if k in by_label), DEFAULT_REPOSITORY)
    assert repository_url() == expected.rstrip("/")


def test_results_carry_rule_level_message_fix_and_position(tmp_path: Path) -> None:
    report = lint_paths([str(write(tmp_path, "configs/a.yaml", TYPO))])
    run = run_of(sarif_of(report, tmp_path))
    assert run["invocations"] == [{"executionSuccessful": True}]
    assert run["originalUriBaseIds"] == {"%SRCROOT%": {"uri": tmp_path.as_uri() + "/"}}
    assert len(run["results"]) == len(report.findings) > 0
    descriptors = run["tool"]["driver"]["rules"]
    for result, finding in zip(run["results"], report.findings):
        assert descriptors[result["ruleIndex"]]["id"] == result["ruleId"] == finding.code
        assert result["level"] == LEVELS[finding.severity]
        assert result["message"]["text"] == f"{finding.message}\nfix: {finding.fix}"
        [location] = result["locations"]
        assert location["physicalLocation"] == {
            "artifactLocation": {"uri": "configs/a.yaml", "uriBaseId": "%SRCROOT%"},
            "region": {"startLine": finding.line, "startColumn": finding.column},
        }
        assert location["logicalLocations"] == [{"fullyQualifiedName": finding.key, "kind": "property"}]
    typo = next(r for r in run["results"] if r["ruleId"] == "PL001")
    assert typo["locations"][0]["physicalLocation"]["region"] == {"startLine": 3, "startColumn": 1}


def test_configured_severity_is_the_result_level_not_the_default(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[tool.peftlint]\nseverity = { rank-too-high = "error" }\n')
    run = run_of(sarif_of(lint_paths([str(write(tmp_path, "a.yaml", WARN))]), tmp_path))
    result = next(r for r in run["results"] if r["ruleId"] == "PL101")
    assert result["level"] == "error"
    assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["defaultConfiguration"] == {"level": "note"}  # PL101 is info


def test_user_rules_are_described_without_a_docs_link(tmp_path: Path) -> None:
    rule = yaml.safe_load((ROOT / "rules" / "PL101-rank-too-high.yaml").read_text(encoding="utf-8"))
    rule.update(code="ORG101", name="org-rank-limit", aliases=["ORG100", "old-rank-limit"])
    rule["examples"]["bad"][0]["expect"][0]["code"] = "ORG101"
    write(tmp_path, "org-rules/ORG101.yaml", yaml.safe_dump(rule, sort_keys=False))
    write(tmp_path, "pyproject.toml", '[tool.peftlint]\nrules = ["org-rules"]\n')
    run = run_of(sarif_of(lint_paths([str(write(tmp_path, "a.yaml", WARN))]), tmp_path))
    result = next(r for r in run["results"] if r["ruleId"] == "ORG101")
    descriptor = run["tool"]["driver"]["rules"][result["ruleIndex"]]
    assert descriptor["id"] == "ORG101" and descriptor["name"] == "org-rank-limit"
    assert "helpUri" not in descriptor  # docs/rules/ has no page for it
    assert descriptor["deprecatedIds"] == ["ORG100"] and descriptor["deprecatedNames"] == ["old-rank-limit"]


def test_fingerprints_survive_shifted_lines_and_differ_between_findings(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", TYPO.replace("r: 8", "r: 128"))

    def results() -> list[dict[str, Any]]:
        return run_of(sarif_of(lint_paths([str(path)]), tmp_path))["results"]

    before = results()
    assert results() == before  # a second run of the same file: identical
    path.write_text("# a comment\n\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    after = results()
    assert [r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in after] == [
        r["locations"][0]["physicalLocation"]["region"]["startLine"] + 2 for r in before
    ]
    prints = [r["partialFingerprints"][FINGERPRINT_KEY] for r in before]
    assert [r["partialFingerprints"][FINGERPRINT_KEY] for r in after] == prints
    assert len(set(prints)) == len(prints) > 1


def test_numbers_in_a_message_do_not_change_the_fingerprint(tmp_path: Path) -> None:
    """A duplicate key's message names the line of its first occurrence; that moves with edits."""
    path = write(tmp_path, "a.yaml", "r: 8\nr: 16\nlora_alpha: 16\n")
    first = run_of(sarif_of(lint_paths([str(path)]), tmp_path))["results"]
    path.write_text("# moved\nr: 8\nr: 16\nlora_alpha: 16\n", encoding="utf-8")
    second = run_of(sarif_of(lint_paths([str(path)]), tmp_path))["results"]
    assert [r["message"]["text"] for r in first] != [r["message"]["text"] for r in second]
    assert [r["partialFingerprints"] for r in first] == [r["partialFingerprints"] for r in second]


def test_unreadable_file_is_a_result_and_an_unsuccessful_run(tmp_path: Path) -> None:
    report = lint_paths([str(write(tmp_path, "broken.yaml", "r: 8\nlora_alpha: [16\n")), str(write(tmp_path, "ok.yaml", WARN))])
    run = run_of(sarif_of(report, tmp_path))
    assert run["invocations"] == [{"executionSuccessful": False}]
    [unreadable] = [r for r in run["results"] if r["ruleId"] == "PL000"]
    assert unreadable["level"] == "error"
    assert unreadable["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "broken.yaml"
    assert unreadable["locations"][0]["physicalLocation"]["region"]["startLine"] == 3
    assert "logicalLocations" not in unreadable["locations"][0]


@pytest.mark.parametrize(
    ("name", "uri"),
    [
        ("a.yaml", "a.yaml"),
        ("dir with space/adapter #1 100%.yaml", "dir%20with%20space/adapter%20%231%20100%25.yaml"),
        ("ünïcode/r:8.json", "%C3%BCn%C3%AFcode/r%3A8.json"),  # a colon in a first segment would read as a scheme
    ],
)
def test_paths_inside_the_root_are_relative_uris(tmp_path: Path, name: str, uri: str) -> None:
    assert artifact_location(str(tmp_path / name), tmp_path) == {"uri": uri, "uriBaseId": "%SRCROOT%"}
    report = lint_paths([str(write(tmp_path, name, WARN))])
    assert run_of(sarif_of(report, tmp_path))["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == uri


def test_paths_outside_the_root_are_absolute_file_uris(tmp_path: Path) -> None:
    path = write(tmp_path, "elsewhere/a b.yaml", WARN)
    root = tmp_path / "checkout"
    assert artifact_location(str(path), root) == {"uri": path.as_uri()}
    assert run_of(sarif_of(lint_paths([str(path)]), root))["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": path.as_uri()
    }


def test_reporter_writes_the_log_for_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "a.yaml", WARN)
    out = io.StringIO()
    reporter("sarif")(lint_paths(["a.yaml"]), out)
    document = json.loads(out.getvalue())
    assert problems(sarif_validator(), document) == []
    assert document["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "a.yaml"
    assert out.getvalue().isascii()


def test_a_clean_run_is_valid_and_has_no_results(tmp_path: Path) -> None:
    run = run_of(sarif_of(lint_paths([str(write(tmp_path, "a.yaml", WARN.replace("128", "8").replace("256", "16")))]), tmp_path))
    assert run["results"] == [] and run["invocations"] == [{"executionSuccessful": True}]
    assert len(run["tool"]["driver"]["rules"]) == len(rule_set(()))


def test_the_schema_catches_what_it_should(tmp_path: Path) -> None:
    """The validator is not vacuous: broken logs fail it."""
    document = sarif_log(lint_paths([str(write(tmp_path, "a.yaml", WARN))]), tmp_path)
    result = document["runs"][0]["results"][0]
    for path, value in [
        (("level",), "info"),  # SARIF says `note`
        (("locations", 0, "physicalLocation", "region", "startLine"), 0),
        (("locations", 0, "physicalLocation", "artifactLocation", "uri"), "a b.yaml"),
        (("message",), {"markdown": "no text"}),
    ]:
        broken = json.loads(json.dumps(document))
        target = broken["runs"][0]["results"][0]
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value
        assert problems(sarif_validator(), broken), (path, value)
    assert problems(sarif_validator(), document) == [] and result["level"] == "note"  # PL101 is info
