"""Which modules a PEFT config adapts on a given model, by PEFT's own matching rules.

Mirrors peft 0.21.2 without importing it: `tuners_utils.check_target_module_exists` (targets,
`exclude_modules`, `layers_to_transform`/`layers_pattern`), `_maybe_include_all_linear_layers`
(`all-linear`), `BaseTuner._prepare_adapter_config` (default targets per `model_type`),
`BaseTuner._inject_parameters` (LoRA's `target_parameters`), `transformers_weight_conversion.
_convert_peft_config_moe` (LoRA's v4 expert targets on transformers v5 fused-MoE models), the
error cases at the end of `BaseTuner.inject_adapter`, `utils.other._set_trainable`
(`modules_to_save`) and `utils.other.get_pattern_key` (`rank_pattern`/`alpha_pattern`); and the
list a training framework builds itself for "every linear layer" (axolotl's find_all_linear_names,
LLaMA-Factory's find_all_linear_modules; the `LinearNames` a dialect declares, peftlint.normalize.dialects) before peft sees it. Everything here reads a ModuleTree only.
"""

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, NamedTuple

from peftlint.enrich.modules import Module, ModuleTree
from peftlint.normalize.dialects import LinearNames
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
    "LORA": frozenset({"linear", "conv1d", "embedding", "conv2d", "conv3d", "torch_conv1d"}),
    "ADALORA": frozenset({"linear", "conv1d"}),
    "IA3": frozenset({"linear", "conv1d", "conv2d", "conv3d"}),
    "LOHA": frozenset({"linear", "conv2d", "torch_conv1d"}),  # lycoris layers take torch's Conv1d, not transformers' Conv1D
    "LOKR": frozenset({"linear", "conv2d", "torch_conv1d"}),
    "VERA": frozenset({"linear", "conv1d"}),
    "OFT": frozenset({"linear", "conv2d", "embedding"}),
    "BOFT": frozenset({"linear", "conv2d"}),
}
# `_check_lora_target_modules_mamba` (tuners_utils.py): LoRA-like methods refuse a Mamba model's
# `out_proj` and `conv1d` (by leaf name), checked for each target just before it is wrapped
MAMBA_MODEL_TYPES = frozenset({"falcon_h1", "mamba", "mamba2", "falcon_mamba", "nemotron_h"})
MAMBA_INCOMPATIBLE = frozenset({"out_proj", "conv1d"})
MAMBA_CHECKED_TYPES = frozenset({"LORA", "ADALORA", "XLORA", "RANDLORA"})
# peft's `transformers_weight_conversion` tables (`_MOE_TARGET_MODULE_MAPPING`, `_MOE_FUSED_TARGETS`),
# keyed by the v4 names they convert (peft_defaults.json lists those per model type): the v5
# `target_parameters` entry each v4 target becomes (in peft's order: the first whose name ends a
# target wins), and the v4 targets fused into one parameter, which must come together
MOE_CONVERSIONS: dict[tuple[str, ...], tuple[dict[str, str], dict[str, tuple[str, ...]]]] = {
    ("gate", "w1", "w2", "w3"): (
        {"gate": "gate.weight", "w1": "gate_up_proj", "w3": "gate_up_proj", "w2": "down_proj"},
        {"gate_up_proj": ("w1", "w3")},
    ),
    ("down_proj", "gate", "gate_proj", "up_proj"): (
        {"gate": "gate.weight", "gate_proj": "gate_up_proj", "up_proj": "gate_up_proj", "down_proj": "down_proj"},
        {"gate_up_proj": ("gate_proj", "up_proj")},
    ),
}
# LoRA options its ParamWrapper (the layer of `target_parameters`) refuses, in the order peft checks
# them: `__init__`, then `resolve_lora_variant` (it has no LoRA variants)
PARAM_WRAPPER_REFUSES = (
    "lora_dropout",
    "fan_in_fan_out",
    "lora_bias",
    "use_dora",
    "velora_config",
    "kasa_config",
    "alora_invocation_tokens",
    "monteclora_config",
    "use_bdlora",
    "arrow_config",
)
# The keys of a LoRA layer's own weights under a module target (adapter "default"): peft matches
# `target_parameters` after wrapping the module targets, so an entry can hit these too.
LORA_LAYER_KEYS = (
    "lora_A.default.weight",
    "lora_B.default.weight",
    "lora_B.default.bias",
    "lora_embedding_A.default",
    "lora_embedding_B.default",
    "lora_magnitude_vector.default.weight",
)

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
            modules[name] = Module(name, "linear", owner.out_features, owner.in_features, False, owner.params, tensors=owner.tensors)
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
        data: dict[str, Any] = json.load(handle)
    return data


