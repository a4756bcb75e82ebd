"""Which peft version a config is for, and which keys that version's config classes have.

The keys of every released peft come from peftlint/data/peft_versions.json, generated from the
wheels' source by scripts/gen_peft_versions.py. The version in use comes, in this order, from
`--peft-version`, `[tool.peftlint] peft-version`, the file's own `peft_version` (what a saved
adapter records), and the installed peft (its package metadata; never imported); without any of
them it is the newest version in the data. docs/peft-versions.md says why in this order.
"""

import json
import re
from functools import lru_cache
from typing import Any, NamedTuple

from peftlint.resources import data_dir

# "0.9", "0.18.1", "0.18.1.dev0", "0.18.1.dev0@0123abc", "0.19.0rc1", "0.17.0+local"
_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?(?:\.(\d+))?([.\-_]?(?:dev|a|b|rc|alpha|beta|pre)\d*)?([.\-_]?post\d*)?(?:[+@].*)?$")
NEWEST = "the newest peft peftlint knows"
INSTALLED = "the installed peft"


class VersionError(ValueError):
    """A version text that is no peft version."""


class PeftVersion(NamedTuple):
    """The peft a config is for: as written, where it came from, and the release whose keys apply."""

    version: str  # as given, e.g. "0.18.1.dev0"
    source: str  # e.g. "--peft-version", "the file's `peft_version`"
    release: str  # a version in the data, e.g. "0.19.0"

    def facts(self) -> dict[str, str]:
        return {"version": self.version, "source": self.source, "release": self.release}


class KeyHistory(NamedTuple):
    first: str  # the first release that had the key
    last: str  # the last release that had it
    present: bool  # the release in use has it


@lru_cache(maxsize=1)
def history() -> dict[str, Any]:
    """The generated data; read only for a file that holds a PEFT config."""
    data: dict[str, Any] = json.loads((data_dir() / "peft_versions.json").read_text(encoding="utf-8"))
    return data


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _spans(recorded: list[Any]) -> list[list[str]]:
    return recorded if isinstance(recorded[0], list) else [recorded]


def release_for(text: str) -> str:
    """The release of the data whose keys apply to peft `text`; raises VersionError.

    A development or pre-release build ("0.17.2.dev0", "0.19.0rc1") already has the keys of the
    release it leads to, so it counts as the first release at or above its number; "0.9" is the
    last 0.9.x; a final version the data lacks is the last release before it; one newer than the
    data is the newest (its new keys are unknown to peftlint, like any key no release had).
    """
    match = _VERSION.match(text.strip())
    if match is None:
        raise VersionError(f"`{text}` is not a peft version (e.g. 0.13.2)")
    major, minor, patch, extra, pre = int(match[1]), int(match[2]), match[3], match[4], match[5]
    versions: list[str] = history()["versions"]
    keys = [version_key(v) for v in versions]
    if patch is None:
        wanted: tuple[int, ...] = (major, minor, 10**9)
    else:
        wanted = (major, minor, int(patch), *((int(extra),) if extra else ()))
    if pre:
        at_or_above = [v for v, k in zip(versions, keys) if k >= wanted]
        return at_or_above[0] if at_or_above else versions[-1]
    at_or_below = [v for v, k in zip(versions, keys) if k <= wanted]
    if not at_or_below:
        raise VersionError(f"`{text}` is older than the first peft release, {versions[0]}")
    return at_or_below[-1]


def is_development(text: str) -> bool:
    """A build from a source checkout ("0.17.2.dev0@UNKNOWN"), which peft writes when run from git.

    Its number says little about its keys: peft's own MetaMathQA benchmark saved GraLoRA adapters
    (a method first released in 0.19.0) as "0.17.2.dev0@UNKNOWN", from the branch that added it.
    So a file's development version is not used to call its keys too new; the next source decides.
    """
    match = _VERSION.match(text.strip())
    return match is not None and bool(match[5] and "dev" in match[5] or "@" in text or "+" in text)


