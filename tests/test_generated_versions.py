"""The lock, the generated data and the version peftlint reports agree."""

from __future__ import annotations

import subprocess
import sys

import pytest

from peftlint.resources import generated_from
from tests.generated_versions import HOW_TO_FIX, locked_versions, version_mismatch


def test_the_lock_pins_the_versions_the_generated_data_was_made_with() -> None:
    # bumping a pin without regenerating (or the reverse) fails here, whatever is installed
    assert locked_versions() == generated_from(), HOW_TO_FIX


def test_version_names_the_generated_knowledge() -> None:
    result = subprocess.run([sys.executable, "-m", "peftlint", "--version"], capture_output=True, text=True)
    versions = ", ".join(f"{name} {version}" for name, version in generated_from().items())
    assert result.returncode == 0
    assert result.stdout.splitlines()[1] == f"model and peft knowledge generated from {versions}"


def test_a_mismatch_names_each_differing_version_and_the_remedy(monkeypatch: pytest.MonkeyPatch) -> None:
    import tests.generated_versions as versions

    monkeypatch.setattr(versions, "installed_versions", lambda: {**generated_from(), "transformers": "9.9.9", "torch": None})
    recorded = generated_from()
    assert version_mismatch() == (
        f"the generated data was made with transformers {recorded['transformers']} (installed: 9.9.9), "
        f"torch {recorded['torch']} (installed: none): {HOW_TO_FIX}"
    )
