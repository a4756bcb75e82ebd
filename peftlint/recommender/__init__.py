"""`peftlint recommend`: the method guides' decision framework turned into a config that passes `check`.

The decision walks the guides in order: [choosing-a-method]'s decision tree (latency, compute, task
simplicity, several tasks, the default), its per-task table for the rank and the modules,
[peft-comparison]'s when-to-use/avoid lists and practical recommendations, [peft-lesson]'s questions (task
shift, base model, variants, serving) and [peft-vs-lora] on AdaLoRA and QLoRA. Every step is a
`Reason` that names the section it comes from.

A GPU budget is met with the guides' memory remedies in their order (the same code PL401 uses:
`peftlint.enrich.analysis.memory_remedies`), then with fewer targets. Last, the config is run
through the rules `peftlint check` runs, on the file it will be written as; what a rule still
objects to is repaired (a heavy adapter kept per variant is made compact) or, failing that, the
guides' default is used and the objection is given as the reason.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping, NamedTuple

from peftlint.enrich.analysis import GIB, ModelFactsError, Training, analyze, memory_remedies, model_task_type, module_tree
from peftlint.enrich.architecture import language_model_config, layer_classes
from peftlint.enrich.distributed import Plan as DistributedPlan
from peftlint.enrich.estimate import Estimate, estimate
from peftlint.enrich.model import ModelConfig
from peftlint.enrich.modules import ModuleTree
from peftlint.enrich.roles import ATTENTION_ROLES, FFN
from peftlint.enrich.stage import Enricher, ModelOptions
from peftlint.enrich.targets import PEFT_MODEL_TASKS, default_target_modules
from peftlint.facts.situation import DATASET_RANK_LIMITS, TASK_RANKS
from peftlint.finding import Finding
from peftlint.load import Document
from peftlint.normalize import to_peft_config
from peftlint.normalize.dialects import LLAMA_FACTORY
from peftlint.pipeline import lint_config
from peftlint.recommender.files import PEFT, file_mapping
from peftlint.recommender.targets import QV, conv1d_targets, in_role_order, query_value_targets, role_targets
from peftlint.settings.config import Settings
from peftlint.settings.profile import Profile, parse_gpu_memory
from peftlint.validate import effective_config

# keys of docs/sources.md: a reason cites "[key] §section"
S000 = "[choosing-a-method]"
S001 = "[peft-comparison]"
S002 = "[peft-lesson]"
S004 = "[peft-vs-lora]"

LATENCY_DEPLOYMENTS = ("latency-critical", "edge")
# tasks that put new knowledge or behaviour into the weights ([peft-comparison] "Avoid Prompt Tuning when
# tasks require significant behavioral change"; [peft-vs-lora] "Not good for domain specialization")
DEEP_TASKS = ("domain-adaptation", "code", "instruction")
PROMPT_TOKENS = 20  # [choosing-a-method] §Detailed Comparison: Prompt Tuning (20 tokens)
PROMPT_MIN_PARAMS = 1_000_000_000  # [peft-comparison] §When to Use Prompt Tuning: extremely large models
PROMPT_MIN_EXAMPLES = 1_000  # [peft-comparison]: "data-hungry, requiring thousands of examples"
ADALORA_MIN_PARAMS = 60_000_000_000  # [peft-vs-lora] §AdaLoRA: "Best for very large models (70B+)"
DEFAULT_RANK = 8  # [choosing-a-method] §Decision Tree: LoRA (r=8, alpha=16)
DROPOUT, SMALL_DATA_DROPOUT = 0.05, 0.1  # [choosing-a-method] §Practical Recommendations: if overfitting, add dropout
SEQ_LEN_FLOOR = 64  # the shortest sequence worth proposing when nothing fits


class RecommendError(Exception):
    """The request cannot be served (a model peftlint cannot analyse, a dialect that cannot train it)."""


class Reason(NamedTuple):
    decision: str
    reason: str
    source: str

    def to_dict(self) -> dict[str, str]:
        return {"decision": self.decision, "reason": self.reason, "source": self.source}


class Plan(NamedTuple):
    """A PEFT config and how it trains."""

    label: str
    config: dict[str, Any]  # canonical: peft's own keys, `peft_type` first
    training: Training
    accumulation: int = 1  # gradient accumulation steps that keep the stated batch size

    @property
    def peft_type(self) -> str:
        return str(self.config["peft_type"])


class Alternative(NamedTuple):
    label: str
    config: dict[str, Any]
    why_not: str
    rank: tuple[Any, ...]  # sort key: fewer objections first, then the guides' order

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "config": self.config, "why_not": self.why_not}


class Request(NamedTuple):
    model: ModelConfig
    profile: Profile = Profile()
    dialect: str = PEFT
    settings: Settings = Settings()

    @property
    def values(self) -> Mapping[str, Any]:
        return self.profile.values

    @property
    def budget(self) -> int | None:
        memory = self.values.get("gpu_memory")
        return None if memory is None else parse_gpu_memory(memory)

    @property
    def layer_classes(self) -> tuple[str, ...] | None:
        """The model's block classes FSDP wraps: () when transformers names none, None when peftlint
        has no architecture data for the model."""
        return layer_classes(str(self.model.config.get("model_type") or ""))


class Recommendation(NamedTuple):
    request: Request
    plan: Plan
    rationale: list[Reason]
    estimate: Estimate
    alternatives: list[Alternative]
    findings: list[Finding]  # warnings and errors `check` would still report (none, when all is well)

    @property
    def distributed(self) -> DistributedPlan:
        """How training is spread over the GPUs: the profile's strategy, or the one `choose_strategy` picked."""
        return self.plan.training.plan

    def file_mapping(self, *, with_profile: bool = True) -> dict[str, Any]:
        """The config as the chosen dialect's file holds it."""
        return file_mapping(
            self.plan.config,
            self.plan.training,
            self.request.dialect,
            model_id=self.request.model.model_id,
            accumulation=self.plan.accumulation,
            profile=self.request.values if with_profile else None,
            distributed=self.distributed,
            layer_classes=self.request.layer_classes or (),
        )


