"""examples/: everything in good/ passes, every file in bad/ has findings."""

from __future__ import annotations

from pathlib import Path

import pytest

from peftlint.lint import lint_paths

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_good_examples_are_clean() -> None:
    report = lint_paths([str(EXAMPLES / "good")])
    configs = [p for p in (EXAMPLES / "good").rglob("*") if p.suffix in (".yaml", ".json", ".py")]
    assert report.findings == [] and report.files == len(configs)


@pytest.mark.parametrize("path", sorted(p for p in (EXAMPLES / "bad").rglob("*") if p.is_file()), ids=lambda p: p.name)
def test_bad_example_has_findings(path: Path) -> None:
    report = lint_paths([str(path)])
    assert report.failing > 0, report.findings
