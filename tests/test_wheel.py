"""The wheel carries everything `peftlint check` and `estimate` need: built from the tracked files,
unpacked outside the checkout and run from there, so a package, rule or data file missing from
pyproject.toml's lists fails here rather than on a user's machine."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "good" / "lora-llama.yaml"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def unpacked_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    source = tmp_path_factory.mktemp("source")
    for name in filter(None, tracked):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", str(dist), str(source)],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("peftlint-*.whl")
    site = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    return site


def _run(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # the unpacked wheel first on the path: it wins over the editable install of the checkout
    env = {**os.environ, "PYTHONPATH": str(site), "HF_HUB_OFFLINE": "1", "PEFTLINT_CACHE_DIR": str(cwd / "cache")}
    return subprocess.run([sys.executable, "-m", "peftlint", *args], cwd=cwd, env=env, capture_output=True, text=True)


def test_every_module_of_the_package_is_in_the_wheel(unpacked_wheel: Path) -> None:
    in_checkout = {p.relative_to(ROOT).as_posix() for p in (ROOT / "peftlint").rglob("*.py")}
    in_wheel = {p.relative_to(unpacked_wheel).as_posix() for p in (unpacked_wheel / "peftlint").rglob("*.py")}
    assert in_checkout - in_wheel == set()


def test_check_and_estimate_run_from_the_wheel_outside_the_checkout(unpacked_wheel: Path, tmp_path: Path) -> None:
    shutil.copy(EXAMPLE, tmp_path / EXAMPLE.name)
    where = subprocess.run(
        [sys.executable, "-c", "import peftlint; print(peftlint.__file__)"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(unpacked_wheel)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(unpacked_wheel)), where

    check = _run(unpacked_wheel, tmp_path, "check", EXAMPLE.name)
    assert (check.returncode, check.stderr) == (0, ""), check.stdout
    assert "no problems in 1 file(s)" in check.stdout

    rules = _run(unpacked_wheel, tmp_path, "rules")  # the shipped rule files
    assert rules.returncode == 0 and "PL101" in rules.stdout

    estimate = _run(unpacked_wheel, tmp_path, "estimate", EXAMPLE.name, "--format", "json")  # bundled model data
    assert estimate.returncode == 0, estimate.stderr
    assert '"trainable_params"' in estimate.stdout
