"""peftlint: a fast, declarative linter for Hugging Face PEFT adapter configs.

The Python API (`peftlint.check`, `peftlint.estimate`, `peftlint.recommend`; see `peftlint.api`) is imported on first
use, so `import peftlint` stays cheap and never imports torch, transformers or peft.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "check": "peftlint.api",
    "estimate": "peftlint.api",
    "recommend": "peftlint.api",
    "PeftlintError": "peftlint.errors",
    "Finding": "peftlint.finding",
    "Estimate": "peftlint.enrich.estimate",
}
__all__ = ["Estimate", "Finding", "PeftlintError", "__version__", "check", "estimate", "recommend"]

if TYPE_CHECKING:
    from peftlint.api import check, estimate, recommend
    from peftlint.enrich.estimate import Estimate
    from peftlint.errors import PeftlintError
    from peftlint.finding import Finding


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'peftlint' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
