"""peft itself is the oracle: configs the rules call valid build in peft, and configs that the
"peft rejects" rules flag are rejected by peft's own config classes."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest
from peft.mapping import PEFT_TYPE_TO_CONFIG_MAPPING

from peftlint.engine import load_rules
from peftlint.normalize.dialects import detect
from tests.enrich.conftest import SPEECH

RULES = load_rules()
# Rules citing a config's __post_init__ check; those whose check only warns are left out here.
POST_INIT_WARNS_ONLY = {"PL019"}  # AdaLoraConfig warns that `r` is ignored
POST_INIT_RULES = [r for r in RULES if "__post_init__" in r.source and r.code not in POST_INIT_WARNS_ONLY]


def build(config: dict[str, Any]) -> Any:
    kwargs = dict(config)
    cls = PEFT_TYPE_TO_CONFIG_MAPPING[kwargs.pop("peft_type", "LORA")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls(**kwargs)


def _distinct(params: list[Any]) -> list[Any]:
    """One case per distinct input: many rules share a good example (the guides' r=8 Q+V config is
    one of 18), and peft's answer on it is the same each time. The id names the first rule."""
    seen: set[str] = set()
    distinct = []
    for param in params:
        key = json.dumps(param.values, sort_keys=True)
        if key not in seen:
            seen.add(key)
            distinct.append(param)
    return distinct


def _examples(rules, kind: str) -> list[Any]:
    """Rule examples written as peft configs (not as axolotl / LLaMA-Factory training files)."""
    return _distinct(
        [
            pytest.param(example["config"], id=f"{rule.code}-{kind}-{n}")
            for rule in rules
            for n, example in enumerate(rule.examples[kind])
            if "config" in example and detect(example["config"]) is None
        ]
    )


def test_there_are_post_init_rules() -> None:
    assert len(POST_INIT_RULES) >= 8


@pytest.mark.parametrize("config", _examples(RULES, "good"))
def test_every_good_example_builds_in_peft(config: dict[str, Any]) -> None:
    build(config)


@pytest.mark.parametrize("config", _examples(POST_INIT_RULES, "bad"))
def test_peft_rejects_what_post_init_rules_flag(config: dict[str, Any]) -> None:
    with pytest.raises((ValueError, TypeError)):
        build(config)


# --- model-aware rules: peft's get_peft_model on the real architecture (meta device) ---------------

# Bad examples peft refuses only once it sees the model: (code, example index). PL210's second
# example is a partial miss, which peft accepts silently (the reason the rule exists).
RAISES_ON_MODEL = {("PL215", 0), ("PL216", 0), ("PL216", 1), ("PL210", 0)}
# Good examples of one rule that another rule reports, because peft refuses them: (code, index).
# They pin their condition's edge: an entry matching nothing is PL210's finding, not theirs.
ANOTHER_RULES_DEFECT = {("PL216", 1), ("PL320", 3)}


def _model_examples(kind: str, only: set[tuple[str, int]] | None = None, leave_out: frozenset[tuple[str, int]] = frozenset()) -> list[Any]:
    return _distinct(
        [
            pytest.param(example["config"], example["model"], id=f"{rule.code}-{kind}-{n}")
            for rule in RULES
            for n, example in enumerate(rule.examples[kind])
            if (only is None or (rule.code, n) in only)
            and (rule.code, n) not in leave_out
            and "config" in example
            and "model" in example
            and not example["model"].startswith(".")
        ]
    )


def apply_to_model(config: dict[str, Any], model_id: str) -> Any:
    import torch
    import transformers
    from peft import get_peft_model
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    from peftlint.enrich.analysis import model_task_type
    from peftlint.enrich.bundled import bundled_config

    model_config = bundled_config(model_id)
    hf_config = transformers.AutoConfig.for_model(**model_config)
    task = model_task_type(config, model_config)
    auto = {
        "CAUSAL_LM": transformers.AutoModelForCausalLM,
        "SEQ_CLS": transformers.AutoModelForSequenceClassification,
        "SEQ_2_SEQ_LM": transformers.AutoModelForSeq2SeqLM,
    }.get(task or "", transformers.AutoModel)
    if model_config["model_type"] in SPEECH and task == "SEQ_2_SEQ_LM":
        auto = transformers.AutoModelForSpeechSeq2Seq  # Whisper's seq2seq head lives there
    if task == "CAUSAL_LM" and model_config["model_type"] not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        # a multimodal model with no causal-LM class: its image-text-to-text class, as the
        # templates build it (scripts/gen_architectures.py HEAD_MAPPINGS) and LLaMA-Factory loads it
        auto = transformers.AutoModelForImageTextToText
    with torch.device("meta"):
        model = auto.from_config(hf_config)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return get_peft_model(model, build(config))


@pytest.mark.slow
@pytest.mark.parametrize(("config", "model_id"), _model_examples("good", leave_out=frozenset(ANOTHER_RULES_DEFECT)))
def test_good_model_examples_apply_in_peft(config: dict[str, Any], model_id: str) -> None:
    apply_to_model(config, model_id)


@pytest.mark.slow
@pytest.mark.parametrize(("config", "model_id"), _model_examples("bad", RAISES_ON_MODEL))
def test_peft_rejects_on_model(config: dict[str, Any], model_id: str) -> None:
    with pytest.raises((ValueError, TypeError)):
        apply_to_model(config, model_id)


@pytest.mark.parametrize("config", _examples([r for r in RULES if r.code in POST_INIT_WARNS_ONLY], "bad"))
def test_peft_warns_on_what_warning_only_post_init_rules_flag(config: dict[str, Any]) -> None:
    kwargs = dict(config)
    cls = PEFT_TYPE_TO_CONFIG_MAPPING[kwargs.pop("peft_type", "LORA")]
    with pytest.warns(UserWarning):
        cls(**kwargs)
