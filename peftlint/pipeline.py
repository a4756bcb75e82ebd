"""The `check` pipeline for files: load -> normalize -> validate -> facts -> rules -> suppress."""

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, NamedTuple, NoReturn

from peftlint.engine import Rule, evaluate, load_rules
from peftlint.engine.cache import RuleCache, cache_file
from peftlint.enrich.stage import Enricher, ModelOptions
from peftlint.facts import build_facts
from peftlint.facts.situation import derive, mark_shared_settings
from peftlint.finding import Finding
from peftlint.load import Document, LoadError
from peftlint.load.discover import iter_files
from peftlint.normalize import PROFILE_KEY, PeftConfig, looks_like_config, peft_configs, peft_types, skip_reason
from peftlint.resources import rules_dir
from peftlint.settings import suppress
from peftlint.settings.config import ConfigError, Settings, fails, file_ignores, matches, rule_enabled, settings_for
from peftlint.settings.profile import (
    Layer,
    Profile,
    ProfileError,
    ProfileRequest,
    assemble,
    comment_profile,
    profile_gpu_bytes,
    training_settings,
)
from peftlint.validate import peft_version_in_use, validate

if TYPE_CHECKING:  # the distributed setup is read only for configs that have one; training only by the estimate
    from peftlint.enrich.analysis import Training
    from peftlint.enrich.distributed import Plan
    from peftlint.normalize.distributed import Setup

UNREADABLE = "PL000"
INVALID_PROFILE = "PL300"
INVALID_SETUP = "PL600"


class Report:
    """What a run found; the pipeline adds to it file by file."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.files = 0  # files that held a PEFT config or could not be read
        self.suppressed = 0
        self.failing = 0  # findings at or above the fail-on level of their file's settings
        self.unreadable = 0
        self.skipped: list[tuple[str, str]] = []  # (path, why), shown with -v
        self.profiles: list[tuple[str, str]] = []  # (config, profile and sources), shown with -v
        self.saved_adapters: list[tuple[str, tuple[str, ...]]] = []  # (config, evidence), shown with -v
        self.peft_versions: list[tuple[str, dict[str, str]]] = []  # (config, its peft_version fact), shown with -v
        # files' text as `--fix` has edited it but not written yet (`--diff`): read instead of the disk
        self.texts: Mapping[str, str] = {}


class Prepared(NamedTuple):
    """One file's configs and their facts, before the rules run: facts across files come first."""

    path: str
    settings: Settings
    rules: list[Rule]  # active_rules(settings), once per file (~0.3 ms)
    configs: list[PeftConfig]
    facts: list[dict[str, Any]]
    labels: list[str]  # how messages and `-v` name each config: its path, and its document if several
    given_files: tuple[str, ...] = ()  # --deepspeed / --accelerate-config: their problems are usage errors


@lru_cache(maxsize=None)
def rule_set(rule_dirs: tuple[Path, ...]) -> tuple[Rule, ...]:
    return tuple(load_rules(rule_dirs, cache=RuleCache(cache_file((rules_dir(), *rule_dirs)))))


def check_selectors(settings: Settings, rules: Iterable[Rule]) -> None:
    """A selector that names no rule would silently select or ignore nothing: a usage error.

    A selector is a code prefix (`PL`, `PL1`, `PL101`) or a rule's exact name or alias.
    """
    identifiers = {identifier for rule in rules for identifier in rule.identifiers}
    codes = {rule.code for rule in rules}
    where = [
        ("select", settings.select),
        ("ignore", settings.ignore),
        ("severity", tuple(settings.severity)),
        ("per-file-ignores", tuple(code for codes_ in settings.per_file_ignores.values() for code in codes_)),
    ]
    for option, selectors in where:
        for selector in selectors:
            if selector in identifiers or any(code.startswith(selector) for code in codes):
                continue
            from peftlint.suggest import closest

            # `pl101`, `PL1O1`: a code typed in the wrong case or with the letter O for a zero
            looks_like_code = selector[:2].lower() == "pl"
            guess = closest("PL" + selector[2:].upper().replace("O", "0") if looks_like_code else selector, identifiers)
            hint = f"; did you mean `{guess}`?" if guess else "; `peftlint rules` lists the codes and names"
            raise ConfigError(f"{option}: `{selector}` is no rule code, code prefix or rule name{hint}")


