"""The facts document matches its documented shape (schemas/facts.schema.json) for every example."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema_rs
import pytest

from peftlint.engine import load_rules
from peftlint.engine.examples import write_example
from peftlint.enrich.stage import Enricher, ModelOptions
from peftlint.load.files import load_path
from peftlint.normalize import peft_types, to_peft_config
from peftlint.pipeline import config_facts
from peftlint.resources import schemas_dir
from peftlint.settings.config import Settings

ROOT = Path(__file__).resolve().parents[2]
FACTS_SCHEMA = jsonschema_rs.validator_for(json.loads((schemas_dir() / "facts.schema.json").read_text()))
EXAMPLES = [
    pytest.param(example, id=f"{rule.code}-{kind}-{n}")
    for rule in load_rules()
    if rule.emitted_by is None  # PL000's examples are unreadable on purpose
    for kind in ("good", "bad")
    for n, example in enumerate(rule.examples[kind])
]


def _facts(path: Path, model: str | None = None) -> list[dict]:
    documents = load_path(path, config_classes=peft_types()["classes"])
    configs = [c for c in map(to_peft_config, documents) if c is not None]
    enricher = Enricher(ModelOptions(model=model))
    return [config_facts(c, Settings(), enricher) for c in configs]


@pytest.mark.parametrize("example", EXAMPLES)
def test_facts_match_documented_shape(example: dict, tmp_path: Path) -> None:
    for document in _facts(write_example(example, tmp_path), example.get("model")):
        errors = [f"{list(e.instance_path)}: {e.message}" for e in FACTS_SCHEMA.iter_errors(document)]
        assert not errors, errors


def test_effective_config_fills_peft_defaults(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("peft_type: LORA\nr: 16\n")
    (facts,) = _facts(path)
    assert facts["effective"]["lora_alpha"] == 8 and facts["effective"]["r"] == 16
    assert facts["set_keys"] == ["peft_type", "r"]
    assert facts["derived"]["alpha_ratio"] == 0.5 and facts["derived"]["alpha_for_rank"] == 32


def test_computed_python_values_have_no_effective_value(tmp_path: Path) -> None:
    path = tmp_path / "train.py"
    path.write_text("from peft import LoraConfig\nrank = 4\nc = LoraConfig(r=rank, lora_alpha=16)\n")
    (facts,) = _facts(path)
    assert "r" not in facts["effective"] and facts["computed"] == [{"key": "r"}]


def test_profile_block_is_not_a_peft_key(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("peft_type: LORA\nr: 8\npeftlint: {task: classification}\n")
    (facts,) = _facts(path)
    assert "peftlint" not in facts["config"] and not facts["problems"]["unknown_keys"]


@pytest.mark.parametrize(
    ("total", "tinit", "tfinal", "delta", "count"),
    [
        (1000, 200, 700, 50, 2),  # steps 250 and 300
        (1250, 200, 1000, 10, 5),  # 210 ... 250
        (1000, 0, 0, 1, 1000),  # peft's defaults: every step of the run
        (1000, 250, 0, 250, 3),  # 500, 750, 1000: tinit itself is still warm-up (step <= tinit)
        (1000, 200, 700, 500, 0),  # no multiple of deltaT in (200, 300]
    ],
)
def test_adalora_reallocations_count_peft_schedule_steps(total: int, tinit: int, tfinal: int, delta: int, count: int) -> None:
    # RankAllocator.budget_schedule: a re-allocation at tinit < step <= total_step - tfinal, step % deltaT == 0
    from peftlint.facts import _adalora_reallocations

    expected = sum(1 for step in range(total + 1) if tinit < step <= total - tfinal and step % delta == 0)
    assert _adalora_reallocations(total, tinit, tfinal, delta)["adalora_reallocations"] == expected == count
