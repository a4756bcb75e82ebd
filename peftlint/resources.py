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


def generated_from() -> dict[str, str]:
    """The library versions the shipped model and peft knowledge was generated from (scripts/gen_*.py).

    peftlint never imports these libraries to lint: what it knows of them is this snapshot.
    """
    import json

    index = json.loads((data_dir() / "architectures" / "index.json").read_text(encoding="utf-8"))
    peft_types = json.loads((data_dir() / "peft_types.json").read_text(encoding="utf-8"))
    return {"peft": peft_types["peft_version"], "transformers": index["transformers"], "torch": index["torch"]}