def active_rules(settings: Settings) -> list[Rule]:
    """Rules enabled by the settings, with their configured severity."""
    rules = rule_set(settings.rule_dirs)
    check_selectors(settings, rules)
    active = []
    for rule in rules:
        if not rule_enabled(settings, rule.identifiers):
            continue
        level = next((settings.severity[i] for i in rule.identifiers if i in settings.severity), None)
        # a configured severity is the user's decision: it replaces the rule's escalations too
        active.append(rule if level is None else rule._replace(severity=level, escalate=()))
    return active


def _emitted_finding(rules: list[Rule], code: str, name: str, file: str, line: int | None, column: int | None, message: str) -> Finding:
    """A finding a pipeline stage emits (its rule has no condition); never silenced: exit 2 says why."""
    rule = next((r for r in rules if r.code == code), None)
    return Finding(
        code=code,
        name=rule.name if rule else name,
        severity="error",
        file=file,
        line=line,
        column=column,
        key=None,
        message=message,
        fix=rule.fix_title if rule else None,
    )


def _unreadable_finding(rules: list[Rule], error: LoadError) -> Finding:
    return _emitted_finding(rules, UNREADABLE, "unreadable-file", error.path, error.line, error.column, error.message)


def _load(path: str, settings: Settings, text: str | None = None) -> list[Document]:
    from peftlint.load.files import load_path, load_text

    if text is not None:
        return load_text(text, path, config_classes=peft_types()["classes"])
    return load_path(path, max_bytes=settings.max_file_size, config_classes=peft_types()["classes"])


def load_configs(path: str) -> list[PeftConfig]:
    """The PEFT configs in one file (raises LoadError)."""
    return [c for document in _load(path, settings_for(Path(path))) for c in peft_configs(document)]


def _file_layer(config: PeftConfig) -> Layer | None:
    """The config file's own profile: a `peftlint:` block, or `# peftlint:` comments in Python."""
    document = config.document
    if document.format == "python":
        from peftlint.load.files import decode

        try:
            with open(document.path, "rb") as handle:
                values, line = comment_profile(decode(handle.read(), document.path))
        except (OSError, LoadError):  # not a file on disk (API): no comments to read
            return None
        return Layer(f"{document.path}:{line} `# peftlint:` comment", values, in_file=True, line=line) if values else None
    data = document.data
    if not isinstance(data, dict) or PROFILE_KEY not in data:
        return None
    line, _ = document.position((PROFILE_KEY,))
    return Layer(f"{document.path}:{line} `{PROFILE_KEY}:` block", data[PROFILE_KEY], in_file=True, line=line)


def settings_at(
    path: Path,
    *,
    select: tuple[str, ...] = (),
    ignore: tuple[str, ...] = (),
    fail_on: str | None = None,
    peft_version: str | None = None,
) -> Settings:
    """The settings for a file, or for a folder when the config has no file (the API's mapping,
    `recommend`): the nearest [tool.peftlint], under the command line's (or API's) options.
    With config_profile, the one way every entry point learns its settings and profile."""
    return settings_for(path).with_cli(select=select, ignore=ignore, fail_on=fail_on, peft_version=peft_version)


def config_profile(
    config: PeftConfig | None, settings: Settings, request: ProfileRequest | None = None, *, own_block: bool = True
) -> Profile:
    """CLI flags > the file's own block > `--profile NAME` > [tool.peftlint.profile]; raises ProfileError.
    `config` None: no file, so no block of its own (`recommend`)."""
    pyproject = str(settings.root / "pyproject.toml") if settings.root else "pyproject.toml"
    return assemble(
        pyproject=pyproject,
        table=settings.profile,
        profiles=settings.profiles,
        request=request or ProfileRequest(),
        file_layer=_file_layer(config) if own_block and config is not None else None,
    )


def profile_or_finding(config: PeftConfig, settings: Settings, request: ProfileRequest | None = None) -> tuple[Profile, Finding | None]:
    """The config's profile; an invalid value in the file's own block is an INVALID_PROFILE finding
    (exit 2, like an unreadable file) and the profile is built without that block. Invalid values
    from pyproject.toml or the command line stay usage errors for the whole run (ProfileError).
    `check` and `estimate` both read a file's profile so, and report the finding alike."""
    try:
        return config_profile(config, settings, request), None
    except ProfileError as error:
        if error.layer is None or not error.layer.in_file:
            raise
        line: int | None  # the block's key, or the comment's line
        column: int | None
        if config.document.format == "python":  # the `# peftlint:` comment
            line, column = error.layer.line, 1
        else:
            line, column = config.document.position((PROFILE_KEY,) if error.key is None else (PROFILE_KEY, error.key))
        invalid = _emitted_finding(active_rules(settings), INVALID_PROFILE, "invalid-profile", config.path, line, column, error.reason)
        return config_profile(config, settings, request, own_block=False), invalid