def default_target_modules(peft_type: str, model_type: str) -> list[str] | str | None:
    found: list[str] | str | None = peft_defaults()["target_modules"].get(peft_type, {}).get(model_type)
    return found


def default_feedforward_modules(model_type: str) -> list[str] | str | None:
    found: list[str] | str | None = peft_defaults()["ia3_feedforward_modules"].get(model_type)
    return found


def moe_conversion(model_type: str) -> tuple[dict[str, str], dict[str, tuple[str, ...]]] | None:
    """The table by which peft rewrites LoRA's v4 expert targets into `target_parameters` on this
    fused-MoE model type (transformers v5), or None when it has none."""
    names = peft_defaults()["lora_moe_conversion"].get(model_type)
    return None if names is None else MOE_CONVERSIONS[tuple(names)]


# --- the resolution -----------------------------------------------------------------------------


class PartialCoverage(NamedTuple):
    """Targets that hit only some members of a repeated family, e.g. 4 of 32 `q_proj`s."""

    family: str  # the name with every numeric segment replaced by `*`, e.g. `model.layers.*.self_attn.q_proj`
    matched: int
    total: int


class ParameterTarget(NamedTuple):
    """A parameter LoRA adapts through `target_parameters` (peft's ParamWrapper)."""

    module: Module  # the module registering it
    name: str  # its name there, e.g. `gate_up_proj`
    shape: tuple[int, ...]
    # ParamWrappers around this one: targets on one module nest in registration order, the first
    # innermost, so this one's weights are saved under `base_layer.` that many times
    nesting: int

    @property
    def key(self) -> str:
        return f"{self.module.name}.{self.name}"


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
    rank_pattern: Mapping[str, Any]  # as peft applies it (the fused-MoE conversion adds entries)
    error: str | None = None  # what peft raises for this config on this model, if it does
    # LoRA's `target_parameters`, with v4 expert targets of a fused-MoE model (transformers v5)
    # already converted into them as peft does; `targeted` lists only the module targets then
    parameters: tuple[ParameterTarget, ...] = ()
    not_modelled: str | None = None  # why peft's result is beyond what the tree describes, if it is

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


def framework_linear_names(view: ModelView, linear: LinearNames) -> tuple[str, ...]:
    """The `target_modules` list the framework passes peft: `listed`, then the sorted leaf names of
    every module of a linear kind whose path contains none of `skipped_paths`, the output layer's
    name left out. ValueError for a model type whose list the framework builds otherwise.

    Leaf names, not paths: peft then also adapts any other module ending in one of them. A module
    tree tells layers apart by type (torch's Linear), the frameworks by class name ("Linear" in it):
    an nn.Linear subclass without "Linear" in its name, or a non-Linear class with it, would differ.
    """
    model_type = view.tree.model_type
    if model_type in linear.unmodelled:
        raise ValueError(linear.unmodelled[model_type])
    skipped = (*linear.skipped_paths.get("", ()), *linear.skipped_paths.get(model_type, ()))
    found = {
        n.rsplit(".", 1)[-1]
        for n in view.names
        if n in view.modules and view.modules[n].kind in linear.kinds and not any(part in n for part in skipped)
    }
    found.discard(linear.output_layers.get(model_type, linear.output_layers.get("", "")))
    return tuple(dict.fromkeys([*linear.listed, *sorted(found)]))


