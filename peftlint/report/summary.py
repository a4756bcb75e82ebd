"""Counts shared by every reporter."""

from __future__ import annotations

from peftlint.pipeline import Report


def summary(report: Report) -> dict[str, int]:
    counts = {"files": report.files, "errors": 0, "warnings": 0, "infos": 0}
    for finding in report.findings:
        counts[finding.severity + "s"] += 1
    return counts