def config_facts(
    config: PeftConfig, settings: Settings, enricher: Enricher, profile: Profile | None = None, setup: "Setup | None" = None
) -> dict[str, Any]:
    """The facts document of one config (schemas/facts.schema.json). `setup`: the distributed
    setup when the caller read it with more layers (estimate's --deepspeed); else read here."""
    values = (profile or config_profile(config, settings)).values
    peft_version = peft_version_in_use(config, settings.peft_version)
    facts = build_facts(config, validate(config, peft_version), profile=values, peft_version=peft_version.facts())
    setup = setup or distributed_setup(config, values)
    facts["distributed"] = setup_facts(setup)
    facts["model"], facts["model_error"] = enricher.facts(
        facts["effective"],
        config.peft_type,
        profile_gpu_bytes(values),
        values.get("seq_len"),
        values.get("batch_size"),
        # a training YAML's own settings win over the profile's
        {**training_settings(values), **(config.dialect.training if config.dialect else {}), **(setup.settings if setup else {})},
        config.dialect.linear_names if config.dialect else None,
        loaded_class=config.document.loaded_class,
    )
    facts["derived"].update(derive(facts))
    return facts


def distributed_setup(config: PeftConfig, profile: Mapping[str, Any], request: ProfileRequest | None = None) -> "Setup | None":
    """The run's distributed setup from the profile, the file's own keys and the command line's
    --deepspeed / --accelerate-config; None when none of them says one."""
    data = config.document.data
    keyed = isinstance(data, dict) and any(k in data for k in ("deepspeed", "fsdp", "fsdp_config"))
    files = (request.deepspeed, request.accelerate_config) if request else (None, None)
    if (
        not keyed
        and config.document.format != "python"
        and not any(files)
        and not any(k in profile for k in ("strategy", "num_gpus", "num_nodes", "offload"))
    ):
        return None
    from peftlint.normalize.distributed import read_setup

    flags = {k: v for k, v in (request.values if request else {}).items() if k in ("strategy", "num_gpus", "num_nodes", "offload")}
    dialect = config.dialect.name if config.dialect else None
    return read_setup(
        profile=profile, document=config.document, deepspeed=files[0], accelerate_config=files[1], flags=flags, dialect=dialect
    )


def setup_facts(setup: "Setup | None") -> dict[str, Any] | None:
    """The facts document's `distributed` block: the settings found and their problems."""
    if setup is None:
        return None
    from peftlint.normalize.distributed import checked_plan

    problems = list(setup.problems)
    plan, contradiction = checked_plan(setup)
    if contradiction is not None:
        problems.append(contradiction)
    return {**setup.settings, **plan, "sources": setup.sources, "problems": [p._asdict() for p in problems]}


DIALECT_RULES = "PL5"  # a training YAML that will not train an adapter is checked by these alone


def rules_for(config: PeftConfig, rules: list[Rule]) -> list[Rule]:
    if config.dialect is not None and not config.dialect.uses_lora:
        return [r for r in rules if r.code.startswith(DIALECT_RULES)]
    return rules


class Linted(NamedTuple):
    """One config judged: its findings (suppressions applied) and the facts they come from."""

    findings: list[Finding]
    facts: dict[str, Any]
    suppressed: int


def lint_config(
    config: PeftConfig,
    settings: Settings,
    enricher: Enricher,
    profile: Profile | None = None,
    *,
    setup: "Setup | None" = None,
    text: str | None = None,
    given_files: tuple[str, ...] = (),
) -> Linted:
    """The one pipeline for one config: validate -> facts -> enrich -> rules -> suppressions.

    Every entry point goes through it (`check` per file, `estimate`, the Python API, `recommend`'s
    self-check, `--fix`'s re-lint through `check`), so that they cannot disagree about a file.
    `text`: the file's text when it is not (yet) on disk (`--diff`). `given_files`: the setup files
    the command line named, whose problems the caller reports as usage errors."""
    facts = config_facts(config, settings, enricher, profile, setup)
    findings, suppressed = judge(config, facts, settings, text, given_files)
    return Linted(findings, facts, suppressed)