def check_version(text: str) -> str:
    """`text` if it names a peft version; raises VersionError (a usage error) otherwise."""
    release_for(text)
    return text


_DIST_INFO = re.compile(r"^peft-([^-]+)\.dist-info$", re.IGNORECASE)
_EGG_INFO = re.compile(r"^peft(-[^-]+)*\.egg-info$", re.IGNORECASE)  # not peftlint.egg-info


@lru_cache(maxsize=1)
def installed_version() -> str | None:
    """The installed peft's version from its metadata; peft itself is never imported.

    A pip-installed peft has a `peft-<version>.dist-info` folder on sys.path, whose name carries
    the version (the wheel spec's "recording installed projects"); the first one in sys.path order
    is the one importlib.metadata finds too. Only for an egg-info or a zip on the path is
    importlib.metadata asked: importing it costs ~10-40 ms of start-up (email, zipfile, shutil),
    more than a whole check of a small file.
    """
    import os
    import sys

    for entry in sys.path:  # in importlib.metadata's order: the first entry with peft's metadata wins
        try:
            names = os.listdir(entry or ".")
        except OSError:
            if os.path.isfile(entry):
                break  # a zip: importlib.metadata knows how to look inside
            continue
        for name in names:
            match = _DIST_INFO.match(name)
            if match:
                return match.group(1)
        if any(_EGG_INFO.match(n) for n in names):
            break  # an egg: importlib.metadata knows its layouts
    else:
        return None  # no peft installed: the usual case in a pre-commit environment
    import importlib.metadata

    try:
        return importlib.metadata.version("peft")
    except importlib.metadata.PackageNotFoundError:
        return None


def resolve(explicit: tuple[str, str] | None, file_version: Any) -> PeftVersion:
    """The peft in use: `explicit` (value, source) from the command line or pyproject.toml, else
    the file's own `peft_version`, else the installed peft, else the newest in the data."""
    if explicit is not None:
        return PeftVersion(explicit[0], explicit[1], release_for(explicit[0]))
    if isinstance(file_version, str) and not is_development(file_version):
        try:
            return PeftVersion(file_version, "the file's `peft_version`", release_for(file_version))
        except VersionError:
            pass  # a value peft never writes: the next source decides
    installed = installed_version()
    if installed is not None:
        try:
            return PeftVersion(installed, INSTALLED, release_for(installed))
        except VersionError:
            pass
    newest = history()["versions"][-1]
    return PeftVersion(newest, NEWEST, newest)


def key_history(peft_type: str, key: str, release: str) -> KeyHistory | None:
    """When `key` was a field of `peft_type`'s config, and whether `release` has it; None if never."""
    recorded = history()["types"].get(peft_type, {}).get(key)
    if recorded is None:
        return None
    spans = _spans(recorded)
    at = version_key(release)
    present = any(version_key(a) <= at <= version_key(b) for a, b in spans)
    return KeyHistory(spans[0][0], spans[-1][1], present)


def type_releases(peft_type: str) -> tuple[str, str] | None:
    """The first and last release with `peft_type`, or None if no release had it."""
    fields = history()["types"].get(peft_type)
    if not fields:
        return None
    spans = [span for recorded in fields.values() for span in _spans(recorded)]
    return min((a for a, _ in spans), key=version_key), max((b for _, b in spans), key=version_key)


def type_since(peft_type: str) -> str | None:
    """The first release with `peft_type`, or None if no release had it."""
    releases = type_releases(peft_type)
    return releases[0] if releases else None


def version_independent(peft_type: str, keys: list[str]) -> bool:
    """Whether the version in use cannot change what is said about `keys` of `peft_type`: every
    release has the type, and each key is in all of them or in none (a typo whatever the version).
    Then the installed peft need not be looked up."""
    fields = history()["types"].get(peft_type)
    if not fields:
        return True
    versions = history()["versions"]
    always = [versions[0], versions[-1]]
    if type_since(peft_type) != versions[0]:
        return False
    return all(key not in fields or _spans(fields[key]) == [always] for key in keys)
