"""Where the shipped data lives, in a source checkout and in an installed wheel alike."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def _mapped(package: str, repo_dir: str) -> Path:
    # In a wheel, setuptools' package-dir mapping puts rules/ and schemas/ inside the package;
    # in a checkout (editable or not) they sit at the repository root.
    installed = PACKAGE_DIR / package
    return installed if installed.is_dir() else PACKAGE_DIR.parent / repo_dir


def rules_dir() -> Path:
    return _mapped("rules", "rules")


def schemas_dir() -> Path:
    return _mapped("schemas", "schemas")


def data_dir() -> Path:
    return PACKAGE_DIR / "data"
