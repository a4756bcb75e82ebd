"""How often peftlint is right on real configs: the corpus of tests/corpus/ at default settings, offline.

Usage: .venv/bin/python benchmarks/corpus_report.py

Prints the number of files; the warning/error findings, how many tests/corpus/expected.yaml judges
correct and how many are known false alarms; the known-good files (every corpus file trained or is
an official example, see SOURCES.md) that fail at default on false alarms alone; and the share of
files naming a Hub model as their base whose config.json peftlint has offline (bundled or cached).
Files whose base model is a folder on their author's machine (`local_base_model` in expected.yaml,
with the reason) cannot be known offline by anyone and are counted apart, not in that share.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"  # before peftlint is imported: the figures are the offline ones
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from peftlint.enrich.stage import Enricher  # noqa: E402
from peftlint.load import LoadError  # noqa: E402
from peftlint.pipeline import config_facts, load_configs  # noqa: E402
from peftlint.settings.config import settings_for  # noqa: E402
from tests.corpus_data import CORPUS, corpus_files, judge, lint_corpus, load_expected, local_base_models  # noqa: E402


def base_models() -> tuple[int, int, list[str], list[str]]:
    """(files naming a Hub model as their base, of which known offline, the unknown ids, the files
    naming a local folder that peftlint does not know)."""
    enricher = Enricher()
    local = local_base_models()
    named = known = 0
    unknown = []
    local_files = []
    for name in corpus_files():
        path = CORPUS / name
        try:
            configs = load_configs(str(path))
        except LoadError:
            continue
        facts = [config_facts(config, settings_for(path), enricher) for config in configs]
        errors = [f["model_error"] for f in facts if f["model_error"]]
        if not errors and not any(f["model"] for f in facts):
            continue  # names no base model
        if errors and name in local:
            local_files.append(name)
            continue
        named += 1
        if errors:
            unknown.extend(e["model"] for e in errors)
        else:
            known += 1
    return named, known, unknown, local_files


def main() -> int:
    files = corpus_files()
    expected = load_expected()
    found = lint_corpus()
    correct = false = unjudged = 0
    failing_on_false_alarms = []
    for name in files:
        verdict = judge(found.get(name, []), expected.get(name, {"expected": [], "false_alarms": []}))
        correct += len(verdict.correct)
        false += len(verdict.false_alarms)
        unjudged += len(verdict.unexpected)
        if verdict.false_alarms and not verdict.correct and not verdict.unexpected:
            failing_on_false_alarms.append(name)
    total = correct + false + unjudged
    named, known, unknown, local_files = base_models()
    print(f"files: {len(files)}")
    print(f"warning/error findings: {total} (correct {correct}, false alarms {false}, not yet judged {unjudged})")
    print(f"share correct: {correct / total:.0%}" if total else "share correct: n/a (no findings)")
    print(f"known-good files failing at default on false alarms alone: {len(failing_on_false_alarms)} of {len(files)}")
    for name in failing_on_false_alarms:
        print(f"  {name}")
    print(
        f"base model known offline: {known} of {named} files naming a Hub model ({known / named:.0%})"
        if named
        else "base model known offline: n/a"
    )
    if unknown:
        print("  not known: " + ", ".join(sorted(set(unknown))))
    if local_files:
        print(f"  not counted: {len(local_files)} files naming a folder on their author's machine (expected.yaml `local_base_model`)")
        for name in local_files:
            print(f"    {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
