"""Sources users can follow: every citation is a key of docs/sources.md, never an internal file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from peftlint.docs import explain
from peftlint.engine import load_rules
from peftlint.enrich.model import resolve_model
from peftlint.recommender import Request, recommend
from peftlint.recommender.output import as_python, as_text, as_yaml
from peftlint.settings.config import Settings
from peftlint.settings.profile import Profile

ROOT = Path(__file__).resolve().parents[1]
RULES = load_rules()
KEY = re.compile(r"\[([a-z][a-z0-9.-]*)\]")
# the team's reference copies of the guides are named like seeds/000_723004c3b0ad79f2.txt
INTERNAL = re.compile(r"seeds/|\b\d{3}_[0-9a-f]{16}\.txt")


def table_keys() -> set[str]:
    rows = (ROOT / "docs" / "sources.md").read_text(encoding="utf-8").splitlines()
    return {m.group(1) for row in rows if (m := re.match(r"\| \[([a-z][a-z0-9.-]*)\] \|", row))}


KEYS = table_keys()


def test_the_table_has_the_guides_and_the_papers() -> None:
    guides = {"choosing-a-method", "peft-comparison", "peft-lesson", "method-comparison", "peft-vs-lora"}
    papers = {"lora", "qlora", "adalora", "ia3", "prefix-tuning", "prompt-tuning", "lora-fa"}
    assert guides | papers | {"peft-docs", "peft-source"} <= KEYS


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_a_shipped_rule_cites_keys_of_the_sources_table(rule) -> None:  # type: ignore[no-untyped-def]
    cited = set(KEY.findall(rule.source))
    assert cited, f"{rule.code}: `source` cites no [key] of docs/sources.md"
    assert cited <= KEYS, f"{rule.code} cites {sorted(cited - KEYS)}, not in docs/sources.md"


def test_every_source_in_the_table_is_cited() -> None:
    cited = {key for rule in RULES for key in KEY.findall(rule.source)}
    assert KEYS - cited == set()


def _shipped_files() -> list[Path]:
    tops = ["peftlint", "rules", "schemas", "docs", "examples", "scripts", "benchmarks"]
    files = [p for top in tops for p in (ROOT / top).rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return files + [ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / "pyproject.toml"]


def test_no_shipped_file_names_an_internal_source_file() -> None:
    offenders = []
    for path in _shipped_files():
        text = path.read_bytes().decode("utf-8", errors="replace")
        offenders += [f"{path.relative_to(ROOT)}: {m.group(0)}" for m in INTERNAL.finditer(text)]
    assert offenders == []


def test_explain_cites_keys_only() -> None:
    for rule in RULES:
        text = explain(rule, with_output=False)
        assert not INTERNAL.search(text)
        assert rule.source in text


@pytest.mark.parametrize(
    "profile",
    [
        {"task": "instruction", "deployment": "latency-critical", "gpu_memory": 24},
        {"task": "classification", "priority": "cost", "dataset_size": 5000},
        {"task": "multi-task", "deployment": "multi-tenant"},
        {"task": "domain-adaptation", "priority": "quality", "gpu_memory": 16},
    ],
    ids=lambda p: p["task"],
)
def test_recommend_cites_keys_of_the_sources_table(profile: dict[str, object]) -> None:
    result = recommend(Request(resolve_model("meta-llama/Llama-3.1-8B"), Profile(profile), "peft", Settings()))
    cited = {key for r in result.rationale for key in KEY.findall(r.source)}
    cited |= {key for a in result.alternatives for key in KEY.findall(a.why_not)}
    assert cited and cited <= KEYS
    for output in (as_text(result), as_yaml(result), as_python(result)):  # what `-o` writes, comments included
        assert not INTERNAL.search(output)
