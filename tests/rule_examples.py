"""Matching a rule example's expectations against findings (now in peftlint.engine.examples, which
`peftlint rules --test` uses too)."""

from __future__ import annotations

from peftlint.engine.examples import expectation_met

__all__ = ["expectation_met"]
