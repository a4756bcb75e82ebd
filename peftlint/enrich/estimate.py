"""`peftlint estimate`: exact parameter counts, adapter size and memory for one config on one model."""

from functools import partial
from typing import Any, Mapping, NamedTuple

from peftlint import __version__
from peftlint.enrich.analysis import GIB, Analysis, Training, analyze, model_task_type, stored_as
from peftlint.enrich.memory import ModelDims, estimate_inference_memory, memory_figures
from peftlint.enrich.model import ModelConfig
from peftlint.enrich.targets import PROMPT_LEARNING_TYPES, default_target_modules
from peftlint.finding import Finding

MERGEABLE = frozenset({"LORA", "ADALORA", "IA3", "LOHA", "LOKR", "OFT", "BOFT", "VERA"})


class Estimate(NamedTuple):
    """The JSON contract of `peftlint estimate --format json` (see README)."""

    model: str
    model_type: str
    peft_type: str
    trainable_params: int | None
    total_params: int | None
    trainable_percent: float | None
    adapter_bytes: int | None
    memory: dict[str, Any] | None
    inference: dict[str, Any] | None
    warnings: list[str]
    findings: list[Finding]

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": __version__,
            "model": self.model,
            "model_type": self.model_type,
            "peft_type": self.peft_type,
            "trainable_params": self.trainable_params,
            "total_params": self.total_params,
            "trainable_percent": self.trainable_percent,
            "adapter_bytes": self.adapter_bytes,
            "memory": self.memory,
            "inference": self.inference,
            "warnings": self.warnings,
            "findings": [f.to_dict() for f in self.findings],
        }


def _inference(analysis: Analysis, effective: Mapping[str, Any], peft_type: str, training: Training) -> dict[str, Any] | None:
    counts = analysis.counts
    if counts is None:
        return None
    dims = ModelDims.from_config(analysis.model.config)
    try:
        training, prequantized = stored_as(analysis.model, training)
    except ValueError:  # a storage not modelled (AQLM, ...): no figure, as for training (memory_error says why)
        return None
    tokens = int(effective.get("num_virtual_tokens") or 0) if peft_type in PROMPT_LEARNING_TYPES else 0
    inference = partial(
        estimate_inference_memory,
        dims,
        total_params=analysis.tree.total_params,
        adapter_params=counts.adapter_params,
        peft_type=peft_type,
        num_virtual_tokens=tokens,
        dtype=training.dtype,
        quantization=training.quantization,
        double_quant=training.double_quant,
        prequantized=prequantized,
        batch_size=1,
        seq_len=training.seq_len,
    )
    unmerged = inference(merged=False)
    view: dict[str, Any] = {"unmerged": unmerged.to_dict(), "mergeable": peft_type in MERGEABLE}
    if peft_type in MERGEABLE:
        view["merged"] = inference(merged=True).to_dict()
        view["latency"] = "none once merged (`merge_and_unload()`); unmerged adapters add extra matmuls per targeted layer on every token"
    else:
        view["latency"] = unmerged.assumptions.get("latency", "the adapter runs on every request: it cannot be merged")
    return view


def _memory_view(memory: dict[str, Any]) -> dict[str, Any]:
    """The estimate's `memory` with its three peaks (allocated, reserved, device total) up front."""
    return {**memory_figures(memory["total_bytes"], memory["breakdown"]), **memory}