def family(name: str) -> str:
    """A module name with its block indices wildcarded: the modules that repeat across layers."""
    return ".".join("*" if part.isdigit() else part for part in name.split("."))


def _partial(view: ModelView, targeted: Sequence[str]) -> tuple[PartialCoverage, ...]:
    counts: dict[str, int] = {}
    for name in targeted:
        counts[family(name)] = counts.get(family(name), 0) + 1
    totals: dict[str, int] = {}
    for name in view.names:
        kind = family(name)
        if kind in counts:
            totals[kind] = totals.get(kind, 0) + 1
    return tuple(PartialCoverage(kind, counts[kind], totals[kind]) for kind in counts if counts[kind] < totals[kind])


def _no_match_error(target_modules: Any, excluded: bool, unmatched: bool, config: Mapping[str, Any]) -> str:
    """The NoMatchingPeftModuleError peft raises when nothing was targeted (inject_adapter)."""
    if excluded and not unmatched:
        return "All modules were excluded. Check `target_modules`, `exclude_modules` and `modules_to_save`."
    if not excluded and not target_modules:
        return "No `target_modules` passed but also no `target_parameters` found."
    if not excluded:
        message = f"Target modules {_show(target_modules)} not found in the base model."
    else:
        message = (
            "No modules were targeted for adaptation: `target_modules` matched nothing outside `exclude_modules` and `modules_to_save`."
        )
    if config.get("layers_to_transform") is not None:
        message += f" Note: `layers_to_transform` is {config['layers_to_transform']}."
    return message


def _show(target_modules: Any) -> str:
    return f"`{target_modules}`" if isinstance(target_modules, str) else str(sorted(target_modules))


def conv_groups(module: Module) -> int:
    """A convolution's groups, from its weight (out, in_channels / groups, *kernel); 1 otherwise."""
    weight = dict(module.tensors).get("weight")
    if module.kind not in ("conv2d", "conv3d", "torch_conv1d") or not weight or len(weight) < 3 or not module.in_features:
        return 1
    return module.in_features // weight[1] if weight[1] else 1


def _grouped_conv_error(config: Mapping[str, Any], adapted: Sequence[Module]) -> str | None:
    """peft's LoRA refuses a grouped convolution (Qwen3.5's depthwise Conv1d) unless the rank is a
    multiple of its groups (lora/layer.py `_ConvNd`)."""
    patterns = config.get("rank_pattern") or {}
    for module in adapted:
        groups = conv_groups(module)
        if groups > 1:
            key = pattern_key(patterns, module.name)
            rank = patterns[key] if key is not None else config.get("r", 8)
            if isinstance(rank, int) and rank % groups:
                return (
                    f"Targeting a {module.kind} with groups={groups} and rank {rank}: peft supports a grouped "
                    f"convolution only when the rank is divisible by its groups (`{module.name}`)"
                )
    return None


def resolve_targets(
    tree: ModuleTree,
    config: Mapping[str, Any],
    peft_type: str,
    task_type: str | None = None,
    linear_names: LinearNames | None = None,
) -> TargetResolution:
    """Apply a PEFT config's module selection to a model, exactly as `get_peft_model` would.

    `linear_names`: the config's `target_modules` stands for a training framework's own list of
    linear layers (a dialect's fact), which replaces it before peft sees the config.
    Raises PatternError for a user regex that is invalid, too long or too slow.
    """
    with regex_deadline(REGEX_DEADLINE_S):
        try:
            view = model_view(tree)
            if linear_names is None:
                return _resolve(view, config, peft_type.upper(), task_type)
            config = {**config, "target_modules": framework_linear_names(view, linear_names)}
            resolution = _resolve(view, config, peft_type.upper(), task_type)
            if resolution.error and not config["target_modules"]:  # say why peft gets an empty list
                empty = (
                    "the training framework finds no Linear layer on this model (outside the output layer) and passes peft an empty list: "
                )
                resolution = resolution._replace(error=empty + resolution.error)
            return resolution
        except _RegexDeadline:
            raise PatternError(_regexes(config), f"matching took longer than {REGEX_DEADLINE_S:g}s") from None


