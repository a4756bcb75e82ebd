"""`peftlint check`: lint the configs in PATHS, optionally fix them, report."""

from __future__ import annotations

import argparse
import sys
from typing import Mapping

from peftlint.cli.options import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_USAGE,
    FORMATS,
    PROFILE_FIELDS,
    TRAINING_PROFILE_FIELDS,
    add_model_options,
    add_profile_options,
    add_setup_file_options,
    add_training_profile_options,
    fail,
    profile_request,
    profile_values,
    split,
)
from peftlint.engine import RuleFileError
from peftlint.settings.config import FAIL_ON_CHOICES, ConfigError


def _stdin_paths(args: argparse.Namespace) -> tuple[tuple[str, ...], dict[str, str]]:
    """The paths to lint, with `-` read from stdin under --stdin-filename's name (editors pass it)."""
    paths = tuple(args.paths or (".",))
    if "-" not in paths:
        if args.stdin_filename:
            fail("--stdin-filename names what `-` reads: add `-` to the paths")
        return paths, {}
    if args.fix or args.diff:
        fail("--fix and --diff edit files: they cannot take `-` (stdin)")
    name = args.stdin_filename or "-"
    return tuple(name if path == "-" else path for path in paths), {name: sys.stdin.read()}


def run(args: argparse.Namespace) -> int:
    from peftlint.enrich.stage import ModelOptions
    from peftlint.pipeline import Report, lint_paths
    from peftlint.report import reporter
    from peftlint.settings.profile import ProfileError

    if args.peft_version is not None:
        from peftlint.normalize.peft_versions import VersionError, check_version

        try:
            check_version(args.peft_version)
        except VersionError as exc:
            fail(f"--peft-version: {exc}")
    paths, stdin_texts = _stdin_paths(args)
    request = profile_request(args.profile_name, **profile_values(args, PROFILE_FIELDS + TRAINING_PROFILE_FIELDS))
    if args.deepspeed or args.accelerate_config:
        from peftlint.normalize.distributed import read_setup

        problems = read_setup(
            profile={}, deepspeed=args.deepspeed, accelerate_config=args.accelerate_config, flags={"num_gpus": args.num_gpus}
        ).problems
        if problems:
            fail(str(problems[0]))
        request = request._replace(deepspeed=args.deepspeed, accelerate_config=args.accelerate_config)

    def run(texts: Mapping[str, str] | None = None) -> Report:
        try:
            return lint_paths(
                paths,
                select=split(args.select),
                ignore=split(args.ignore),
                fail_on=args.fail_on,
                model=ModelOptions(model=args.model, revision=args.revision, token=args.token),
                profile=request,
                texts={**stdin_texts, **(texts or {})},
                peft_version=args.peft_version,
                force_exclude=args.force_exclude,
            )
        except (ConfigError, RuleFileError, ProfileError) as exc:
            fail(str(exc))

    report = run()
    if args.fix or args.diff:
        from peftlint.fix import fix_findings

        outcome = fix_findings(report.findings, unsafe=args.unsafe_fixes, write=not args.diff, relint=lambda texts: run(texts).findings)
        if args.diff:
            sys.stdout.write(outcome.diff())
            print(outcome.summary(written=False), file=sys.stderr)
            # like `check`: what the diff leaves unfixed still fails
            return EXIT_USAGE if report.unreadable else EXIT_FINDINGS if outcome.changed or report.failing else EXIT_OK
        print(outcome.summary(written=True), file=sys.stderr)
        report = run()  # what is left
    if args.verbose:
        for path, why in report.skipped:
            print(f"skipped {path}: {why}", file=sys.stderr)
        for config, described in report.profiles:
            print(f"profile of {config}: {described}", file=sys.stderr)
        for config, version in report.peft_versions:
            print(f"peft version of {config}: {_describe_peft_version(version)}", file=sys.stderr)
        for config, evidence in report.saved_adapters:
            print(
                f"saved adapter {config} ({', '.join(evidence)}): rules about training skipped, --fix keeps its weights' meaning",
                file=sys.stderr,
            )
    reporter(args.output_format)(report, sys.stdout)
    return EXIT_USAGE if report.unreadable else EXIT_FINDINGS if report.failing else EXIT_OK


def _describe_peft_version(fact: dict[str, str]) -> str:
    from peftlint.validate import NOT_READ

    if fact["source"] == NOT_READ:
        return "any (no key of this config depends on it)"
    release = "" if fact["release"] == fact["version"] else f"; the keys of {fact['release']}"
    return f"{fact['version']} ({fact['source']}{release})"


def add_options(lint: argparse.ArgumentParser) -> None:
    lint.add_argument("paths", nargs="*", metavar="PATHS", help="Files and folders to check; `-` reads one config from stdin [default: .].")
    lint.add_argument(
        "--stdin-filename", metavar="NAME", help="The file name `-` stands for: its format, settings and the name in findings."
    )
    lint.add_argument("--format", dest="output_format", choices=FORMATS, default="text", help="(default: text)")
    lint.add_argument(
        "--select",
        action="append",
        default=[],
        metavar="RULES",
        help="Only these rules (codes, code prefixes such as PL1, or names; comma-separated).",
    )
    lint.add_argument(
        "--ignore", action="append", default=[], metavar="RULES", help="Skip these rules (codes, prefixes or names; comma-separated)."
    )
    lint.add_argument("--fail-on", choices=FAIL_ON_CHOICES, help="Lowest severity that makes the exit code 1 [default: warning].")
    lint.add_argument(
        "-v", "--verbose", action="store_true", help="Also say which files were skipped and why, and the profile of each config."
    )
    lint.add_argument(
        "--force-exclude",
        action="store_true",
        help="Apply `exclude` from pyproject.toml to files named on the command line too (as pre-commit names them); same as `force-exclude = true`.",
    )
    lint.add_argument(
        "--fix", action="store_true", help="Apply the safe fixes to the files (comments and layout kept), then report what is left."
    )
    lint.add_argument(
        "--diff",
        action="store_true",
        help="Print the fixes as a unified diff and change nothing (exit codes as `check`, and 1 if there is a diff).",
    )
    lint.add_argument("--unsafe-fixes", action="store_true", help="With --fix or --diff: also apply fixes that change training behaviour.")
    lint.add_argument(
        "--peft-version",
        metavar="X.Y.Z",
        help="The peft the configs are for [default: [tool.peftlint] peft-version, else each file's peft_version, else the installed peft's].",
    )
    add_model_options(lint)
    add_profile_options(lint)
    add_training_profile_options(lint)
    add_setup_file_options(lint)
