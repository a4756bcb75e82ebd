"""`peftlint rules`: the rule set in use here, or a rule folder's own examples run as tests."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Sequence

from peftlint.cli.options import EXIT_FINDINGS, EXIT_OK, fail
from peftlint.engine import RuleFileError
from peftlint.settings.config import ConfigError

if TYPE_CHECKING:
    from peftlint.engine import Rule


def available_rules(rule_dirs: Sequence[str] = ()) -> list[Rule]:
    """The shipped rules, the rule folders of the current folder's settings ([tool.peftlint]
    rules), and `rule_dirs`."""
    from pathlib import Path

    from peftlint.pipeline import rule_set
    from peftlint.settings.config import settings_for_dir

    try:
        configured = settings_for_dir(Path.cwd()).rule_dirs
        extra = tuple(Path(d).resolve() for d in rule_dirs if Path(d).resolve() not in configured)
        return list(rule_set(configured + extra))
    except (ConfigError, RuleFileError) as exc:
        fail(str(exc))


def run(args: argparse.Namespace) -> int:
    if args.test:
        return _test_rules(args.test)
    for rule in available_rules():
        needs = f"  [needs: {', '.join(rule.inputs)}]" if rule.inputs else ""
        print(f"{rule.code}  {rule.name:<32} {rule.severity:<8} {rule.summary}{needs}")
    return EXIT_OK


def _test_rules(folder: str) -> int:
    """`rules --test DIR`: run the good and bad examples of every rule in DIR, as conftest's
    `verify` runs a policy's tests; one line per example, exit 1 if any fails."""
    import tempfile
    from pathlib import Path

    from peftlint.engine.examples import example_problem

    directory = Path(folder).resolve()
    rules = [r for r in available_rules([folder]) if Path(r.path).parent == directory]
    if not rules:
        fail(f"{folder}: no rule files (*.yaml) in this folder")
    failed = passed = 0
    for rule in rules:
        for kind in ("bad", "good"):
            for n, example in enumerate(rule.examples[kind]):
                with tempfile.TemporaryDirectory() as tmp:
                    problem = example_problem(rule, kind, example, Path(tmp), [directory])
                print(f"{'FAIL' if problem else 'ok  '}  {rule.code} {kind}[{n}]" + (f": {problem}" if problem else ""))
                failed, passed = (failed + 1, passed) if problem else (failed, passed + 1)
    print(f"{passed} passed, {failed} failed ({len(rules)} rule(s) in {folder})")
    return EXIT_FINDINGS if failed else EXIT_OK


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--test", metavar="DIR", help="Run the good and bad examples of the rule files in DIR; exit 1 if one fails.")
