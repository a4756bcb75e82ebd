"""The Python API: `check` and `estimate` for a config given as a path, a mapping or a live
`peft.PeftConfig`, on a model given as a Hub id, a path, a config.json mapping or a loaded model.

Never imports torch, transformers or peft itself: a PeftConfig (or a transformers config) is read
through its `to_dict()`, and only a loaded torch model, whose libraries the caller has already
imported, is read module by module.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, NoReturn, Protocol, Union

from peftlint.engine import RuleFileError
from peftlint.enrich.stage import Enricher, ModelOptions
from peftlint.errors import ArgumentTypeError, ConfigSourceError, LintFailed, ModelError, PeftlintError, RecommendationFailed, SettingsError
from peftlint.finding import Finding
from peftlint.load import Document, LoadError
from peftlint.normalize import PeftConfig, to_peft_config
from peftlint.normalize.peft_versions import VersionError, check_version
from peftlint.pipeline import config_profile, lint_config, lint_paths, load_configs, profile_or_finding, settings_at
from peftlint.settings.config import ConfigError
from peftlint.settings.profile import ProfileError, ProfileRequest

# imported where used: the model code only when a model is named, the estimate's only by `estimate`
if TYPE_CHECKING:
    from peftlint.enrich.estimate import Estimate
    from peftlint.enrich.model import ModelConfig
    from peftlint.recommender import Recommendation

__all__ = [
    "ArgumentTypeError",
    "ConfigSourceError",
    "Finding",
    "LintFailed",
    "ModelError",
    "PeftlintError",
    "RecommendationFailed",
    "SettingsError",
    "SupportsToDict",
    "check",
    "estimate",
    "recommend",
]


class SupportsToDict(Protocol):
    """`peft.PeftConfig` and `transformers.PretrainedConfig` alike."""

    def to_dict(self) -> Mapping[str, Any]: ...


ConfigSource = Union[str, "os.PathLike[str]", Mapping[str, Any], SupportsToDict]
# a loaded torch model (`transformers.PreTrainedModel`, `peft.PeftModel`) is accepted by `check` too
ModelSource = Union[str, "os.PathLike[str]", Mapping[str, Any], SupportsToDict]


def check(
    source: ConfigSource,
    *,
    model: ModelSource | Any | None = None,
    profile: Mapping[str, Any] | str | None = None,
    select: str | Iterable[str] | None = None,
    ignore: str | Iterable[str] | None = None,
    peft_version: str | None = None,
) -> list[Finding]:
    """Lint PEFT configs and return the findings, sorted by file, line, column and code.

    `source`: a path (a config file, or a folder whose config files are all checked, as by
    `peftlint check`), a mapping (as in adapter_config.json), or a `peft.PeftConfig` object. For
    a mapping or an object, `file`, `line` and `column` of the findings are None and the settings
    come from the `[tool.peftlint]` above the current folder.

    `model`: the base model, over each config's `base_model_name_or_path`: a Hub id or a path
    (resolved as `--model` is), a config.json mapping or `transformers.PretrainedConfig`, or a
    loaded model (`PreTrainedModel` or `PeftModel`), whose real modules are then used, so custom
    architectures work. `profile`: the user's context as the command line's flags give it (a
    mapping such as `{"task": "classification", "gpu_memory": "24GB"}`, over the file's own
    block and `[tool.peftlint.profile]`), or the name of a `[tool.peftlint.profiles.NAME]`.
    `select` / `ignore`: rule codes, code prefixes or names (a string may list several,
    comma-separated). `peft_version`: the peft the configs are for, as `--peft-version` gives it
    (docs/peft-versions.md; default: `[tool.peftlint] peft-version`, the file's own
    `peft_version`, the installed peft).

    As on the command line, a file that cannot be parsed is a `PL000` finding when it looks like a
    PEFT or training config (docs/recognition.md), and a file that holds no PEFT config gives none. Raises `ConfigSourceError`, `ModelError` or `SettingsError`.
    """
    options, request = _model_options(model), _profile_request(profile)
    chosen, skipped = _codes(select), _codes(ignore)
    with _settings_errors():
        if peft_version is not None:
            check_version(peft_version)
        if isinstance(source, (str, os.PathLike)):
            if not Path(source).exists():
                raise ConfigSourceError(f"{os.fspath(source)}: no such file or folder")
            return lint_paths(
                [os.fspath(source)], select=chosen, ignore=skipped, model=options, profile=request, peft_version=peft_version
            ).findings
        config = _config_from_object(source)
        settings = settings_at(Path.cwd(), select=chosen, ignore=skipped, peft_version=peft_version)
        findings = lint_config(config, settings, Enricher(options), config_profile(config, settings, request)).findings
    # a mapping has no file: no place to show, and no text for `--fix` to edit
    return sorted((f._replace(file=None, edit=None) for f in findings), key=Finding.sort_key)


def estimate(
    config: ConfigSource,
    *,
    model: ModelSource | None = None,
    dtype: str | None = None,
    batch_size: int | None = None,
    seq_len: int | None = None,
    gradient_checkpointing: bool | None = None,
    optimizer: str | None = None,
    quantization: str | None = None,
    gpu_memory: str | float | None = None,
    num_gpus: int | None = None,
    num_nodes: int | None = None,
    strategy: str | None = None,
    offload: str | None = None,
    deepspeed: str | None = None,
    accelerate_config: str | None = None,
) -> Estimate:
    """Exact trainable parameters, adapter size and training/inference memory of one config.

    `config`: as for `check` (a file holding several configs: the first one). `model`: a Hub id,
    a path, a config.json mapping or `transformers.PretrainedConfig` (default: the config's
    `base_model_name_or_path`); the estimate reads config.json only. The training settings left
    None come from a training YAML's own keys (axolotl, LLaMA-Factory), else the defaults of
    `peftlint estimate`: `dtype` bf16 (fp16, fp32), `batch_size` 1, `seq_len` 512, no gradient
    checkpointing, `optimizer` adamw (adamw-8bit, paged-adamw-8bit, sgd, ... or transformers'
    `optim` names), `quantization` none ("4bit" is QLoRA with double quantization, "8bit").
    `gpu_memory` (e.g. "24GB") adds a `PL401` finding when the peak does not fit. `num_gpus`,
    `num_nodes`, `strategy` (ddp, zero1-3, fsdp, ...), `offload` and the `deepspeed` /
    `accelerate_config` files spread training over GPUs as `peftlint estimate`'s flags do: the
    memory is then the busiest GPU's. The result has
    the fields of `peftlint estimate --format json`; counts and memory are None when peft would
    reject the config on this model (its error findings say why).

    Raises `ConfigSourceError`, `ModelError` or `SettingsError`.
    """
    from peftlint.enrich.analysis import ModelFactsError
    from peftlint.enrich.estimate import estimate as estimate_config
    from peftlint.pipeline import plan_of, read_distributed, training_for

    if isinstance(config, (str, os.PathLike)):
        peft_config, where = _configs_in_file(Path(config))[0], Path(config)
    else:
        peft_config, where = _config_from_object(config), Path.cwd()
    given = _training_settings(dtype, batch_size, seq_len, gradient_checkpointing, optimizer, quantization)
    if _is_loaded_model(model):
        raise ArgumentTypeError("estimate reads a model's config.json: pass `model.config`, not the loaded model")
    spec = model if model is not None else peft_config.values.get("base_model_name_or_path")
    if not spec:
        raise ModelError("no base model: pass `model=` (a Hub id, a folder with config.json, a config.json, or its mapping)")
    resolved = _model_config(spec)
    # as `peftlint estimate` passes them
    flags = {
        "seq_len": seq_len,
        "gpu_memory": gpu_memory,
        "num_gpus": num_gpus,
        "num_nodes": num_nodes,
        "strategy": strategy,
        "offload": offload,
    }
    with _settings_errors():
        settings = settings_at(where)
        profile, invalid = profile_or_finding(
            peft_config, settings, ProfileRequest(values={k: v for k, v in flags.items() if v is not None})
        )
        # a problem in a file given here is a SettingsError; one in the config file is a PL600 finding
        setup = read_distributed(peft_config, profile, deepspeed, accelerate_config, _raise_settings_error)
        training = training_for(peft_config, profile.values, given)  # the same order as `peftlint estimate`
        training = training._replace(plan=plan_of(setup, _raise_settings_error))
        enricher = Enricher(ModelOptions(resolved=resolved, training=training, exact=True))  # as `peftlint estimate`
        linted = lint_config(peft_config, settings, enricher, profile, setup=setup)
    errors = ([invalid] if invalid else []) + [f for f in linted.findings if f.severity == "error"]
    try:
        return estimate_config(resolved, linted.facts["effective"], peft_config.peft_type, training, errors, enricher.last_analysis)
    except ModelFactsError as exc:
        raise ModelError(f"model facts unavailable for {resolved.model_id}: {exc}") from None


def _raise_settings_error(message: str) -> NoReturn:
    raise SettingsError(message)


def recommend(
    model: ModelSource,
    *,
    profile: Mapping[str, Any] | str | None = None,
    dialect: str = "peft",
) -> Recommendation:
    """The config the method guides recommend for `model` and the profile (`peftlint recommend`).

    `model`: a Hub id, a path, a config.json mapping or `transformers.PretrainedConfig`. `profile`:
    a mapping of profile fields (task, deployment, dataset_size, gpu_memory, ...) or the name of a
    `[tool.peftlint.profiles.NAME]`, over `[tool.peftlint.profile]` of the current folder.
    `dialect`: "peft", "axolotl", "llama-factory" or "trl" (the file `Recommendation.file_mapping()` gives).
    The result has the config, the rationale with its sources, the estimate and the ranked
    alternatives. Raises `ModelError`, `SettingsError`, or `RecommendationFailed` when nothing fits the
    budget or the dialect cannot train the model (all `PeftlintError`s).
    """
    from peftlint.recommender import NothingFits, RecommendError, Request as RecommendRequest, recommend as recommend_config
    from peftlint.recommender.files import DIALECTS

    if dialect not in DIALECTS:
        raise SettingsError(f"dialect `{dialect}` is not one of {', '.join(DIALECTS)}")
    resolved = _model_config(model)
    with _settings_errors():  # the budget's GPUs and strategy are read while recommending, too
        settings = settings_at(Path.cwd())
        chosen = config_profile(None, settings, _profile_request(profile))
        try:
            return recommend_config(RecommendRequest(resolved, chosen, dialect, settings))
        except (NothingFits, RecommendError) as exc:
            raise RecommendationFailed(str(exc)) from None


def _is_loaded_model(model: Any) -> bool:
    return callable(getattr(model, "named_modules", None))


def _model_options(model: Any) -> ModelOptions:
    if model is None:
        return ModelOptions()
    if _is_loaded_model(model):
        from peftlint.integrations.live_model import loaded_model

        resolved, tree = loaded_model(model)
        return ModelOptions(resolved=resolved, tree=tree)
    return ModelOptions(resolved=_model_config(model))


def _model_config(model: Any) -> ModelConfig:
    if isinstance(model, (str, os.PathLike)):
        from peftlint.enrich.model import ModelUnavailable, resolve_model

        try:
            return resolve_model(os.fspath(model))
        except ModelUnavailable as exc:
            raise ModelError(str(exc)) from None
    from peftlint.enrich.model import model_config_from

    if isinstance(model, Mapping):
        return model_config_from(model)
    if callable(getattr(model, "to_dict", None)):
        return model_config_from(model.to_dict())
    raise ArgumentTypeError(
        f"model must be a Hub id, a path, a config.json mapping, a transformers config or a loaded model, not {type(model).__name__}"
    )


def _config_from_object(source: Any) -> PeftConfig:
    if isinstance(source, Mapping):
        data, what = source, "mapping"
    elif callable(getattr(source, "to_dict", None)):
        data, what = source.to_dict(), type(source).__name__
    else:
        raise ArgumentTypeError(f"source must be a path, a mapping or a peft config object, not {type(source).__name__}")
    from peftlint.enrich.model import json_value

    # no file: positions stay empty, so findings carry no line or column
    config = to_peft_config(Document(path=f"<{what}>", format="json", data=json_value(data)))
    if config is None:
        raise ConfigSourceError(f"the {what} is not a PEFT config: it has no `peft_type` and none of LoRA's keys")
    return config


def _configs_in_file(path: Path) -> list[PeftConfig]:
    try:
        configs = load_configs(str(path))
    except LoadError as exc:
        raise ConfigSourceError(str(exc)) from None
    if not configs:
        raise ConfigSourceError(f"{path}: no PEFT config found")
    return configs


@contextmanager
def _settings_errors() -> Iterator[None]:
    """The one boundary where the errors of the rooms behind the API become `PeftlintError`s."""
    try:
        yield
    except (ConfigError, RuleFileError, ProfileError, VersionError) as exc:
        raise SettingsError(str(exc)) from None
    except LoadError as exc:
        raise ConfigSourceError(str(exc)) from None


def _codes(value: str | Iterable[str] | None) -> tuple[str, ...]:
    parts = [value] if isinstance(value, str) else list(value or ())
    return tuple(code.strip() for part in parts for code in part.split(",") if code.strip())


def _profile_request(profile: Mapping[str, Any] | str | None) -> ProfileRequest:
    if isinstance(profile, str):
        return ProfileRequest(name=profile)
    return ProfileRequest(values=dict(profile or {}))


def _training_settings(
    dtype: str | None,
    batch_size: int | None,
    seq_len: int | None,
    gradient_checkpointing: bool | None,
    optimizer: str | None,
    quantization: str | None,
) -> dict[str, Any]:
    """The settings the caller gave, checked and in the estimate's spelling (`bfloat16` -> bf16)."""
    from peftlint.enrich.memory import normalize_dtype, normalize_optimizer, normalize_quantization

    for name, value in (("batch_size", batch_size), ("seq_len", seq_len)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise SettingsError(f"{name} must be a positive integer, not {value!r}")
    try:
        given = {
            "dtype": None if dtype is None else normalize_dtype(dtype),
            "optimizer": None if optimizer is None else normalize_optimizer(optimizer),
            "quantization": normalize_quantization(quantization),
            "batch_size": batch_size,
            "seq_len": seq_len,
            "gradient_checkpointing": gradient_checkpointing,
        }
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    return {key: value for key, value in given.items() if value is not None}
