"""Which modules a PEFT config adapts on a given model, by PEFT's own matching rules.

Mirrors peft 0.21.2 without importing it: `tuners_utils.check_target_module_exists` (targets,
`exclude_modules`, `layers_to_transform`/`layers_pattern`), `_maybe_include_all_linear_layers`
(`all-linear`), `BaseTuner._prepare_adapter_config` (default targets per `model_type`), the
error cases at the end of `BaseTuner.inject_adapter`, `utils.other._set_trainable`
(`modules_to_save`) and `utils.other.get_pattern_key` (`rank_pattern`/`alpha_pattern`).
Everything here reads a ModuleTree only.
"""

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, NamedTuple

from peftlint.enrich.modules import Module, ModuleTree
from peftlint.resources import data_dir
from peftlint.suggest import closest

ALL_LINEAR = "all-linear"  # peft INCLUDE_LINEAR_LAYERS_SHORTHAND, compared case-insensitively
SEQ_CLS_HEAD_NAMES = ("score", "classifier")  # peft SEQ_CLS_HEAD_NAMES, in peft's order
# PeftModelFor<Task> appends these to `modules_to_save` before injecting (peft_model.py).
TASK_MODULES_TO_SAVE = {
    "SEQ_CLS": ("classifier", "score"),
    "TOKEN_CLS": ("classifier", "score"),
    "QUESTION_ANS": ("qa_outputs",),
}
# Task types with their own PeftModel class (peft's MODEL_TYPE_TO_PEFT_MODEL_MAPPING); prompt
# learning needs one of them, other methods fall back to the plain PeftModel.
PEFT_MODEL_TASKS = frozenset({"SEQ_CLS", "SEQ_2_SEQ_LM", "CAUSAL_LM", "TOKEN_CLS", "QUESTION_ANS", "FEATURE_EXTRACTION"})
PROMPT_LEARNING_TYPES = frozenset({"PROMPT_TUNING", "P_TUNING", "PREFIX_TUNING", "MULTITASK_PROMPT_TUNING", "CPT"})
# Module kinds each method's dispatcher can wrap; any other match makes peft raise
# "Target module ... is not supported". Methods not listed are matched but not checked.
SUPPORTED_KINDS: dict[str, frozenset[str]] = {
    "LORA": frozenset({"linear", "conv1d", "embedding", "conv2d"}),
    "ADALORA": frozenset({"linear", "conv1d"}),
    "IA3": frozenset({"linear", "conv1d", "conv2d"}),
    "LOHA": frozenset({"linear", "conv2d"}),  # lycoris layers take torch's Conv1d, not transformers' Conv1D
    "LOKR": frozenset({"linear", "conv2d"}),
    "VERA": frozenset({"linear", "conv1d"}),
    "OFT": frozenset({"linear", "conv2d", "embedding"}),
    "BOFT": frozenset({"linear", "conv2d"}),
}

# User regexes (a `target_modules` string, `exclude_modules`, `layers_pattern`, pattern keys) run
# through Python's backtracking `re`, which has no timeout. Two guards keep a hostile or
# accidental catastrophic pattern from hanging the linter: patterns longer than
# MAX_PATTERN_LENGTH are refused outright, and all matching for one resolution runs under a
# SIGALRM deadline of REGEX_DEADLINE_S (the `re` engine checks for signals while it
# backtracks, so the alarm does interrupt it). The deadline needs POSIX signals and the main
# thread; elsewhere only the length limit applies. Subjects are module names, so short.
MAX_PATTERN_LENGTH = 1000
REGEX_DEADLINE_S = 2.0


class PatternError(ValueError):
    """A user-supplied regular expression that is invalid, too long, or too slow to evaluate."""

    def __init__(self, pattern: str, reason: str) -> None:
        super().__init__(f"pattern `{pattern[:80]}`: {reason}")
        self.pattern = pattern
        self.reason = reason


class _RegexDeadline(Exception):
    pass


@lru_cache(maxsize=512)
def _compile(pattern: str) -> re.Pattern[str]:
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise PatternError(pattern, f"longer than {MAX_PATTERN_LENGTH} characters")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise PatternError(pattern, f"invalid regular expression: {exc}") from None


