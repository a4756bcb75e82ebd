"""`--format sarif`: SARIF 2.1.0 for GitHub code scanning and other SARIF viewers.

One run. `tool.driver.rules` describes every rule a finding of this run could come from: the
shipped rules plus the user rule folders configured for the files that have findings (the
Report does not say which rules `--select`/`--ignore` left on, so all of them are listed;
viewers only show the ones that results point at). A finding's configured severity is the
result's `level`; the rule file's own severity is the rule's `defaultConfiguration.level`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, TextIO
from urllib.parse import quote

from peftlint import __version__
from peftlint.engine import Rule
from peftlint.finding import Finding
from peftlint.pipeline import Report, rule_set

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
DEFAULT_REPOSITORY = "https://github.com/peftlint/peftlint"
SOURCE_ROOT = "%SRCROOT%"  # the uriBaseId GitHub's upload-sarif maps to the checkout
FINGERPRINT_KEY = "peftlint/v1"  # a new recipe gets a new key, so old alerts are not mismatched
_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
_CODE = re.compile(r"^[A-Z]{1,5}[0-9]{3,4}$")  # schemas/rule.schema.json's `code`
# Pyproject [project.urls] labels, most specific first.
_REPOSITORY_LABELS = ("repository", "source", "source code", "code", "homepage")


@lru_cache(maxsize=1)
def repository_url() -> str:
    """The project's repository from the installed metadata ([project.urls]), else the default."""
    from importlib import metadata

    try:
        entries = metadata.metadata("peftlint").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        entries = []
    urls = {}
    for entry in entries:
        label, _, url = entry.partition(",")
        urls[label.strip().lower()] = url.strip()
    return next((urls[label] for label in _REPOSITORY_LABELS if label in urls), DEFAULT_REPOSITORY).rstrip("/")


def help_uri(rule: Rule) -> str:
    """The rule's page of the docs (docs/rules/PL101-rank-too-high.md)."""
    from peftlint.docs import rule_page_name

    return f"{repository_url()}/blob/main/docs/rules/{rule_page_name(rule)}"


def _rule_folders(findings: Iterable[Finding]) -> list[tuple[Path, ...]]:
    """Rule folders of this run: none (the shipped rules), then those configured for each file."""
    from peftlint.settings.config import settings_for

    return [(), *sorted({settings_for(Path(f.file)).rule_dirs for f in findings if f.file is not None})]


@lru_cache(maxsize=None)
def _help_texts(rule_dirs: tuple[Path, ...]) -> dict[str, tuple[str, str]]:
    """Each rule's help as text (`peftlint explain`) and as Markdown (its docs page, with links
    to the other pages made absolute: a code-scanning viewer shows it away from the site), cached
    as long as `rule_set` caches the rules themselves.

    Rendering the examples is most of a SARIF report's cost (~20 ms for the shipped rules).
    """
    from peftlint.docs import explain, rule_markdown

    docs = f"{repository_url()}/blob/main/docs"
    return {
        rule.code: (explain(rule, with_output=False), rule_markdown(rule, docs=docs, with_output=False)) for rule in rule_set(rule_dirs)
    }


def _descriptor(rule: Rule, help_texts: tuple[str, str], shipped: frozenset[str]) -> dict[str, Any]:
    text, markdown = help_texts
    descriptor: dict[str, Any] = {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.rationale.strip()},
        "defaultConfiguration": {"level": _LEVEL[rule.severity]},
        "help": {"text": text, "markdown": markdown},
        # the rule's references, one tag each: code scanning lists and filters alerts by tag
        "properties": {"tags": list(dict.fromkeys(part.strip() for part in rule.source.split(";")))},
    }
    if rule.path in shipped:  # docs/rules/ documents the shipped rules only
        descriptor["helpUri"] = help_uri(rule)
    old_codes = [alias for alias in rule.aliases if _CODE.match(alias)]
    old_names = [alias for alias in rule.aliases if not _CODE.match(alias)]
    if old_codes:
        descriptor["deprecatedIds"] = old_codes
    if old_names:
        descriptor["deprecatedNames"] = old_names
    return descriptor