def _regexes(config: Mapping[str, Any]) -> str:
    parts = [config.get("target_modules"), config.get("exclude_modules"), config.get("layers_pattern")]
    return " ".join(str(p) for p in parts if p)


def _resolve(view: ModelView, config: Mapping[str, Any], peft_type: str, task_type: str | None) -> TargetResolution:
    modules_to_save = effective_modules_to_save(config, task_type)
    saved_by_entry, saved = _resolve_modules_to_save(view, modules_to_save)
    rank_pattern = dict(config.get("rank_pattern") or {})
    empty = TargetResolution(None, False, (), {}, (), (), (), (), (), frozenset(), saved_by_entry, saved, {}, rank_pattern)
    if peft_type in PROMPT_LEARNING_TYPES:
        if task_type not in PEFT_MODEL_TASKS:
            return empty._replace(error=f"{peft_type} needs a `task_type` (one of {sorted(PEFT_MODEL_TASKS)})")
        return empty._replace(error=_modules_to_save_error(view, saved, ()))

    written_as_string = isinstance(config.get("target_modules"), str)
    conversion = moe_conversion(view.tree.model_type) if peft_type == "LORA" else None
    if conversion is not None:
        converted, error = _convert_moe(view, config, conversion, task_type)
        if error is not None:
            return empty._replace(error=error)
        if converted is not None:
            config, rank_pattern = converted, converted["rank_pattern"]
    parameter_entries = tuple(config.get("target_parameters") or ()) if peft_type == "LORA" else ()
    raw_targets = config.get("target_modules")
    default_used = False
    if raw_targets is None:
        raw_targets = default_target_modules(peft_type, view.tree.model_type)
        default_used = raw_targets is not None
        if raw_targets is None:
            if not parameter_entries:
                return empty._replace(error="Please specify `target_modules` in `peft_config`")
            raw_targets = ()
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
    # the block indices peft restricts matches to; None when unset or an empty list
    only_layers: int | Sequence[int] | None = None
    if layers_to_transform is not None and not (isinstance(layers_to_transform, list) and len(layers_to_transform) == 0):
        only_layers = layers_to_transform
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
            if hit and only_layers is not None:
                index = layer_index(key, layers_pattern)
                if index is not None:
                    layers_found.add(index)
                hit = _layer_selected(key, only_layers, layers_pattern)
        if hit:
            targeted.append(key)
        else:
            unmatched_any = True

    exclude_names = tuple(n for n in excluded if is_excluded(n, exclude))
    supported = SUPPORTED_KINDS.get(peft_type)
    unsupported = tuple(n for n in targeted if n in view.containers or (supported is not None and view.modules[n].kind not in supported))
    adapted = tuple(view.modules[n] for n in targeted if n not in unsupported)
    parameters, parameter_error, not_modelled = _target_parameters(view, parameter_entries, targeted)
    if parameters:
        parameter_error = parameter_error or _param_wrapper_error(config, adapted, parameters[0])
        not_modelled = not_modelled or _param_wrapper_not_modelled(config, parameters, saved)
    error = None
    # peft raises at the first target (in module order) that it refuses or cannot wrap
    refused = next((n for n in targeted if _mamba_refuses(view.tree.model_type, peft_type, n) or n in unsupported), None)
    if refused is not None and _mamba_refuses(view.tree.model_type, peft_type, refused):
        error = (
            f"Module `{refused.rsplit('.', 1)[-1]}` is incompatible with Mamba-based models (model_type `{view.tree.model_type}`): "
            f"peft refuses {', '.join(sorted(MAMBA_INCOMPATIBLE))} for {peft_type}"
        )
    elif unsupported:
        first = unsupported[0]
        kind = "container module" if first in view.containers else f"{view.modules[first].kind} module"
        error = f"Target module `{first}` ({kind}) is not supported by {peft_type}"
    elif peft_type == "LORA" and (grouped := _grouped_conv_error(config, adapted)):
        error = grouped
    elif parameter_error:
        error = parameter_error
    elif not targeted and not parameters and not not_modelled:  # not modelled: something did match
        error = _no_match_error(targets, bool(excluded), unmatched_any, config)

    wrapped = targeted + [p.module.name for p in parameters]
    error = error or _modules_to_save_error(view, saved, wrapped)
    feedforward: frozenset[str] = frozenset()
    if peft_type == "IA3":
        ff_modules = config.get("feedforward_modules")
        if ff_modules is None:
            ff_modules = default_feedforward_modules(view.tree.model_type)
            if ff_modules is None and error is None:
                error = "Please specify `feedforward_modules` in `peft_config`"
        feedforward = frozenset(n for n in targeted if ff_modules is not None and is_feedforward(n, ff_modules))

    # a pattern key that applies to a wrapped parameter is used, although peft only looks at modules to warn
    pattern_subjects = targeted + [p.key for p in parameters]
    unmatched_patterns = {
        attr: tuple(k for k in config.get(attr) or {} if not any(pattern_key({k: 0}, n) for n in pattern_subjects))
        for attr in ("rank_pattern", "alpha_pattern")
    }
    return TargetResolution(
        target_modules=targets,
        default_targets_used=default_used,
        targeted=adapted,
        entry_matches={entry: tuple(hits) for entry, hits in entry_hits.items()},
        # list entries only (peft's fused-MoE conversion may turn a regex into leaf names that match nothing)
        unmatched_entries=(
            tuple(e for e, hits in entry_hits.items() if not hits) if isinstance(targets, tuple) and not written_as_string else ()
        ),
        excluded=exclude_names,
        unsupported=unsupported,
        layers_found=tuple(sorted(layers_found)),
        partial=_partial(view, targeted),
        feedforward=feedforward,
        modules_to_save=saved_by_entry,
        saved=saved,
        unmatched_pattern_keys={attr: keys for attr, keys in unmatched_patterns.items() if keys},
        rank_pattern=rank_pattern,
        error=error,
        parameters=parameters,
        not_modelled=not_modelled,
    )


