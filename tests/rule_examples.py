"""Matching a rule example's expectations against findings."""

from __future__ import annotations

from typing import Any

from peftlint.finding import Finding


def expectation_met(expected: dict[str, Any], finding: Finding) -> bool:
    return (
        finding.code == expected["code"]
        and ("key" not in expected or finding.key == expected["key"])
        and ("line" not in expected or finding.line == expected["line"])
        and ("severity" not in expected or finding.severity == expected["severity"])
        and expected.get("message_contains", "") in finding.message
    )