class NothingFits(Exception):
    """No config the guides allow trains within the budget; the message says what would."""

    def __init__(self, message: str, rationale: list[Reason]):
        super().__init__(message)
        self.rationale = rationale


class Base(NamedTuple):
    """What the recommendation needs to know about the base model."""

    model: ModelConfig
    tree: ModuleTree
    task_type: str | None

    @property
    def params(self) -> int:
        return self.tree.total_params

    @property
    def size(self) -> str:
        return f"{self.params / 1e9:.1f}B" if self.params >= 1e8 else f"{self.params / 1e6:.0f}M"


# --- the base model and its task head -----------------------------------------------------------


def published_task_type(config: Mapping[str, Any]) -> str | None:
    """The head the model was published with, as a peft task type (GPT-2's `GPT2LMHeadModel` too)."""
    found = model_task_type({}, config)
    architectures = [a for a in config.get("architectures") or [] if isinstance(a, str)]
    if found is None and not config.get("is_encoder_decoder") and any(a.endswith("LMHeadModel") for a in architectures):
        return "CAUSAL_LM"
    return found


def base_model(request: Request) -> Base:
    """The model with the head the adapter trains: a classifier for classification (peft files),
    else the head it was published with; training frameworks always train a causal LM."""
    model, task = request.model, request.values.get("task")
    if request.dialect != PEFT:
        if published_task_type(model.config) != "CAUSAL_LM":
            raise RecommendError(
                f"{request.dialect} trains causal language models; {model.model_id} ({model.config.get('model_type')}) is not one: use --dialect peft"
            )
        candidates: list[str | None] = ["CAUSAL_LM"]
    elif task == "classification":
        candidates = ["SEQ_CLS", published_task_type(model.config)]
    else:
        candidates = [published_task_type(model.config)]
    error: Exception | None = None
    for task_type in candidates:
        try:
            return Base(model, module_tree(model, task_type), task_type)
        except ModelFactsError as exc:  # no such head, or an architecture peftlint cannot build
            error = exc
    raise RecommendError(f"cannot analyse {model.model_id}: {error}")


# --- the decision ---------------------------------------------------------------------------------


def _rank(task: str | None, priority: str | None, dataset_size: int | None, reasons: list[Reason]) -> int:
    low, high = TASK_RANKS.get(task or "", (DEFAULT_RANK, 2 * DEFAULT_RANK))
    rank = high if priority == "quality" else low
    if task in TASK_RANKS:
        where = "" if high == low else "the top of the range; " if priority == "quality" else "the start of the range; "
        reasons.append(
            Reason(
                f"r={rank}, lora_alpha={2 * rank}",
                f"the guides' range for {task} is r={low}-{high}" if low != high else f"the guides use r={low} for {task}",
                f"{S000} §Task-Specific Recommendations ({where}alpha = 2r as in r=8, alpha=16)",
            )
        )
    elif priority == "quality":
        reasons.append(
            Reason(
                f"r={rank}, lora_alpha={2 * rank}",
                "quality first: the general-purpose starting point",
                f"{S001} §Practical Recommendations (General-Purpose Fine-tuning: r=16, alpha=32)",
            )
        )
    else:
        reasons.append(
            Reason(
                f"r={rank}, lora_alpha={2 * rank}",
                "the guides' default rank; raise it only if the model underfits",
                f"{S000} §Decision Tree (Default recommendation: LoRA r=8, alpha=16)",
            )
        )
    limit = next((cap for below, cap in DATASET_RANK_LIMITS if dataset_size is not None and dataset_size < below), None)
    if limit is not None and rank > limit:
        rank = limit
        reasons.append(
            Reason(
                f"r={rank} instead",
                f"{dataset_size:,} examples are too few for a higher rank: it would memorise them",
                f"{S000} §Practical Recommendations (If overfitting: decrease rank) and {S001} §Few-Shot and Low-Resource Settings",
            )
        )
    return rank


def _roles(task: str | None, priority: str | None, reasons: list[Reason]) -> tuple[str, ...]:
    if task == "code":
        reasons.append(
            Reason(
                "adapt Q, K, V, O and the MLP",
                "code generation benefits from adapting all attention weights, and from the FFN",
                f"{S000} §Task-Specific Recommendations (Code Generation)",
            )
        )
        return (*ATTENTION_ROLES, FFN)
    roles: tuple[str, ...] = ATTENTION_ROLES if priority == "quality" else QV
    if priority == "quality":
        reasons.append(
            Reason(
                "adapt Q, K, V and O",
                "quality first: LoRA on all attention projections",
                f"{S001} §Practical Recommendations (General-Purpose Fine-tuning)",
            )
        )
    else:
        reasons.append(
            Reason(
                "adapt Q and V",
                "start with the query and value projections, expand only if needed",
                f"{S000} §Practical Recommendations (Starting Point) and §Common Pitfalls (Wrong target modules)",
            )
        )
    if task == "domain-adaptation":
        reasons.append(
            Reason(
                "adapt the MLP too",
                "domain adaptation adds knowledge, a significant behavioural change",
                f"{S001} §Practical Recommendations (Add FFN adaptation for tasks requiring significant behavioral change); {S000} §Task-Specific Recommendations (Domain Adaptation)",
            )
        )
        roles = (*roles, FFN)
    return roles