@contextmanager
def regex_deadline(seconds: float) -> Iterator[None]:
    """Interrupt regex matching that runs longer than `seconds` (POSIX main thread only)."""
    import signal  # here, not at the top: `check` without a model never matches targets
    import threading

    usable = (
        hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getitimer(signal.ITIMER_REAL)[0] == 0  # never steal a timer the host application set
    )
    if not usable:
        yield
        return

    def _expire(signum: int, frame: Any) -> None:
        raise _RegexDeadline

    previous = signal.signal(signal.SIGALRM, _expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def regex_fullmatch(pattern: str, key: str) -> bool:
    return _compile(pattern).fullmatch(key) is not None


def _match(pattern: str, key: str) -> re.Match[str] | None:
    return _compile(pattern).match(key)


# --- the module names peft iterates over --------------------------------------------------------


class ModelView(NamedTuple):
    """Every name `model.named_modules()` yields that matching can hit, with a Module for each.

    Containers (modules without parameters of their own, e.g. `model.layers.0.self_attn`) are
    derived from the dotted names; they match targets like any module, but no method can wrap
    them. Tied modules (`lm_head` sharing `embed_tokens.weight`) get a Module of their own: the
    output embedding is a Linear over the shared (vocab, hidden) weight, any other tied module
    has its owner's kind and shape. Parameterless leaves (dropout, activations) are not in the
    tree and so never match.
    """

    names: tuple[str, ...]  # named_modules() order for tree modules and containers; tied ones last
    modules: dict[str, Module]  # name -> Module, for modules holding (possibly shared) parameters
    containers: frozenset[str]
    tree: ModuleTree


def model_view(tree: ModuleTree) -> ModelView:
    owners = tree.by_name()
    modules: dict[str, Module] = dict(owners)
    for name, owner_name in tree.tied.items():
        owner = owners[owner_name]
        if name == tree.output_embedding and owner.kind == "embedding":
            modules[name] = Module(name, "linear", owner.out_features, owner.in_features, False, owner.params)
        else:
            modules[name] = owner._replace(name=name)
    names: list[str] = []
    seen: set[str] = set()
    containers: set[str] = set()
    for name in [m.name for m in tree.modules] + list(tree.tied):
        parts = name.split(".")
        for depth in range(1, len(parts)):
            ancestor = ".".join(parts[:depth])
            if ancestor not in seen:
                seen.add(ancestor)
                names.append(ancestor)
                if ancestor not in modules:
                    containers.add(ancestor)
        if name not in seen:
            seen.add(name)
            names.append(name)
    return ModelView(tuple(names), modules, frozenset(containers), tree)


# --- peft's matching rules, one function each ------------------------------------------------------


def dotted_suffixes(key: str) -> set[str]:
    """`a.b.c` -> {`a.b.c`, `b.c`, `c`}: the names a list entry must equal to match `key`.

    peft tests `key == t or key.endswith("." + t)` entry by entry; looking the key's few
    suffixes up in a set is the same test, without scanning hundreds of entries per module
    (`all-linear` expands to one entry per linear layer).
    """
    parts = key.split(".")
    return {".".join(parts[i:]) for i in range(len(parts))}


def matches_target_list(key: str, targets: Sequence[str] | frozenset[str]) -> bool:
    """A list/set of `target_modules`: the exact name or a dotted suffix."""
    return not dotted_suffixes(key).isdisjoint(targets)


def _matched_entries(key: str, targets: Sequence[str] | frozenset[str]) -> set[str]:
    return dotted_suffixes(key).intersection(targets)


def layer_index(key: str, layers_pattern: str | Sequence[str] | None) -> int | None:
    """The block index peft reads from a module name for `layers_to_transform` (the first numbered segment)."""
    if layers_pattern is None or len(layers_pattern) == 0:
        match = _match(r".*?\.[^.]*\.(?P<idx>\d+)\.", key)
    else:
        patterns = [layers_pattern] if isinstance(layers_pattern, str) else list(layers_pattern)
        match = None
        for pattern in patterns:
            match = _match(rf"(?:^|.*?\.){pattern}\.(?P<idx>\d+)\.", key)
            if match is not None:
                break
    return int(match.group("idx")) if match else None


def _layer_selected(key: str, layers_to_transform: int | Sequence[int], layers_pattern: Any) -> bool:
    index = layer_index(key, layers_pattern)
    if index is None:
        return False
    if isinstance(layers_to_transform, int):
        return index == layers_to_transform
    return index in layers_to_transform


def is_excluded(key: str, exclude_modules: str | Sequence[str] | None) -> bool:
    if not exclude_modules:
        return False
    if isinstance(exclude_modules, str):
        return regex_fullmatch(exclude_modules, key)
    return matches_target_list(key, exclude_modules)


def is_under_modules_to_save(key: str, modules_to_save: Sequence[str]) -> bool:
    """Adapters never go inside a `modules_to_save` module (peft interpolates each entry into a regex)."""
    return any(_match(rf"(^|.*\.){m}($|\..*)", key) for m in modules_to_save)


def pattern_key(patterns: Mapping[str, Any], key: str) -> str | None:
    """The `rank_pattern`/`alpha_pattern` key that applies to module `key`: the first whose regex ends the name."""
    for pattern in patterns:
        if _match(rf"(.*\.)?({pattern})$", key):
            return pattern
    return None


def is_feedforward(key: str, feedforward_modules: str | Sequence[str]) -> bool:
    """IA3's feedforward test: a regex string fully matches, or a list entry is a plain suffix (no dot needed)."""
    if isinstance(feedforward_modules, str):
        return regex_fullmatch(feedforward_modules, key)
    return any(key.endswith(t) for t in feedforward_modules)


# --- default targets ----------------------------------------------------------------------------


@lru_cache(maxsize=1)
def peft_defaults() -> dict[str, Any]:
    """peft's default `target_modules` per method and `model_type` (generated from peft at dev time)."""
    with open(data_dir() / "peft_defaults.json", encoding="utf-8") as handle:
        return json.load(handle)


def default_target_modules(peft_type: str, model_type: str) -> list[str] | str | None:
    return peft_defaults()["target_modules"].get(peft_type, {}).get(model_type)


def default_feedforward_modules(model_type: str) -> list[str] | str | None:
    return peft_defaults()["ia3_feedforward_modules"].get(model_type)


def moe_conversion_names(model_type: str) -> list[str] | None:
    """v4 expert names peft rewrites into `target_parameters` for LoRA on this fused-MoE model type."""
    return peft_defaults()["lora_moe_conversion"].get(model_type)


# --- the resolution -----------------------------------------------------------------------------


class PartialCoverage(NamedTuple):
    """Targets that hit only some members of a repeated family, e.g. 4 of 32 `q_proj`s."""

    family: str  # the name with every numeric segment replaced by `*`, e.g. `model.layers.*.self_attn.q_proj`
    matched: int
    total: int


class TargetResolution(NamedTuple):
    target_modules: tuple[str, ...] | str | None  # effective value: defaults applied, `all-linear` expanded
    default_targets_used: bool
    targeted: tuple[Module, ...]  # modules peft wraps with an adapter layer, named_modules() order
    entry_matches: dict[str, tuple[str, ...]]  # list entry -> names it matches (before exclusions/layer filter)
    unmatched_entries: tuple[str, ...]  # list entries that match no module at all (peft accepts a partial miss)
    excluded: tuple[str, ...]  # names `exclude_modules` matches
    unsupported: tuple[str, ...]  # matched names this method cannot wrap (peft raises)
    layers_found: tuple[int, ...]  # block indices of target matches, before `layers_to_transform` filters them
    partial: tuple[PartialCoverage, ...]
    feedforward: frozenset[str]  # IA3: targeted names treated as feedforward
    modules_to_save: dict[str, tuple[str, ...]]  # entry (incl. task heads peft adds) -> names it wraps
    saved: tuple[str, ...]  # modules wrapped by ModulesToSaveWrapper (full trainable copies)
    unmatched_pattern_keys: dict[str, tuple[str, ...]]  # rank/alpha_pattern
    error: str | None = None  # what peft raises for this config on this model, if it does
    # LoRA on a fused-MoE model (transformers v5) whose targets peft rewrites into `target_parameters`
    # on the stacked expert weights; `targeted` then lists only the modules that stay module targets
    moe_conversion: bool = False

    @property
    def targeted_names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.targeted)


