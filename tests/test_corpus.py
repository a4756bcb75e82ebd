"""The real-world corpus (tests/corpus/, provenance in SOURCES.md) at default settings, offline.

One test per file: it fails on a warning/error finding that expected.yaml does not list, on an
expected finding that no longer fires, and on a listed false alarm that no longer fires (remove it:
the list of known false alarms must stay honest). Listed false alarms that still fire are known
debt: reported as a warning, not a failure.
"""

from __future__ import annotations

import warnings

import pytest

from tests.corpus_data import corpus_files, describe, judge, lint_corpus, load_expected

FILES = corpus_files()


class KnownFalseAlarm(UserWarning):
    """A warning/error finding on a corpus file that expected.yaml records as wrong (debt)."""


@pytest.fixture(scope="module")
def findings() -> dict:
    return lint_corpus()  # the whole corpus in one `peftlint check` run


@pytest.fixture(scope="module")
def expected() -> dict:
    return load_expected()


def test_corpus_is_large_and_every_entry_names_a_file(expected: dict) -> None:
    assert len(FILES) >= 150
    assert sorted(set(expected) - set(FILES)) == [], "expected.yaml names files the corpus does not have"


@pytest.mark.parametrize("name", FILES)
def test_corpus_file(name: str, findings: dict, expected: dict) -> None:
    assert name in expected, f"{name} has no entry in tests/corpus/expected.yaml (judge its findings: `{{}}` if none)"
    verdict = judge(findings.get(name, []), expected[name])
    problems = [f"unexpected: {describe(f)}" for f in verdict.unexpected]
    problems += [f"expected but not found: {e}" for e in verdict.missing]
    problems += [f"stale false alarm (no longer fires, remove it from expected.yaml): {e}" for e in verdict.stale]
    for finding, why in verdict.false_alarms:
        warnings.warn(KnownFalseAlarm(f"{name}: {describe(finding)} -- {why}"), stacklevel=1)
    assert not problems, f"{name}:\n  " + "\n  ".join(problems)


def test_judge_pairs_findings_with_entries_and_reports_stale_ones() -> None:
    finding = {"code": "PL001", "severity": "error", "line": 3, "key": "enable_lora", "message": "m"}
    fired = judge([finding], {"expected": [], "false_alarms": [{"code": "PL001", "key": "enable_lora", "why": "legacy"}]})
    assert fired.false_alarms == [(finding, "legacy")] and not fired.unexpected and not fired.stale
    quiet = judge(
        [], {"expected": [{"code": "PL210", "key": "target_modules.0"}], "false_alarms": [{"code": "PL001", "key": "x", "why": "w"}]}
    )
    assert quiet.missing == [{"code": "PL210", "key": "target_modules.0"}] and quiet.stale == [{"code": "PL001", "key": "x", "why": "w"}]
    keyless = {"code": "PL503", "severity": "error", "line": 1, "key": None, "message": "m"}
    assert judge([keyless, keyless], {"expected": [{"code": "PL503", "line": 1}], "false_alarms": []}).unexpected == [keyless]