def judge(
    config: PeftConfig,
    facts: dict[str, Any],
    settings: Settings,
    text: str | None = None,
    given_files: tuple[str, ...] = (),
    rules: list[Rule] | None = None,
) -> tuple[list[Finding], int]:
    """lint_config's second half: the distributed setup's problems (PL600), the rules that apply to
    the config, then its file's suppressions (which never silence PL600, a setup peftlint could not read).
    Apart only because `check` adds facts across files (mark_shared_settings) between the halves.
    `rules`: active_rules(settings), when the caller has them already."""
    rules = active_rules(settings) if rules is None else rules
    findings = evaluate(rules_for(config, rules), facts, config)
    suppressed = 0
    if findings and not _in_memory(config):
        findings, suppressed = _apply_suppressions(config.path, findings, settings, rules, text)
    return sorted(_setup_findings(config, facts, rules, given_files) + findings, key=Finding.sort_key), suppressed


def _setup_findings(config: PeftConfig, facts: Mapping[str, Any], rules: list[Rule], given_files: tuple[str, ...]) -> list[Finding]:
    """A PL600 finding at each problem of the config's distributed setup (its own keys, the files
    they name), but for those in `given_files`."""
    return [
        _emitted_finding(
            rules,
            INVALID_SETUP,
            "invalid-distributed-setup",
            problem["file"] or config.path,
            problem["line"],
            problem["column"],
            problem["message"],
        )
        for problem in (facts["distributed"] or {}).get("problems", ())
        if problem["file"] is None or problem["file"] not in given_files
    ]


def _in_memory(config: PeftConfig) -> bool:
    """A config given as data (the API's mapping, recommend's draft, named `<...>`): no file whose
    comments or per-file-ignores could apply."""
    return config.path.startswith("<") and config.path.endswith(">")


def _apply_suppressions(
    path: str, findings: list[Finding], settings: Settings, rules: list[Rule], text: str | None = None
) -> tuple[list[Finding], int]:
    ignored = file_ignores(settings, path)
    from peftlint.load.files import decode

    try:
        if text is None:
            with open(path, "rb") as handle:
                text = decode(handle.read(), path)
        directives = suppress.parse(text)
    except (OSError, LoadError):
        directives = suppress.parse("")  # none
    identifiers = {r.code: r.identifiers for r in rules}
    kept = []
    for finding in findings:
        ids = identifiers.get(finding.code, (finding.code, finding.name))
        if matches(ids, ignored) or directives.covers(ids, finding.line):
            continue
        kept.append(finding)
    return kept, len(findings) - len(kept)


def prepare_file(
    path: str, settings: Settings, report: Report, enricher: Enricher, request: ProfileRequest | None = None
) -> Prepared | None:
    """Load one file and build its facts; None when it is unreadable (reported) or holds no config."""
    rules = active_rules(settings)
    try:
        documents = _load(path, settings, report.texts.get(path))
    except LoadError as error:
        if not looks_like_config(path, report.texts.get(path)):  # pre-commit hands over every changed YAML/JSON/Python file
            where = f" at line {error.line}" if error.line is not None else ""
            report.skipped.append((path, f"does not parse ({error.message}{where}) and shows no sign of being a PEFT or training config"))
            return None
        report.files += 1
        report.unreadable += 1
        report.findings.append(_unreadable_finding(rules, error))  # never silenced: exit 2 says why
        return None
    configs = [c for document in documents for c in peft_configs(document)]
    if not configs:
        report.skipped.append((path, skip_reason(documents, path)))
        return None
    report.files += 1
    facts, labels = [], []
    for config in configs:
        profile, invalid = profile_or_finding(config, settings, request)
        if invalid is not None:
            report.unreadable += 1
            report.findings.append(invalid)
        labels.append(path if len(configs) == 1 else f"{path} ({_where(config)})")
        report.profiles.append((labels[-1], profile.describe()))
        if config.saved_adapter:
            report.saved_adapters.append((labels[-1], config.saved_adapter_evidence))
        facts.append(config_facts(config, settings, enricher, profile, distributed_setup(config, profile.values, request)))
        report.peft_versions.append((labels[-1], facts[-1]["peft_version"]))
    # the command line's own setup files: checked once, a usage error (cli.check)
    given_files = tuple(f for f in ((request.deepspeed, request.accelerate_config) if request else ()) if f)
    return Prepared(path, settings, rules, configs, facts, labels, given_files)


def _where(config: PeftConfig) -> str:
    """Which of a file's configs: its YAML document, and its block when nested (`peft:`)."""
    block = "/".join(str(part) for part in config.root)
    document = f"document {config.document.ordinal + 1}"
    return f"{document}, {block}" if block else document


