"""A small mutation sample: does the test suite notice when the product is quietly wrong?

Usage: .venv/bin/python benchmarks/mutations.py [TEST PATHS ...]
       .venv/bin/python benchmarks/mutations.py --thresholds

Each mutation below is applied alone to a copy of the committed tree (`git archive HEAD`), the tests
run there (`-m "not slow"`; TEST PATHS, default: the whole tests/ folder), and the tests that fail
are listed: a mutation that no test catches is a gap to close. `--thresholds` instead moves every
numeric threshold of every rule's conditions by +25% and -25%, one at a time, and reports which
moves the rules' own examples notice (run in process, with the machinery of
tests/engine/test_rule_thresholds.py). Takes minutes: run it by hand, not in CI (CONTRIBUTING.md).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path
from typing import Callable, NamedTuple

ROOT = Path(__file__).resolve().parents[1]


class Mutation(NamedTuple):
    name: str
    path: str  # the file it changes, relative to the repository
    apply: Callable[[str], str | None]  # new text (None: delete the file); raises if it no longer applies


def _replace(old: str, new: str) -> Callable[[str], str]:
    def apply(text: str) -> str:
        if old not in text:
            raise ValueError(f"the mutation no longer applies: {old!r} not found")
        return text.replace(old, new)

    return apply


MUTATIONS = [
    Mutation("delete a rule file (PL305)", "rules/PL305-same-settings-across-tasks.yaml", lambda text: None),
    Mutation("PL101 threshold 64 -> 65", "rules/PL101-rank-too-high.yaml", _replace("exclusiveMinimum: 64}", "exclusiveMinimum: 65}")),
    Mutation(
        "PL106 threshold 100 -> 150",
        "rules/PL106-too-many-virtual-tokens.yaml",
        _replace("exclusiveMinimum: 100}", "exclusiveMinimum: 150}"),
    ),
    Mutation(
        "activations cut by 15%",
        "peftlint/enrich/memory.py",
        lambda text: _replace(
            'breakdown["activations"] = model.num_layers * block + dropout',
            'breakdown["activations"] = int(0.85 * (model.num_layers * block + dropout))',
        )(
            _replace(
                'breakdown["activations"] = checkpoints + block + dropout / model.num_layers',
                'breakdown["activations"] = int(0.85 * (checkpoints + block + dropout / model.num_layers))',
            )(text)
        ),
    ),
]


def _checkout(folder: Path) -> None:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "HEAD"], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")


def failing_tests(mutation: Mutation, tests: list[str]) -> list[str]:
    """The ids of the tests that fail with `mutation` applied."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _checkout(folder)
        target = folder / mutation.path
        changed = mutation.apply(target.read_text(encoding="utf-8"))
        if changed is None:
            target.unlink()
        else:
            target.write_text(changed, encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(folder)}  # the copy's package, also in subprocesses
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not slow", "-rf", *tests]
        result = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
        return sorted(set(re.findall(r"^FAILED (\S+)", result.stdout, re.M)))


def threshold_sweep() -> list[tuple[str, str, bool, bool]]:
    """(rule, threshold, caught at +25%, caught at -25%) for every numeric threshold."""
    sys.path.insert(0, str(ROOT))
    from peftlint.engine import load_rules
    from tests.engine.test_rule_thresholds import NUMBERS, _conditions, _moved, _outcomes, thresholds

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, rule in enumerate(load_rules()):
            conditions = _conditions(rule)
            unmoved = _outcomes(rule, conditions, Path(tmp) / f"{n}-unmoved")
            for pointer, keyword, value in thresholds(conditions):
                if keyword not in NUMBERS or value == 0:
                    continue  # counts and sign tests have no 25% to move by
                caught = []
                for factor in (1.25, 0.75):
                    moved = _moved(conditions, pointer, value * factor)
                    outcomes = _outcomes(rule, moved, Path(tmp) / f"{n}-{pointer.replace('/', '_')}-{factor}")
                    caught.append(outcomes != unmoved)
                rows.append((rule.code, f"{pointer} = {value}", caught[0], caught[1]))
    return rows


def main(argv: list[str]) -> int:
    if "--thresholds" in argv:
        rows = threshold_sweep()
        for code, where, up, down in rows:
            print(f"{code} {where}: +25% {'caught' if up else 'NOT caught'}, -25% {'caught' if down else 'NOT caught'}")
        both = sum(up and down for _, _, up, down in rows)
        print(f"thresholds caught in both directions: {both} of {len(rows)}")
        return 0
    tests = [a for a in argv if not a.startswith("--")] or ["tests"]
    for mutation in MUTATIONS:
        failed = failing_tests(mutation, tests)
        print(f"{mutation.name}: caught by {len(failed)} test(s)" if failed else f"{mutation.name}: NOT CAUGHT")
        for test_id in failed[:10]:
            print(f"    {test_id}")
        if len(failed) > 10:
            print(f"    ... and {len(failed) - 10} more")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
