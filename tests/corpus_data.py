"""The real-world corpus (tests/corpus/): lint it once with the real CLI and judge the findings
against tests/corpus/expected.yaml. Shared by tests/test_corpus.py and benchmarks/corpus_report.py.

expected.yaml maps every corpus file (path relative to tests/corpus/) to:
- `expected`: the warning/error findings that are right, each `{code, key}` (`key` is the JSON
  report's dotted path; `line` instead when a finding has no key);
- `false_alarms`: warning/error findings that fire today and are wrong, each `{code, key, why}`:
  known debt, reported but not failing. An entry that no longer fires is stale and must go.
- `local_base_model` (optional): why the base model the file names is a folder on its author's
  machine, not a Hub id; benchmarks/corpus_report.py counts such files apart.
Info findings are not part of the contract.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any, NamedTuple

import yaml

CORPUS = Path(__file__).parent / "corpus"
EXPECTED = CORPUS / "expected.yaml"
# One folder per kind of source; SOURCES.md, expected.yaml and the anchoring pyproject.toml sit
# beside them and are not linted.
KINDS = ("adapters", "axolotl", "llama-factory", "trl", "scripts", "other")
JUDGED = ("error", "warning")


def corpus_files() -> list[str]:
    """Every file of the corpus, relative to tests/corpus/, sorted."""
    files = []
    for kind in KINDS:
        for path in sorted((CORPUS / kind).rglob("*")):
            if path.is_file():
                files.append(path.relative_to(CORPUS).as_posix())
    return files


def load_expected() -> dict[str, dict[str, list[dict[str, Any]]]]:
    with open(EXPECTED, encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    return {
        name: {"expected": (entry or {}).get("expected") or [], "false_alarms": (entry or {}).get("false_alarms") or []}
        for name, entry in data.items()
    }


def local_base_models() -> dict[str, str]:
    """Corpus files whose base model is a folder on their author's machine -> why (expected.yaml)."""
    with open(EXPECTED, encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    return {name: entry["local_base_model"] for name, entry in data.items() if (entry or {}).get("local_base_model")}


def lint_corpus() -> dict[str, list[dict[str, Any]]]:
    """Warning/error findings per corpus file, from one run of `peftlint check` at default settings,
    offline. Runs from tests/corpus/ so that paths come out relative to it and the anchoring
    pyproject.toml there (an empty [tool.peftlint]) keeps the repository's own settings out."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    dirs = [kind for kind in KINDS if (CORPUS / kind).is_dir()]
    run = subprocess.run(
        [sys.executable, "-m", "peftlint", "check", "--format", "json", "--fail-on", "never", *dirs],
        cwd=CORPUS,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode not in (0, 1, 2) or not run.stdout.strip():
        raise RuntimeError(f"peftlint check failed ({run.returncode}): {run.stderr.strip()}")
    found: dict[str, list[dict[str, Any]]] = {}
    for finding in json.loads(run.stdout)["findings"]:
        if finding["severity"] in JUDGED:
            found.setdefault(Path(finding["file"]).as_posix(), []).append(finding)
    return found


def _matches(entry: dict[str, Any], finding: dict[str, Any]) -> bool:
    if entry["code"] != finding["code"]:
        return False
    if "key" in entry:
        return entry["key"] == finding["key"]
    return entry.get("line") == finding["line"]


class Verdict(NamedTuple):
    correct: list[dict[str, Any]]  # findings listed under `expected`
    false_alarms: list[tuple[dict[str, Any], str]]  # (finding, why) listed under `false_alarms`
    unexpected: list[dict[str, Any]]  # findings listed nowhere
    missing: list[dict[str, Any]]  # `expected` entries that did not fire
    stale: list[dict[str, Any]]  # `false_alarms` entries that no longer fire


def judge(findings: list[dict[str, Any]], entry: dict[str, list[dict[str, Any]]]) -> Verdict:
    """Pairs each finding with one entry (an entry may stand for several identical findings only
    if it says `count:`)."""
    budgets = Counter()
    verdict = Verdict([], [], [], [], [])
    for finding in findings:
        for kind in ("expected", "false_alarms"):
            hit = next((i for i, e in enumerate(entry[kind]) if _matches(e, finding) and budgets[(kind, i)] < e.get("count", 1)), None)
            if hit is not None:
                budgets[(kind, hit)] += 1
                if kind == "expected":
                    verdict.correct.append(finding)
                else:
                    verdict.false_alarms.append((finding, entry[kind][hit]["why"]))
                break
        else:
            verdict.unexpected.append(finding)
    verdict.missing.extend(e for i, e in enumerate(entry["expected"]) if budgets[("expected", i)] < e.get("count", 1))
    verdict.stale.extend(e for i, e in enumerate(entry["false_alarms"]) if budgets[("false_alarms", i)] < e.get("count", 1))
    return verdict


def describe(finding: dict[str, Any]) -> str:
    return f"{finding['code']} [{finding['severity']}] line {finding['line']} key {finding['key']!r}: {finding['message']}"
