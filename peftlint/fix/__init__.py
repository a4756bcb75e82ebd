"""`peftlint check --fix` and `--diff`: apply the edits that findings carry, changing nothing else.

Each edit is spliced into the file's text where the parser says its key or value is, so
comments, key order, quoting, indentation, line endings and a BOM stay byte for byte as they were:
YAML at PyYAML's node marks (a round-trip library re-emits the whole file, which normalises
indentation and spacing), JSON at the same marks (JSON is YAML flow syntax; the new values are
written as JSON), Python at the `ast` positions of the config call's literals (the file is
parsed, never run). A JSON file PyYAML cannot read is parsed and written back with its own
indentation, key order and line endings.

The fixes of one file are planned together. Key renames come first and alone: until a typo'd
key is renamed, every other finding of its document was computed without the user's value (a
default stood in for it), so its edit could invent a value the rename is about to supply. The
file is linted again after the renames (in memory, nothing is written before the end) and the
other fixes are planned from the new findings, until nothing changes.

A saved adapter (`source.saved_adapter`) is what trained weights were saved with: no edit may
change what they mean, so only removing a key peft drops when it loads (an unknown key, an older
peft's) is ever applied to one.
"""

from __future__ import annotations

import codecs
import difflib
from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple

from peftlint.finding import Edit, Finding
from peftlint.fix.json_ import json_edit_at_marks
from peftlint.fix.python_ import python_edit
from peftlint.fix.splice import NotApplicable
from peftlint.fix.yaml_ import yaml_edit
from peftlint.load import LoadError

MAX_PASSES = 5  # renames, then what they bring into view; a fix whose finding stays ends the loop
# the edits a saved adapter may take: removing a key peft ignores when it loads (an older peft's)
SAVED_ADAPTER = "a saved adapter: this edit would change what its trained weights mean"


class FileFix(NamedTuple):
    path: str
    original: str
    fixed: str
    applied: tuple[Finding, ...] = ()
    skipped: tuple[tuple[Finding, str], ...] = ()  # (finding, why its edit was not made)
    bom: bool = False
    deferred: tuple[Finding, ...] = ()  # planned again once this pass's renames are in

    @property
    def changed(self) -> bool:
        return self.fixed != self.original

    def diff(self) -> str:
        before, after = self.original.splitlines(keepends=True), self.fixed.splitlines(keepends=True)
        return "".join(difflib.unified_diff(before, after, self.path, self.path))

    def write(self) -> None:
        data = self.fixed.encode("utf-8")
        with open(self.path, "wb") as handle:
            handle.write((codecs.BOM_UTF8 if self.bom else b"") + data)


def wanted(finding: Finding, *, unsafe: bool) -> bool:
    return finding.edit is not None and (finding.edit.safe or unsafe) and finding.file is not None


def plan_fixes(findings: Iterable[Finding], *, unsafe: bool = False, texts: Mapping[str, str] | None = None) -> list[FileFix]:
    """One pass: the fixed text of every file with applicable edits (nothing is written). `texts`
    holds files as earlier passes left them."""
    by_file: dict[str, list[Finding]] = {}
    for finding in findings:
        if wanted(finding, unsafe=unsafe):
            by_file.setdefault(str(finding.file), []).append(finding)
    return [_fix_file(path, items, (texts or {}).get(path)) for path, items in by_file.items()]


def _read(path: str) -> tuple[str, bool]:
    with open(path, "rb") as handle:
        raw = handle.read()
    bom = raw.startswith(codecs.BOM_UTF8)
    return raw[len(codecs.BOM_UTF8) :].decode("utf-8") if bom else raw.decode("utf-8"), bom


def _fix_file(path: str, findings: list[Finding], current: str | None = None) -> FileFix:
    try:
        text, bom = _read(path)
    except (OSError, UnicodeDecodeError) as exc:
        reason = "only UTF-8 files are edited" if isinstance(exc, UnicodeDecodeError) else str(exc.strerror)
        return FileFix(path, "", "", skipped=tuple((f, reason) for f in findings))
    fixed = text if current is None else current
    try:
        apply = _EDITORS[_format(path, fixed)]
    except LoadError as exc:  # changed since it was checked
        return FileFix(path, text, fixed, skipped=tuple((f, f"the file no longer parses: {exc.message}") for f in findings), bom=bom)
    applied: list[Finding] = []
    skipped: list[tuple[Finding, str]] = []
    deferred: list[Finding] = []
    ready: list[tuple[Finding, Edit]] = []
    for finding in findings:
        assert finding.edit is not None
        if finding.edit.changes_adapter:
            skipped.append((finding, SAVED_ADAPTER))
        else:
            ready.append((finding, finding.edit))
    renamed: set[int] = set()  # documents with a rename made in this pass
    for finding, edit in sorted(ready, key=lambda pair: pair[1].op != "rename-key"):
        if edit.op != "rename-key" and edit.document in renamed:
            deferred.append(finding)
            continue
        try:
            fixed = apply(fixed, edit)
        except NotApplicable as exc:
            skipped.append((finding, str(exc)))
        else:
            applied.append(finding)
            if edit.op == "rename-key":
                renamed.add(edit.document)
    return FileFix(path, text, fixed, tuple(applied), tuple(skipped), bom, tuple(deferred))


