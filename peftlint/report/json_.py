"""`--format json`: the stable contract other tools rely on (schemas/output.schema.json)."""

from __future__ import annotations

import json
from typing import TextIO

from peftlint import __version__
from peftlint.pipeline import Report
from peftlint.report.summary import summary


def write(report: Report, out: TextIO) -> None:
    document = {
        "version": __version__,
        "findings": [f.to_dict() for f in report.findings],
        "summary": summary(report),
    }
    json.dump(document, out, indent=2, ensure_ascii=False)
    out.write("\n")
