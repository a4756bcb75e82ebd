"""Record which keys every released peft version's config classes had (dev time only).

Reads the source of every released peft wheel with ``ast`` (never importing it) and writes
``peftlint/data/peft_versions.json``: for each PEFT type, every field it ever had and the first
and last released version that had it. The linter reads it to tell a key of another peft version
(`enable_lora` of peft <= 0.2, `use_dora` of peft >= 0.9) from a typo.

    .venv/bin/python scripts/gen_peft_versions.py            # download missing wheels, (re)write the file
    .venv/bin/python scripts/gen_peft_versions.py --check    # exit 1 if the file disagrees with the wheels
    .venv/bin/python scripts/gen_peft_versions.py --check --offline  # only the wheels already cached

Wheels are cached outside the repository, in ``$PEFTLINT_PEFT_WHEELS`` (default
``~/.cache/peftlint/peft-wheels``), fetched with ``pip download peft==X --no-deps``. The list of
released versions comes from ``pip index versions peft``. ``--check --offline`` with only some of
the versions cached checks those: each cached version's fields must be exactly the ones the file
says that version had.

What is read: the dataclass fields (annotated class-body names that are not ``ClassVar``) of every
class in ``peft/config.py``, ``peft/utils/config.py``, ``peft/tuners/*.py`` (the flat layout of
peft < 0.6) and ``peft/tuners/*/config.py``, plus the fields they inherit from the other classes
read. A class is a PEFT type's config when its ``__post_init__`` assigns ``self.peft_type =
PeftType.X``; X is the type.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import subprocess
import sys
import warnings
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_PATH = REPO_ROOT / "peftlint" / "data" / "peft_versions.json"
DEFAULT_CACHE = Path(os.environ.get("PEFTLINT_PEFT_WHEELS", Path.home() / ".cache" / "peftlint" / "peft-wheels"))
# peft 0.0.1 and 0.0.2 are placeholders on PyPI with no config classes; 0.1.0 is the first real release
FIRST_VERSION = (0, 1, 0)
_CONFIG_FILE = re.compile(r"^peft/(config\.py|utils/config\.py|tuners/[^/]+\.py|tuners/[^/]+/config\.py)$")
_WHEEL = re.compile(r"^peft-(\d+(?:\.\d+)*)-py3-none-any\.whl$")


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


class ClassInfo(NamedTuple):
    bases: tuple[str, ...]
    fields: tuple[str, ...]  # own dataclass fields, in order
    dataclass: bool
    peft_type: str | None  # set by __post_init__


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Call):
        return _name(node.func)
    return ""


def _is_classvar(annotation: ast.expr) -> bool:
    if isinstance(annotation, ast.Subscript):
        annotation = annotation.value
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):  # "ClassVar[...]"
        return annotation.value.startswith(("ClassVar", "typing.ClassVar"))
    return _name(annotation) == "ClassVar"


def _peft_type(cls: ast.ClassDef) -> str | None:
    for node in cls.body:
        if isinstance(node, ast.FunctionDef) and node.name == "__post_init__":
            for sub in ast.walk(node):
                if (
                    isinstance(sub, ast.Assign)
                    and any(isinstance(t, ast.Attribute) and t.attr == "peft_type" for t in sub.targets)
                    and isinstance(sub.value, ast.Attribute)
                    and _name(sub.value.value) == "PeftType"
                ):
                    return sub.value.attr
    return None


def read_classes(source: str) -> dict[str, ClassInfo]:
    """The top-level classes of one module, by name."""
    classes = {}
    with warnings.catch_warnings():  # old releases have e.g. invalid escape sequences in docstrings
        warnings.simplefilter("ignore")
        tree = ast.parse(source)
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        fields = tuple(
            item.target.id
            for item in node.body
            if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name) and not _is_classvar(item.annotation)
        )
        dataclass = any(_name(d) == "dataclass" for d in node.decorator_list)
        classes[node.name] = ClassInfo(tuple(_name(b) for b in node.bases), fields, dataclass, _peft_type(node))
    return classes


def _all_fields(name: str, classes: dict[str, ClassInfo], seen: frozenset[str] = frozenset()) -> list[str]:
    """Fields of class `name`, inherited ones first (dataclass order), from the classes read."""
    info = classes.get(name)
    if info is None or name in seen:
        return []
    fields: list[str] = []
    for base in reversed(info.bases):  # the MRO of these single-inheritance chains, simplified
        fields += [f for f in _all_fields(base, classes, seen | {name}) if f not in fields]
    if info.dataclass:
        fields += [f for f in info.fields if f not in fields]
    return fields


def type_fields(sources: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """PEFT type -> fields, from (path, text) of one peft release's files."""
    classes: dict[str, ClassInfo] = {}
    for path, text in sorted(sources):
        if _CONFIG_FILE.match(path):
            classes.update(read_classes(text))
    types = {}
    for name, info in classes.items():
        if info.peft_type is not None:
            types[info.peft_type] = _all_fields(name, classes)
    return dict(sorted(types.items()))