def estimate(
    model: ModelConfig,
    config: Mapping[str, Any],
    peft_type: str,
    training: Training,
    findings: list[Finding],
    analysis: Analysis | None = None,
) -> Estimate:
    """Counts and memory; none when peft would reject the config on this model (see `findings`).

    `analysis`: the one the lint of the same config already made, if any."""
    analysis = analysis or analyze(model, config, peft_type, training, exact=True)
    warnings = []
    if analysis.counts_error:
        warnings.append(f"no exact counts: {analysis.counts_error}")
    if analysis.memory_error:
        warnings.append(f"no memory estimate: {analysis.memory_error}")
    counts, memory = analysis.counts, analysis.memory
    # peft's own refusals (PL0xx, PL2xx) leave nothing to count; a budget error (PL4xx), a
    # distributed-setup one (PL6xx) or an invalid profile block (PL300, estimated without it) does not
    rejected = any(f.severity == "error" and not f.code.startswith(("PL4", "PL6", "PL300")) for f in findings)
    return Estimate(
        model=model.model_id,
        model_type=analysis.tree.model_type,
        peft_type=peft_type,
        trainable_params=None if rejected or counts is None else counts.trainable,
        total_params=None if rejected or counts is None else counts.total,
        trainable_percent=None if rejected or counts is None else round(counts.trainable_percent, 4),
        adapter_bytes=None if rejected or counts is None else counts.adapter_bytes,
        memory=None if rejected or memory is None else _memory_view(memory.to_dict()),
        inference=None if rejected else _inference(analysis, config, peft_type, training),
        warnings=warnings,
        findings=findings,
    )


def alternatives(model: ModelConfig, task_type: str | None) -> list[tuple[str, str, dict[str, Any], Training | None]]:
    """The usual choices for `--compare`: (label, peft_type, config, training override)."""
    model_type = str(model.config.get("model_type", ""))
    qv = default_target_modules("LORA", model_type)
    base = {"task_type": task_type} if task_type else {}
    rows: list[tuple[str, str, dict[str, Any], Training | None]] = []
    if qv is not None:
        rows.append(("LoRA r=8 on Q,V", "LORA", {**base, "r": 8, "lora_alpha": 16, "target_modules": qv}, None))
    rows += [
        ("LoRA r=16 all-linear", "LORA", {**base, "r": 16, "lora_alpha": 32, "target_modules": "all-linear"}, None),
        (
            "QLoRA r=16 all-linear",
            "LORA",
            {**base, "r": 16, "lora_alpha": 32, "target_modules": "all-linear"},
            Training(quantization="4bit", double_quant=True),
        ),
    ]
    if default_target_modules("IA3", model_type) is not None:
        rows.append(("IA3", "IA3", dict(base), None))
    if task_type:
        rows += [
            ("prefix tuning, 200 tokens", "PREFIX_TUNING", {**base, "num_virtual_tokens": 200}, None),
            ("prompt tuning, 200 tokens", "PROMPT_TUNING", {**base, "num_virtual_tokens": 200}, None),
        ]
    return rows


def compare(model: ModelConfig, config: Mapping[str, Any], training: Training) -> list[dict[str, Any]]:
    task_type = model_task_type(config, model.config)
    rows = []
    for label, peft_type, alt_config, override in alternatives(model, task_type):
        alt_training = (
            training if override is None else training._replace(quantization=override.quantization, double_quant=override.double_quant)
        )
        result = estimate(model, {"peft_type": peft_type, **alt_config}, peft_type, alt_training, [])
        rows.append(
            {
                "label": label,
                "config": {"peft_type": peft_type, **alt_config},
                **{
                    k: v
                    for k, v in result.to_dict().items()
                    if k in ("trainable_params", "trainable_percent", "adapter_bytes", "memory", "warnings")
                },
            }
        )
    return rows


# what `--compare` sets side by side on several GPUs: replicated, ZeRO-2, the two full shardings, offload
STRATEGY_ALTERNATIVES = (("ddp", "none"), ("zero2", "none"), ("zero3", "none"), ("fsdp", "none"), ("fsdp", "params"))


def compare_strategies(model: ModelConfig, config: Mapping[str, Any], peft_type: str, training: Training) -> list[dict[str, Any]]:
    """The same config under each usual strategy on the same GPUs: per-GPU peak and host RAM."""
    from peftlint.enrich.distributed import Plan, check_plan

    rows = []
    current = training.plan
    for strategy, offload in STRATEGY_ALTERNATIVES:
        plan = Plan(strategy, current.num_gpus, current.num_nodes, offload, current.fsdp_version)
        if (plan.strategy, plan.offload) == (current.strategy, current.offload):
            continue
        try:
            check_plan(plan)
        except ValueError:
            continue
        result = estimate(model, {"peft_type": peft_type, **config}, peft_type, training._replace(plan=plan), [])
        label = plan.describe()
        rows.append(
            {
                "label": label,
                "config": {"peft_type": peft_type, **config},
                "distributed": plan.to_dict(),
                **{
                    k: v
                    for k, v in result.to_dict().items()
                    if k in ("trainable_params", "trainable_percent", "adapter_bytes", "memory", "warnings")
                },
            }
        )
    return rows