def effective_modules_to_save(config: Mapping[str, Any], task_type: str | None) -> list[str]:
    return list(config.get("modules_to_save") or []) + list(TASK_MODULES_TO_SAVE.get(task_type or "", ()))


def _all_linear(view: ModelView, task_type: str | None) -> tuple[str, ...]:
    names = [n for n in view.names if n in view.modules and view.modules[n].kind in ("linear", "conv1d")]
    skip: str | None = view.tree.output_embedding
    if skip is None and task_type == "SEQ_CLS":
        skip = next((h for h in SEQ_CLS_HEAD_NAMES if h in view.modules or h in view.containers), None)
    return tuple(n for n in names if n != skip)


def _family(name: str) -> str:
    return ".".join("*" if part.isdigit() else part for part in name.split("."))


def _partial(view: ModelView, targeted: Sequence[str]) -> tuple[PartialCoverage, ...]:
    counts: dict[str, int] = {}
    for name in targeted:
        counts[_family(name)] = counts.get(_family(name), 0) + 1
    totals: dict[str, int] = {}
    for name in view.names:
        family = _family(name)
        if family in counts:
            totals[family] = totals.get(family, 0) + 1
    return tuple(
        PartialCoverage(family, counts[family], totals[family]) for family in counts if counts[family] < totals[family]
    )


