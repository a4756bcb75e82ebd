"""A saved adapter is told by what `save_pretrained` wrote, never by the file's name, and nothing
peft writes into one is reported as wrong (tests/fixtures/saved_adapters: real published files)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from peftlint.engine import Rule
from peftlint.engine.examples import lint_example
from peftlint.pipeline import lint_paths, load_configs, rule_set
from peftlint.settings.config import settings_for

SAVED = Path(__file__).parents[1] / "fixtures" / "saved_adapters"
REAL = sorted(SAVED.glob("*.json"))


def saved(path: Path) -> tuple[str, ...]:
    [config] = load_configs(str(path))
    return config.saved_adapter_evidence


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.name)
def test_published_adapters_are_recognised_under_any_name(path: Path, tmp_path: Path) -> None:
    copy = tmp_path / "adapters" / "support-bot.json"
    copy.parent.mkdir()
    shutil.copyfile(path, copy)
    assert saved(path) and saved(copy) == saved(path)
    assert "inference_mode: true" in saved(path)


def test_evidence_of_each_peft_era() -> None:
    assert "peft_version" in saved(SAVED / "tinyllama-peft-0.19.1.json")
    assert "base_model_name_or_path with revision" in saved(SAVED / "bert-seq-cls.json")
    # peft 0.2 wrote neither peft_version nor revision: its sorted layout with every field tells it
    assert saved(SAVED / "llama2-peft-0.2-era.json") == ("inference_mode: true", "every PeftConfig field, keys sorted as peft writes them")


@pytest.mark.parametrize(
    ("name", "text"),
    [
        # the name alone proves nothing
        ("adapter_config.json", '{"peft_type": "LORA", "r": 8, "lora_alpha": 16, "inference_mode": true}'),
        # a training YAML that names its model and copied inference_mode: true (PL104's own case)
        ("train.yaml", "peft_type: LORA\nbase_model_name_or_path: gpt2\ninference_mode: true\nr: 8\n"),
        # peft's marks, but inference_mode false: LoraConfig.save_pretrained of a training config
        ("lora.json", '{"inference_mode": false, "peft_type": "LORA", "peft_version": "0.19.1", "r": 8}'),
        # a few sorted keys are sorted by chance
        ("few.json", '{"base_model_name_or_path": "gpt2", "inference_mode": true, "peft_type": "LORA", "task_type": "CAUSAL_LM"}'),
    ],
)
def test_not_a_saved_adapter(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    assert saved(path) == ()


def test_training_rules_skip_saved_adapters_but_not_its_copy_for_training(tmp_path: Path) -> None:
    adapter = json.loads((SAVED / "bert-seq-cls.json").read_text())
    adapter.update(r=512, lora_alpha=16)  # PL101 and PL102 on a training config
    saved_path = tmp_path / "saved.json"
    saved_path.write_text(json.dumps(adapter, indent=2, sort_keys=True))
    adapter["inference_mode"] = False  # now it is a config to train with
    training_path = tmp_path / "training.json"
    training_path.write_text(json.dumps(adapter, indent=2, sort_keys=True))
    codes = lambda path: {f.code for f in lint_paths([str(path)]).findings}  # noqa: E731
    assert not codes(saved_path) & {"PL101", "PL102", "PL104", "PL214"}
    assert {"PL101", "PL102"} <= codes(training_path)


def test_task_heads_peft_adds_are_not_missing_modules(tmp_path: Path) -> None:
    """peft adds both `classifier` and `score` for SEQ_CLS and skips the one the model lacks."""
    report = lint_paths([str(SAVED / "bert-seq-cls.json")])
    assert report.findings == []
    training = tmp_path / "train.yaml"
    training.write_text(
        "peft_type: LORA\ntask_type: SEQ_CLS\nbase_model_name_or_path: bert-base-uncased\nr: 8\nlora_alpha: 16\ntarget_modules: [query, value]\nmodules_to_save: [classifier, score, classifer]\n"
    )
    found = [(f.code, f.message) for f in lint_paths([str(training)]).findings]
    assert [code for code, _ in found] == ["PL214"] and "`classifer`" in found[0][1]


TRAINING_ONLY = [r for r in rule_set(settings_for(Path.cwd()).rule_dirs) if r.training_only and r.code != "PL104"]


def test_the_training_rules_are_the_documented_ones() -> None:
    # The decision, rule by rule (docs/saved-adapters.md): advice on how to train is moot for an
    # adapter that has trained; what breaks loading or serving still applies.
    # (rules added later decide for themselves, with a comment in their condition)
    assert {r.code for r in TRAINING_ONLY} >= set(
        (
            "PL101 PL102 PL103 PL106 PL211 PL212 PL219 PL220 PL221 PL304 PL305 PL310 PL311 PL312 PL320 PL321 PL322 "
            "PL323 PL330 PL331 PL332 PL333 PL334 PL335 PL340 PL350 PL351 PL360 PL361 PL401 PL402 PL403 PL404"
        ).split()
    )


@pytest.mark.parametrize("rule", TRAINING_ONLY, ids=lambda r: r.code)
def test_training_rule_is_silent_on_its_bad_example_saved(rule: Rule, tmp_path: Path) -> None:
    for example in rule.examples["bad"]:
        if "config" not in example:
            continue
        config = {**example["config"], "inference_mode": True, "peft_version": "0.19.1"}
        if example.get("profile"):
            config["peftlint"] = example["profile"]
        as_saved = {"text": json.dumps(config, indent=2), "filename": "adapter.json", "model": example.get("model")}
        assert lint_example(rule, {**example, "config": {**config, "inference_mode": False}}, tmp_path), (
            "the bad example must still fail for training"
        )
        assert lint_example(rule, as_saved, tmp_path) == []
