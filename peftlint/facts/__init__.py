"""The facts document: everything rules may ask about one config, as plain JSON data.

Its shape is documented in schemas/facts.schema.json; rule conditions (`when`) are JSON
Schemas over it. Computing a fact is Python (tested); deciding what is wrong is the rules'.
"""

from __future__ import annotations

import math
from typing import Any

from peftlint.normalize import PeftConfig
from peftlint.normalize.dialects import BY_NAME as DIALECTS
from peftlint.validate import effective_config

INCLUDE_ALL_LINEAR = "all-linear"


def _number(value: Any) -> float | None:
    """A finite number, or None: huge ints, NaN and infinities are schema problems, not facts."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _effective(config: PeftConfig) -> dict[str, Any]:
    """The user's values over peft's defaults: what peft would run with."""
    merged = effective_config(config.values, config.peft_type)
    merged["peft_type"] = config.peft_type
    for key in config.document.computed:  # unknown at lint time: neither the default nor a value
        merged.pop(key, None)
    if merged.get("base_model_name_or_path") is None and config.document.loaded_model:
        # get_peft_model sets it from the model the script loads, so model-aware rules can run
        merged["base_model_name_or_path"] = config.document.loaded_model
    return merged


# the span of alpha/r in published recipes: the QLoRA paper's Guanaco runs (r=64, lora_alpha=16;
# artidoro/qlora scripts/finetune_guanaco_7b.sh) to the LoRA paper's GPT-2 runs (r=4,
# lora_alpha=32; microsoft/LoRA examples/NLG/README.md). PL102 says how far outside a value is.
PUBLISHED_ALPHA_RATIO = (0.25, 8.0)
# the most virtual tokens in published runs: peft's MetaMathQA prompt-tuning benchmark (200) and the
# prefix-tuning paper's summarization runs (Li & Liang, 2021, §7.1: 200)
PUBLISHED_VIRTUAL_TOKENS = (0.0, 200.0)


def _published_gap(value: float, span: tuple[float, float]) -> str | None:
    """How far `value` lies outside a published span, in words (`8x above the highest`), or None."""
    low, high = span
    if value > high:
        return f"{value / high:.3g}x above the highest"
    if 0 < value < low:
        return f"{low / value:.3g}x below the lowest"
    return None


def _target_kind(targets: Any) -> str:
    if targets is None:
        return "unset"
    if targets == INCLUDE_ALL_LINEAR:
        return "all-linear"
    if isinstance(targets, str):
        return "regex"
    return "list"


def _derived(effective: dict[str, Any]) -> dict[str, Any]:
    derived: dict[str, Any] = {}
    rank, alpha = _number(effective.get("r")), _number(effective.get("lora_alpha"))
    if rank and alpha is not None and rank > 0:
        derived["alpha_ratio"] = round(alpha / rank, 4)
        gap = _published_gap(alpha / rank, PUBLISHED_ALPHA_RATIO)
        if gap:
            derived["alpha_ratio_published_gap"] = gap
        if math.isfinite(2 * rank):
            derived["alpha_for_rank"] = int(2 * rank)  # the guides' default: alpha = 2 r
    tokens = _number(effective.get("num_virtual_tokens"))
    gap = _published_gap(tokens, PUBLISHED_VIRTUAL_TOKENS) if tokens is not None else None
    if gap:
        derived["virtual_tokens_published_gap"] = gap
    targets = effective.get("target_modules")
    derived["target_modules_kind"] = _target_kind(targets)
    if isinstance(targets, list):
        derived["target_modules_count"] = len(targets)
        feedforward = effective.get("feedforward_modules")
        if isinstance(feedforward, list):  # IA3: peft compares the two only when both are lists
            derived["feedforward_not_targeted"] = [m for m in feedforward if m not in targets]
    total, tinit, tfinal = (_number(effective.get(k)) for k in ("total_step", "tinit", "tfinal"))
    if effective.get("peft_type") == "ADALORA" and total is not None and tinit is not None and tfinal is not None:
        budget = total - tfinal - tinit
        if math.isfinite(budget):
            derived["adalora_budget_steps"] = int(budget)  # peft needs tinit < total_step - tfinal
            derived.update(_adalora_reallocations(total, tinit, tfinal, _number(effective.get("deltaT"))))
    return derived


# at least this many re-allocations leaves the cubic budget schedule more than a few abrupt cuts;
# the AdaLoRA paper re-allocates every 100 steps over budgeting phases of tens of thousands of
# steps on its large GLUE tasks (hundreds of times) and every 1-10 steps on the small ones (its
# Appendix C.2, Table 8), peft's examples every 10 steps (tinit=200, tfinal=1000, deltaT=10)
ADALORA_MIN_REALLOCATIONS = 10


def _adalora_reallocations(total: float, tinit: float, tfinal: float, delta: float | None) -> dict[str, int]:
    """How often AdaLoRA re-allocates ranks while the budget falls.

    peft's RankAllocator.budget_schedule masks to the budget at the steps of the budgeting phase,
    tinit < step <= total_step - tfinal, that are multiples of deltaT.
    """
    if delta is None or delta < 1 or total - tfinal <= tinit or not math.isfinite(total):
        return {}
    step = int(delta)
    count = int(total - tfinal) // step - int(tinit) // step
    return {
        "adalora_reallocations": count,
        # the largest deltaT that gives the phase ADALORA_MIN_REALLOCATIONS re-allocations
        "adalora_deltaT_for_min": max(1, int(total - tfinal - tinit) // ADALORA_MIN_REALLOCATIONS),
    }


def _dialect_facts(config: PeftConfig) -> dict[str, Any] | None:
    """The training framework's own view: its raw keys (for its own validation rules) and settings."""
    if config.dialect is None:
        return None
    raw = config.document.data
    dialect = DIALECTS[config.dialect.name]
    return {
        "name": config.dialect.name,
        "title": dialect.title,
        "version": dialect.version,
        "unknown_key_effect": dialect.unknown_key_effect,
        "values": {k: v for k, v in raw.items() if isinstance(k, str) and k != "peftlint"},
        "training": dict(config.dialect.training),
        "unknown_keys": config.dialect.unknown_keys,
        "uses_lora": config.dialect.uses_lora,
        "lora_switch": dialect.lora_switch,
        "lora_keys": list(config.dialect.lora_keys),
    }


def build_facts(
    config: PeftConfig,
    problems: dict[str, list[dict[str, Any]]],
    *,
    model: dict[str, Any] | None = None,
    profile: dict[str, Any] | None = None,
    peft_version: dict[str, str] | None = None,
) -> dict[str, Any]:
    effective = _effective(config)
    document = config.document
    return {
        "peft_type": config.peft_type,
        "config": dict(config.values),
        "effective": effective,
        "set_keys": sorted(config.values),
        "derived": _derived(effective),
        "problems": problems,
        "peft_version": peft_version,
        "computed": [{"key": key} for key in sorted(document.computed)],
        "source": {
            "format": document.format,
            "saved_adapter": config.saved_adapter,
            "saved_adapter_evidence": list(config.saved_adapter_evidence),
            "peft_type_inferred": config.peft_type_inferred,
            "class_name": document.class_name,
            "dialect": config.dialect.name if config.dialect else None,
        },
        "dialect": _dialect_facts(config),
        "profile": profile or {},
        "model": model,
        "model_error": None,
    }
