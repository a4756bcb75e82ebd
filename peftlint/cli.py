"""The command line: parses options, runs a pipeline, returns an exit code.

Exit codes: 0 nothing at or above the fail level; 1 findings at or above it;
2 usage error, bad configuration, or a file that could not be read or parsed.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, NoReturn, Sequence

import click

from peftlint import __version__
from peftlint.config import FAIL_ON_CHOICES, ConfigError
from peftlint.engine import RuleFileError

if TYPE_CHECKING:
    from peftlint.engine import Rule

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
FORMATS = ("text", "json", "github", "sarif")


def _split(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())


def _fail(message: str) -> NoReturn:
    click.echo(f"peftlint: error: {message}", err=True)
    sys.exit(EXIT_USAGE)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="peftlint")
def cli() -> None:
    """Lint Hugging Face PEFT adapter configs before a GPU is touched."""


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--select", multiple=True, help="Only these rules (codes, code prefixes such as PL1, or names; comma-separated).")
@click.option("--ignore", multiple=True, help="Skip these rules (codes, prefixes or names; comma-separated).")
@click.option("--fail-on", type=click.Choice(FAIL_ON_CHOICES), default=None, help="Lowest severity that makes the exit code 1 [default: warning].")
@click.option("-v", "--verbose", is_flag=True, help="Also say which files were skipped and why.")
def check(paths: tuple[str, ...], output_format: str, select: tuple[str, ...], ignore: tuple[str, ...], fail_on: str | None, verbose: bool) -> None:
    """Lint PEFT configs in PATHS (files or folders; default: the current folder)."""
    from peftlint.lint import lint_paths
    from peftlint.report import reporter

    try:
        report = lint_paths(paths or (".",), select=_split(select), ignore=_split(ignore), fail_on=fail_on)
    except (ConfigError, RuleFileError) as exc:
        _fail(str(exc))
    if verbose:
        for path, why in report.skipped:
            click.echo(f"skipped {path}: {why}", err=True)
    reporter(output_format)(report, sys.stdout)
    sys.exit(EXIT_USAGE if report.unreadable else EXIT_FINDINGS if report.failing else EXIT_OK)


def _rules() -> list[Rule]:
    from peftlint.lint import rule_set

    try:
        return list(rule_set(()))
    except RuleFileError as exc:
        _fail(str(exc))


@cli.command("rules")
def list_rules() -> None:
    """List every rule: code, name, severity, summary."""
    for rule in _rules():
        needs = f"  [needs: {', '.join(rule.inputs)}]" if rule.inputs else ""
        click.echo(f"{rule.code}  {rule.name:<32} {rule.severity:<8} {rule.summary}{needs}")


@cli.command()
@click.argument("code")
def explain(code: str) -> None:
    """Show a rule's documentation (by code, name or alias)."""
    from peftlint.docs import explain as render

    rule = next((r for r in _rules() if code in r.identifiers or code.upper() == r.code), None)
    if rule is None:
        _fail(f"no rule `{code}`; `peftlint rules` lists them")
    click.echo(render(rule), nl=False)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="peftlint", standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0)
    return EXIT_OK
