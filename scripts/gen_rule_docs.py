"""Regenerate the rule pages of the docs site (docs/rules/<CODE>-<name>.md and docs/rules/index.md)
and the rules table in README.md from rules/.

Usage: python scripts/gen_rule_docs.py [--check]   (--check: exit 1 if a file is stale or left over)
"""

from __future__ import annotations

import sys
from pathlib import Path

from peftlint.docs import rule_page, rule_page_name, rules_index, rules_table
from peftlint.engine import load_rules

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "docs" / "rules"
START, END = "<!-- rules-table:start -->", "<!-- rules-table:end -->"


def generated() -> dict[Path, str]:
    rules = load_rules()
    files = {PAGES / "index.md": rules_index(rules)}
    files.update((PAGES / rule_page_name(rule), rule_page(rule)) for rule in rules)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    if START in readme:  # the README may link to docs/rules/ instead of holding the table
        head, rest = readme.split(START, 1)
        _, tail = rest.split(END, 1)
        files[ROOT / "README.md"] = f"{head}{START}\n{rules_table(rules, link='docs/rules/')}{END}{tail}"
    return files


def left_over(files: dict[Path, str]) -> list[Path]:
    """Pages of rules that no longer exist (a renamed rule's old page)."""
    return sorted(path for path in PAGES.glob("*.md") if path not in files)


def main(argv: list[str]) -> int:
    files = generated()
    stale = [path for path, text in files.items() if not path.is_file() or path.read_text(encoding="utf-8") != text]
    if "--check" in argv:
        for path in stale + left_over(files):
            print(f"stale: {path.relative_to(ROOT)} (run python scripts/gen_rule_docs.py)")
        return 1 if stale or left_over(files) else 0
    for path in left_over(files):
        path.unlink()
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
