"""The `check` pipeline for files: load -> normalize -> validate -> facts -> rules -> suppress."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from peftlint import suppress
from peftlint.config import Settings, fails, file_ignores, matches, rule_enabled, settings_for
from peftlint.engine import Rule, evaluate, load_rules
from peftlint.enrich.stage import Enricher, ModelOptions
from peftlint.profile import profile_gpu_bytes
from peftlint.facts import build_facts
from peftlint.finding import Finding
from peftlint.load import Document, LoadError
from peftlint.normalize import PeftConfig, peft_types, to_peft_config
from peftlint.validate import validate
from peftlint.walk import iter_files

UNREADABLE = "PL000"


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    files: int = 0  # files that held a PEFT config or could not be read
    suppressed: int = 0
    failing: int = 0  # findings at or above the fail-on level of their file's settings
    unreadable: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why), shown with -v


@lru_cache(maxsize=None)
def rule_set(rule_dirs: tuple[Path, ...]) -> tuple[Rule, ...]:
    return tuple(load_rules(rule_dirs))


def active_rules(settings: Settings) -> list[Rule]:
    """Rules enabled by the settings, with their configured severity."""
    active = []
    for rule in rule_set(settings.rule_dirs):
        if not rule_enabled(settings, rule.identifiers):
            continue
        level = next((settings.severity[i] for i in rule.identifiers if i in settings.severity), rule.severity)
        active.append(rule if level == rule.severity else replace(rule, severity=level))
    return active


def _unreadable_finding(rules: list[Rule], error: LoadError) -> Finding:
    rule = next((r for r in rules if r.code == UNREADABLE), None)
    return Finding(
        code=UNREADABLE,
        name=rule.name if rule else "unreadable-file",
        severity="error",
        file=error.path,
        line=error.line,
        column=error.column,
        key=None,
        message=error.message,
        fix=rule.fix_title if rule else None,
    )


def _load(path: str, settings: Settings) -> list[Document]:
    from peftlint.load.files import load_path

    return load_path(path, max_bytes=settings.max_file_size, config_classes=peft_types()["classes"])


def load_configs(path: str) -> list[PeftConfig]:
    """The PEFT configs in one file (raises LoadError)."""
    return [c for c in map(to_peft_config, _load(path, settings_for(Path(path)))) if c is not None]


def config_facts(config: PeftConfig, settings: Settings, enricher: Enricher) -> dict:
    """The facts document of one config (schemas/facts.schema.json)."""
    profile = {**settings.profile, **config.profile}
    facts = build_facts(config, validate(config), profile=profile)
    seq_len = profile.get("seq_len") if isinstance(profile.get("seq_len"), int) else None
    facts["model"], facts["model_error"] = enricher.facts(facts["effective"], config.peft_type, profile_gpu_bytes(profile), seq_len)
    return facts


def lint_config(config: PeftConfig, rules: list[Rule], settings: Settings, enricher: Enricher) -> list[Finding]:
    return evaluate(rules, config_facts(config, settings, enricher), config)


def _apply_suppressions(path: str, findings: list[Finding], settings: Settings, rules: list[Rule]) -> tuple[list[Finding], int]:
    ignored = file_ignores(settings, path)
    from peftlint.load.files import decode

    try:
        with open(path, "rb") as handle:
            directives = suppress.parse(decode(handle.read(), path))
    except (OSError, LoadError):
        directives = suppress.Suppressions()
    identifiers = {r.code: r.identifiers for r in rules}
    kept = []
    for finding in findings:
        ids = identifiers.get(finding.code, (finding.code, finding.name))
        if matches(ids, ignored) or directives.covers(ids, finding.line):
            continue
        kept.append(finding)
    return kept, len(findings) - len(kept)


def lint_file(path: str, settings: Settings, report: Report, enricher: Enricher) -> None:
    rules = active_rules(settings)
    try:
        documents = _load(path, settings)
    except LoadError as error:
        report.files += 1
        report.unreadable += 1
        report.findings.append(_unreadable_finding(rules, error))  # never silenced: exit 2 says why
        return
    configs = [c for c in map(to_peft_config, documents) if c is not None]
    if not configs:
        report.skipped.append((path, "empty file" if not documents else "not a PEFT config"))
        return
    report.files += 1
    findings = [f for config in configs for f in lint_config(config, rules, settings, enricher)]
    if findings:
        findings, suppressed = _apply_suppressions(path, findings, settings, rules)
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
) -> Report:
    report = Report()
    enricher = Enricher(model or ModelOptions())
    for path in iter_files(paths, report.skipped):
        settings = settings_for(Path(path)).with_cli(select=select, ignore=ignore, fail_on=fail_on)
        lint_file(path, settings, report, enricher)
    report.findings.sort(key=Finding.sort_key)
    return report
