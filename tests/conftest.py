"""Test-wide safety: no test may reach the real Hugging Face Hub."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # tests that need a Hub start the local stand-in and unset this
os.environ.pop("HF_TOKEN", None)

import tempfile

# The rule cache goes to a throw-away folder, never the developer's ~/.cache.
os.environ["PEFTLINT_CACHE_DIR"] = tempfile.mkdtemp(prefix="peftlint-cache-")

# tests/corpus/ holds third-party configs and scripts to lint, never tests to collect.
collect_ignore = ["corpus"]


def pytest_report_header() -> str | None:
    from tests.generated_versions import version_mismatch

    mismatch = version_mismatch()
    return f"WARNING: {mismatch}" if mismatch else None