def _size(n: int | None) -> str:
    if n is None:
        return "unknown"
    for unit, size in (("GiB", GIB), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def render_text(
    result: Estimate, training: Training, gpu_bytes: int | None, comparison: list[dict[str, Any]] | None, config_path: str | None = None
) -> str:
    """The estimate as `peftlint estimate` prints it; a finding in another file than `config_path`
    (a DeepSpeed JSON the training YAML names) shows where it is."""
    lines = [f"{result.model} ({result.model_type}) with {result.peft_type}"]
    if result.trainable_params is not None:
        lines += [
            f"  trainable params   {result.trainable_params:,} of {result.total_params:,} ({result.trainable_percent:.4f}%)",
            f"  adapter file       {_size(result.adapter_bytes)} ({result.adapter_bytes:,} bytes, adapter_model.safetensors)",
        ]
    if result.memory is not None:
        weights = result.memory.get("assumptions", {}).get("weights")
        # a base stored quantized (config.json's quantization_config) shows as the estimate counted it
        stored = isinstance(weights, str) and weights not in ("bf16", "fp16", "fp32")
        quantized = training.quantization or (
            weights.split(",")[0] if stored and weights.startswith("bitsandbytes") else weights if stored else None
        )
        settings = f"{training.dtype}{', ' + quantized.split(':')[0] if quantized else ''}, {training.optimizer}, batch {training.batch_size} x {training.seq_len} tokens, gradient checkpointing {'on' if training.gradient_checkpointing else 'off'}"
        plan = training.plan
        where = "" if plan.strategy == "single" else f" per GPU, {plan.describe()}"
        lines.append(f"  training peak      {_size(result.memory['total_bytes'])}{where}  ({settings})")
        for term, value in sorted(result.memory["breakdown"].items(), key=lambda kv: -kv[1]):
            if value:
                lines.append(f"    {term.replace('_', ' '):<24}{_size(value):>12}")
        if gpu_bytes:
            verdict = "fits" if result.memory["total_bytes"] <= gpu_bytes else "does NOT fit"
            lines.append(f"  GPU                {_size(gpu_bytes)}{' each' if where else ''}: {verdict}")
        if plan.strategy != "single":
            cpu = result.memory.get("cpu_breakdown", {})
            lines.append(f"  host RAM per node  {_size(result.memory.get('cpu_bytes'))}")
            for term, value in sorted(cpu.items(), key=lambda kv: -kv[1]):
                if value:
                    lines.append(f"    {term.replace('_', ' '):<24}{_size(value):>12}")
    if result.inference is not None:
        inference = result.inference
        serving = f"{_size(inference['unmerged']['total_bytes'])} unmerged"
        if "merged" in inference:
            serving = f"{_size(inference['merged']['total_bytes'])} merged, " + serving
        lines.append(f"  inference          {serving} (batch 1 x {training.seq_len}); latency: {inference['latency']}")
    lines += [f"  warning: {w}" for w in result.warnings]
    for f in result.findings:
        place = (
            f"{f.file}:{f.line}:{f.column}: "
            if config_path is not None and f.file not in (None, config_path) and f.line is not None
            else ""
        )
        lines.append(f"  {f.code} [{f.severity}] {place}{f.message}")
    if comparison:
        lines += ["", f"  {'alternative':<28}{'trainable':>14}{'adapter':>12}{'training peak':>16}"]
        for row in comparison:
            peak = _size(row["memory"]["total_bytes"]) if row.get("memory") else "n/a"
            trainable = f"{row['trainable_params']:,}" if row.get("trainable_params") is not None else "n/a"
            lines.append(f"  {row['label']:<28}{trainable:>14}{_size(row.get('adapter_bytes')):>12}{peak:>16}")
    return "\n".join(lines) + "\n"
