"""`peftlint recommend` output: a config file to use (YAML, Python), the JSON document, or a report.

YAML and Python files carry the rationale as comments and the profile they were made for, so
`peftlint check FILE` re-checks them in the same situation.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Mapping

import yaml

from peftlint.enrich.analysis import Training
from peftlint.enrich.estimate import render_text
from peftlint.normalize import PROFILE_KEY, peft_types
from peftlint.recommender import Recommendation
from peftlint.recommender.files import PEFT
from peftlint.recommender.launch import accelerate_config, deepspeed_config

FORMATS = ("text", "yaml", "json", "python", "deepspeed", "accelerate")


def training_settings(recommendation: Recommendation) -> dict[str, Any]:
    """How to train it: what a plain PEFT config cannot say, and what the estimate assumes."""
    training, plan = recommendation.plan.training, recommendation.plan
    return {
        "dtype": training.dtype,
        "quantization": training.quantization,
        "gradient_checkpointing": training.gradient_checkpointing,
        "optimizer": training.optimizer,
        "micro_batch_size": training.batch_size,
        "gradient_accumulation_steps": plan.accumulation,
        "seq_len": training.seq_len,
        "distributed": recommendation.distributed.to_dict(),
    }


def document(recommendation: Recommendation) -> dict[str, Any]:
    """`--format json`: config, rationale, estimate (as `peftlint estimate --format json`), alternatives."""
    return {
        "config": recommendation.file_mapping(with_profile=False),
        "rationale": [reason.to_dict() for reason in recommendation.rationale],
        "estimate": recommendation.estimate.to_dict(),
        "alternatives": [alternative.to_dict() for alternative in recommendation.alternatives],
        "training": training_settings(recommendation),
    }


def _training_text(training: Training, accumulation: int) -> str:
    parts = [training.dtype] + ([training.plan.describe()] if training.plan.strategy != "single" else [])
    if training.quantization == "4bit":
        parts.append("4-bit NF4 base weights with double quantization (QLoRA)")
    elif training.quantization:
        parts.append(f"{training.quantization} base weights")
    parts.append("gradient checkpointing" if training.gradient_checkpointing else "no gradient checkpointing")
    batch = f"micro-batch {training.batch_size}" + (f" x {accumulation} gradient accumulation steps" if accumulation > 1 else "")
    parts += [batch, f"{training.seq_len} tokens per sequence", training.optimizer]
    return ", ".join(parts)


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _estimate_line(recommendation: Recommendation) -> str:
    result, budget = recommendation.estimate, recommendation.request.budget
    parts = []
    if result.trainable_params is not None:
        parts.append(f"{result.trainable_params:,} trainable parameters ({result.trainable_percent}%)")
    if result.adapter_bytes is not None:
        parts.append(f"adapter file {_size(result.adapter_bytes)}")
    if result.memory is not None:
        peak = f"training peak {_size(result.memory['total_bytes'])}"
        parts.append(peak + (f" of {_size(budget)}" if budget else ""))
    return ", ".join(parts)


def situation(recommendation: Recommendation) -> str:
    request = recommendation.request
    described = ", ".join(f"{k}={v}{' GiB' if k == 'gpu_memory' else ''}" for k, v in request.values.items()) or "no profile"
    return f"{request.model.model_id} ({request.dialect}): {described}"


def _comments(recommendation: Recommendation) -> list[str]:
    plan = recommendation.plan
    lines = [
        f"Recommended by `peftlint recommend` for {situation(recommendation)}",
        f"Train with: {_training_text(plan.training, plan.accumulation)}",
        f"Estimate: {_estimate_line(recommendation)}",
        "Why:",
        *(f"  - {r.decision}: {r.reason} ({r.source})" for r in recommendation.rationale),
        "Not chosen (best first):",
        *(f"  - {a.label}: {a.why_not}" for a in recommendation.alternatives),
    ]
    return [f"# {line}".rstrip() for line in lines]


def as_yaml(recommendation: Recommendation) -> str:
    mapping = recommendation.file_mapping()
    body = yaml.safe_dump(mapping, sort_keys=False, default_flow_style=None, width=4096, allow_unicode=True)
    return "\n".join(_comments(recommendation)) + "\n" + body


def _python_value(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_python_value(v) for v in value) + "]"
    return json.dumps(value)  # str, int, float: the same literal in Python


def as_python(recommendation: Recommendation) -> str:
    if recommendation.request.dialect != PEFT:
        raise ValueError(f"--format python writes a peft config class call; {recommendation.request.dialect} files are YAML")
    mapping = recommendation.file_mapping()
    profile = mapping.pop(PROFILE_KEY, None) or {}
    class_name = {peft: name for name, peft in peft_types()["classes"].items()}[str(mapping.pop("peft_type"))]
    lines = _comments(recommendation)
    if profile:
        lines.append("# peftlint: " + " ".join(f"{k}={v}" for k, v in profile.items()))
    lines += [f"from peft import {class_name}", "", f"config = {class_name}("]
    lines += [f"    {key}={_python_value(value)}," for key, value in mapping.items()]
    lines.append(")")
    return "\n".join(lines) + "\n"


def as_json(recommendation: Recommendation) -> str:
    return json.dumps(document(recommendation), indent=2) + "\n"


def as_text(recommendation: Recommendation) -> str:
    plan, request = recommendation.plan, recommendation.request
    config = yaml.safe_dump(recommendation.file_mapping(), sort_keys=False, default_flow_style=None, width=4096)
    lines = [f"Recommended for {situation(recommendation)}", "", f"Config ({request.dialect}, {plan.label}):"]
    lines += ["  " + line for line in config.splitlines()]
    lines += ["", f"Train with: {_training_text(plan.training, plan.accumulation)}", "", "Why:"]
    for number, reason in enumerate(recommendation.rationale, start=1):
        lines.append(f"  {number}. {reason.decision}: {reason.reason}")
        lines.append(f"     {reason.source}")  # `[key] §section`: docs/sources.md
    lines += ["", "Estimate:"]
    lines += ["  " + line for line in render_text(recommendation.estimate, plan.training, request.budget, None).splitlines()]
    lines += ["", "Not chosen (best first):"]
    lines += [f"  {n}. {a.label}: {a.why_not}" for n, a in enumerate(recommendation.alternatives, start=1)]
    for finding in recommendation.findings:
        lines.append(f"warning: `peftlint check` would still report {finding.code} [{finding.severity}] {finding.message}")
    return "\n".join(lines) + "\n"


def as_deepspeed(recommendation: Recommendation) -> str:
    """`--format deepspeed`: the DeepSpeed JSON for the chosen ZeRO stage (JSON has no comments)."""
    return json.dumps(deepspeed_config(recommendation.distributed, recommendation.plan.training), indent=2) + "\n"


def as_accelerate(recommendation: Recommendation) -> str:
    """`--format accelerate`: `accelerate launch --config_file` for the chosen strategy."""
    plan, classes = recommendation.distributed, recommendation.request.layer_classes
    body = yaml.safe_dump(accelerate_config(plan, recommendation.plan.training, classes or ()), sort_keys=False, width=4096)
    header = f"# accelerate config by `peftlint recommend` for {situation(recommendation)}: {plan.describe()}\n"
    if plan.engine == "fsdp" and not classes:
        model_type = recommendation.request.model.config.get("model_type")
        why = (
            f"peftlint has no architecture data for {model_type}; accelerate then wraps the classes the model's `_no_split_modules` names"
            if classes is None
            else f"transformers names no block class for {model_type} (no `_no_split_modules`), so accelerate wraps the whole model as one unit"
        )
        header += f"# fsdp_transformer_layer_cls_to_wrap left out: {why}; name the model's block class there to shard it block by block\n"
    if plan.hpz_partition_size > 1:
        # accelerate's deepspeed_config keys cannot set ZeRO++; a DeepSpeed JSON can
        header += (
            f"# ZeRO++ hpZ (zero_hpz_partition_size: {plan.hpz_partition_size}) is not an accelerate key: write the DeepSpeed JSON with"
            " `--format deepspeed` and name it as deepspeed_config.deepspeed_config_file\n"
        )
    return header + body


RENDERERS: Mapping[str, Callable[[Recommendation], str]] = {
    "text": as_text,
    "yaml": as_yaml,
    "json": as_json,
    "python": as_python,
    "deepspeed": as_deepspeed,
    "accelerate": as_accelerate,
}


def render(recommendation: Recommendation, output_format: str) -> str:
    return RENDERERS[output_format](recommendation)
