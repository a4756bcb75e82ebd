"""`target_modules` for the roles the guides name (Q and V, all attention, the FFN), spelt the way
the architecture at hand spells them.

Q and V come from peft's own defaults for the `model_type` when it has them (BERT `query`/`value`,
GPT-2 `c_attn`, Falcon `query_key_value`); other roles, and models peft has no default for, come
from the role table in `peftlint.enrich.roles`. A leaf name that means different things in one model
(BERT's `dense` is an attention output, an MLP projection and the pooler) is lengthened to the
shortest dotted suffix that selects only modules of the wanted roles (`attention.output.dense`),
never to one that names a layer index.
"""

from __future__ import annotations

from typing import Iterable

from peftlint.enrich.modules import ModuleTree
from peftlint.enrich.roles import ATTENTION_ROLES, FFN, module_role, role_parts
from peftlint.enrich.targets import default_target_modules, dotted_suffixes

QV = ("q", "v")
ADAPTABLE_KINDS = ("linear", "conv1d")


def _roles_of(name: str) -> set[str]:
    role = module_role(name)
    return set(role_parts(role)) if role else set()


def _adaptable(tree: ModuleTree) -> list[str]:
    """Linear layers an adapter may go on: not the output embedding (`lm_head`) or a task head."""
    return [m.name for m in tree.modules if m.kind in ADAPTABLE_KINDS and m.name != tree.output_embedding]


def _by_suffix(names: Iterable[str]) -> dict[str, list[str]]:
    """Every dotted suffix a `target_modules` entry may be, with the names it matches (peft's rule)."""
    index: dict[str, list[str]] = {}
    for name in names:
        for suffix in dotted_suffixes(name):
            index.setdefault(suffix, []).append(name)
    return index


def _has_index(suffix: str) -> bool:
    return any(part.isdigit() for part in suffix.split("."))


def role_targets(tree: ModuleTree, roles: Iterable[str]) -> list[str]:
    """Entries that adapt exactly the linear layers of `roles` that can be named without a layer index."""
    wanted = set(roles)
    names = _adaptable(tree)
    index = _by_suffix(names)
    chosen = {name: _roles_of(name) & wanted for name in names}
    entries: dict[str, set[str]] = {}  # insertion order: the model's module order (gate, up, down)
    for name in names:
        if not chosen[name]:
            continue
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):
            suffix = ".".join(parts[-depth:])
            if _has_index(suffix):
                break
            if all(chosen[other] for other in index[suffix]):
                entries.setdefault(suffix, set()).update(chosen[name])
                break
    order = (*ATTENTION_ROLES, FFN)
    return sorted(entries, key=lambda entry: min(order.index(r) for r in entries[entry]))


def covered(tree: ModuleTree, entries: Iterable[str]) -> set[str]:
    """The roles `entries` adapt on `tree` (fused QKV counts as all three)."""
    index = _by_suffix(_adaptable(tree))
    return {role for entry in entries for name in index.get(entry, ()) for role in _roles_of(name)}


def in_role_order(tree: ModuleTree, entries: Iterable[str]) -> list[str]:
    """`entries` sorted as the guides list roles (Q, K, V, O, then the MLP); ties keep their order."""
    order = (*ATTENTION_ROLES, FFN)
    return sorted(entries, key=lambda entry: min((order.index(r) for r in covered(tree, [entry]) if r in order), default=len(order)))


def query_value_targets(tree: ModuleTree) -> list[str]:
    """Q and V: peft's default LoRA targets for the model type, keeping only the Q/V/QKV entries
    (peft's Phi default adds the MLP), else the role table's."""
    defaults = default_target_modules("LORA", tree.model_type)
    if isinstance(defaults, list):
        kept = [entry for entry in defaults if covered(tree, [entry]) & set(QV)]
        if kept:
            return kept
    return role_targets(tree, QV)


def conv1d_targets(tree: ModuleTree, entries: Iterable[str] | str) -> bool:
    """Whether the entries (or `all-linear`) adapt transformers' Conv1D layers (GPT-2): LoRA then
    needs `fan_in_fan_out`."""
    names = set(_adaptable(tree))
    if not isinstance(entries, str):
        index = _by_suffix(names)
        names = {name for entry in entries for name in index.get(entry, ())}
    return {module.kind for module in tree.modules if module.name in names} == {"conv1d"}
