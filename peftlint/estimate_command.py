"""Runs `peftlint estimate`: load one config, resolve its model, lint it, estimate, print."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Callable, NoReturn

from peftlint.config import settings_for
from peftlint.enrich.analysis import ModelFactsError, Training
from peftlint.enrich.memory import normalize_dtype, normalize_optimizer
from peftlint.enrich.model import ModelUnavailable, resolve_model
from peftlint.enrich.stage import Enricher, ModelOptions
from peftlint.engine import evaluate
from peftlint.estimate import compare as compare_alternatives
from peftlint.estimate import estimate, render_text
from peftlint.lint import active_rules, config_facts, load_configs
from peftlint.load import LoadError
from peftlint.profile import ProfileError, parse_gpu_memory

SHORT_DTYPES = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}


def run_estimate(
    config_path: str,
    *,
    model: str | None,
    revision: str | None,
    token: str | None,
    output_format: str,
    dtype: str,
    optimizer: str,
    batch_size: int,
    seq_len: int,
    gradient_checkpointing: bool,
    quantization: str | None,
    gpu_memory: str | None,
    compare: bool,
    fail: Callable[[str], NoReturn],
) -> int:
    try:
        training = Training(
            dtype=SHORT_DTYPES.get(normalize_dtype(dtype), normalize_dtype(dtype)),
            optimizer=normalize_optimizer(optimizer),
            quantization=quantization,
            double_quant=quantization == "4bit",
            batch_size=batch_size,
            seq_len=seq_len,
            gradient_checkpointing=gradient_checkpointing,
        )
        gpu_bytes = parse_gpu_memory(gpu_memory) if gpu_memory is not None else None
    except (ValueError, ProfileError) as exc:
        fail(str(exc))
    try:
        configs = load_configs(config_path)
    except LoadError as exc:
        fail(str(exc))
    if not configs:
        fail(f"{config_path}: no PEFT config found")
    config = configs[0]
    spec = model or config.values.get("base_model_name_or_path")
    if not isinstance(spec, str) or not spec:
        fail(f"{config_path}: no base model: pass --model (a Hub id, a folder with config.json, or a config.json)")
    try:
        resolved = resolve_model(spec, revision=revision, token=token)
    except ModelUnavailable as exc:
        fail(str(exc))
    settings = settings_for(Path(config_path))
    profile = {**settings.profile, **config.profile, "seq_len": seq_len}
    if gpu_memory is not None:
        profile["gpu_memory"] = gpu_memory
    enricher = Enricher(ModelOptions(model=spec, revision=revision, token=token, training=training))
    facts = config_facts(config, settings.with_profile(profile), enricher)
    findings = [f for f in evaluate(active_rules(settings), facts, config) if f.severity == "error"]
    try:
        result = estimate(resolved, facts["effective"], config.peft_type, training, findings)
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
