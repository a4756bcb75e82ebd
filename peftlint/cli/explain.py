"""`peftlint explain CODE`: one rule's documentation, found by code, name or alias."""

from __future__ import annotations

import argparse
import sys

from peftlint.cli.options import EXIT_OK, fail
from peftlint.cli.rules import available_rules


def run(args: argparse.Namespace) -> int:
    from peftlint.docs import explain as render

    rule = next((r for r in available_rules() if args.code in r.identifiers or args.code.upper() == r.code), None)
    if rule is None:
        fail(f"no rule `{args.code}`; `peftlint rules` lists them")
    sys.stdout.write(render(rule))
    return EXIT_OK


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("code", metavar="CODE")