def wheel_sources(wheel: Path) -> Iterable[tuple[str, str]]:
    with zipfile.ZipFile(wheel) as archive:
        for path in archive.namelist():
            if _CONFIG_FILE.match(path):
                yield path, archive.read(path).decode("utf-8")


def tree_sources(site_packages: Path) -> Iterable[tuple[str, str]]:
    """The same files from an installed peft (``site_packages/peft/...``)."""
    for file in sorted((site_packages / "peft").rglob("*.py")):
        path = file.relative_to(site_packages).as_posix()
        if _CONFIG_FILE.match(path):
            yield path, file.read_text(encoding="utf-8")


# --- the data file ----------------------------------------------------------------------------------


def build(fields_by_version: dict[str, dict[str, list[str]]]) -> dict[str, object]:
    """The data file's content: the versions read, and per type each field's version ranges.

    A range is [first, last] of consecutive versions read; a field that vanished and came back has
    several ranges (the file stays correct for any history, not only for the usual one).
    """
    versions = sorted(fields_by_version, key=version_key)
    ranges: dict[str, dict[str, list[list[str]]]] = {}
    for peft_type in sorted({t for fields in fields_by_version.values() for t in fields}):
        per_field: dict[str, list[list[str]]] = {}
        previous: set[str] = set()
        for version in versions:
            present = set(fields_by_version[version].get(peft_type, ()))
            for field in fields_by_version[version].get(peft_type, ()):
                spans = per_field.setdefault(field, [])
                if field in previous:
                    spans[-1][1] = version
                else:
                    spans.append([version, version])
            previous = present
        ranges[peft_type] = per_field
    return {"versions": versions, "types": ranges}


def dump(document: dict[str, object]) -> str:
    """One line per field: small, and a new peft release reads as a clear diff. A field with one
    range is written as that range, ``["0.9.0","0.21.2"]``; only one with gaps as a list of them."""
    types = document["types"]
    assert isinstance(types, dict)
    lines = ["{", f'  "versions": {json.dumps(document["versions"])},', '  "types": {']
    for i, (peft_type, fields) in enumerate(types.items()):
        lines.append(f"    {json.dumps(peft_type)}: {{")
        items = [
            f"      {json.dumps(name)}: {json.dumps(spans[0] if len(spans) == 1 else spans, separators=(',', ':'))}"
            for name, spans in fields.items()
        ]
        lines.append(",\n".join(items))
        lines.append("    }" + ("," if i < len(types) - 1 else ""))
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


def spans_of(recorded: list) -> list[list[str]]:
    """The version ranges of a field as the data file writes it (see dump)."""
    return recorded if isinstance(recorded[0], list) else [recorded]


def fields_in(document: dict[str, object], version: str) -> dict[str, set[str]]:
    """PEFT type -> the fields the data file says `version` had."""
    result: dict[str, set[str]] = {}
    for peft_type, fields in document["types"].items():  # type: ignore[union-attr]
        present = {
            name for name, spans in fields.items()
            if any(version_key(a) <= version_key(version) <= version_key(b) for a, b in spans_of(spans))
        }  # fmt: skip
        if present:
            result[peft_type] = present
    return result


