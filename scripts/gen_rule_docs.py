"""Regenerate the rule pages of the docs site (docs/rules/<CODE>-<name>.md and docs/rules/index.md)
and the rules table in README.md from rules/, and the field tables of docs/writing-rules.md from
schemas/rule.schema.json and schemas/facts.schema.json.

Usage: python scripts/gen_rule_docs.py [--check]   (--check: exit 1 if a file is stale or left over)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Iterator

from peftlint.docs import rule_page, rule_page_name, rules_index, rules_table
from peftlint.engine import load_rules

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "docs" / "rules"
START, END = "<!-- rules-table:start -->", "<!-- rules-table:end -->"
WRITING_RULES = ROOT / "docs" / "writing-rules.md"
FACTS_DEPTH = 3  # nesting levels shown: facts deeper than model.targets.roles.covered are their parent's


def _type(node: dict[str, Any]) -> str:
    if "enum" in node:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in node["enum"])
    if "const" in node:
        return f"`{json.dumps(node['const'])}`"
    if "$ref" in node:
        return node["$ref"].rsplit("/", 1)[-1]
    kinds = node.get("type")
    if isinstance(kinds, list):
        return " or ".join(kinds)
    if kinds:
        return kinds
    alternatives = node.get("oneOf") or node.get("anyOf")
    return " or ".join(_type(a) for a in alternatives) if alternatives else "any"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _fields(node: dict[str, Any], prefix: str, levels: int) -> Iterator[tuple[str, dict[str, Any], bool]]:
    """(dotted name, schema, required) of the node's properties, `levels` levels of nesting deep."""
    required = set(node.get("required", ()))
    for name, child in node.get("properties", {}).items():
        yield prefix + name, child, name in required
        if levels > 0 and isinstance(child, dict):
            yield from _fields(child, f"{prefix}{name}.", levels - 1)


def field_table(node: dict[str, Any], *, levels: int = 0) -> str:
    rows = ["| field | type | required | description |", "| --- | --- | --- | --- |"]
    for name, child, required in _fields(node, "", levels):
        rows.append(f"| `{name}` | {_type(child)} | {'yes' if required else ''} | {_cell(child.get('description', ''))} |")
    return "\n".join(rows) + "\n"


def schema_tables() -> dict[str, str]:
    """The generated parts of docs/writing-rules.md, by marker name."""
    rule = json.loads((ROOT / "schemas" / "rule.schema.json").read_text(encoding="utf-8"))
    facts = json.loads((ROOT / "schemas" / "facts.schema.json").read_text(encoding="utf-8"))
    parts = {"rule-fields": field_table(rule)}
    for name, node in rule["$defs"].items():
        if "properties" in node:  # bad_example is `example` with `expect` required
            parts[f"rule-{name}"] = field_table(node)
    parts["facts-fields"] = field_table(facts, levels=FACTS_DEPTH)
    return parts


def _fill(text: str, parts: dict[str, str]) -> str:
    for name, table in parts.items():
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        if start not in text:
            raise SystemExit(f"{WRITING_RULES.relative_to(ROOT)}: marker {start} missing")
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{start}\n{table}{end}{tail}"
    return text


def generated() -> dict[Path, str]:
    rules = load_rules()
    files = {PAGES / "index.md": rules_index(rules)}
    files.update((PAGES / rule_page_name(rule), rule_page(rule)) for rule in rules)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    if START in readme:  # the README may link to docs/rules/ instead of holding the table
        head, rest = readme.split(START, 1)
        _, tail = rest.split(END, 1)
        files[ROOT / "README.md"] = f"{head}{START}\n{rules_table(rules, link='docs/rules/')}{END}{tail}"
    files[WRITING_RULES] = _fill(WRITING_RULES.read_text(encoding="utf-8"), schema_tables())
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
