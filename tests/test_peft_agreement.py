"""peft itself is the oracle: configs the rules call valid build in peft, and configs that the
"peft rejects" rules flag are rejected by peft's own config classes."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from peft.mapping import PEFT_TYPE_TO_CONFIG_MAPPING

from peftlint.engine import load_rules

RULES = load_rules()
POST_INIT_RULES = [r for r in RULES if "__post_init__" in r.source]


def build(config: dict[str, Any]) -> Any:
    kwargs = dict(config)
    cls = PEFT_TYPE_TO_CONFIG_MAPPING[kwargs.pop("peft_type", "LORA")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls(**kwargs)


def _examples(rules, kind: str) -> list[Any]:
    return [
        pytest.param(example["config"], id=f"{rule.code}-{kind}-{n}")
        for rule in rules
        for n, example in enumerate(rule.examples[kind])
        if "config" in example
    ]


def test_there_are_post_init_rules() -> None:
    assert len(POST_INIT_RULES) >= 8


@pytest.mark.parametrize("config", _examples(RULES, "good"))
def test_every_good_example_builds_in_peft(config: dict[str, Any]) -> None:
    build(config)


@pytest.mark.parametrize("config", _examples(POST_INIT_RULES, "bad"))
def test_peft_rejects_what_post_init_rules_flag(config: dict[str, Any]) -> None:
    with pytest.raises((ValueError, TypeError)):
        build(config)
