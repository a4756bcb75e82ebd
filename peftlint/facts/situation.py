"""How a config fits the user's situation: the derived facts the profile-aware rules ask about.

JSON Schema (a rule's `when`) cannot compare two facts ("is `r` above the task's range?"), so
the comparisons are made here, in tested Python, from the guides' numbers below; the rules
decide what to say. Everything lands in the facts document's `derived` block.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping

from peftlint.enrich.roles import ATTENTION_ROLES, FFN, covered_roles

# [choosing-a-method] §Task-Specific Recommendations: the LoRA rank each task starts from (low, high)
TASK_RANKS: dict[str, tuple[int, int]] = {
    "classification": (4, 4),
    "instruction": (8, 16),
    "domain-adaptation": (16, 32),
    "style": (8, 8),
    "code": (8, 16),
}
# a rank is "above the range" past one doubling of its top: the guides' underfitting step
# ("increase rank to 16 or 32") doubles the rank once before anything else changes
RANK_HEADROOM = 2
# tasks whose guide range asks for capacity: a rank below the range underfits them
CAPACITY_TASKS = frozenset({"instruction", "domain-adaptation", "code"})

# [peft-comparison] §Few-Shot and Low-Resource Settings ("hundreds rather than thousands of examples")
# and [choosing-a-method] §Practical Recommendations (overfitting: decrease the rank): the highest rank
# worth training on a data set below each size (larger sets: PL101's general limit)
DATASET_RANK_LIMITS = ((1_000, 8), (10_000, 32))

# [method-comparison] §Quick Comparison: trainable share (% of the model) each method reported; peft
# renamed Bone to MiSS. Above twice the top of the range the method is no longer what the
# guide measured (a rank or target set far beyond its usual use).
METHOD_SHARES: dict[str, tuple[float, float]] = {"LORA": (0.96, 1.90), "MISS": (15.30, 30.39)}

# [peft-lesson] Concept 3 ("many variants favor compact, modular artifacts"): an adapter that
# weighs this share of the base model's 16-bit weights is no longer compact
HEAVY_ARTIFACT_SHARE = 0.05
HIGH_RANK = 64

# keys that say where a config came from or how it is loaded, not how the adapter is built
_BOOKKEEPING = frozenset({"base_model_name_or_path", "revision", "peft_version", "auto_mapping", "inference_mode"})


ROLE_NAMES = {"q": "query (Q)", "k": "key (K)", "v": "value (V)", "o": "output (O)", FFN: "MLP", "other": "other modules"}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _rank_text(low: int, high: int) -> str:
    return f"r≈{low}" if low == high else f"r={low}-{high}"


def target_roles(effective: Mapping[str, Any], model: Mapping[str, Any] | None) -> list[str] | None:
    """Roles the adapter targets; the model's resolved modules when known, else the config's
    list. None when a target's role is unknown or the targets are a regex without a model."""
    targets = (model or {}).get("targets") or {}
    if "roles" in targets:
        roles = targets["roles"]
        return None if roles["unknown"] else roles["covered"]
    chosen = effective.get("target_modules")
    if chosen == "all-linear":
        return [*ATTENTION_ROLES, FFN]
    if not isinstance(chosen, list) or not chosen:
        return None
    roles, unknown = covered_roles(str(entry) for entry in chosen)
    return None if unknown else roles


def _rank_facts(rank: int, profile: Mapping[str, Any]) -> dict[str, Any]:
    derived: dict[str, Any] = {}
    task = profile.get("task")
    if task in TASK_RANKS:
        low, high = TASK_RANKS[task]
        derived["task_rank"] = {"low": low, "high": high, "range": _rank_text(low, high), "limit": RANK_HEADROOM * high}
        derived["rank_above_task_range"] = rank > RANK_HEADROOM * high
        derived["rank_below_task_range"] = task in CAPACITY_TASKS and rank < low
    size = _int(profile.get("dataset_size"))
    limit = next((cap for below, cap in DATASET_RANK_LIMITS if size is not None and size < below), None)
    if limit is not None:
        derived["dataset_rank_limit"] = limit
        derived["rank_above_dataset_limit"] = rank > limit
    return derived


def _share_facts(peft_type: str, model: Mapping[str, Any] | None) -> dict[str, Any]:
    counts = (model or {}).get("counts")
    if peft_type not in METHOD_SHARES or not counts:
        return {}
    low, high = METHOD_SHARES[peft_type]
    return {
        "method_share": {"low": low, "high": high, "limit": round(RANK_HEADROOM * high, 2)},
        "share_above_method_range": counts["trainable_percent"] > RANK_HEADROOM * high,
    }


def _size_text(size: int) -> str:
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size / 1024:.0f} KB"


