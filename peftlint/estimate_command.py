"""Runs `peftlint estimate`: load one config, resolve its model, lint it, estimate, print."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable, Mapping, NoReturn

from peftlint.enrich.analysis import ModelFactsError, Training
from peftlint.enrich.memory import normalize_dtype, normalize_optimizer
from peftlint.enrich.model import ModelUnavailable, resolve_model
from peftlint.enrich.stage import Enricher, ModelOptions, training_from
from peftlint.estimation import compare as compare_alternatives, compare_strategies, estimate, render_text
from peftlint.lint import lint_config, load_configs, profile_or_finding, settings_at
from peftlint.load import LoadError
from peftlint.normalize import PeftConfig
from peftlint.profile import ProfileError, ProfileRequest, parse_gpu_memory, training_settings

SHORT_DTYPES = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}


# `estimate`'s own options for how training runs (also the keys of Training it sets)
TRAINING_FLAGS = ("dtype", "optimizer", "batch_size", "seq_len", "gradient_checkpointing", "quantization", "stack")


def training_for(config: PeftConfig, profile: Mapping[str, Any], given: Mapping[str, Any]) -> Training:
    """How the estimate assumes training runs: the given settings (flags, API arguments) over the
    training YAML's own keys (axolotl, LLaMA-Factory) over the profile's over the defaults."""
    from_profile = {**{k: profile[k] for k in ("seq_len", "batch_size") if k in profile}, **training_settings(profile)}
    from_file = dict(config.dialect.training) if config.dialect else {}
    chosen = {**from_profile, **from_file, **{k: v for k, v in given.items() if v is not None}}
    dtype = normalize_dtype(chosen.get("dtype", "bf16"))
    return training_from({**chosen, "dtype": SHORT_DTYPES.get(dtype, dtype)}, None, None)


_PLAN_FLAGS = ("strategy", "num_gpus", "num_nodes", "offload")


def read_distributed(config: PeftConfig, context: Any, deepspeed: str | None, accelerate_config: str | None, fail: Callable[[str], NoReturn]) -> Any:
    """The distributed setup from every layer. A problem in a file named by a flag is a usage
    error; one in the training file (or a file it names) is a PL600 finding, as `check` reports it
    (lint.lint_config)."""
    from peftlint.parallel import read_setup

    flags = {name: context.values[name] for name in _PLAN_FLAGS if context.sources.get(name) == "--" + name.replace("_", "-")}
    setup = read_setup(profile=context.values, document=config.document, accelerate_config=accelerate_config, deepspeed=deepspeed, flags=flags, dialect=config.dialect.name if config.dialect else None)
    for problem in setup.problems:
        if problem.file in (deepspeed, accelerate_config) or problem.file is None:
            fail(str(problem))
    return setup


def plan_of(setup: Any, fail: Callable[[str], NoReturn]) -> Any:
    from peftlint.enrich.distributed import plan_from
    from peftlint.parallel import checked_plan, plan_settings

    _, contradiction = checked_plan(setup)
    if contradiction is not None:
        fail(contradiction.message)
    return plan_from(plan_settings(setup.settings))


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
    fail: Callable[[str], NoReturn],
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
        result.warnings.append(f"DeepSpeed config `{setup.settings['deepspeed_unresolved']}` not found (next to the config or here): its ZeRO stage is unknown, pass --deepspeed PATH or --strategy")
    comparison = compare_alternatives(resolved, facts["effective"], training) if compare else None
    if compare and training.plan.num_gpus > 1:
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