def _mamba_refuses(model_type: str, peft_type: str, name: str) -> bool:
    return model_type in MAMBA_MODEL_TYPES and peft_type in MAMBA_CHECKED_TYPES and name.rsplit(".", 1)[-1] in MAMBA_INCOMPATIBLE


# --- LoRA on parameters ---------------------------------------------------------------------------


def _convert_moe(
    view: ModelView,
    config: Mapping[str, Any],
    conversion: tuple[dict[str, str], dict[str, tuple[str, ...]]],
    task_type: str | None,
) -> tuple[dict[str, Any] | None, str | None]:
    """`_convert_peft_config_moe`: the config peft goes on with (None: it leaves it as written), or
    the error it raises. v4 expert targets become `target_parameters` on the fused weights; a
    fused pair (`w1` + `w3` -> `gate_up_proj`) gets twice the rank."""
    renames, fused = conversion
    targets = config.get("target_modules")
    if isinstance(targets, str):
        targets = _leaf_targets(view, config, targets, renames, task_type)
        if not targets:
            return None, None  # nothing to convert: peft leaves the string to its usual matching
    parameters = list(config.get("target_parameters") or ())
    remaining: list[str] = []
    present: dict[str, list[str]] = {new: [] for new in fused}
    for target in targets or ():
        old = next((o for o in renames if target == o or target.endswith(f".{o}")), None)
        if old is None:
            remaining.append(target)
            continue
        parameters.append(renames[old])
        if renames[old] in fused:
            present[renames[old]].append(old)
    rank_pattern = dict(config.get("rank_pattern") or {})
    for new, required in fused.items():
        found = set(present[new])
        if 0 < len(found) < len(required):
            missing = ", ".join(sorted(set(required) - found))
            return None, (
                f"Cannot convert PEFT target(s) {', '.join(sorted(found))} without also targeting {missing} "
                f"because they are fused into {new}."
            )
        if len(found) == len(required) > 1:
            rank_pattern[rf".*\.{re.escape(new)}"] = int(config.get("r", 8)) * len(required)
    converted = {
        **config,
        "target_modules": tuple(dict.fromkeys(remaining)),
        "target_parameters": tuple(dict.fromkeys(parameters)),
        "rank_pattern": rank_pattern,
    }
    return converted, None