def _no_match_error(
    target_modules: Any, excluded: bool, unmatched: bool, config: Mapping[str, Any]
) -> str:
    """The NoMatchingPeftModuleError peft raises when nothing was targeted (inject_adapter)."""
    if excluded and not unmatched:
        return "All modules were excluded. Check `target_modules`, `exclude_modules` and `modules_to_save`."
    if not excluded and not target_modules:
        return "No `target_modules` passed but also no `target_parameters` found."
    if not excluded:
        message = f"Target modules {_show(target_modules)} not found in the base model."
    else:
        message = (
            "No modules were targeted for adaptation: `target_modules` matched nothing outside "
            "`exclude_modules` and `modules_to_save`."
        )
    if config.get("layers_to_transform") is not None:
        message += f" Note: `layers_to_transform` is {config['layers_to_transform']}."
    return message


def _show(target_modules: Any) -> str:
    return f"`{target_modules}`" if isinstance(target_modules, str) else str(sorted(target_modules))


def resolve_targets(
    tree: ModuleTree, config: Mapping[str, Any], peft_type: str, task_type: str | None = None
) -> TargetResolution:
    """Apply a PEFT config's module selection to a model, exactly as `get_peft_model` would.

    Raises PatternError for a user regex that is invalid, too long or too slow.
    """
    with regex_deadline(REGEX_DEADLINE_S):
        try:
            return _resolve(model_view(tree), config, peft_type.upper(), task_type)
        except _RegexDeadline:
            raise PatternError(_regexes(config), f"matching took longer than {REGEX_DEADLINE_S:g}s") from None


def _regexes(config: Mapping[str, Any]) -> str:
    parts = [config.get("target_modules"), config.get("exclude_modules"), config.get("layers_pattern")]
    return " ".join(str(p) for p in parts if p)


