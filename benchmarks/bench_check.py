"""Cold-start and throughput of `peftlint check` and `estimate`, side by side with yamllint in one run.

Usage: .venv/bin/python benchmarks/bench_check.py [--runs 21] [--files 1000]

Prints the median wall time of: yamllint on one file, `peftlint check` on the same file, and
`peftlint check` on a folder of N configs. Interleaves the commands run by run, so that the noise
of this 2-core machine hits both tools alike.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIG = """\
peft_type: LORA
task_type: CAUSAL_LM
r: {r}
lora_alpha: 16
lora_dropout: 0.05
target_modules: [q_proj, v_proj]
"""


def _bin(name: str) -> str:
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else shutil.which(name) or name


# Bytecode caching on, as on a user's machine (some shells export PYTHONDONTWRITEBYTECODE=1).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _time(cmd: list[str], cwd: str) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--files", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        one = Path(tmp, "one.yaml")
        one.write_text(CONFIG.format(r=8), encoding="utf-8")
        many = Path(tmp, "many")
        many.mkdir()
        for n in range(args.files):
            (many / f"adapter_{n:05d}.yaml").write_text(CONFIG.format(r=4 + n % 100), encoding="utf-8")
        commands = {
            "yamllint one.yaml": [_bin("yamllint"), "-d", "relaxed", str(one)],
            "peftlint check one.yaml": [_bin("peftlint"), "check", str(one)],
            "peftlint estimate (bundled 8B)": [_bin("peftlint"), "estimate", str(one), "--model", "meta-llama/Meta-Llama-3-8B"],
            f"peftlint check {args.files} files": [_bin("peftlint"), "check", str(many)],
        }
        for cmd in commands.values():  # warm-up: write bytecode caches, fill the page cache
            _time(cmd, tmp)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, cmd in commands.items():
                times[name].append(_time(cmd, tmp))
    print(f"{os.cpu_count()} cores, {args.runs} runs each, interleaved; median (min) in seconds")
    for name, values in times.items():
        print(f"  {name:<32} {statistics.median(values):.3f}  ({min(values):.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