def _leaf_targets(view: ModelView, config: Mapping[str, Any], pattern: str, renames: Mapping[str, str], task_type: str | None) -> list[str]:
    """`_resolve_string_target_modules`: the leaf names a regex or `all-linear` targets, v4 expert
    names included (rebuilt from the fused parameters' containers for a regex)."""
    if pattern.lower() == ALL_LINEAR:
        return sorted({name.rsplit(".", 1)[-1] for name in _all_linear(view, task_type)} | set(renames))
    exclude = config.get("exclude_modules")
    modules_to_save = effective_modules_to_save(config, task_type)

    def targeted(key: str) -> bool:  # check_target_module_exists with a string target
        if is_excluded(key, exclude) or (modules_to_save and is_under_modules_to_save(key, modules_to_save)):
            return False
        return regex_fullmatch(pattern, key)

    parameter_keys = [f"{m.name}.{p}" for m in view.tree.modules for p, _ in m.tensors]
    matched = {key.rsplit(".", 1)[-1] for key in list(view.names) + parameter_keys if targeted(key)}
    containers: dict[str, list[str]] = {}
    for key in parameter_keys:
        container, _, leaf = key.rpartition(".")
        containers.setdefault(leaf, []).append(container)
    for old, new in renames.items():
        if old not in matched and any(targeted(f"{c}.{old}") for c in containers.get(new, ())):
            matched.add(old)
    return sorted(matched)


def _target_parameters(
    view: ModelView, entries: Sequence[str], module_targets: Sequence[str]
) -> tuple[tuple[ParameterTarget, ...], str | None, str | None]:
    """`_inject_parameters`: every parameter whose `<module>.<name>` equals an entry or ends with
    `.<entry>` (no regex, and neither `exclude_modules` nor `layers_to_transform` apply).

    Returns the targets, what peft raises and what the tree cannot describe.
    """
    if not entries:
        return (), None, None
    wanted = frozenset(entries)
    found: list[ParameterTarget] = []
    error = not_modelled = None
    wrapped = set(module_targets)
    for name in view.names:
        module = view.modules.get(name)
        if module is None:
            continue
        hits = [(p, shape) for p, shape in module.tensors if matches_target_list(f"{name}.{p}", wanted)]
        tied = [p for p in module.shared if matches_target_list(f"{name}.{p}", wanted)]
        if tied or (hits and name in view.tree.tied):
            # a tensor two modules share (or one module registered under two names)
            parameter = tied[0] if tied else hits[0][0]
            not_modelled = not_modelled or f"`target_parameters` names `{name}.{parameter}`, a tensor tied to another module"
            continue
        if not hits:
            continue
        if name in wrapped:
            error = error or f"`target_parameters` names a parameter of `{name}`, which `target_modules` adapts too"
        for parameter, shape in hits:
            if len(shape) not in (2, 3):
                error = error or (
                    f"`{name}.{parameter}` has {len(shape)} dimension(s): LoRA's ParamWrapper adapts 2-d and 3-d parameters only"
                )
        found += [ParameterTarget(module, p, shape, len(hits) - 1 - i) for i, (p, shape) in enumerate(hits)]
    for name in module_targets:
        if any(matches_target_list(f"{name}.{key}", wanted) for key in LORA_LAYER_KEYS):
            not_modelled = not_modelled or f"`target_parameters` also names the LoRA weights peft adds to `{name}`"
    return tuple(found), error, not_modelled


