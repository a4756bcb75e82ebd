"""The errors of the Python API, all `PeftlintError`s.

A module of its own, below everything that raises them: `peftlint.api` re-exports them, and the
rooms behind the API (the model readers, the integrations) raise them without importing the API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from peftlint.finding import Finding


class PeftlintError(Exception):
    """Base of every error the API raises."""


class ConfigSourceError(PeftlintError):
    """The config cannot be had: no such path, no PEFT config in it, values without a JSON form."""


class ModelError(PeftlintError):
    """The base model cannot be resolved (no config.json) or analysed (unknown architecture)."""


class SettingsError(PeftlintError):
    """Invalid `[tool.peftlint]`, rule file, profile value or option."""


class ArgumentTypeError(PeftlintError, TypeError):
    """An argument of a kind the API does not take (a TypeError too, as Python's own are)."""


class LintFailed(PeftlintError):
    """Findings at or above the fail level (raised by the training callback); `findings` has them."""

    def __init__(self, message: str, findings: list[Finding]):
        super().__init__(message)
        self.findings = findings


class RecommendationFailed(PeftlintError):
    """No configuration can be recommended: nothing fits the stated budget, or the dialect cannot
    train the model; the message says what would."""
