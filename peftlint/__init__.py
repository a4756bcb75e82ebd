"""peftlint: a fast, declarative linter for Hugging Face PEFT adapter configs.

The Python API (`peftlint.check`, `peftlint.estimate`, `peftlint.recommend`; see `peftlint.api`) is imported on first
use, so `import peftlint` stays cheap and never imports torch, transformers or peft.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "check": "peftlint.api",
    "estimate": "peftlint.api",
    "recommend": "peftlint.api",
    "PeftlintError": "peftlint.api",
    "Finding": "peftlint.finding",
    "Estimate": "peftlint.estimate",
}
__all__ = ["Estimate", "Finding", "PeftlintError", "__version__", "check", "estimate", "recommend"]

if TYPE_CHECKING:
    from peftlint.api import PeftlintError, check, estimate, recommend
    from peftlint.estimate import Estimate
    from peftlint.finding import Finding


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'peftlint' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value: Any) -> None:
        # `peftlint.estimate` names both the API function and the module peftlint/estimate.py;
        # importing a submodule sets it on its package, which would hide the function for good
        if name in _LAZY and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