def _shared_settings(prepared: list[Prepared]) -> None:
    mark_shared_settings((label, facts) for item in prepared for label, facts in zip(item.labels, item.facts))


def finish_file(prepared: Prepared, report: Report) -> None:
    """Run the rules on a prepared file, apply its suppressions, and add the findings."""
    settings = prepared.settings
    for config, facts in zip(prepared.configs, prepared.facts):
        findings, suppressed = judge(config, facts, settings, report.texts.get(prepared.path), prepared.given_files, prepared.rules)
        report.suppressed += suppressed
        report.findings.extend(findings)
        report.failing += sum(fails(f, settings.fail_on) for f in findings)


def lint_paths(
    paths: Iterable[str],
    *,
    select: tuple[str, ...] = (),
    ignore: tuple[str, ...] = (),
    fail_on: str | None = None,
    model: ModelOptions | None = None,
    profile: ProfileRequest | None = None,
    texts: Mapping[str, str] | None = None,
    peft_version: str | None = None,
    force_exclude: bool = False,
) -> Report:
    """Lint every file; facts that compare configs across files see all of them first. `texts`
    (path -> text) stands in for what is on disk: `--diff` lints its fixes before writing any.
    `force_exclude`: `exclude` applies to files named in `paths` too (walk.py)."""
    report = Report()
    report.texts = texts or {}
    enricher = Enricher(model or ModelOptions())
    prepared = []
    for path in iter_files(paths, report.skipped, force_exclude=force_exclude):
        settings = settings_at(Path(path), select=select, ignore=ignore, fail_on=fail_on, peft_version=peft_version)
        item = prepare_file(path, settings, report, enricher, profile)
        if item is not None:
            prepared.append(item)
    _shared_settings(prepared)
    for item in prepared:
        finish_file(item, report)
    report.findings.sort(key=Finding.sort_key)
    return report


# --- how training runs, for the estimate (`peftlint estimate` and `peftlint.estimate()`) ---------------


SHORT_DTYPES = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}


# `estimate`'s own options for how training runs (also the keys of Training it sets)
TRAINING_FLAGS = ("dtype", "optimizer", "batch_size", "seq_len", "gradient_checkpointing", "quantization", "stack")


def training_for(config: PeftConfig, profile: Mapping[str, Any], given: Mapping[str, Any]) -> "Training":
    """How the estimate assumes training runs: the given settings (flags, API arguments) over the
    training YAML's own keys (axolotl, LLaMA-Factory) over the profile's over the defaults."""
    from peftlint.enrich.memory import normalize_dtype
    from peftlint.enrich.stage import training_from

    from_profile = {**{k: profile[k] for k in ("seq_len", "batch_size") if k in profile}, **training_settings(profile)}
    from_file = dict(config.dialect.training) if config.dialect else {}
    chosen = {**from_profile, **from_file, **{k: v for k, v in given.items() if v is not None}}
    dtype = normalize_dtype(chosen.get("dtype", "bf16"))
    return training_from({**chosen, "dtype": SHORT_DTYPES.get(dtype, dtype)}, None, None)


_PLAN_FLAGS = ("strategy", "num_gpus", "num_nodes", "offload")


def read_distributed(
    config: PeftConfig, context: Profile, deepspeed: str | None, accelerate_config: str | None, fail: Callable[[str], NoReturn]
) -> "Setup":
    """The distributed setup from every layer. A problem in a file named by a flag is a usage
    error; one in the training file (or a file it names) is a PL600 finding, as `check` reports it
    (`lint_config`)."""
    from peftlint.normalize.distributed import read_setup

    flags = {name: context.values[name] for name in _PLAN_FLAGS if context.sources.get(name) == "--" + name.replace("_", "-")}
    setup = read_setup(
        profile=context.values,
        document=config.document,
        accelerate_config=accelerate_config,
        deepspeed=deepspeed,
        flags=flags,
        dialect=config.dialect.name if config.dialect else None,
    )
    for problem in setup.problems:
        if problem.file in (deepspeed, accelerate_config) or problem.file is None:
            fail(str(problem))
    return setup


def plan_of(setup: "Setup", fail: Callable[[str], NoReturn]) -> "Plan":
    """The distributed plan the estimate uses; a contradiction between the layers is a usage error."""
    from peftlint.enrich.distributed import plan_from
    from peftlint.normalize.distributed import checked_plan, plan_settings

    _, contradiction = checked_plan(setup)
    if contradiction is not None:
        fail(contradiction.message)
    return plan_from(plan_settings(setup.settings))