def _resolve(view: ModelView, config: Mapping[str, Any], peft_type: str, task_type: str | None) -> TargetResolution:
    modules_to_save = effective_modules_to_save(config, task_type)
    saved_by_entry, saved = _resolve_modules_to_save(view, modules_to_save)
    empty = TargetResolution(None, False, (), {}, (), (), (), (), (), frozenset(), saved_by_entry, saved, {})
    if peft_type in PROMPT_LEARNING_TYPES:
        if task_type not in PEFT_MODEL_TASKS:
            return empty._replace(error=f"{peft_type} needs a `task_type` (one of {sorted(PEFT_MODEL_TASKS)})")
        return empty._replace(error=_modules_to_save_error(view, saved, ()))

    raw_targets = config.get("target_modules")
    moe_names = moe_conversion_names(view.tree.model_type) if peft_type == "LORA" else None
    if moe_names is not None and raw_targets is None:
        # peft converts the (unset) targets before it would fill in defaults, leaving an empty set
        return empty._replace(error=_no_match_error((), False, True, config))
    # a string (regex or all-linear) is first resolved to leaf names there, so it always changes meaning
    moe_conversion = moe_names is not None and (
        isinstance(raw_targets, str) or any(_matched_entries(t, moe_names) for t in raw_targets)
    )
    default_used = raw_targets is None
    if raw_targets is None:
        raw_targets = default_target_modules(peft_type, view.tree.model_type)
        if raw_targets is None:
            if peft_type == "LORA" and config.get("target_parameters"):
                return empty
            return empty._replace(error="Please specify `target_modules` in `peft_config`")
    targets: tuple[str, ...] | str
    if isinstance(raw_targets, str) and raw_targets.lower() == ALL_LINEAR:
        targets = _all_linear(view, task_type)
    elif isinstance(raw_targets, str):
        targets = raw_targets
    else:
        targets = tuple(dict.fromkeys(raw_targets))

    exclude = config.get("exclude_modules")
    layers_to_transform = config.get("layers_to_transform")
    layers_pattern = config.get("layers_pattern")
    use_layers = layers_to_transform is not None and (
        len(layers_to_transform) != 0 if isinstance(layers_to_transform, list) else True
    )
    entry_hits: dict[str, list[str]] = {t: [] for t in targets} if isinstance(targets, tuple) else {targets: []}
    target_set = frozenset(targets) if isinstance(targets, tuple) else frozenset()
    excluded: list[str] = []
    targeted: list[str] = []
    unmatched_any = False
    layers_found: set[int] = set()
    for key in view.names:
        if is_excluded(key, exclude):
            excluded.append(key)
            continue
        if modules_to_save and is_under_modules_to_save(key, modules_to_save):
            excluded.append(key)  # peft counts these as excluded too, which changes its error message
            continue
        if isinstance(targets, str):
            hit = regex_fullmatch(targets, key)
            if hit:
                entry_hits[targets].append(key)
        else:
            entries = _matched_entries(key, target_set)
            for entry in entries:
                entry_hits[entry].append(key)
            hit = bool(entries)
            if hit and use_layers:
                index = layer_index(key, layers_pattern)
                if index is not None:
                    layers_found.add(index)
                hit = _layer_selected(key, layers_to_transform, layers_pattern)
        if hit:
            targeted.append(key)
        else:
            unmatched_any = True

    exclude_names = tuple(n for n in excluded if is_excluded(n, exclude))
    supported = SUPPORTED_KINDS.get(peft_type)
    unsupported = tuple(
        n for n in targeted if n in view.containers or (supported is not None and view.modules[n].kind not in supported)
    )
    error = None
    if not targeted and not config.get("target_parameters"):
        error = _no_match_error(targets, bool(excluded), unmatched_any, config)
    elif unsupported:
        first = unsupported[0]
        kind = "container module" if first in view.containers else f"{view.modules[first].kind} module"
        error = f"Target module `{first}` ({kind}) is not supported by {peft_type}"

    adapted = tuple(view.modules[n] for n in targeted if n not in unsupported)
    error = error or _modules_to_save_error(view, saved, targeted)
    feedforward: frozenset[str] = frozenset()
    if peft_type == "IA3":
        ff_modules = config.get("feedforward_modules")
        if ff_modules is None:
            ff_modules = default_feedforward_modules(view.tree.model_type)
            if ff_modules is None and error is None:
                error = "Please specify `feedforward_modules` in `peft_config`"
        feedforward = frozenset(n for n in targeted if ff_modules is not None and is_feedforward(n, ff_modules))

    unmatched_patterns = {
        attr: tuple(k for k in config.get(attr) or {} if not any(pattern_key({k: 0}, n) for n in targeted))
        for attr in ("rank_pattern", "alpha_pattern")
    }
    return TargetResolution(
        target_modules=targets,
        default_targets_used=default_used,
        targeted=adapted,
        entry_matches={entry: tuple(hits) for entry, hits in entry_hits.items()},
        unmatched_entries=tuple(e for e, hits in entry_hits.items() if not hits) if isinstance(targets, tuple) else (),
        excluded=exclude_names,
        unsupported=unsupported,
        layers_found=tuple(sorted(layers_found)),
        partial=_partial(view, targeted),
        feedforward=feedforward,
        modules_to_save=saved_by_entry,
        saved=saved,
        unmatched_pattern_keys={attr: keys for attr, keys in unmatched_patterns.items() if keys},
        error=error,
        moe_conversion=moe_conversion,
    )


