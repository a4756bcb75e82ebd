"""Which library versions the committed generated data records, against the installed ones.

The generated files (schemas/peft/, peftlint/data/) are compared with the installed peft and
transformers by several tests. Under the lock (requirements/test.txt) the versions agree; anywhere
else a failure must say which versions differ and what to do, not only that files are "stale".
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

from peftlint.resources import generated_from

LOCK = Path(__file__).resolve().parents[1] / "requirements" / "test.txt"
HOW_TO_FIX = (
    "install the pinned test environment (pip install -c requirements/test.txt -e '.[test]'), "
    "or bump the pins on purpose: edit requirements/test.txt, then run scripts/gen_schemas.py, "
    "scripts/gen_architectures.py and `PEFTLINT_REGENERATE=1 pytest tests/enrich/test_targets.py -k defaults_json`, "
    "and commit the regenerated files in the same change (CONTRIBUTING.md, 'Bumping a pin')"
)


def _release(version: str) -> str:
    return version.split("+", 1)[0]  # torch's local build tag (2.13.0+cpu) is not a different release


def installed_versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in generated_from():
        try:
            found[name] = _release(metadata.version(name))
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def locked_versions() -> dict[str, str]:
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", LOCK.read_text(encoding="utf-8"), re.MULTILINE))
    return {name: _release(pins[name]) for name in generated_from() if name in pins}


def version_mismatch() -> str:
    """'' when the installed oracles are the ones the generated data was made with, else why not."""
    installed = installed_versions()
    differ = [
        f"{name} {recorded} (installed: {installed[name] or 'none'})"
        for name, recorded in generated_from().items()
        if installed[name] != recorded
    ]
    if not differ:
        return ""
    return f"the generated data was made with {', '.join(differ)}: {HOW_TO_FIX}"