def _targets(base: Base, roles: tuple[str, ...]) -> list[str]:
    query_value = query_value_targets(base.tree)
    others = role_targets(base.tree, [r for r in roles if r not in QV])
    return in_role_order(base.tree, dict.fromkeys([*query_value, *others]))


def _prompt_tuning_blocker(request: Request, base: Base) -> str | None:
    """Why the guides advise against prompt tuning here, or None."""
    values = request.values
    if request.dialect != PEFT:
        return f"{request.dialect} has no prompt tuning"
    if base.task_type not in PEFT_MODEL_TASKS:
        return f"prompt tuning needs a task head peft knows, and {base.model.model_id} has none here"
    if base.params < PROMPT_MIN_PARAMS:
        return f"{base.model.model_id} has {base.size} parameters: soft prompts steer only large models ({S001} §When to Use Prompt Tuning: extremely large models)"
    if values.get("task") in DEEP_TASKS:
        return f"{values['task']} needs a change in the weights, not a steer ({S001} §When to Use Prompt Tuning: avoid for significant behavioral change)"
    size = values.get("dataset_size")
    if size is not None and size < PROMPT_MIN_EXAMPLES:
        return f"{size:,} examples are too few: prompt tuning is data-hungry ({S001} §When to Use Prompt Tuning: avoid when training data is limited)"
    if values.get("priority") == "quality":
        return f"it trails LoRA in quality ({S001} §Natural Language Understanding: GLUE 87.6 vs 89.5)"
    return None


def _prompt_tuning(base: Base) -> dict[str, Any]:
    config: dict[str, Any] = {"peft_type": "PROMPT_TUNING", "task_type": base.task_type, "num_virtual_tokens": PROMPT_TOKENS}
    embedding = next((m.out_features for m in base.tree.modules if m.name == base.tree.input_embedding), None)
    text = language_model_config(base.model.config)  # a multimodal model's prompt is its language model's
    width = text.get("hidden_size") or text.get("n_embd") or text.get("d_model")
    if embedding and embedding != width:  # peft would size the prompt by hidden_size (OPT-350m embeds at 512)
        config["token_dim"] = embedding
    return config


def _with_layout(base: Base, config: dict[str, Any]) -> dict[str, Any]:
    """`fan_in_fan_out: true` when the targets (given, or peft's defaults) are GPT-2's Conv1D layers,
    which keep their weight as in x out."""
    targets = config.get("target_modules") or default_target_modules(config["peft_type"], base.tree.model_type)
    if targets and conv1d_targets(base.tree, targets):
        return {**config, "fan_in_fan_out": True}
    return config


def _method(base: Base, peft_type: str, **values: Any) -> dict[str, Any]:
    task = {"task_type": base.task_type} if base.task_type else {}
    return _with_layout(base, {"peft_type": peft_type, **task, **values})


def _lora(base: Base, rank: int, targets: list[str] | str, dropout: float) -> dict[str, Any]:
    return _method(base, "LORA", r=rank, lora_alpha=2 * rank, lora_dropout=dropout, target_modules=targets)


def _label(config: Mapping[str, Any], quantization: str | None = None) -> str:
    if config["peft_type"] == "PROMPT_TUNING":
        return f"prompt tuning, {config['num_virtual_tokens']} tokens"
    name = "QLoRA" if quantization == "4bit" else "LoRA"
    targets = config.get("target_modules")
    where = targets if isinstance(targets, str) else ", ".join(targets or [])
    return f"{name} r={config['r']} on {where}"


