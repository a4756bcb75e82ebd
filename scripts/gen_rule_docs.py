"""Regenerate docs/rules.md and the rules table in README.md from rules/.

Usage: python scripts/gen_rule_docs.py [--check]   (--check: exit 1 if a file is stale)
"""

from __future__ import annotations

import sys
from pathlib import Path

from peftlint.docs import rules_markdown, rules_table
from peftlint.engine import load_rules

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- rules-table:start -->", "<!-- rules-table:end -->"


def generated() -> dict[Path, str]:
    rules = load_rules()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return {
        ROOT / "docs" / "rules.md": rules_markdown(rules),
        ROOT / "README.md": f"{head}{START}\n{rules_table(rules)}{END}{tail}",
    }


def main(argv: list[str]) -> int:
    stale = [path for path, text in generated().items() if not path.is_file() or path.read_text(encoding="utf-8") != text]
    if "--check" in argv:
        for path in stale:
            print(f"stale: {path.relative_to(ROOT)} (run python scripts/gen_rule_docs.py)")
        return 1 if stale else 0
    for path, text in generated().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
