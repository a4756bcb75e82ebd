"""Derived facts for the profile-aware rules (peftlint/facts/situation.py)."""

from __future__ import annotations

from typing import Any

import pytest

from peftlint.facts.situation import derive, mark_shared_settings, target_roles


def facts(
    effective: dict[str, Any], profile: dict[str, Any] | None = None, model: dict[str, Any] | None = None, peft_type: str = "LORA"
) -> dict[str, Any]:
    return {
        "peft_type": peft_type,
        "effective": effective,
        "config": dict(effective),
        "profile": profile or {},
        "model": model,
        "derived": {},
    }


@pytest.mark.parametrize(
    ("targets", "roles"),
    [
        (["q_proj", "v_proj"], ["q", "v"]),
        (["query_key_value", "dense_4h_to_h"], ["q", "k", "v", "ffn"]),
        ("all-linear", ["q", "k", "v", "o", "ffn"]),
        (".*q_proj", None),  # a regex needs the model
        (["q_proj", "dense"], None),  # one unknown role: no claim at all
        ([], None),
        (None, None),
    ],
)
def test_target_roles_from_the_config(targets: Any, roles: list[str] | None) -> None:
    assert target_roles({"target_modules": targets}, None) == roles


def test_roles_in_words_for_messages() -> None:
    derived = derive(facts({"target_modules": ["q_proj", "v_proj", "down_proj"]}))
    assert derived["target_roles_text"] == "query (Q), value (V), MLP"
    assert derived["attention_roles_missing"] == ["k", "o"] and derived["attention_roles_missing_text"] == "key (K), output (O)"
    assert derived["ffn_targeted"] is True


def test_target_roles_prefer_the_models_resolution() -> None:
    model = {"targets": {"roles": {"covered": ["o", "ffn"], "unknown": []}}}
    assert target_roles({"target_modules": ["c_proj"]}, model) == ["o", "ffn"]
    assert target_roles({"target_modules": ["q_proj"]}, {"targets": {"roles": {"covered": ["q"], "unknown": ["x.y"]}}}) is None


@pytest.mark.parametrize(
    ("task", "rank", "above", "below"),
    [
        ("classification", 8, False, False),
        ("classification", 9, True, False),
        ("instruction", 32, False, False),
        ("instruction", 33, True, False),
        ("instruction", 7, False, True),
        ("domain-adaptation", 15, False, True),
        ("domain-adaptation", 64, False, False),
        ("style", 17, True, False),
        ("style", 2, False, False),  # style needs no capacity: no "too low"
        ("code", 4, False, True),
    ],
)
def test_rank_against_the_task_table(task: str, rank: int, above: bool, below: bool) -> None:
    derived = derive(facts({"r": rank}, {"task": task}))
    assert (derived["rank_above_task_range"], derived["rank_below_task_range"]) == (above, below)


def test_no_task_rank_for_other_tasks_or_methods() -> None:
    assert "task_rank" not in derive(facts({"r": 64}, {"task": "multi-task"}))
    assert "task_rank" not in derive(facts({"r": 64}, {"task": "classification"}, peft_type="LOHA"))


@pytest.mark.parametrize(("size", "limit"), [(1, 8), (999, 8), (1000, 32), (9999, 32), (10000, None)])
def test_dataset_rank_limit_tiers(size: int, limit: int | None) -> None:
    assert derive(facts({"r": 16}, {"dataset_size": size})).get("dataset_rank_limit") == limit


def test_method_share_needs_counts() -> None:
    counts = {"trainable_percent": 4.0, "adapter_bytes": 10, "trainable_params": 1, "total_params": 2}
    assert derive(facts({"r": 8}, model={"counts": counts, "total_params": 100}))["share_above_method_range"] is True
    assert "share_above_method_range" not in derive(facts({"r": 8}))
    assert "share_above_method_range" not in derive(facts({}, model={"counts": counts, "total_params": 100}, peft_type="IA3"))


def test_artifact_weight_with_and_without_a_model() -> None:
    heavy = {"adapter_bytes": 200, "trainable_percent": 1.0}
    assert derive(facts({"r": 8}, model={"counts": heavy, "total_params": 1000}))["artifact"]["heavy"] is True  # 10% of 2000 bytes
    light = {"adapter_bytes": 99, "trainable_percent": 1.0}
    assert derive(facts({"r": 8}, model={"counts": light, "total_params": 1000}))["artifact"]["heavy"] is False
    assert derive(facts({"r": 8, "modules_to_save": ["classifier"]}))["artifact"]["heavy"] is True
    assert derive(facts({"r": 64, "target_modules": "all-linear"}))["artifact"]["why"] == "r=64 on every linear layer"
    assert "artifact" not in derive(facts({"r": 32, "target_modules": "all-linear"}))


@pytest.mark.parametrize(
    ("profile", "copies"),
    [
        ({"variants": 5}, "each of 5 variants"),
        ({"variants": 5, "deployment": "multi-tenant"}, "each of 5 variants in a multi-tenant deployment"),
        ({"deployment": "multi-tenant"}, "each tenant of a multi-tenant deployment"),
        ({"variants": 1}, None),
        ({}, None),
    ],
)
def test_artifact_copies(profile: dict[str, Any], copies: str | None) -> None:
    assert derive(facts({"r": 8}, profile)).get("artifact_copies") == copies


def test_shared_settings_ignore_bookkeeping_and_need_another_task() -> None:
    lora = {"peft_type": "LORA", "r": 8, "lora_alpha": 16}
    a = facts({**lora, "base_model_name_or_path": "a"}, {"task": "code"})
    b = facts({**lora, "base_model_name_or_path": "b", "inference_mode": True}, {"task": "style"})
    c = facts(lora, {"task": "code"})
    d = facts({**lora, "r": 16}, {"task": "style"})
    e = facts(lora)  # no task: not compared
    mark_shared_settings([("a", a), ("b", b), ("c", c), ("d", d), ("e", e)])
    assert a["derived"]["same_settings_other_tasks"] == ["b (style)"]
    assert b["derived"]["same_settings_other_tasks"] == ["a (code)", "c (code)"]
    assert "same_settings_other_tasks" not in d["derived"] and "same_settings_other_tasks" not in e["derived"]
