"""`peftlint check` on a repository-sized tree: 10,000 config files in one call.

Usage: .venv/bin/python benchmarks/bench_scale.py [--files 10000] [--runs 2] [--keep DIR]

Writes N files into 100 folders: YAML, JSON (`adapter_config.json` as peft saves it) and Python
(`LoraConfig(...)` calls), clean and with mistakes, a few that cannot be parsed (PL000) and a few
that hold no PEFT config (skipped). Runs `peftlint check --format json` on the tree `--runs`
times, each in a fresh process, and prints per run the wall time, files per second and the
child's peak resident memory (os.wait4 reads that one process's rusage). Fails (exit 1) if two
runs print different JSON: the output order must not depend on the file system or on timing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# (name pattern, content); {n} varies the values so that files differ. Every kind is a real way
# PEFT configs are written; the bad ones carry the mistakes the rules are for.
KINDS = (
    (
        "lora-{n}.yaml",
        "peft_type: LORA\ntask_type: CAUSAL_LM\nr: {r}\nlora_alpha: {alpha}\nlora_dropout: 0.05\ntarget_modules: [q_proj, v_proj]\n",
    ),
    ("typo-{n}.yaml", "peft_type: LORA\nr: {r}\nlora_aplha: 16\nbias: some\ntarget_modules: [q_proj, v_proj]\n"),
    (
        "adapter_config.json",
        '{{\n  "peft_type": "LORA",\n  "task_type": "CAUSAL_LM",\n  "r": {r},\n  "lora_alpha": {alpha},\n  "target_modules": ["q_proj", "v_proj"],\n  "inference_mode": true\n}}\n',
    ),
    ("prefix-{n}.json", '{{"peft_type": "PREFIX_TUNING", "task_type": "CAUSAL_LM", "num_virtual_tokens": {tokens}}}\n'),
    (
        "train_{n}.py",
        'from peft import LoraConfig, TaskType\n\nconfig = LoraConfig(\n    r={r},\n    lora_alpha={alpha},\n    task_type=TaskType.CAUSAL_LM,\n    target_modules=["q_proj", "v_proj"],\n)\n',
    ),
    ("ia3-{n}.yaml", "peft_type: IA3\ntask_type: SEQ_2_SEQ_LM\ntarget_modules: [k, v, wo]\nfeedforward_modules: [wo]\n"),
    ("ci-{n}.yaml", "on: push\njobs:\n  test: {{runs-on: ubuntu-latest}}\n"),  # not a PEFT config: skipped
)
BROKEN = ("broken-{n}.yaml", "peft_type: LORA\nr: [8\n")  # one in 500: PL000, exit 2
FOLDERS = 100


def write_tree(root: Path, count: int) -> dict[str, int]:
    """`count` files under `root`, spread over FOLDERS folders; returns how many of each kind."""
    made: dict[str, int] = {}
    for n in range(count):
        name, template = BROKEN if n % 500 == 499 else KINDS[n % len(KINDS)]
        folder = root / f"run-{n % FOLDERS:03d}" / (f"ckpt-{n}" if name == "adapter_config.json" else "")
        folder.mkdir(parents=True, exist_ok=True)
        r = (4, 8, 16, 128)[n % 4]
        text = template.format(n=n, r=r, alpha=(2 * r, 16, 2048)[n % 3], tokens=(20, 200)[n % 2])
        (folder / name.format(n=n)).write_text(text, encoding="utf-8")
        kind = name.split("-")[0].split("_")[0].removesuffix(".json")
        made[kind] = made.get(kind, 0) + 1
    return made


def run_once(command: list[str], cwd: Path) -> tuple[float, int, int, bytes]:
    """(wall seconds, peak RSS in bytes, exit code, stdout) of one fresh `peftlint` process."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        child = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        return elapsed, usage.ru_maxrss * 1024, child.returncode, out.read()  # ru_maxrss: KiB on Linux


def peftlint_command() -> list[str]:
    local = Path(sys.executable).parent / "peftlint"
    return [str(local) if local.exists() else shutil.which("peftlint") or "peftlint"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="write the tree here and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp, "tree")
        root.mkdir(parents=True, exist_ok=True)
        made = write_tree(root, args.files)
        command = [*peftlint_command(), "check", "--format", "json", "."]
        outputs = []
        print(f"{args.files} files ({', '.join(f'{k}: {v}' for k, v in sorted(made.items()))}); {os.cpu_count()} cores")
        for run in range(1, args.runs + 1):
            elapsed, peak, code, stdout = run_once(command, root)
            summary = json.loads(stdout)["summary"]
            outputs.append(stdout)
            print(
                f"  run {run}: {elapsed:.2f} s, {args.files / elapsed:,.0f} files/s, peak RSS {peak / 2**20:.0f} MiB, "
                f"exit {code}, {len(json.loads(stdout)['findings'])} findings, summary {summary}"
            )
    identical = all(output == outputs[0] for output in outputs)
    print(f"  JSON output identical across runs: {identical}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
