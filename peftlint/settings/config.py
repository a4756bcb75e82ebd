"""Settings: defaults, `[tool.peftlint]` in the nearest pyproject.toml, then CLI options."""

import fnmatch
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from peftlint.finding import SEVERITY_RANK, Finding, Severity
from peftlint.resources import schemas_dir

if TYPE_CHECKING:
    import jsonschema_rs

DEFAULT_MAX_FILE_SIZE = 10_000_000
FAIL_ON_CHOICES = ("error", "warning", "info", "never")


class ConfigError(Exception):
    """An invalid `[tool.peftlint]` table: a usage error (exit 2)."""


class Settings(NamedTuple):
    """Settings are values: the dict fields are never changed in place (defaults are shared)."""

    root: Path | None = None  # folder of the pyproject.toml the settings came from
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    severity: dict[str, Severity] = {}  # config.schema.json allows these three only
    fail_on: str = "warning"
    rule_dirs: tuple[Path, ...] = ()
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    exclude: tuple[str, ...] = ()  # gitignore syntax, relative to `root`
    force_exclude: bool = False  # `exclude` applies to files named on the command line too (walk.py)
    respect_gitignore: bool = False  # also the .gitignore files from `root` down (walk.py)
    per_file_ignores: dict[str, tuple[str, ...]] = {}
    profile: dict[str, Any] = {}
    profiles: dict[str, dict[str, Any]] = {}
    # the peft the configs are for (peftlint/normalize/peft_versions.py), and where that was said
    peft_version: tuple[str, str] | None = None  # (version, source)

    def with_cli(
        self, *, select: tuple[str, ...] = (), ignore: tuple[str, ...] = (), fail_on: str | None = None, peft_version: str | None = None
    ) -> "Settings":
        return self._replace(
            select=select or self.select,
            ignore=self.ignore + ignore,
            fail_on=fail_on or self.fail_on,
            peft_version=(peft_version, "--peft-version") if peft_version else self.peft_version,
        )

    def relative(self, path: str) -> str:
        if self.root is None:
            return path
        try:
            return Path(path).resolve().relative_to(self.root).as_posix()
        except ValueError:
            return path

    def excludes_file(self, path: str) -> bool:
        """Whether `exclude` matches a file or one of its folders below `root` (force-exclude)."""
        if not self.exclude or self.root is None:
            return False
        try:
            parts = Path(path).resolve().relative_to(self.root).parts
        except ValueError:  # not below the root: no pattern of it applies
            return False
        folders = ["/".join(parts[:depth]) + "/" for depth in range(1, len(parts))]
        return any(self.is_excluded(rel) for rel in (*folders, "/".join(parts)))

    def is_excluded(self, rel: str) -> bool:
        """Whether `exclude` matches `rel`, a path relative to `root` with `/` (and a trailing `/` for a folder)."""
        return bool(self.exclude) and _gitignore_spec(self.exclude).match_file(rel)


@lru_cache(maxsize=None)
def _gitignore_spec(patterns: tuple[str, ...]) -> Any:
    from pathspec import GitIgnoreSpec  # ~15 ms to import: only when there are patterns

    return GitIgnoreSpec.from_lines(patterns)


def matches(identifiers: tuple[str, ...], patterns: tuple[str, ...]) -> bool:
    """A rule matches a pattern by code prefix (`PL1`, `PL101`) or exact name/alias."""
    code = identifiers[0]
    return any(code.startswith(p) or p in identifiers for p in patterns)


def rule_enabled(settings: Settings, identifiers: tuple[str, ...]) -> bool:
    if settings.select and not matches(identifiers, settings.select):
        return False
    return not matches(identifiers, settings.ignore)


def file_ignores(settings: Settings, path: str) -> tuple[str, ...]:
    rel = settings.relative(path)
    return tuple(code for glob, codes in settings.per_file_ignores.items() if fnmatch.fnmatch(rel, glob) for code in codes)


def fails(finding: Finding, fail_on: str) -> bool:
    return fail_on != "never" and SEVERITY_RANK[finding.severity] >= SEVERITY_RANK[fail_on]


@lru_cache(maxsize=1)
def _config_validator() -> "jsonschema_rs.Validator":
    import jsonschema_rs

    return jsonschema_rs.validator_for(json.loads((schemas_dir() / "config.schema.json").read_text(encoding="utf-8")))


def _from_table(table: dict[str, Any], root: Path, source: Path) -> Settings:
    error = next(iter(_config_validator().iter_errors(table)), None)
    if error is not None:
        where = ".".join(str(p) for p in error.instance_path)
        raise ConfigError(f"{source}: invalid [tool.peftlint]{'.' + where if where else ''}: {error.message}")
    peft_version = table.get("peft-version")
    if peft_version is not None:
        from peftlint.normalize.peft_versions import VersionError, check_version

        try:
            check_version(peft_version)
        except VersionError as exc:
            raise ConfigError(f"{source}: invalid [tool.peftlint].peft-version: {exc}") from None
    return Settings(
        root=root,
        select=tuple(table.get("select", ())),
        ignore=tuple(table.get("ignore", ())),
        severity=dict(table.get("severity", {})),
        fail_on=table.get("fail-on", "warning"),
        rule_dirs=tuple((root / d).resolve() for d in table.get("rules", ())),
        max_file_size=table.get("max-file-size", DEFAULT_MAX_FILE_SIZE),
        exclude=tuple(table.get("exclude", ())),
        force_exclude=table.get("force-exclude", False),
        respect_gitignore=table.get("respect-gitignore", False),
        per_file_ignores={k: tuple(v) for k, v in table.get("per-file-ignores", {}).items()},
        profile=dict(table.get("profile", {})),
        profiles={k: dict(v) for k, v in table.get("profiles", {}).items()},
        peft_version=(peft_version, f"{source.name} [tool.peftlint] peft-version") if peft_version else None,
    )


@lru_cache(maxsize=None)
def settings_for_dir(directory: Path) -> Settings:
    """Settings from the nearest pyproject.toml with a [tool.peftlint] table, walking up."""
    for folder in (directory, *directory.parents):
        candidate = folder / "pyproject.toml"
        # os.path, not Path.is_file: a folder we may not search raises PermissionError there
        if not os.path.isfile(candidate):
            continue
        import tomllib  # only when there is a pyproject.toml to read (~5 ms of start-up otherwise)

        try:
            document = tomllib.loads(candidate.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{candidate}: cannot read: {exc}") from None
        table = document.get("tool", {}).get("peftlint")
        if table is not None:
            return _from_table(table, folder, candidate)
    return Settings()


def settings_for(path: Path) -> Settings:
    path = path.resolve()
    return settings_for_dir(path if os.path.isdir(path) else path.parent)
