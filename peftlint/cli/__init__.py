"""The command line: parses options, runs a command, returns an exit code.

Exit codes: 0 nothing at or above the fail level; 1 findings at or above it;
2 usage error, bad configuration, or a file that could not be read or parsed;
130 interrupted (Ctrl-C); 141 the reader of the output went away (`| head`).

One module per command (check, rules, explain, estimate, recommend), each with
`add_options(parser)` and `run(args)`; only the command that runs is imported (the summaries
`peftlint --help` lists are here for that reason), which keeps a
one-file `check` (a pre-commit hook) fast. argparse rather than click: the standard library's
parser costs ~2 ms to import against click's ~25 ms.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Sequence

from peftlint import __version__
from peftlint.cli.options import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, HelpFormatter, RawHelpFormatter
from peftlint.resources import generated_from

# command -> (its module in peftlint.cli, the one-line summary `peftlint --help` lists)
COMMANDS: dict[str, tuple[str, str]] = {
    "check": ("check", "Lint PEFT configs in PATHS (files or folders; default: the current folder)."),
    "rules": ("rules", "List every rule: code, name, severity, summary (with the rule folders of [tool.peftlint] rules)."),
    "explain": ("explain", "Show a rule's documentation (by code, name or alias)."),
    "estimate": ("estimate", "Trainable parameters, adapter size and GPU memory of the PEFT config in CONFIG."),
    "recommend": ("recommend", "The PEFT config the method guides recommend for --model and the profile; exit 1 if nothing fits."),
}


def build_parser(command: str) -> argparse.ArgumentParser:
    """The parser of one command: building only it keeps start-up short (argparse looks up
    translations for every parser it creates)."""
    module_name, summary = COMMANDS[command]
    module = importlib.import_module(f"peftlint.cli.{module_name}")
    parser = argparse.ArgumentParser(prog=f"peftlint {command}", description=summary, formatter_class=HelpFormatter)
    parser.set_defaults(run=module.run)
    module.add_options(parser)
    return parser


def _top_parser() -> argparse.ArgumentParser:
    listing = "\n".join(f"  {name:<10} {summary}" for name, (_, summary) in COMMANDS.items())
    parser = argparse.ArgumentParser(
        prog="peftlint",
        usage="peftlint [-h] [--version] COMMAND ...",
        description="Lint Hugging Face PEFT adapter configs before a GPU is touched.",
        epilog=f"commands:\n{listing}\n\n`peftlint COMMAND --help` describes a command's options.",
        formatter_class=RawHelpFormatter,
    )
    knowledge = ", ".join(f"{name} {version}" for name, version in generated_from().items())
    parser.add_argument(
        "--version", action="version", version=f"peftlint, version {__version__}\nmodel and peft knowledge generated from {knowledge}"
    )
    parser.add_argument("command", choices=COMMANDS, metavar="COMMAND", help=argparse.SUPPRESS)
    parser.add_argument("arguments", nargs=argparse.REMAINDER, metavar="...", help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        status = _run_command(list(sys.argv[1:] if argv is None else argv))
        sys.stdout.flush()  # here, so that a reader that has gone is seen inside the try
        return status
    except KeyboardInterrupt:
        print("peftlint: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader has gone (`peftlint rules | head`): stop quietly, as Unix tools do, and point
        # stdout at /dev/null so that the interpreter's last flush has nowhere to fail
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _run_command(argv: list[str]) -> int:
    try:
        if not argv or argv[0] not in COMMANDS:  # --help, --version, a misspelt command
            top = _top_parser().parse_args(argv)
            argv = [top.command, *top.arguments]
        args = build_parser(argv[0]).parse_args(argv[1:])
        status: int = args.run(args)  # each command's run(args) -> exit status (argparse types attributes Any)
        return status
    except SystemExit as exc:  # argparse's usage errors (2), --help and --version (0), and fail (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE if exc.code else EXIT_OK
