"""Generated docs stay in step with rules/."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _generator():
    spec = importlib.util.spec_from_file_location("gen_rule_docs", ROOT / "scripts" / "gen_rule_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rule_docs_and_readme_table_are_fresh() -> None:
    generator = _generator()
    files = generator.generated()
    for path, text in files.items():
        assert path.read_text(encoding="utf-8") == text, f"{path.name} is stale: run python scripts/gen_rule_docs.py"
    assert generator.left_over(files) == [], "pages of rules that are gone: run python scripts/gen_rule_docs.py"
    assert generator.main(["--check"]) == 0
