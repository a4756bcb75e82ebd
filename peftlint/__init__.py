"""peftlint: a fast, declarative linter for Hugging Face PEFT adapter configs."""

from __future__ import annotations

__version__ = "0.1.0"
