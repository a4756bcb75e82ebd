"""The one value every stage reports: an immutable, sortable Finding."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")
SEVERITY_RANK = {"info": 1, "warning": 2, "error": 3}


@dataclass(frozen=True)
class Finding:
    """One problem at one place. Field names and order follow the JSON contract."""

    code: str
    name: str
    severity: Severity
    file: str | None
    line: int | None
    column: int | None
    key: str | None  # dotted path of the config key concerned, e.g. "target_modules"
    message: str
    fix: str | None = None

    def sort_key(self) -> tuple[Any, ...]:
        return (self.file or "", self.line or 0, self.column or 0, self.code, self.key or "", self.message)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