def _format(path: str, text: str) -> str:
    from peftlint.load.files import load_text

    documents = load_text(text, path)
    return documents[0].format if documents else "yaml"


_EDITORS = {"yaml": yaml_edit, "json": json_edit_at_marks, "python": python_edit}


class Outcome(NamedTuple):
    fixes: list[FileFix]
    hidden: int  # unsafe edits left out (no --unsafe-fixes)
    manual: tuple[Finding, ...] = ()  # warnings and errors whose fix no machine can make

    @property
    def changed(self) -> bool:
        return any(fix.changed for fix in self.fixes)

    def diff(self) -> str:
        return "".join(fix.diff() for fix in self.fixes if fix.changed)

    def summary(self, *, written: bool) -> str:
        applied = sum(len(fix.applied) for fix in self.fixes if fix.changed)
        files = sum(fix.changed for fix in self.fixes)
        left = self.hidden + len(self.manual) + sum(len(fix.skipped) + len(fix.deferred) for fix in self.fixes)
        # never a bare "0 to fix" while problems with a fix remain: say how many, and why below
        lines = [
            f"{'fixed' if written else 'would fix'} {applied} problem(s) in {files} file(s)"
            + (f"; {left} not fixed, see why below" if left else "")
        ]
        lines += [f"not fixed: {f.file}:{f.line}: {f.code} {f.name}: {why}" for fix in self.fixes for f, why in fix.skipped]
        lines += [f"not fixed: {f.file}:{f.line}: {f.code} {f.name}: {RERUN}" for fix in self.fixes for f in fix.deferred]
        lines += [f"not fixed: {f.file}:{f.line}: {f.code} {f.name}: {MANUAL}" for f in self.manual]
        if self.hidden:
            lines.append(
                f"{self.hidden} unsafe fix(es) not {'applied' if written else 'shown'}: they change training behaviour; review them and add --unsafe-fixes"
            )
        return "\n".join(lines)


RERUN = "planned after a key rename of its document; run --fix again"
MANUAL = "no automatic edit: the fix needs a choice only you can make (see its fix line)"
Relint = Callable[[Mapping[str, str]], list[Finding]]


def fix_findings(findings: list[Finding], *, unsafe: bool = False, write: bool = True, relint: Relint | None = None) -> Outcome:
    """Apply the edits of the findings' fixes (safe ones, and unsafe ones when asked) to their files.

    With `relint` (the same check on files' edited text), passes repeat on the new findings until
    nothing changes; without it, one pass, and what it deferred is reported.
    """
    texts: dict[str, str] = {}
    first: dict[str, FileFix] = {}  # each file as it was read: original text and BOM
    applied: dict[str, list[Finding]] = {}
    last: dict[str, FileFix] = {}  # each file's latest pass: what is still skipped or deferred
    for _ in range(MAX_PASSES):
        progress = False
        last = {}
        for fix in plan_fixes(findings, unsafe=unsafe, texts=texts):
            first.setdefault(fix.path, fix)
            last[fix.path] = fix
            if fix.fixed != texts.get(fix.path, fix.original):
                applied.setdefault(fix.path, []).extend(fix.applied)
                texts[fix.path] = fix.fixed
                progress = True
        if not progress or relint is None:
            break
        findings = relint(texts)
    fixes = [
        FileFix(
            path,
            read.original,
            texts.get(path, read.original),
            tuple(applied.get(path, ())),
            last[path].skipped if path in last else (),
            read.bom,
            last[path].deferred if path in last else (),
        )
        for path, read in first.items()
    ]
    if write:
        for fix in fixes:
            if fix.changed:
                fix.write()
    hidden = 0 if unsafe else sum(f.edit is not None and not f.edit.safe for f in findings)
    manual = tuple(f for f in findings if f.edit is None and f.fix and f.severity != "info" and f.file is not None)
    return Outcome(fixes, hidden, manual)
