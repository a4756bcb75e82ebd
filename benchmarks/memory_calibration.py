"""The training-memory estimate against published peak-memory measurements, row by row.

Usage: .venv/bin/python benchmarks/memory_calibration.py [--pin]

Prints every row of tests/enrich/calibration_models/memory-measurements.csv with its estimate,
its error and the error of the method guides' 2·P_frozen + 12·P_trainable formula; then the
median absolute errors (all training rows, and the rows no constant was fitted on), the
out-of-memory checks, and the excluded rows with their reasons; then peft's method comparison
(method-comparison.csv): each method's reserved peak, its error, and the pairs of methods the
estimate orders differently from the measurements. Needs torch + transformers
(parameter counts come from the published configs on the meta device).

`--pin` writes every row's current error to tests/enrich/calibration_models/pinned-errors.csv,
which the tests hold each row to (within a percentage point): run it in the commit that changes
the memory model, and say in that commit why the rows moved.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

CALIBRATION = Path(__file__).resolve().parents[1] / "tests" / "enrich" / "calibration_models" / "calibration.py"

# Rows the two fitted constants were fitted on (peftlint/enrich/memory.py documents each).
FITTED_ON = {127, 130, 131, 132, 135, 136, 137, 140} | set(range(237, 246)) | {246, 247, 249} | set(range(251, 258))


def _load_calibration():
    spec = importlib.util.spec_from_file_location("calibration", CALIBRATION)
    module = importlib.util.module_from_spec(spec)
    sys.modules["calibration"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def main(argv: list[str]) -> int:
    calibration = _load_calibration()
    results = calibration.evaluate()
    if "--pin" in argv:
        calibration.write_pins(results)
    print(calibration.table(results))
    training = [r for r in results if r.case.group == "training"]
    held_out = [r for r in training if r.case.id not in FITTED_ON]
    inference = [r for r in results if r.case.group == "inference"]
    oom = [r for r in results if r.case.group == "oom"]
    print()
    print(f"training rows: {len(training)}")
    print(f"  median |error|  estimate {calibration.median_abs_error(training):6.1%}")
    print(f"  median |error|  2·P_frozen + 12·P_trainable {calibration.median_abs_error(training, seed=True):6.1%}")
    held_out_error = calibration.median_abs_error(held_out)
    print(f"  rows no constant was fitted on: {len(held_out)}, median |error| {held_out_error:6.1%}")
    print(f"  within 15%: {sum(abs(r.error) <= 0.15 for r in training)} of {len(training)}")
    print(f"inference rows: {len(inference)}, median |error| {calibration.median_abs_error(inference):6.1%}")
    print(f"OOM rows predicted over the card: {sum(r.oom_predicted for r in oom)} of {len(oom)}")
    print("excluded rows:")
    for case in calibration.cases():
        if case.group == "excluded":
            print(f"  {case.id}: {case.reason}")
    methods = calibration.evaluate_methods()
    print()
    print(f"peft method comparison (Llama-3.2-3B, batch {calibration.METHOD_BATCH} x {calibration.METHOD_SEQ_LEN}, reserved):")
    print(calibration.method_table(methods))
    errors = [r.error for r in methods]
    print(f"  median |error| {calibration.statistics.median(abs(e) for e in errors):.1%}, spread {max(errors) - min(errors):.1%}")
    measured = [r.experiment for r in sorted(methods, key=lambda r: -r.measured_gb)]
    estimated = [r.experiment for r in sorted(methods, key=lambda r: -r.estimate_gb)]
    swapped = [(a, b) for i, a in enumerate(measured) for b in measured[i + 1 :] if estimated.index(a) > estimated.index(b)]
    print(f"  pairs ordered differently from the measurements: {len(swapped)} {swapped}")
    for experiment, reason in calibration.METHOD_EXCLUDED.items():
        print(f"  excluded {experiment}: {reason}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