# --- wheels ------------------------------------------------------------------------------------------


def released_versions() -> list[str]:
    """Every released peft version, from PyPI (network)."""
    output = subprocess.run([sys.executable, "-m", "pip", "index", "versions", "peft"], check=True, capture_output=True, text=True).stdout
    listed = next(line for line in output.splitlines() if line.startswith("Available versions:"))
    versions = [v.strip() for v in listed.partition(":")[2].split(",")]
    return sorted((v for v in versions if version_key(v) >= FIRST_VERSION), key=version_key)


def cached_wheels(cache: Path) -> dict[str, Path]:
    found = {}
    for wheel in cache.glob("peft-*.whl") if cache.is_dir() else ():
        match = _WHEEL.match(wheel.name)
        if match and version_key(match.group(1)) >= FIRST_VERSION:
            found[match.group(1)] = wheel
    return dict(sorted(found.items(), key=lambda item: version_key(item[0])))


def download(versions: Iterable[str], cache: Path) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    for version in versions:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", f"peft=={version}", "--no-deps", "--only-binary", ":all:",
             "-q", "-d", str(cache)],
            check=True,
        )  # fmt: skip


def read_wheels(wheels: dict[str, Path]) -> dict[str, dict[str, list[str]]]:
    return {version: type_fields(wheel_sources(path)) for version, path in wheels.items()}


# --- check ---------------------------------------------------------------------------------------------


def disagreements(document: dict[str, object], fields_by_version: dict[str, dict[str, list[str]]]) -> list[str]:
    """How the data file disagrees with the fields read from some versions' sources."""
    problems = []
    recorded = document["versions"]
    assert isinstance(recorded, list)
    for version, read in fields_by_version.items():
        if version not in recorded:
            problems.append(f"peft {version} is not in the data file")
            continue
        said = fields_in(document, version)
        for peft_type in sorted(set(said) | set(read)):
            extra = said.get(peft_type, set()) - set(read.get(peft_type, ()))
            missing = set(read.get(peft_type, ())) - said.get(peft_type, set())
            if extra or missing:
                problems.append(
                    f"peft {version} {peft_type}: recorded but absent {sorted(extra)}, present but unrecorded {sorted(missing)}"
                )
    return problems


def load_committed() -> dict[str, object]:
    return json.loads(DATA_PATH.read_text(encoding="utf-8"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed file disagrees with the wheels")
    parser.add_argument("--offline", action="store_true", help="use only the wheels already in the cache")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help=f"wheel cache [default: {DEFAULT_CACHE}]")
    args = parser.parse_args(argv)
    if not args.offline:
        wanted = released_versions()
        download([v for v in wanted if v not in cached_wheels(args.cache)], args.cache)
        wheels = {v: p for v, p in cached_wheels(args.cache).items() if v in wanted}
    else:
        wheels = cached_wheels(args.cache)
    if not wheels:
        print(f"no peft wheels in {args.cache}", file=sys.stderr)
        return 1
    fields_by_version = read_wheels(wheels)
    if not args.check:
        DATA_PATH.write_text(dump(build(fields_by_version)), encoding="utf-8")
        print(f"wrote {DATA_PATH.relative_to(REPO_ROOT)} from {len(wheels)} peft versions", file=sys.stderr)
        return 0
    committed = load_committed()
    problems = disagreements(committed, fields_by_version)
    complete = list(wheels) == committed["versions"]
    if complete and not problems and DATA_PATH.read_text(encoding="utf-8") != dump(build(fields_by_version)):
        problems.append("the file's text is not what the generator writes")
    if not args.offline and not complete:
        problems.append(f"versions differ: recorded {committed['versions']}, released {list(wheels)}")
    for problem in problems:
        print(f"out of date: {DATA_PATH.relative_to(REPO_ROOT)}: {problem}", file=sys.stderr)
    if problems:
        print("regenerate with: .venv/bin/python scripts/gen_peft_versions.py", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
