"""`peftlint estimate`: load one config, resolve its model, lint it, estimate, print."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Mapping

from peftlint.cli.options import (
    add_model_options,
    add_profile_options,
    add_setup_file_options,
    add_training_profile_options,
    fail,
    profile_of,
    profile_values,
)
from peftlint.enrich.analysis import ModelFactsError
from peftlint.enrich.estimate import compare as compare_alternatives, compare_strategies, estimate, render_text
from peftlint.enrich.memory import normalize_optimizer
from peftlint.enrich.model import ModelUnavailable, resolve_model
from peftlint.enrich.stage import Enricher, ModelOptions
from peftlint.load import LoadError
from peftlint.pipeline import (
    TRAINING_FLAGS,
    lint_config,
    load_configs,
    plan_of,
    profile_or_finding,
    read_distributed,
    settings_at,
    training_for,
)
from peftlint.settings.profile import TRAINING_STACKS, ProfileError, ProfileRequest, parse_gpu_memory


def run_estimate(
    config_path: str,
    *,
    model: str | None,
    revision: str | None,
    token: str | None,
    output_format: str,
    training_flags: Mapping[str, Any],
    gpu_memory: str | None,
    compare: bool,
    profile: ProfileRequest | None = None,
    deepspeed: str | None = None,
    accelerate_config: str | None = None,
) -> int:
    try:
        configs = load_configs(config_path)
    except LoadError as exc:
        fail(str(exc))
    if not configs:
        fail(f"{config_path}: no PEFT config found")
    config = configs[0]
    settings = settings_at(Path(config_path))
    try:  # the flags, the file's `peftlint:` block and pyproject.toml, as `check` reads them
        context, invalid = profile_or_finding(config, settings, profile)
    except ProfileError as exc:
        fail(str(exc))
    gpu_memory = gpu_memory or context.values.get("gpu_memory")
    setup = read_distributed(config, context, deepspeed, accelerate_config, fail)
    try:
        training = training_for(config, context.values, training_flags)._replace(plan=plan_of(setup, fail))
        if training_flags.get("optimizer") is not None:
            normalize_optimizer(training_flags["optimizer"])  # a wrong spelling on the command line is a usage error
        gpu_bytes = parse_gpu_memory(gpu_memory) if gpu_memory is not None else None
    except (ValueError, ProfileError) as exc:
        fail(str(exc))
    spec = model or config.values.get("base_model_name_or_path")
    if not isinstance(spec, str) or not spec:
        fail(f"{config_path}: no base model: pass --model (a Hub id, a folder with config.json, or a config.json)")
    try:
        resolved = resolve_model(spec, revision=revision, token=token)
    except ModelUnavailable as exc:
        fail(str(exc))
    enricher = Enricher(ModelOptions(model=spec, revision=revision, token=token, training=training, resolved=resolved, exact=True))
    linted = lint_config(config, settings, enricher, context, setup=setup)
    facts = linted.facts
    # the errors `check` finds in this config: they say why peft would refuse it (no counts then)
    findings = ([invalid] if invalid else []) + [f for f in linted.findings if f.severity == "error"]
    try:
        result = estimate(resolved, facts["effective"], config.peft_type, training, findings, enricher.last_analysis)
    except ModelFactsError as exc:
        fail(f"model facts unavailable for {spec}: {exc}")
    if setup.settings.get("deepspeed_unresolved"):
        result.warnings.append(
            f"DeepSpeed config `{setup.settings['deepspeed_unresolved']}` not found (next to the config or here): its ZeRO stage is unknown, pass --deepspeed PATH or --strategy"
        )
    comparison: list[dict[str, Any]] | None = None
    if compare:
        comparison = compare_alternatives(resolved, facts["effective"], training)
        if training.plan.num_gpus > 1:
            comparison += compare_strategies(resolved, facts["effective"], config.peft_type, training)
    if output_format == "json":
        document = result.to_dict()
        if comparison is not None:
            document["compare"] = comparison
        json.dump(document, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_text(result, training, gpu_bytes, comparison, config.path))
    return 2 if invalid else 1 if findings else 0  # as `check`: a file's invalid `peftlint:` block is exit 2


def run(args: argparse.Namespace) -> int:
    training = profile_values(args, TRAINING_FLAGS)
    return run_estimate(
        args.config_path,
        model=args.model,
        revision=args.revision,
        token=args.token,
        output_format=args.output_format,
        training_flags=training,
        gpu_memory=args.gpu_memory,
        compare=args.compare,
        deepspeed=args.deepspeed,
        accelerate_config=args.accelerate_config,
        profile=profile_of(args),
    )


def add_options(cost: argparse.ArgumentParser) -> None:
    cost.add_argument("config_path", metavar="CONFIG")
    add_model_options(cost)
    cost.add_argument("--format", dest="output_format", choices=("text", "json"), default="text", help="(default: text)")
    cost.add_argument(
        "--dtype", help="Base weights: bf16, fp16, fp32 (or bfloat16, float16, float32) [default: the training YAML's, else bf16]."
    )
    cost.add_argument(
        "--optimizer",
        help="adamw, adamw-8bit, paged-adamw-8bit, sgd (or transformers' optim names) [default: the training YAML's, else adamw].",
    )
    add_training_profile_options(cost, defaults=True)
    cost.add_argument("--gradient-checkpointing", action=argparse.BooleanOptionalAction, help="[default: the training YAML's, else off]")
    bits = cost.add_mutually_exclusive_group()
    bits.add_argument(
        "--load-in-4bit",
        dest="quantization",
        action="store_const",
        const="4bit",
        help="QLoRA: 4-bit base weights (NF4, double quantization).",
    )
    bits.add_argument("--load-in-8bit", dest="quantization", action="store_const", const="8bit", help="8-bit base weights.")
    cost.add_argument(
        "--stack",
        choices=TRAINING_STACKS,
        help="The training stack: adapter dtype, loss, QLoRA kernels (transformers+peft, torchtune, litgpt) [default: the profile's, else transformers].",
    )
    cost.add_argument(
        "--compare", action="store_true", help="Also estimate the usual alternatives side by side (and the strategies, on several GPUs)."
    )
    add_setup_file_options(cost)
    add_profile_options(cost)