def _param_wrapper_error(config: Mapping[str, Any], adapted: Sequence[Module], first: ParameterTarget) -> str | None:
    """The options LoRA's ParamWrapper refuses. `fan_in_fan_out` as the module targets leave it:
    wrapping a Linear switches it off, a Conv1D on (peft corrects the shared config object)."""
    settings = dict(config)
    for module in adapted:
        if module.kind in ("linear", "conv1d"):
            settings["fan_in_fan_out"] = module.kind == "conv1d"
    option = next((o for o in PARAM_WRAPPER_REFUSES if settings.get(o)), None)
    if option is None and settings.get("init_lora_weights") == "mica":
        option = "init_lora_weights='mica'"
    if option is None:
        return None
    return f"`{first.key}` is adapted as a parameter (peft's ParamWrapper, as for fused-MoE experts), which does not work with `{option}`"


def _param_wrapper_not_modelled(config: Mapping[str, Any], parameters: Sequence[ParameterTarget], saved: Sequence[str]) -> str | None:
    """What peft accepts with wrapped parameters but the tree cannot follow."""
    init = config.get("init_lora_weights")
    if isinstance(init, str) and init.lower() not in ("gaussian", "mica"):
        # these initialisations read the wrapped module's `weight`, which fused experts do not have
        return f"`init_lora_weights='{init}'` with `target_parameters` is not modelled"
    for parameter in parameters:
        outer = next((s for s in saved if parameter.module.name.startswith(s + ".")), None)
        if outer is not None:
            return f"`modules_to_save` copies `{outer}` together with the LoRA of `{parameter.key}`: not modelled"
    return None


def _resolve_modules_to_save(view: ModelView, modules_to_save: Sequence[str]) -> tuple[dict[str, tuple[str, ...]], tuple[str, ...]]:
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
    "query": frozenset(
        {"q_proj", "query", "q", "q_lin", "query_proj", "wq", "c_attn", "qkv_proj", "query_key_value", "Wqkv", "W_pack", "in_proj"}
    ),
    "key": frozenset(
        {"k_proj", "key", "k", "k_lin", "key_proj", "wk", "c_attn", "qkv_proj", "query_key_value", "Wqkv", "W_pack", "in_proj"}
    ),
    "value": frozenset(
        {"v_proj", "value", "v", "v_lin", "value_proj", "wv", "c_attn", "qkv_proj", "query_key_value", "Wqkv", "W_pack", "in_proj"}
    ),
    "attention_out": frozenset({"o_proj", "out_proj", "o", "out_lin", "wo", "dense", "c_proj"}),
    "mlp_in": frozenset(
        {"gate_proj", "up_proj", "fc1", "c_fc", "wi", "wi_0", "wi_1", "w1", "w3", "lin1", "dense_h_to_4h", "fc_in", "gate_up_proj", "dense"}
    ),
    "mlp_out": frozenset({"down_proj", "fc2", "c_proj", "wo", "w2", "lin2", "dense_4h_to_h", "fc_out", "dense"}),
}


def closest_module_names(name: str, tree: ModuleTree, limit: int = 3) -> list[str]:
    """Leaf names of adaptable modules in `tree` that the user probably meant by `name`."""
    view = model_view(tree)
    leaves = list(dict.fromkeys(n.rsplit(".", 1)[-1] for n, m in view.modules.items() if m.kind != "other"))
    wanted = name.rsplit(".", 1)[-1]
    if wanted in leaves:
        return [wanted]
    roles = [role for role, spellings in _ROLES.items() if wanted in spellings]
    by_role = [leaf for leaf in leaves if any(leaf in _ROLES[role] for role in roles)]
    if by_role:
        return by_role[:limit]
    typo = closest(wanted, leaves, cutoff=0.6)  # a typo: the closest spelling
    return [typo] if typo else []
