"""Inline suppressions: `# peftlint: disable=PL101,rank-too-high` and `# peftlint: disable-file`.

Read from comments in YAML and Python files. A directive on a line with content applies to that
line; a directive alone on its line applies to the next line too (yamllint's disable-line).
"""

import re
from typing import NamedTuple

_DIRECTIVE = re.compile(r"#\s*peftlint:\s*(disable-file|disable)\b\s*(?:=\s*([A-Za-z0-9_\-, ]+))?")
ALL = "*"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # the loaders count lines the same way


class Suppressions(NamedTuple):
    file_wide: set[str]
    by_line: dict[int, set[str]]

    def covers(self, identifiers: tuple[str, ...], line: int | None) -> bool:
        scopes = [self.file_wide]
        if line is not None:
            scopes.append(self.by_line.get(line, set()))
        return any(ALL in scope or any(i in scope for i in identifiers) for scope in scopes)


def parse(text: str) -> Suppressions:
    found = Suppressions(set(), {})
    if "peftlint:" not in text:
        return found
    for number, line in enumerate(_LINE_BREAK.split(text), start=1):
        match = _DIRECTIVE.search(line)
        if match is None:
            continue
        kind, codes = match.groups()
        names = {c.strip() for c in codes.split(",") if c.strip()} if codes else {ALL}
        if kind == "disable-file":
            found.file_wide.update(names)
            continue
        found.by_line.setdefault(number, set()).update(names)
        if line.lstrip().startswith("#"):
            found.by_line.setdefault(number + 1, set()).update(names)
    return found
