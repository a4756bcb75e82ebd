"""Model facts for one config: what the model has, what the config selects, what it costs.

Puts `architecture` (module tree), `targets` (peft's matching), `counts` (exact parameters and
adapter size) and `memory` (training peak) together into the plain-JSON `model` block of the
facts document. Every failure becomes data (`counts_error`, ...), so rules decide what to say.
"""

import re
from typing import Any, Mapping, NamedTuple

from peftlint.enrich.architecture import ArchitectureError, UnknownArchitecture, language_model_config, module_tree_from_config
from peftlint.enrich.counts import CountError, Counts, PeftRejects, count_parameters, module_rank
from peftlint.enrich.distributed import STATE_SHARDING, DistributedEstimate, Plan, distribute, versus_ddp
from peftlint.enrich.memory import DTYPE_BYTES, Adapted, MemoryEstimate, ModelDims, estimate_training_memory
from peftlint.enrich.model import ModelConfig
from peftlint.enrich.modules import Module, ModuleTree
from peftlint.enrich.quantization import BaseQuantization, base_quantization
from peftlint.enrich.roles import covered_roles
from peftlint.enrich.targets import (
    PROMPT_LEARNING_TYPES,
    TASK_MODULES_TO_SAVE,
    PatternError,
    TargetResolution,
    closest_module_names,
    dotted_suffixes,
    family as _family,
    model_view,
)
from peftlint.normalize.dialects import LinearNames
from peftlint.suggest import closest

DTYPE_NAMES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}
EMBEDDING_KINDS = ("embedding",)


class Training(NamedTuple):
    """How the adapter will be trained: feeds the memory estimate. `given` names what the user set."""

    dtype: str = "bf16"
    quantization: str | None = None  # "4bit" | "8bit"
    double_quant: bool = False
    optimizer: str = "adamw"
    batch_size: int = 1
    seq_len: int = 512
    gradient_checkpointing: bool = False
    given: frozenset[str] = frozenset()
    plan: Plan = Plan()  # how training is spread over GPUs (distributed.Plan); one GPU by default
    stack: str = "transformers"  # the training stack (memory.STACKS): adapter dtype, loss, QLoRA


class ModelFactsError(Exception):
    """The model is known but cannot be analysed (unknown architecture, bad config.json)."""


class Analysis(NamedTuple):
    model: ModelConfig
    tree: ModuleTree
    counts: Counts | None
    counts_error: str | None
    memory: DistributedEstimate | None
    memory_error: str | None
    resolution: TargetResolution | None
    linear_names: LinearNames | None = None  # what `target_modules` stood for: re-estimates keep it


def module_tree(model: ModelConfig, task_type: str | None, *, exact: bool = False) -> ModuleTree:
    """The model's module tree from config.json; with `exact`, unknown architectures are built on
    torch's meta device (seconds, and torch): `estimate` does that, `check` stays light."""
    try:
        return module_tree_from_config(model.config, task_type)
    except UnknownArchitecture as exc:
        from peftlint.enrich.exact import ExactUnavailable, module_tree_on_meta

        if not exact:
            raise ModelFactsError(f"{exc}; `peftlint estimate` can build it with the [exact] extra") from None
        try:
            return module_tree_on_meta(model.config, task_type)  # the [exact] extra, when installed
        except ExactUnavailable as fallback:
            raise ModelFactsError(f"{exc}; {fallback}") from None
    except ArchitectureError as exc:
        raise ModelFactsError(str(exc)) from None


def _counts(
    tree: ModuleTree,
    effective: Mapping[str, Any],
    peft_type: str,
    task_type: str | None,
    model: ModelConfig,
    training: Training,
    linear_names: LinearNames | None,
) -> tuple[Counts | None, str | None]:
    base_dtype = DTYPE_NAMES.get(training.dtype, "float32")
    try:
        return count_parameters(
            tree, effective, peft_type, task_type, model_config=model.config, base_dtype=base_dtype, linear_names=linear_names
        ), None
    except (CountError, PatternError, ValueError) as exc:
        return None, str(exc)