def decide(request: Request, base: Base) -> tuple[dict[str, Any], list[Reason]]:
    """The method, rank and modules, step by step down [choosing-a-method]'s decision tree."""
    values = request.values
    task, deployment, priority = values.get("task"), values.get("deployment"), values.get("priority")
    variants = values.get("variants") or 1
    reasons = [
        Reason(
            f"base model {base.model.model_id}",
            f"{base.tree.model_type}, {base.size} parameters; adapting it for {task or 'an unstated task'}",
            f"{S002} Concept 3 (How strong is the base model already? How deep is the task shift?)",
        )
    ]
    if deployment in LATENCY_DEPLOYMENTS:
        reasons.append(
            Reason(
                "LoRA, merged into the base weights for serving (`merge_and_unload()`)",
                f"inference latency matters ({deployment}): merged LoRA adds no latency, prefix/prompt tuning and adapters cannot be merged",
                f"{S000} §Decision Tree (Is inference latency critical? Yes: LoRA) and §Inference Overhead; {S001} §Production Deployment",
            )
        )
    elif priority == "cost":
        blocker = _prompt_tuning_blocker(request, base)
        if blocker is None:
            reasons.append(
                Reason(
                    f"prompt tuning, {PROMPT_TOKENS} virtual tokens",
                    "compute is the constraint: the smallest trainable state and the fastest training",
                    f"{S000} §Decision Tree (Is compute extremely limited? Yes: Prompt Tuning) and §Quick Reference (Maximum efficiency)",
                )
            )
            return _prompt_tuning(base), reasons
        reasons.append(
            Reason(
                "LoRA, not prompt tuning",
                f"compute is the constraint, but {blocker}",
                f"{S000} §Decision Tree (Is compute extremely limited?) and {S001} §When to Use Prompt Tuning",
            )
        )
    elif task == "classification":
        reasons.append(
            Reason(
                "LoRA",
                "a simple task: few parameters, quick training, little risk of overfitting",
                f"{S000} §Decision Tree (Is the task simple? Prompt Tuning or LoRA r=4) and §Task-Specific Recommendations (Classification)",
            )
        )
    elif task == "multi-task" or variants > 1 or deployment == "multi-tenant":
        what = "several tasks" if task == "multi-task" else f"{variants} variants" if variants > 1 else "a multi-tenant deployment"
        reasons.append(
            Reason(
                "one compact LoRA adapter per task or tenant, kept separate and loaded at runtime",
                f"{what}: small, modular artifacts are easy to swap and combine (peft has no bottleneck adapters; LoRAs load side by side)",
                f"{S000} §Decision Tree (combine multiple tasks: Adapters) and §Combining Methods (Multiple LoRAs); {S001} §Production Deployment (multi-tenant serving: keep LoRA weights separate); {S002} Concept 3 (many variants favor compact, modular artifacts)",
            )
        )
    else:
        reasons.append(
            Reason(
                "LoRA",
                "no latency, compute or multi-task constraint: the guides' default",
                f"{S000} §Decision Tree (Default recommendation: LoRA r=8, alpha=16); {S001} §When to Use LoRA",
            )
        )
    rank = _rank(task, priority, values.get("dataset_size"), reasons)
    targets = _targets(base, _roles(task, priority, reasons))
    reasons.append(
        Reason(
            f"target_modules: {', '.join(targets)}",
            f"the names these roles have in {base.tree.model_type}",
            f"[peft-source] src/peft/utils/constants.py (default LoRA targets per model type); {S000} §Common Pitfalls (Wrong target modules)",
        )
    )
    if base.task_type == "SEQ_CLS":
        reasons.append(
            Reason(
                "task_type: SEQ_CLS",
                "a new classification head on the base model; peft trains it in full next to the adapter (modules_to_save)",
                f"[peft-source] src/peft/peft_model.py (PeftModelForSequenceClassification adds the classifier to modules_to_save); {S000} §Task-Specific Recommendations (Classification)",
            )
        )
    small_data = values.get("dataset_size") is not None and values["dataset_size"] < PROMPT_MIN_EXAMPLES
    return _lora(base, rank, targets, SMALL_DATA_DROPOUT if small_data else DROPOUT), reasons


# --- the budget -----------------------------------------------------------------------------------


def start_training(request: Request) -> Training:
    """How the run trains before any remedy: 16-bit, AdamW, the profile's sequence length and micro-batch."""
    from peftlint.enrich.distributed import plan_from
    from peftlint.settings.profile import ProfileError

    # the profile's `stack`: the adapter dtype and the loss the budget is judged with
    sizes = {key: request.values[key] for key in ("seq_len", "batch_size", "stack") if request.values.get(key)}
    try:  # the profile's GPUs and strategy: the budget is per GPU
        plan = plan_from(request.values)
    except ValueError as exc:
        raise ProfileError(str(exc)) from None
    return Training(plan=plan, **sizes)


def _effective(config: Mapping[str, Any]) -> dict[str, Any]:
    return {**effective_config(config, str(config["peft_type"])), "peft_type": config["peft_type"]}


def peak_bytes(base: Base, config: Mapping[str, Any], training: Training) -> int | None:
    memory = analyze(base.model, _effective(config), str(config["peft_type"]), training, tree=base.tree).memory
    return None if memory is None else memory.total_bytes


def _gib(value: int) -> str:
    return f"{value / GIB:.1f} GiB"


def _canonical(config: Mapping[str, Any], effective: Mapping[str, Any]) -> dict[str, Any]:
    """`config` with the values a remedy changed (rank, alpha) taken from `effective`."""
    return {key: effective.get(key, value) for key, value in config.items()}


