"""Matching a rule example's expectations against findings (now in peftlint.examples, which
`peftlint rules --test` uses too)."""

from __future__ import annotations

from peftlint.examples import expectation_met

__all__ = ["expectation_met"]