def artifact_location(path: str, root: Path) -> dict[str, str]:
    """`path` as a URI relative to `root` (the checkout) when it is inside it, else absolute."""
    absolute = Path(os.path.abspath(path))
    try:
        relative = absolute.relative_to(root)
    except ValueError:
        return {"uri": absolute.as_uri()}
    # fsencode: a file name that is not valid UTF-8 keeps its bytes, percent-encoded
    return {"uri": quote(os.fsencode(relative.as_posix())), "uriBaseId": SOURCE_ROOT}


def _location(finding: Finding, root: Path) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": artifact_location(finding.file or "", root)}
    if finding.line:
        physical["region"] = {"startLine": finding.line}
        if finding.column:
            physical["region"]["startColumn"] = finding.column
    location: dict[str, Any] = {"physicalLocation": physical}
    if finding.key:
        location["logicalLocations"] = [{"fullyQualifiedName": finding.key, "kind": "property"}]
    return location


def fingerprints(findings: list[Finding], root: Path) -> list[str]:
    """One hash per finding from code, file, key and message, never from its position.

    Numbers in the message are left out (`first at line 3`, a byte offset, `r=128` after an edit
    to `r=256`): they change while the problem stays the same. Findings still alike get an
    ordinal, so each result keeps a distinct identity.
    """
    seen: Counter[str] = Counter()
    hashes = []
    for finding in findings:
        where = artifact_location(finding.file, root)["uri"] if finding.file is not None else ""
        identity = "\0".join((finding.code, where, finding.key or "", re.sub(r"\d+", "0", finding.message)))
        hashes.append(hashlib.sha256(f"{identity}\0{seen[identity]}".encode("utf-8", "surrogatepass")).hexdigest())
        seen[identity] += 1
    return hashes


def _result(finding: Finding, rule_index: int, fingerprint: str, root: Path) -> dict[str, Any]:
    text = finding.message + (f"\nfix: {finding.fix}" if finding.fix else "")
    result: dict[str, Any] = {
        "ruleId": finding.code,
        "ruleIndex": rule_index,
        "level": _LEVEL[finding.severity],
        "message": {"text": text},
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint},
    }
    if finding.file is not None:
        result["locations"] = [_location(finding, root)]
    return result


def _folder_uri(folder: Path) -> str:
    uri = folder.as_uri()
    return uri if uri.endswith("/") else uri + "/"  # SARIF: a base URI ends with a slash


def sarif_log(report: Report, root: Path | None = None) -> dict[str, Any]:
    """The SARIF document for `report`, with paths relative to `root` (default: the cwd)."""
    root = Path(os.path.abspath(root or os.getcwd()))
    folders = _rule_folders(report.findings)
    rules = sorted({rule.code: rule for dirs in folders for rule in rule_set(dirs)}.values(), key=lambda rule: rule.code)
    help_texts = {code: text for dirs in folders for code, text in _help_texts(dirs).items()}
    shipped = frozenset(rule.path for rule in rule_set(()))
    index = {rule.code: n for n, rule in enumerate(rules)}
    results = [
        _result(finding, index.get(finding.code, -1), fingerprint, root)  # -1: SARIF's "no descriptor"
        for finding, fingerprint in zip(report.findings, fingerprints(report.findings, root))
    ]
    driver = {
        "name": "peftlint",
        "version": __version__,
        "semanticVersion": __version__,
        "informationUri": repository_url(),
        "rules": [_descriptor(rule, help_texts[rule.code], shipped) for rule in rules],
    }
    run = {
        "tool": {"driver": driver},
        # a file that could not be read is a result (PL000) and makes the run incomplete (exit 2)
        "invocations": [{"executionSuccessful": report.unreadable == 0}],
        "originalUriBaseIds": {SOURCE_ROOT: {"uri": _folder_uri(root)}},
        "columnKind": "unicodeCodePoints",  # peftlint's columns count characters
        "results": results,
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def write(report: Report, out: TextIO) -> None:
    # ASCII escapes: any text a config holds (even a lone surrogate from a JSON `\ud800`) prints
    json.dump(sarif_log(report), out, indent=2, ensure_ascii=True)
    out.write("\n")