def fit_budget(request: Request, base: Base, config: dict[str, Any]) -> tuple[Plan, list[Reason]]:
    """The config and training that fit `gpu_memory`, with the remedies that were needed."""
    training = start_training(request)
    budget = request.budget
    plan = Plan(_label(config), config, training)
    if budget is None:
        return plan, [
            Reason(
                "no memory budget",
                "no --gpu-memory given: the estimate is for one GPU at the stated sequence length",
                f"{S001} §Memory Footprint Analysis",
            )
        ]
    peak = peak_bytes(base, config, training)
    if peak is not None and peak <= budget:
        unquantized = Reason(
            "16-bit base weights, no remedy needed",
            f"estimated peak {_gib(peak)} of {_gib(budget)}: 4-bit would only cost speed (~10-20%) and possibly quality",
            f"{S001} §When to Use QLoRA (Avoid QLoRA when you have access to more memory)",
        )
        return plan, [unquantized]
    analysis = analyze(base.model, _effective(config), plan.peft_type, training, tree=base.tree)
    remedies = memory_remedies(analysis, _effective(config), plan.peft_type, training, budget)
    reasons = [
        Reason(
            f"train with {r.change}",
            f"estimated peak {_gib(r.total_bytes)} ({'fits' if r.fits else 'still above'} {_gib(budget)})",
            _remedy_source(r.change),
        )
        for r in remedies
    ]
    if remedies and remedies[-1].fits:
        return _remedied(_canonical(config, remedies[-1].effective), remedies[-1].training, training), reasons
    lean_training = remedies[-1].training if remedies else training
    lean = _canonical(config, remedies[-1].effective) if remedies else config
    if lean["peft_type"] == "LORA":
        narrower = {**lean, "target_modules": query_value_targets(base.tree)}
        if narrower["target_modules"] != lean.get("target_modules"):
            peak = peak_bytes(base, narrower, lean_training)
            if peak is not None:
                reasons.append(
                    Reason(
                        "adapt Q and V only",
                        f"estimated peak {_gib(peak)} ({'fits' if peak <= budget else 'still above'} {_gib(budget)})",
                        f"{S000} §Practical Recommendations (Starting Point: Q and V)",
                    )
                )
                lean = narrower
                if peak <= budget:
                    return _remedied(lean, lean_training, training), reasons
    raise NothingFits(_nothing_fits(request, base, lean, lean_training, budget), reasons)


def _remedied(config: dict[str, Any], training: Training, start: Training) -> Plan:
    """The plan after remedies; a smaller micro-batch keeps the stated batch by gradient accumulation."""
    accumulation = start.batch_size if training.batch_size < start.batch_size else 1
    return Plan(_label(config, training.quantization), config, training, accumulation)


def _remedy_source(change: str) -> str:
    if "QLoRA" in change:
        return f"{S001} §When to Use QLoRA and §Extreme Resource Constraints (QLoRA with r=8); {S004} §QLoRA (Best for memory-constrained training)"
    if "checkpointing" in change:
        return f"{S001} §Extreme Resource Constraints (Gradient checkpointing trades compute for memory)"
    if "r=8" in change:
        return f"{S001} §Extreme Resource Constraints (QLoRA with r=8)"
    return f"{S001} §Memory Footprint Analysis (activations grow with the tokens per step)"


def _longest_fitting(fits: Callable[[int], bool], high: int) -> int | None:
    """The largest n in [SEQ_LEN_FLOOR, high) with fits(n), by bisection (memory grows with n)."""
    if high <= SEQ_LEN_FLOOR or not fits(SEQ_LEN_FLOOR):
        return None
    low = SEQ_LEN_FLOOR
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


def _smaller_model(request: Request, base: Base, training: Training, budget: int) -> str | None:
    """The largest bundled model of the same kind that trains within the budget the same lean way."""
    from peftlint.enrich.bundled import bundled_config, bundled_ids

    best: tuple[int, str, int] | None = None
    for model_id in bundled_ids():
        config = bundled_config(model_id)
        if config is None or published_task_type(config) != published_task_type(base.model.config):
            continue
        try:
            other = Base(
                ModelConfig(model_id, config, "bundled"),
                module_tree(ModelConfig(model_id, config, "bundled"), base.task_type),
                base.task_type,
            )
        except ModelFactsError:  # no such head for this model
            continue
        if other.params >= base.params:
            continue
        peak = peak_bytes(other, _lora(other, DEFAULT_RANK, query_value_targets(other.tree), DROPOUT), training)
        if peak is not None and peak <= budget and (best is None or other.params > best[0]):
            best = (other.params, model_id, peak)
    if best is None:
        return None
    return f"a smaller model: {best[1]} ({best[0] / 1e9:.1f}B parameters) trains the same way in {_gib(best[2])}"


def _nothing_fits(request: Request, base: Base, config: Mapping[str, Any], training: Training, budget: int) -> str:
    peak = peak_bytes(base, config, training) or 0
    options = [f"more memory: at least {math.ceil(peak / GIB)} GiB per GPU for {base.model.model_id} at {training.seq_len} tokens"]
    longest = _longest_fitting(lambda n: (peak_bytes(base, config, training._replace(seq_len=n)) or 0) <= budget, training.seq_len)
    if longest is not None:
        options.append(f"shorter sequences: at most {longest:,} tokens fit")
    smaller = _smaller_model(request, base, training, budget)
    if smaller is not None:
        options.append(smaller)
    label = _label(config, training.quantization)
    return f"nothing fits {_gib(budget)}: even {label} with every remedy needs {_gib(peak)}; what would fit: " + "; ".join(options)


# --- what `check` will say ------------------------------------------------------------------------


def checked(request: Request, plan: Plan) -> tuple[list[Finding], dict[str, Any]]:
    """The warnings and errors `peftlint check` reports on the file this plan is written as, and
    the facts they come from."""
    data = file_mapping(
        plan.config,
        plan.training,
        request.dialect,
        model_id=request.model.model_id,
        accumulation=plan.accumulation,
        distributed=plan.training.plan,
        layer_classes=request.layer_classes or (),
    )
    config = to_peft_config(Document("<recommended>", "yaml", data))
    assert config is not None  # every mapping file_mapping writes is a PEFT config
    # a plain PEFT config cannot say how training runs: the plan's settings stand in for the file's
    training = plan.training if request.dialect == PEFT else None
    enricher = Enricher(ModelOptions(resolved=request.model, training=training))
    profile_values = dict(request.values)
    if "batch_size" in profile_values:
        profile_values["batch_size"] = plan.training.batch_size
    linted = lint_config(config, request.settings, enricher, Profile(profile_values))
    return [f for f in linted.findings if f.severity != "info"], linted.facts


