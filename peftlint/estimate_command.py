"""Runs `peftlint estimate`: load one config, resolve its model, lint it, estimate, print."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable, Mapping, NoReturn

from peftlint.config import settings_for
from peftlint.enrich.analysis import ModelFactsError, Training
from peftlint.enrich.memory import normalize_dtype, normalize_optimizer
from peftlint.enrich.model import ModelUnavailable, resolve_model
from peftlint.enrich.stage import Enricher, ModelOptions, training_from
from peftlint.engine import evaluate
from peftlint.estimation import compare as compare_alternatives
from peftlint.estimation import estimate, render_text
from peftlint.lint import active_rules, config_facts, config_profile, load_configs
from peftlint.load import LoadError
from peftlint.normalize import PeftConfig
from peftlint.profile import training_settings, ProfileError, ProfileRequest, parse_gpu_memory

SHORT_DTYPES = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}


# `estimate`'s own options for how training runs (also the keys of Training it sets)
TRAINING_FLAGS = ("dtype", "optimizer", "batch_size", "seq_len", "gradient_checkpointing", "quantization")


def training_for(config: PeftConfig, profile: Mapping[str, Any], given: Mapping[str, Any]) -> Training:
    """How the estimate assumes training runs: the given settings (flags, API arguments) over the
    training YAML's own keys (axolotl, LLaMA-Factory) over the profile's over the defaults."""
    from_profile = {**{k: profile[k] for k in ("seq_len", "batch_size") if k in profile}, **training_settings(profile)}
    from_file = dict(config.dialect.training) if config.dialect else {}
    chosen = {**from_profile, **from_file, **{k: v for k, v in given.items() if v is not None}}
    dtype = normalize_dtype(chosen.get("dtype", "bf16"))
    return training_from({**chosen, "dtype": SHORT_DTYPES.get(dtype, dtype)}, None, None)


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
) -> int:
    try:
        configs = load_configs(config_path)
    except LoadError as exc:
        fail(str(exc))
    if not configs:
        fail(f"{config_path}: no PEFT config found")
    config = configs[0]
    settings = settings_for(Path(config_path))
    try:  # the flags, the file's `peftlint:` block and pyproject.toml, as `check` reads them
        context = config_profile(config, settings, profile)
    except ProfileError as exc:
        fail(str(exc))
    gpu_memory = gpu_memory or context.values.get("gpu_memory")
    try:
        training = training_for(config, context.values, training_flags)
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
    facts = config_facts(config, settings, enricher, context)
    findings = [f for f in evaluate(active_rules(settings), facts, config) if f.severity == "error"]
    try:
        result = estimate(resolved, facts["effective"], config.peft_type, training, findings, enricher.last_analysis)
    except ModelFactsError as exc:
        fail(f"model facts unavailable for {spec}: {exc}")
    comparison = compare_alternatives(resolved, facts["effective"], training) if compare else None
    if output_format == "json":
        document = result.to_dict()
        if comparison is not None:
            document["compare"] = comparison
        json.dump(document, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_text(result, training, gpu_bytes, comparison))
    return 1 if findings else 0