def _resolve_modules_to_save(
    view: ModelView, modules_to_save: Sequence[str]
) -> tuple[dict[str, tuple[str, ...]], tuple[str, ...]]:
    """`_set_trainable`: every name ending with an entry (a plain string suffix, no dot needed) is wrapped.

    A module inside an already wrapped one is not wrapped again here (peft would wrap the
    copy's child too, a case this model leaves out).
    """
    by_entry: dict[str, list[str]] = {entry: [] for entry in modules_to_save}
    saved: list[str] = []
    for key in view.names:
        entries = [entry for entry in by_entry if key.endswith(entry)]
        if not entries:
            continue
        for entry in entries:
            by_entry[entry].append(key)
        if not any(key.startswith(outer + ".") for outer in saved):
            saved.append(key)
    return {entry: tuple(hits) for entry, hits in by_entry.items()}, tuple(saved)


def _is_module_list(view: ModelView, name: str) -> bool:
    """A container whose children are all numbered is a ModuleList (e.g. `model.layers`)."""
    children = [n[len(name) + 1 :] for n in view.names if n.startswith(name + ".") and "." not in n[len(name) + 1 :]]
    return name in view.containers and bool(children) and all(c.isdigit() for c in children)


def _modules_to_save_error(view: ModelView, saved: Sequence[str], targeted: Sequence[str]) -> str | None:
    """AuxiliaryTrainingWrapper.check_module: no copies of adapter layers or of ModuleLists."""
    adapted = set(targeted)
    for name in saved:
        if name in adapted:
            return f"`modules_to_save` cannot wrap `{name}`: it is also an adapter target"
        if _is_module_list(view, name):
            return f"`modules_to_save` cannot wrap `{name}`: it is a ModuleList"
    return None


# --- did you mean ---------------------------------------------------------------------------------

# Leaf names that play the same role across architectures, so that `q_proj` on BERT suggests
# `query` although the two spellings share almost no letters. Fused projections appear under
# each role they serve.
_ROLES: dict[str, frozenset[str]] = {
    "query": frozenset({"q_proj", "query", "q", "q_lin", "query_proj", "wq", "c_attn", "qkv_proj", "query_key_value", "Wqkv", "W_pack", "in_proj"}),
    "key": frozenset({"k_proj", "key", "k", "k_lin", "key_proj", "wk", "c_attn", "qkv_proj", "query_key_value", "Wqkv", "W_pack", "in_proj"}),
    "value": frozenset({"v_proj", "value", "v", "v_lin", "value_proj", "wv", "c_attn", "qkv_proj", "query_key_value", "Wqkv", "W_pack", "in_proj"}),
    "attention_out": frozenset({"o_proj", "out_proj", "o", "out_lin", "wo", "dense", "c_proj"}),
    "mlp_in": frozenset({"gate_proj", "up_proj", "fc1", "c_fc", "wi", "wi_0", "wi_1", "w1", "w3", "lin1", "dense_h_to_4h", "fc_in", "gate_up_proj", "dense"}),
    "mlp_out": frozenset({"down_proj", "fc2", "c_proj", "wo", "w2", "lin2", "dense_4h_to_h", "fc_out", "dense"}),
}


def closest_module_names(name: str, tree: ModuleTree, limit: int = 3) -> list[str]:
    """Leaf names of adaptable modules in `tree` that the user probably meant by `name`."""
    view = model_view(tree)
    leaves = list(
        dict.fromkeys(n.rsplit(".", 1)[-1] for n, m in view.modules.items() if m.kind != "other")
    )
    wanted = name.rsplit(".", 1)[-1]
    if wanted in leaves:
        return [wanted]
    roles = [role for role, spellings in _ROLES.items() if wanted in spellings]
    by_role = [leaf for leaf in leaves if any(leaf in _ROLES[role] for role in roles)]
    if by_role:
        return by_role[:limit]
    typo = closest(wanted, leaves, cutoff=0.6)  # a typo: the closest spelling
    return [typo] if typo else []