def objections(request: Request, plan: Plan) -> list[Finding]:
    return checked(request, plan)[0]


# Repairs for what a rule still objects to, most specific first: each returns a new config or None.
def _compact(base: Base, config: dict[str, Any]) -> dict[str, Any] | None:
    """[peft-lesson]: many variants favour compact artifacts: drop the MLP, then K and O, then halve the rank."""
    if config["peft_type"] != "LORA":
        return None
    query_value = query_value_targets(base.tree)
    if config["target_modules"] != query_value:
        attention = [t for t in config["target_modules"] if t not in role_targets(base.tree, [FFN])]
        narrower = attention if attention != config["target_modules"] else query_value
        return _lora(base, config["r"], narrower, config["lora_dropout"])
    if config["r"] > 4:
        return _lora(base, config["r"] // 2, query_value, config["lora_dropout"])
    return None


REPAIRS: dict[str, tuple[str, Callable[[Base, dict[str, Any]], dict[str, Any] | None]]] = {
    "PL303": (f"{S002} Concept 3 (many variants favor compact, modular artifacts)", _compact),
}


def settle(request: Request, base: Base, config: dict[str, Any], reasons: list[Reason]) -> tuple[Plan, list[Reason], list[Finding]]:
    """Fit the budget, then repair what the rules still object to; the guides' default last."""
    plan, budget_reasons = fit_budget(request, base, config)
    found = objections(request, plan)
    while found:
        finding = next((f for f in found if f.code in REPAIRS), None)
        if finding is None:
            break
        source, repair = REPAIRS[finding.code]
        repaired = repair(base, plan.config)
        if repaired is None:
            break
        reasons = [*reasons, Reason(f"instead: {_label(repaired)}", finding.message, source)]
        plan, budget_reasons = fit_budget(request, base, repaired)
        found = objections(request, plan)
    default = _lora(base, DEFAULT_RANK, query_value_targets(base.tree), DROPOUT)
    if found and plan.config != default:
        fallback, fallback_reasons = fit_budget(request, base, default)
        if not objections(request, fallback):
            why = Reason(
                f"instead: {fallback.label}, the guides' default",
                f"{_label(plan.config)} would get {found[0].code}: {found[0].message}",
                f"{S000} §Decision Tree (Default recommendation) and §Summary",
            )
            return fallback, [*reasons, why, *fallback_reasons], []
    return plan, [*reasons, *budget_reasons], found


# --- alternatives ---------------------------------------------------------------------------------


def _candidates(request: Request, base: Base, chosen: Plan) -> list[tuple[str, dict[str, Any], Training, str]]:
    """(label, config, training, the guides' reason not to) for the usual other choices, in the guides' order."""
    training, values = chosen.training, request.values
    query_value = query_value_targets(base.tree)
    attention = _targets(base, ATTENTION_ROLES)
    rank = chosen.config.get("r", DEFAULT_RANK)
    rows: list[tuple[str, dict[str, Any], Training, str]] = []
    default = _lora(base, DEFAULT_RANK, query_value, DROPOUT)
    rows.append(
        (
            _label(default),
            default,
            training,
            f"the guides' starting point; {chosen.label} suits this task better ({S000} §Task-Specific Recommendations)",
        )
    )
    wide = _lora(base, 16, attention, DROPOUT)
    rows.append(
        (
            _label(wide),
            wide,
            training,
            f"more capacity than needed to start: raise rank and targets only if the model underfits ({S000} §Common Pitfalls: Rank too high; {S001} §General-Purpose Fine-tuning)",
        )
    )
    all_linear = _lora(base, 16, "all-linear", DROPOUT)
    rows.append(
        (
            "LoRA r=16 on all-linear",
            all_linear,
            training,
            f"every linear layer: a larger adapter and slower steps for a first run ({S000} §Common Pitfalls: start low, increase if needed)",
        )
    )
    if chosen.peft_type == "LORA" and training.quantization is None:
        qlora = training._replace(quantization="4bit", double_quant=True)
        fits = "the 16-bit run fits" if request.budget else "no memory limit given"
        rows.append(
            (
                _label(chosen.config, "4bit"),
                chosen.config,
                qlora,
                f"{fits}: 4-bit base weights only cost ~10-20% speed and possibly quality ({S001} §When to Use QLoRA: avoid when you have more memory)",
            )
        )
    if chosen.peft_type == "LORA" and training.quantization == "4bit":
        plain = training._replace(quantization=None, double_quant=False)
        rows.append(
            (
                _label(chosen.config),
                chosen.config,
                plain,
                f"16-bit base weights do not fit the budget ({S004} §QLoRA: best for memory-constrained training)",
            )
        )
    ia3 = _method(base, "IA3")
    rows.append(
        ("IA3", ia3, training, f"typically 1-2% below LoRA, and it cannot learn entirely new capabilities ({S001} §When to Use IA³)")
    )
    if base.task_type in PEFT_MODEL_TASKS:
        if chosen.peft_type != "PROMPT_TUNING":
            prompt = _prompt_tuning(base)
            why = (
                _prompt_tuning_blocker(request._replace(dialect=PEFT), base)
                or f"the least capacity: it only steers the frozen model ({S002} §Troubleshooting: prompt tuning is tiny, but only if the task mainly needs steering)"
            )
            rows.append((_label(prompt), prompt, training, why))
        prefix = {"peft_type": "PREFIX_TUNING", "task_type": base.task_type, "num_virtual_tokens": PROMPT_TOKENS}
        rows.append(
            (
                f"prefix tuning, {PROMPT_TOKENS} tokens",
                prefix,
                training,
                f"cannot be merged, lengthens every sequence, and leaves the FFN unchanged ({S000} §Inference Overhead; {S001} §When to Use Prefix Tuning)",
            )
        )
    steps = _total_steps(values, training)
    adalora = _method(base, "ADALORA", init_r=12, target_r=rank, target_modules=query_value, **({"total_step": steps} if steps else {}))
    size = "below ~70B it is overkill" if base.params < ADALORA_MIN_PARAMS else "it needs a rank schedule"
    rows.append((f"AdaLoRA r={rank}", adalora, training, f"{size}: slower, more to configure, harder to merge or swap ({S004} §AdaLoRA)"))
    return [row for row in rows if row[1] != chosen.config or row[2] != chosen.training]


def _total_steps(values: Mapping[str, Any], training: Training) -> int | None:
    """AdaLoRA's schedule length: one epoch of the data set at the stated batch size, times three."""
    size = values.get("dataset_size")
    if size is None:
        return None
    steps: int = 3 * math.ceil(size / (values.get("batch_size") or training.batch_size))
    return steps


def alternatives(request: Request, base: Base, chosen: Plan) -> list[Alternative]:
    """The other usual choices, each with the guides' reason and what `check` would say, best first."""
    found: list[Alternative] = []
    budget = request.budget
    for order, (label, config, training, reason) in enumerate(_candidates(request, base, chosen)):
        plan = Plan(label, config, training)
        objected, facts = checked(request._replace(dialect=PEFT), plan)
        peak = ((facts["model"] or {}).get("memory") or {}).get("total_bytes")
        over = budget is not None and peak is not None and peak > budget
        notes = [reason]
        notes += [f"{f.code} {f.name}" for f in objected]
        if over and peak is not None:
            notes.append(f"needs {_gib(peak)} of {_gib(budget or 0)}")
        errors = sum(f.severity == "error" for f in objected)
        found.append(Alternative(label, config, "; ".join(notes), (errors, len(objected), over, order)))
    return sorted(found, key=lambda a: a.rank)


# Strategies on several GPUs, fastest first: DDP replicates everything and only all-reduces
# gradients; ZeRO-2 / SHARD_GRAD_OP shard gradients and optimizer states (same per-GPU memory, so
# SHARD_GRAD_OP is reached only if ZeRO-2 is judged differently); full sharding gathers every
# layer's weights twice a step; offloading moves the optimizer step, then the weights, over PCIe.
STRATEGY_ORDER = (
    ("ddp", "none"),
    ("zero2", "none"),
    ("fsdp-shard-grad-op", "none"),
    ("fsdp", "none"),
    ("zero3", "none"),
    ("zero3", "optimizer"),
    ("zero3", "params"),
)
# On several nodes, HYBRID_SHARD comes before the strategies that gather weights across nodes:
# it shards within each node and replicates across nodes, so every layer's all-gather and
# reduce-scatter stays on the node's own links and only the gradient all-reduce crosses nodes
# (PyTorch `ShardingStrategy.HYBRID_SHARD`; accelerate fsdp_sharding_strategy 4), which for an
# adapter is its small gradients. It holds the shards of one node's GPUs, no more than
# SHARD_GRAD_OP's whole weights, so once it does not fit SHARD_GRAD_OP does not either.
HYBRID = ("fsdp-hybrid", "none", 1)
# DeepSpeed's counterpart, ZeRO++ hierarchical partitioning: ZeRO-3 plus a second copy of the
# weights sharded within each node, which the backward all-gather reads (DeepSpeed
# `zero_hpz_partition_size`, the ZeRO++ tutorial: set to the GPUs per node). It keeps half of the
# gathers inside a node for one node's shard of the weights more, so on several nodes it comes
# before the strategies whose every gather crosses nodes (FULL_SHARD, plain ZeRO-3).
S_DEEPSPEED = "[deepspeed]"
S_ACCELERATE = "[accelerate]"


def _with_strategy(request: Request, strategy: str, offload: str, hpz: int = 1) -> Request:
    values = {k: v for k, v in request.values.items() if k != "hpz_partition_size"}
    values.update(strategy=strategy, offload=offload, **({"hpz_partition_size": hpz} if hpz > 1 else {}))
    return request._replace(profile=request.profile._replace(values=values))


def choose_strategy(request: Request, base: Base, config: Mapping[str, Any]) -> tuple[Request, list[Reason]]:
    """On several GPUs with no strategy given: the fastest one (STRATEGY_ORDER) whose per-GPU peak
    for `config` fits `gpu_memory`, before any remedy; the request carries it as the profile's
    `strategy` and `offload`, so every later estimate, remedy and written file uses it. With no
    budget: DDP (nothing to fit). If none fits, the one that needs least, and the remedies follow."""
    values = request.values
    if (values.get("num_gpus") or 1) < 2 or values.get("strategy"):
        return request, []
    budget = request.budget
    if budget is None:
        reason = Reason(
            "DDP over the GPUs",
            "no --gpu-memory given: the fastest strategy, each GPU holds the whole model; give --gpu-memory to have the strategy chosen by what fits",
            f"{S_ACCELERATE} concept_guides/fsdp_and_deepspeed.md",
        )
        return _with_strategy(request, "ddp", "none"), [reason]
    rejected: list[str] = []
    smallest: tuple[int, str, str, int] | None = None
    # LLaMA-Factory's YAML names DeepSpeed configs only (FSDP needs an accelerate config beside it):
    # ZeRO-3 shards as FSDP does, so its file stays the whole launch
    order = [(strategy, offload, 1) for strategy, offload in STRATEGY_ORDER]
    nodes = values.get("num_nodes") or 1
    if nodes > 1:
        order.insert(order.index(("fsdp-shard-grad-op", "none", 1)), HYBRID)
        order.insert(order.index(("fsdp", "none", 1)), ("zero3", "none", int(values["num_gpus"]) // nodes))
    order = [c for c in order if request.dialect != LLAMA_FACTORY or not c[0].startswith("fsdp")]
    if values.get("offload") not in (None, "none"):  # a given offload is kept, as a given strategy is
        order = [c for c in order if c[1] == values["offload"]]
    for strategy, offload, hpz in order:
        trial = _with_strategy(request, strategy, offload, hpz)
        training = start_training(trial)
        peak = peak_bytes(base, config, training)
        if peak is None:
            continue
        if peak <= budget:
            why = f"{_gib(peak)} per GPU of {_gib(budget)}, the fastest strategy that fits"
            if rejected:
                why += " (faster but too large: " + "; ".join(rejected) + ")"
            why += _across_nodes(training.plan, hybrid_tried=HYBRID in order)
            return trial, [
                Reason(
                    f"train with {training.plan.describe()}",
                    why,
                    f"{S_DEEPSPEED} ZeRO stages; {S_ACCELERATE} concept_guides/fsdp_and_deepspeed.md, fsdp_sharding_strategy",
                )
            ]
        rejected.append(f"{training.plan.describe()} {_gib(peak)}")
        if smallest is None or peak < smallest[0]:
            smallest = (peak, strategy, offload, hpz)
    if smallest is None:
        return request, []
    trial = _with_strategy(request, *smallest[1:])
    why = f"no strategy fits {_gib(budget)} per GPU as the config stands ({'; '.join(rejected)}): the one that needs least, then the memory remedies"
    return trial, [
        Reason(
            f"train with {start_training(trial).plan.describe()}",
            why,
            f"{S_DEEPSPEED} ZeRO-Offload; {S_ACCELERATE} concept_guides/fsdp_and_deepspeed.md",
        )
    ]


def _across_nodes(plan: DistributedPlan, *, hybrid_tried: bool) -> str:
    """What the chosen strategy sends between nodes, on several nodes (`hybrid_tried`: HYBRID_SHARD
    was a candidate and did not fit)."""
    if plan.num_nodes < 2:
        return ""
    if plan.strategy == "fsdp-hybrid":
        return (
            f"; on {plan.num_nodes} nodes HYBRID_SHARD shards within each node's {plan.gpus_per_node} GPUs and replicates across nodes,"
            " so the per-layer all-gathers stay inside a node and only the adapter's gradients cross between nodes"
        )
    if plan.hpz_partition_size > 1:
        return (
            f"; on {plan.num_nodes} nodes ZeRO++ hpZ keeps a second copy of the weights sharded within each node's"
            f" {plan.hpz_partition_size} GPUs (counted above), so the backward all-gathers stay inside a node; the forward's cross nodes"
        )
    if plan.strategy in ("fsdp", "fsdp-shard-grad-op", "zero3"):
        avoid = ", which HYBRID_SHARD's sharding within a node (too large here) would avoid" if hybrid_tried else ""
        return f"; its weight all-gathers cross the {plan.num_nodes} nodes every step{avoid}"
    return f"; only gradients cross between the {plan.num_nodes} nodes"


def recommend(request: Request) -> Recommendation:
    """The recommended config for the request; raises NothingFits or RecommendError."""
    base = base_model(request)
    config, reasons = decide(request, base)
    request, strategy_reasons = choose_strategy(request, base, config)
    reasons += strategy_reasons
    plan, reasons, found = settle(request, base, config, reasons)
    reasons += _serving(request, plan)
    result = estimate(request.model, _effective(plan.config), plan.peft_type, plan.training, [])
    return Recommendation(request, plan, reasons, result, alternatives(request, base, plan), found)


def _serving(request: Request, plan: Plan) -> list[Reason]:
    deployment = request.values.get("deployment")
    if plan.peft_type != "LORA":
        return []
    if deployment in LATENCY_DEPLOYMENTS:
        return [
            Reason(
                "serve merged: `model = model.merge_and_unload()`",
                "zero inference overhead once merged",
                f"{S000} §Practical Recommendations (Production Deployment: merge weights)",
            )
        ]
    if deployment == "multi-tenant" or (request.values.get("variants") or 1) > 1:
        return [
            Reason(
                "serve unmerged, one adapter per tenant or variant (`load_adapter`, `set_adapter`)",
                "one base model in memory, adapters switched per request",
                f"{S001} §Production Deployment (multi-tenant serving: keep LoRA weights separate)",
            )
        ]
    return []
