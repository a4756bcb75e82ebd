"""examples/: everything in good/ passes, every file in bad/ has the findings it is there to show."""

from __future__ import annotations

from pathlib import Path

import pytest

from peftlint.pipeline import lint_paths

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_good_examples_are_clean() -> None:
    report = lint_paths([str(EXAMPLES / "good")])
    configs = [p for p in (EXAMPLES / "good").rglob("*") if p.suffix in (".yaml", ".json", ".py")]
    assert report.findings == [] and report.files == len(configs)


# (code, line) of every finding each bad example is there to show
BAD = {
    "axolotl/qlora-mistakes.yaml": [("PL101", 4), ("PL102", 1), ("PL210", 8), ("PL500", 5), ("PL501", 2)],
    "llama-factory/bert-targets.yaml": [("PL210", 5), ("PL210", 5)],
    "llama-factory/no-base-model.yaml": [("PL505", 2)],
    "lora-typos.yaml": [("PL001", 5), ("PL001", 7), ("PL003", 3), ("PL003", 8), ("PL101", 4), ("PL102", 2), ("PL103", 6)],
    "prefix.json": [("PL106", 1), ("PL301", 1)],
    "train.py": [("PL005", 4), ("PL104", 4), ("PL105", 4)],
}


def test_every_bad_example_is_listed() -> None:
    assert sorted(str(p.relative_to(EXAMPLES / "bad")) for p in (EXAMPLES / "bad").rglob("*") if p.is_file()) == sorted(BAD)


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_example_has_its_findings(name: str) -> None:
    report = lint_paths([str(EXAMPLES / "bad" / name)])
    assert sorted((f.code, f.line) for f in report.findings) == BAD[name]
    assert report.failing > 0
