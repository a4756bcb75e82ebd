"""The user's context (task, deployment, data, hardware): parsing and validation of its values."""

from __future__ import annotations

import re
from typing import Any, Mapping

GIB = 1024**3
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(gib|gb|g)?\s*$", re.IGNORECASE)


class ProfileError(ValueError):
    """A profile value that is not allowed; the message names the allowed values."""


def parse_gpu_memory(value: Any) -> int:
    """Bytes of one GPU: `24GB`, `24GiB` or `24`. GPUs are sold in GiB, so `80GB` means 80 GiB."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return int(value * GIB)
    match = _MEMORY.match(str(value))
    if match is None or float(match.group(1)) <= 0:
        raise ProfileError(f"gpu_memory `{value}` is not a size: use e.g. `24GB`, `80GiB` or `24` (GiB per GPU)")
    return int(float(match.group(1)) * GIB)


def profile_gpu_bytes(profile: Mapping[str, Any]) -> int | None:
    value = profile.get("gpu_memory")
    return None if value is None else parse_gpu_memory(value)