def stored_as(model: ModelConfig, training: Training) -> tuple[Training, BaseQuantization | None]:
    """The training settings as the base model's own storage makes them, and its GPTQ/AWQ/AQLM packing.

    A config.json `quantization_config` wins over the training file's (transformers keeps the
    model's and warns): a bitsandbytes upload loads 4/8-bit whatever the file says, a GPTQ/AWQ/AQLM
    checkpoint loads packed and is not quantized again. ValueError when the storage is one the
    estimate does not model (HQQ, fp8, ...): no figure rather than a 16-bit one for quantized weights.
    """
    base = base_quantization(model.config)
    if base is None:
        return training, None
    if not base.modelled:
        raise ValueError(f"the base model is stored pre-quantised: {base.reason}; a 16-bit figure would overstate it")
    if base.method == "bitsandbytes":
        kind = f"{base.bits}bit"
        return training._replace(quantization=kind, double_quant=base.double_quant and kind == "4bit"), None
    return training._replace(quantization=None, double_quant=False), base


def _memory(
    model: ModelConfig, counts: Counts, effective: Mapping[str, Any], peft_type: str, task_type: str | None, training: Training
) -> tuple[DistributedEstimate | None, str | None]:
    try:
        dims = ModelDims.from_config(model.config)
        training, prequantized = stored_as(model, training)
        estimate = estimate_training_memory(
            dims,
            total_params=counts.total,
            trainable_params=counts.trainable,
            dtype=training.dtype,
            quantization=training.quantization,
            prequantized=prequantized,
            optimizer=training.optimizer,
            batch_size=training.batch_size,
            seq_len=training.seq_len,
            gradient_checkpointing=training.gradient_checkpointing,
            peft_type=peft_type,
            num_virtual_tokens=int(effective.get("num_virtual_tokens") or 0) if peft_type in PROMPT_LEARNING_TYPES else 0,
            task_type=task_type or "CAUSAL_LM",
            include_framework_overhead=True,  # compared with a card's size, which includes the CUDA context
            stack=training.stack,
            double_quant=training.double_quant,
            **_adapter_settings(counts, effective, peft_type),
        )
        return per_gpu(estimate, dims, training.plan, counts.total, counts.trainable, training.dtype), None
    except ValueError as exc:
        return None, str(exc)


def per_gpu(
    estimate: MemoryEstimate, dims: ModelDims, plan: Plan, total_params: int, trainable_params: int, dtype: str
) -> DistributedEstimate:
    """The busiest GPU's share of a one-GPU estimate under `plan` (the same numbers on one GPU)."""
    quantized = estimate.assumptions.get("quantized_params")
    fraction = 0.0
    if quantized:
        # the weights left unquantized (embeddings, head, norms) at the dtype the estimate kept
        # them in (fp32 after prepare_model_for_kbit_training): the rest is the 4/8-bit blocks
        base = estimate.breakdown["base_weights"]
        kept = str(estimate.assumptions.get("unquantized_weights", "fp32")).split()[0]
        rest = (total_params - trainable_params - quantized) * DTYPE_BYTES.get(kept, 4)
        fraction = max(base - rest, 0) / base if base else 0.0
    return distribute(
        estimate, dims, plan, total_params=total_params, trainable_params=trainable_params, compute_dtype=dtype, quantized_fraction=fraction
    )


def _adapter_settings(counts: Counts, effective: Mapping[str, Any], peft_type: str) -> dict[str, Any]:
    """The adapted modules and the config values the per-method memory terms need."""
    resolution = counts.resolution
    adapted = tuple(
        Adapted(m.in_features, m.out_features, m.name in resolution.feedforward)
        for m in resolution.targeted
        if m.kind in ("linear", "conv1d") and m.in_features and m.out_features
    )
    # LoHa's and LoKr's rank/module dropouts drop whole ranks or modules, not input elements
    dropout_key = {"LORA": "lora_dropout", "ADALORA": "lora_dropout", "VERA": "vera_dropout"}.get(peft_type, "")
    rank = effective.get("r")
    return {
        "adapted_modules": adapted,
        "adapter_dropout": bool(effective.get(dropout_key)),
        "use_dora": bool(effective.get("use_dora")),
        "adapter_rank": rank if isinstance(rank, int) and not isinstance(rank, bool) and rank > 0 else 8,
    }


# the head a transformers class name ends in -> the task head it builds (architecture.TASK_HEADS)
_CLASS_HEADS = (
    ("ForImageClassification", "IMAGE_CLS"),
    ("ForSequenceClassification", "SEQ_CLS"),
    ("ForTokenClassification", "TOKEN_CLS"),
    ("ForQuestionAnswering", "QUESTION_ANS"),
    ("ForMaskedLM", "MASKED_LM"),
    ("ForCausalLM", "CAUSAL_LM"),
    ("LMHeadModel", "CAUSAL_LM"),
    ("ForSeq2SeqLM", "SEQ_2_SEQ_LM"),
)