def _artifact_facts(effective: Mapping[str, Any], model: Mapping[str, Any] | None) -> dict[str, Any]:
    """Is one adapter a heavy artifact to keep per variant / tenant, and why."""
    counts = (model or {}).get("counts")
    if counts:
        share = counts["adapter_bytes"] / max(1, 2 * (model or {})["total_params"])
        why = f"each adapter file is {_size_text(counts['adapter_bytes'])}, {share:.1%} of the base model's 16-bit weights"
        return {"artifact": {"heavy": share >= HEAVY_ARTIFACT_SHARE, "why": why, "bytes": counts["adapter_bytes"]}}
    saved = effective.get("modules_to_save")
    if isinstance(saved, list) and saved:
        why = f"`modules_to_save` stores full copies of {', '.join(map(str, saved))} in every adapter"
        return {"artifact": {"heavy": True, "why": why}}
    rank = _int(effective.get("r"))
    if rank is not None and rank >= HIGH_RANK and effective.get("target_modules") == "all-linear":
        return {"artifact": {"heavy": True, "why": f"r={rank} on every linear layer"}}
    return {}


def _copies(profile: Mapping[str, Any]) -> str | None:
    """How many copies of the adapter will be kept, in words, when more than one."""
    variants = _int(profile.get("variants"))
    tenants = profile.get("deployment") == "multi-tenant"
    if variants and variants > 1:
        return f"each of {variants} variants" + (" in a multi-tenant deployment" if tenants else "")
    return "each tenant of a multi-tenant deployment" if tenants else None


def _axolotl_union(facts: Mapping[str, Any]) -> dict[str, Any]:
    """axolotl with `lora_target_linear: true` adapts the union of every linear layer and the
    `lora_target_modules` list ([axolotl] src/axolotl/loaders/adapter.py, _build_peft_lora_config):
    what that union adds to a list that is narrower than all-linear."""
    dialect = facts.get("dialect") or {}
    values = dialect.get("values") or {}
    listed = values.get("lora_target_modules")
    if dialect.get("name") != "axolotl" or values.get("lora_target_linear") is not True or not listed:
        return {}
    leaves = {str(name).rsplit(".", 1)[-1] for name in (listed if isinstance(listed, list) else [listed])}
    targets = (facts.get("model") or {}).get("targets") or {}
    if "targeted_leaf_names" in targets:  # the model is known: the exact names the union adds
        added = sorted(set(targets["targeted_leaf_names"]) - leaves)
        return {"axolotl_linear_added": added, "axolotl_linear_added_text": ", ".join(f"`{n}`" for n in added)} if added else {}
    # no model: every transformer has feed-forward linear layers, so a list without one is narrower
    roles, _ = covered_roles(str(name) for name in (listed if isinstance(listed, list) else [listed]))
    if FFN in roles:
        return {}
    return {"axolotl_linear_added_text": "every other linear layer, among them the feed-forward (MLP) projections"}


def derive(facts: Mapping[str, Any]) -> dict[str, Any]:
    """Entries for `derived` that need the profile or the model facts."""
    effective, profile, model = facts["effective"], facts["profile"], facts.get("model")
    derived: dict[str, Any] = {}
    roles = target_roles(effective, model)
    if roles is not None:
        missing = [r for r in ATTENTION_ROLES if r not in roles]
        derived["target_roles"] = roles
        derived["target_roles_text"] = ", ".join(ROLE_NAMES[r] for r in roles)
        derived["attention_roles_missing"] = missing
        derived["attention_roles_missing_text"] = ", ".join(ROLE_NAMES[r] for r in missing)
        derived["ffn_targeted"] = FFN in roles
    rank = _int(effective.get("r"))
    if rank is not None and facts["peft_type"] == "LORA":
        derived.update(_rank_facts(rank, profile))
    derived.update(_share_facts(facts["peft_type"], model))
    derived.update(_artifact_facts(effective, model))
    derived.update(_axolotl_union(facts))
    copies = _copies(profile)
    if copies is not None:
        derived["artifact_copies"] = copies
    return derived


def adapter_settings_key(facts: Mapping[str, Any]) -> str:
    """What makes two configs "the same adapter": the user's keys minus bookkeeping."""
    values = {k: v for k, v in facts["config"].items() if k not in _BOOKKEEPING}
    return json.dumps({"peft_type": facts["peft_type"], **values}, sort_keys=True, default=str)


def mark_shared_settings(documents: Iterable[tuple[str, dict[str, Any]]]) -> None:
    """Adds `derived.same_settings_other_tasks` to configs whose exact adapter settings are also
    used, in the same run, by a config with another `task` ([choosing-a-method]: one size fits all)."""
    groups: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for label, facts in documents:
        if facts["profile"].get("task"):
            groups.setdefault(adapter_settings_key(facts), []).append((label, facts))
    for members in groups.values():
        for _, facts in members:
            task = facts["profile"]["task"]
            others = sorted({f"{other} ({o['profile']['task']})" for other, o in members if o["profile"]["task"] != task})
            if others:
                facts["derived"]["same_settings_other_tasks"] = others