def model_task_type(effective: Mapping[str, Any], config: Mapping[str, Any], loaded_class: str | None = None) -> str | None:
    """The task head to analyse: the config's `task_type`, else the head of the class the script
    loads the model with, else the one the model was published with.

    Without `task_type`, peft adapts whatever model the script loaded: `AutoModelForImageClassification`
    has a `classifier` that the `ViTModel` of config.json's `architectures` lacks; failing a script,
    the `architectures` entry says which class that usually is (`LlamaForCausalLM`,
    `T5ForConditionalGeneration`).
    """
    if effective.get("task_type"):
        return str(effective["task_type"])
    if loaded_class:
        head = next((task for suffix, task in _CLASS_HEADS if loaded_class.endswith(suffix)), None)
        if head is not None:
            return head
    architectures = config.get("architectures") or []
    names = [a for a in architectures if isinstance(a, str)]
    if any(a.endswith("ForCausalLM") for a in names):
        return "CAUSAL_LM"
    if any(a.endswith("ForConditionalGeneration") for a in names) and config.get("is_encoder_decoder"):
        return "SEQ_2_SEQ_LM"
    return None


def analyze(
    model: ModelConfig,
    effective: Mapping[str, Any],
    peft_type: str,
    training: Training,
    tree: ModuleTree | None = None,
    *,
    exact: bool = False,
    linear_names: LinearNames | None = None,
    loaded_class: str | None = None,
) -> Analysis:
    """Everything about `effective` on `model`; `tree`: the modules of a loaded model, instead of
    the ones built from its config.json (so that custom architectures work); `linear_names`: a
    training framework's own list of linear layers stands for `target_modules` (a dialect's)."""
    task_type = model_task_type(effective, model.config)
    if tree is None:
        # the head the script's class has (only the tree: without task_type peft treats it as any
        # other module, so counts keep task_type's meaning)
        tree = module_tree(model, model_task_type(effective, model.config, loaded_class), exact=exact)
    counts, counts_error = _counts(tree, effective, peft_type, task_type, model, training, linear_names)
    memory, memory_error = (None, None)
    if counts is not None:
        memory, memory_error = _memory(model, counts, effective, peft_type, task_type, training)
    resolution = counts.resolution if counts is not None else _resolution(tree, effective, peft_type, task_type, linear_names)
    return Analysis(model, tree, counts, counts_error, memory, memory_error, resolution, linear_names)


def _resolution(
    tree: ModuleTree, effective: Mapping[str, Any], peft_type: str, task_type: str | None, linear_names: LinearNames | None
) -> TargetResolution | None:
    from peftlint.enrich.targets import resolve_targets

    try:
        return resolve_targets(tree, effective, peft_type, task_type, linear_names)
    except (PatternError, ValueError):
        return None


def _entry_path(effective: Mapping[str, Any], entry: str) -> list[Any]:
    """Where a `target_modules` entry is written: the list item, so findings point at its line."""
    targets = effective.get("target_modules")
    if isinstance(targets, list) and entry in targets:
        return ["target_modules", targets.index(entry)]
    return ["target_modules"]


def _matchable_names(tree: ModuleTree) -> frozenset[str]:
    """Every name a `target_modules` list entry can equal to match some module (dotted suffixes)."""
    view = model_view(tree)
    return frozenset(suffix for name in view.names for suffix in dotted_suffixes(name))


def _leaf(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _unmatched(entry: str, suggestions: list[str], path: object) -> dict[str, object]:
    """A target entry that matches nothing, with the sentence and fix wording its suggestions allow."""
    if suggestions:
        quoted = [f"`{name}`" for name in suggestions]
        names = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
        return {"entry": entry, "suggestions": suggestions, "path": path, "did_you_mean": f"did you mean {names}?", "replacement": names}
    return {
        "entry": entry,
        "suggestions": suggestions,
        "path": path,
        "did_you_mean": "no module has a similar name.",
        "replacement": "modules the model has",
    }


def _targets_facts(analysis: Analysis, effective: Mapping[str, Any]) -> dict[str, Any]:
    resolution, tree = analysis.resolution, analysis.tree
    if resolution is None:
        return {}
    embeddings = {m.name for m in tree.modules if m.kind in EMBEDDING_KINDS}
    embeddings |= {n for n in (tree.input_embedding, tree.output_embedding) if n}
    targeted = resolution.targeted_names
    layers = effective.get("layers_to_transform")
    wanted_layers = [layers] if isinstance(layers, int) else list(layers or [])
    return {
        "target_modules": list(resolution.target_modules) if isinstance(resolution.target_modules, tuple) else resolution.target_modules,
        "default_targets_used": resolution.default_targets_used,
        "targeted_count": len(targeted),
        "targeted_leaf_names": sorted({_leaf(n) for n in targeted}),
        "unmatched_entries": [  # matched nothing at all (entries only excluded or filtered are not typos)
            _unmatched(entry, closest_module_names(entry, tree), _entry_path(effective, entry))
            for entry in resolution.unmatched_entries
            if entry not in _matchable_names(tree)
        ],
        "partial": [
            {"family": p.family, "matched": p.matched, "total": p.total}
            for p in resolution.partial
            # layers_to_transform asks for part of the layers on purpose, and so do list entries
            # that name a block by its number
            if not wanted_layers and not _regex_names_blocks(resolution) and p.family not in _families_chosen_by_index(resolution)
        ],
        "embeddings_targeted": sorted(_leaf(n) for n in targeted if n in embeddings),
        "tied_targeted": sorted(_leaf(n) for n in targeted if n in tree.tied),
        # the targets whose layer type contradicts `fan_in_fan_out` (True means Conv1D's in x out layout)
        "fan_in_fan_out_wrong_for": sorted(
            {_leaf(m.name) for m in resolution.targeted if m.kind == ("linear" if effective.get("fan_in_fan_out") else "conv1d")}
        ),
        "fan_in_fan_out_expected": _fan_in_fan_out_expected(resolution),
        "layers_out_of_range": sorted(i for i in wanted_layers if isinstance(i, int) and not 0 <= i < max(tree.num_layers, 1)),
        "modules_to_save_unmatched": [
            {"entry": entry, "path": _save_path(effective, entry), **_save_suggestion(entry, tree)}
            for entry in _modules_to_save_unmatched(resolution, effective)
        ],
        "unmatched_pattern_keys": sorted(resolution.unmatched_pattern_keys),
        "error": resolution.error,
        **_rank_above_dims(resolution, effective),
        "roles": dict(zip(("covered", "unknown"), covered_roles(targeted))),
    }


def _families_chosen_by_index(resolution: TargetResolution) -> frozenset[str]:
    """Module families (`model.layers.*.self_attn.q_proj`) some of whose members a `target_modules`
    list entry names with a block index (`model.layers.31.self_attn.q_proj`, `layers.0.mlp`):
    choosing layer by layer, not a regex that happens to miss some."""
    if not isinstance(resolution.target_modules, tuple):
        return frozenset()
    return frozenset(
        _family(name)
        for entry, names in resolution.entry_matches.items()
        if any(part.isdigit() for part in entry.split("."))
        for name in names
    )


# Ways a regex says "any number": they pick no block in particular
_ANY_NUMBER = re.compile(r"\\d[+*]?|\[0-9\][+*]?|\{\d+(?:,\d*)?\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # module names with digits (fc1, w2) are no block number


def _regex_names_blocks(resolution: TargetResolution) -> bool:
    """A regex `target_modules` that writes block numbers (`layers\\.(28|29|30|31)\\.`, `[0-3]`):
    layers picked on purpose. `\\d` names none: it means every block, and misses those past 9."""
    pattern = resolution.target_modules
    return isinstance(pattern, str) and any(char.isdigit() for char in _NAME.sub("", _ANY_NUMBER.sub("", pattern)))


def _modules_to_save_unmatched(resolution: TargetResolution, effective: Mapping[str, Any]) -> list[str]:
    """The user's `modules_to_save` entries that wrap nothing.

    peft adds its task heads itself (`classifier` and `score` for SEQ_CLS) and skips the one the
    model lacks, so a head name peft would add anyway is no mistake once one of them is found:
    a saved SEQ_CLS adapter lists both names whatever the model.
    """
    heads = TASK_MODULES_TO_SAVE.get(str(effective.get("task_type")), ())
    head_found = any(resolution.modules_to_save.get(head) for head in heads)
    written = effective.get("modules_to_save") or ()
    return sorted(
        entry for entry, hits in resolution.modules_to_save.items() if not hits and entry in written and not (head_found and entry in heads)
    )


# what configs call the output layer (`lm_head` in most causal LMs) and the token embeddings; a model
# whose own layer has another name (Whisper: `proj_out`, GPT-NeoX: `embed_out`) matches none of them
_OUTPUT_LAYER_NAMES = frozenset({"lm_head", "embed_out", "proj_out", "output", "output_layer", "vocab_projector"})
_INPUT_EMBEDDING_NAMES = frozenset({"embed_tokens", "wte", "word_embeddings", "embed_in", "tok_embeddings", "shared"})


def _save_path(effective: Mapping[str, Any], entry: str) -> list[Any]:
    """Where a `modules_to_save` entry is written: the list item, so findings point at its line."""
    written = effective.get("modules_to_save")
    return ["modules_to_save", written.index(entry)] if isinstance(written, list) and entry in written else ["modules_to_save"]


def _save_suggestion(entry: str, tree: ModuleTree) -> dict[str, str]:
    """The module the user most likely meant, as `hint` (added to the message) and `use` (the fix)."""
    leaf = _leaf(entry)
    for names, own, what in (
        (_OUTPUT_LAYER_NAMES, tree.output_embedding, "output layer"),
        (_INPUT_EMBEDDING_NAMES, tree.input_embedding, "token embedding"),
    ):
        if leaf in names and own and _leaf(own) != leaf:
            return {"hint": f"; its {what} is `{_leaf(own)}`", "use": f"`{_leaf(own)}`, the model's {what}"}
    # modules_to_save wraps any module, containers too (`classifier` of RoBERTa holds two Linears)
    parts = {part for name in model_view(tree).names for part in name.split(".") if not part.isdigit()}
    typo = closest(leaf, sorted(parts - {leaf}), cutoff=0.75)
    if typo:
        return {"hint": f"; did you mean `{typo}`?", "use": f"`{typo}`"}
    return {"hint": "", "use": "a module name the model has (a classification head is usually `classifier` or `score`)"}


def _fan_in_fan_out_expected(resolution: TargetResolution) -> bool | None:
    """True when every target is a Conv1D (in x out weights), False when every one is a Linear."""
    kinds = {m.kind for m in resolution.targeted if m.kind in ("linear", "conv1d")}
    return None if len(kinds) != 1 else kinds == {"conv1d"}


def _rank_above_dims(resolution: TargetResolution, effective: Mapping[str, Any]) -> dict[str, Any]:
    """Targets whose smaller side is below their rank (`rank_pattern` as peft applies it, else `r`):
    the low-rank update cannot use the extra rank. With the share of the adapter's LoRA weights
    those targets hold: a gate of output 1 among hundreds of projections is a side effect of broad
    targeting, a rank above every target's width is a mis-sized adapter."""
    if not isinstance(effective.get("r"), int) or isinstance(effective.get("r"), bool):
        return {"rank_above_dims": [], "rank_above_share": 0}
    above: set[str] = set()
    weights_above = weights_total = 0
    for module in resolution.targeted:
        sides = _matrix_sides(module)
        if sides is None:
            continue
        try:
            rank = module_rank(module.name, effective, resolution)
        except PeftRejects:  # a non-positive rank is PL0xx's business, not this fact's
            continue
        weights = rank * (sides[0] + sides[1])
        weights_total += weights
        if rank > min(sides):
            above.add(_leaf(module.name))
            weights_above += weights
    share = round(100 * weights_above / weights_total) if weights_total else 0
    return {"rank_above_dims": sorted(above), "rank_above_share": share}


def _matrix_sides(module: Module) -> tuple[int, int] | None:
    """The sides of the matrix a low-rank update factors: (in, out) of a linear layer; a
    convolution's update is over its whole receptive field, in_channels x the kernel (a Qwen-VL
    patch embedding takes 3 channels but 3 x 2 x 14 x 14 inputs), read off its weight's shape."""
    if not module.in_features or not module.out_features:
        return None
    if module.kind in ("conv2d", "conv3d", "torch_conv1d"):
        weight = dict(module.tensors).get("weight")
        if weight is None or len(weight) < 3:
            return None
        fan_in = 1
        for side in weight[1:]:
            fan_in *= side
        return fan_in, weight[0]
    return module.in_features, module.out_features


GIB = 1024**3


def _gib(value: int) -> float:
    return round(value / GIB, 1)


def _max_positions(config: Mapping[str, Any]) -> Any:
    """The context window: a multimodal model's is its language model's."""
    text = language_model_config(config)
    return text.get("max_position_embeddings") or text.get("n_positions")


def _prompt_facts(
    tree: ModuleTree, config: Mapping[str, Any], effective: Mapping[str, Any], peft_type: str, seq_len: int | None
) -> dict[str, Any] | None:
    """Virtual tokens against the context window and the embedding width (prompt learning only)."""
    if peft_type not in PROMPT_LEARNING_TYPES:
        return None
    tokens = effective.get("num_virtual_tokens")
    tokens = tokens if isinstance(tokens, int) and not isinstance(tokens, bool) else 0
    embedding_dim = next((m.out_features for m in tree.modules if m.name == tree.input_embedding), None)
    # peft fills an unset token_dim from the config (hidden_size | n_embd | d_model), a multimodal
    # model's from its language model
    text = language_model_config(config)
    token_dim = effective.get("token_dim") or text.get("hidden_size") or text.get("n_embd") or text.get("d_model")
    max_positions = _max_positions(config)
    needed = tokens + (seq_len or 0)
    return {
        "num_virtual_tokens": tokens,
        "seq_len": seq_len,
        "context_needed": needed,
        "max_positions": max_positions,
        "exceeds_context": needed > max_positions if max_positions else False,
        "token_dim": token_dim,
        "embedding_dim": embedding_dim,
        "token_dim_mismatch": bool(embedding_dim and token_dim)
        and token_dim != embedding_dim
        and peft_type in ("PROMPT_TUNING", "P_TUNING", "MULTITASK_PROMPT_TUNING"),
    }


def _estimate_with(analysis: Analysis, effective: Mapping[str, Any], peft_type: str, training: Training) -> DistributedEstimate | None:
    """The memory estimate of the same model with other settings (None when it cannot be made)."""
    task_type = model_task_type(effective, analysis.model.config)
    counts, _ = _counts(analysis.tree, effective, peft_type, task_type, analysis.model, training, analysis.linear_names)
    if counts is None:
        return None
    estimate, _ = _memory(analysis.model, counts, effective, peft_type, task_type, training)
    return estimate


# "fits comfortably": at most this share of the card, leaving room for allocator fragmentation
# and the longest batches (the estimate is a typical peak, not a worst case)
COMFORTABLE_SHARE = 0.8


def _fit(estimate: DistributedEstimate, budget: int) -> dict[str, Any]:
    fits = estimate.total_bytes <= budget
    return {
        "total_bytes": estimate.total_bytes,
        "total_gib": _gib(estimate.total_bytes),
        "fits": fits,
        "comfortable": estimate.total_bytes <= COMFORTABLE_SHARE * budget,
        "share_of_gpu": round(estimate.total_bytes / budget, 3),
        "verdict": "fits" if fits else "does not fit",
    }


def _precision_facts(
    analysis: Analysis, effective: Mapping[str, Any], peft_type: str, training: Training, budget: int, over_budget: bool
) -> dict[str, Any]:
    """The run with the base weights' precision switched: is quantization needed, or not worth it?

    Quantized: `unquantized` is the same run in 16-bit. Not quantized and over budget: `lean` is
    the leanest 16-bit run (gradient checkpointing, micro-batch 1) and `lean_4bit` the same in 4-bit.
    A base stored quantized (GPTQ/AWQ/AQLM/bitsandbytes upload) has no 16-bit run to switch to: none.
    """
    if base_quantization(analysis.model.config) is not None:
        return {}
    if training.quantization:
        plain = _estimate_with(analysis, effective, peft_type, training._replace(quantization=None, double_quant=False))
        return {} if plain is None else {"unquantized": _fit(plain, budget)}
    if not over_budget:
        return {}
    lean = training._replace(gradient_checkpointing=True, batch_size=1)
    variants = {"lean": lean, "lean_4bit": lean._replace(quantization="4bit", double_quant=True)}
    facts = {}
    for name, settings in variants.items():
        estimate = _estimate_with(analysis, effective, peft_type, settings)
        if estimate is not None:
            facts[name] = _fit(estimate, budget)
    return facts


class Remedy(NamedTuple):
    """One of the guides' memory remedies, applied on top of the ones before it, and its estimate."""

    change: str
    training: Training
    effective: Mapping[str, Any]
    total_bytes: int
    fits: bool


def memory_remedies(analysis: Analysis, effective: Mapping[str, Any], peft_type: str, training: Training, budget: int) -> list[Remedy]:
    """The guides' memory remedies applied in order, each step with its estimate, until one fits."""
    steps: list[tuple[str, Any]] = []
    sharded = _sharded_plan(training.plan)
    if sharded is not None:  # the GPUs are booked already: sharding changes nothing about training
        steps.append((sharded.describe(), lambda t, e: (t._replace(plan=sharded), e)))
    if not training.gradient_checkpointing:
        steps.append(("gradient checkpointing", lambda t, e: (t._replace(gradient_checkpointing=True), e)))
    if training.batch_size > 1:
        steps.append((f"micro-batch 1 with {training.batch_size}x gradient accumulation", lambda t, e: (t._replace(batch_size=1), e)))
    if training.quantization is None and base_quantization(analysis.model.config) is None:
        steps.append(("4-bit QLoRA", lambda t, e: (t._replace(quantization="4bit", double_quant=True), e)))
    rank = effective.get("r")
    if isinstance(rank, int) and not isinstance(rank, bool) and rank > 8:
        steps.append((f"r=8 instead of {rank}", lambda t, e: (t, {**e, "r": 8, "lora_alpha": 16})))
    remedies: list[Remedy] = []
    current_training, current_effective = training, effective
    for change, apply in steps:
        current_training, current_effective = apply(current_training, current_effective)
        estimate = _estimate_with(analysis, current_effective, peft_type, current_training)
        if estimate is None:
            continue
        fits = estimate.total_bytes <= budget
        remedies.append(Remedy(change, current_training, current_effective, estimate.total_bytes, fits))
        if fits:
            break
    return remedies


def _sharded_plan(plan: Plan) -> Plan | None:
    """The same GPUs with the weights sharded, when the plan replicates them on several GPUs:
    ZeRO-3 for a DeepSpeed run (its offload kept), FSDP FULL_SHARD otherwise."""
    if plan.num_gpus < 2 or plan.strategy in ("zero3", "fsdp", "fsdp-hybrid"):
        return None
    if plan.engine == "deepspeed":
        return Plan("zero3", plan.num_gpus, plan.num_nodes, plan.offload, plan.fsdp_version)
    return Plan("fsdp", plan.num_gpus, plan.num_nodes, "params" if plan.offload == "params" else "none", plan.fsdp_version)


def _distributed_remedy(analysis: Analysis, effective: Mapping[str, Any], peft_type: str, training: Training, budget: int) -> str:
    """`; with FSDP over 4 GPUs: 52.0 GiB per GPU (fits)`, or "" when the weights are sharded already."""
    sharded = _sharded_plan(training.plan)
    if sharded is None:
        return ""
    estimate = _estimate_with(analysis, effective, peft_type, training._replace(plan=sharded))
    if estimate is None:
        return ""
    verdict = "fits" if estimate.total_bytes <= budget else "does not fit"
    return f"; with {sharded.describe()}: {_gib(estimate.total_bytes)} GiB per GPU ({verdict})"


def _versus_ddp(analysis: Analysis, effective: Mapping[str, Any], peft_type: str, training: Training) -> dict[str, Any] | None:
    """A state-sharding plan's per-GPU estimate against DDP's and the weight-sharding plan's on the
    same GPUs (`model.memory.versus_ddp`); None for other plans or when an estimate cannot be made."""
    plan = training.plan
    sharded_plan = _sharded_plan(plan)
    if analysis.memory is None or plan.strategy not in STATE_SHARDING or sharded_plan is None:
        return None
    ddp = _estimate_with(analysis, effective, peft_type, training._replace(plan=Plan("ddp", plan.num_gpus, plan.num_nodes)))
    sharded = _estimate_with(analysis, effective, peft_type, training._replace(plan=sharded_plan))
    if ddp is None or sharded is None:
        return None
    facts = versus_ddp(analysis.memory, ddp, sharded)
    return {**facts, "ddp_gib": _gib(facts["ddp_bytes"]), "sharded_gib": _gib(facts["sharded_bytes"])}


def _remedies(analysis: Analysis, effective: Mapping[str, Any], peft_type: str, training: Training, budget: int) -> list[dict[str, Any]]:
    return [
        {"change": r.change, "total_bytes": r.total_bytes, "total_gib": _gib(r.total_bytes), "fits": r.fits}
        for r in memory_remedies(analysis, effective, peft_type, training, budget)
    ]


def _remedies_text(remedies: list[dict[str, Any]], per_gpu: bool = False) -> str:
    if not remedies:
        return "none of the usual remedies applies"
    unit = " per GPU" if per_gpu else ""
    steps = [f"{'+ ' if n else 'with '}{r['change']}: {r['total_gib']} GiB{unit}" for n, r in enumerate(remedies)]
    verdict = "fits" if remedies[-1]["fits"] else "still too large: use a smaller model, more GPU memory or shorter sequences"
    return "; ".join(steps) + f" ({verdict})"


def _breakdown_text(breakdown: Mapping[str, int]) -> str:
    parts = sorted(((v, k) for k, v in breakdown.items() if v >= GIB // 20), reverse=True)
    return ", ".join(f"{k.replace('_', ' ')} {_gib(v)}" for v, k in parts)


def _base_quantization_facts(config: Mapping[str, Any]) -> dict[str, Any] | None:
    base = base_quantization(config)
    return None if base is None else base.to_dict()


def model_facts(
    analysis: Analysis,
    effective: Mapping[str, Any],
    training: Training,
    gpu_memory_bytes: int | None,
    *,
    peft_type: str = "LORA",
    seq_len: int | None = None,
) -> dict[str, Any]:
    """The facts document's `model` block (documented in schemas/facts.schema.json)."""
    model, tree = analysis.model, analysis.tree
    config = model.config
    leaves = sorted({_leaf(m.name) for m in tree.modules if m.kind in ("linear", "conv1d")})
    embedding_dim = next((m.out_features for m in tree.modules if m.name == tree.input_embedding), None)
    facts: dict[str, Any] = {
        "id": model.model_id,
        "source": model.source,
        "model_type": tree.model_type,
        "num_layers": tree.num_layers,
        "embedding_dim": embedding_dim,
        "max_position_embeddings": _max_positions(config),
        "total_params": tree.total_params,
        "linear_leaf_names": leaves,
        "targets": _targets_facts(analysis, effective),
        "counts": None,
        "counts_error": analysis.counts_error,
        "memory": None,
        "memory_error": analysis.memory_error,
        "base_quantization": _base_quantization_facts(config),
        "prompt": _prompt_facts(tree, config, effective, peft_type, seq_len),
        "training": {
            "dtype": training.dtype,
            "quantization": training.quantization,
            "optimizer": training.optimizer,
            "batch_size": training.batch_size,
            "seq_len": training.seq_len,
            "gradient_checkpointing": training.gradient_checkpointing,
        },
    }
    if analysis.counts is not None:
        counts = analysis.counts
        facts["counts"] = {
            "trainable_params": counts.trainable,
            "total_params": counts.total,
            "trainable_percent": round(counts.trainable_percent, 4),
            "adapter_bytes": counts.adapter_bytes,
        }
    if analysis.memory is not None:
        memory = analysis.memory.to_dict()
        memory["total_gib"] = _gib(memory["total_bytes"])
        # "" on one GPU; the busiest GPU's share otherwise (PL401's message)
        memory["per_gpu_text"] = "" if training.plan.strategy == "single" else f" per GPU ({training.plan.describe()})"
        memory["breakdown_text"] = _breakdown_text(memory["breakdown"])
        if gpu_memory_bytes:
            memory["gpu_bytes"] = gpu_memory_bytes
            memory["gpu_gib"] = _gib(gpu_memory_bytes)
            memory["over_budget_bytes"] = memory["total_bytes"] - gpu_memory_bytes
            if memory["over_budget_bytes"] > 0:
                memory["remedies"] = _remedies(analysis, effective, peft_type, training, gpu_memory_bytes)
                memory["remedies_text"] = _remedies_text(memory["remedies"], training.plan.num_gpus > 1)
            memory.update(_precision_facts(analysis, effective, peft_type, training, gpu_memory_bytes, memory["over_budget_bytes"] > 0))
            memory["distributed_remedy"] = (
                _distributed_remedy(analysis, effective, peft_type, training, gpu_memory_bytes) if memory["over_budget_bytes"] > 0 else ""
            )
            memory["base_weights_gib"] = _gib(memory["breakdown"]["base_weights"])
            memory["base_weights_exceed_gpu"] = memory["breakdown"]["base_weights"] > gpu_memory_bytes
        versus = _versus_ddp(analysis, effective, peft_type, training)
        if versus is not None:
            memory["versus_ddp"] = versus
        facts["memory"] = memory
    return facts
