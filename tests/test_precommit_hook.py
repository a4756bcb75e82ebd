"""The shipped .pre-commit-hooks.yaml, run by the real pre-commit against a temporary git repo.

This also proves packaging: pre-commit installs peftlint from a clean copy of this repository into
its own environment, so the rules, schemas and data must travel inside the built package.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_hooks_file_declares_peftlint() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    hook = next(h for h in hooks if h["id"] == "peftlint")
    assert hook["language"] == "python"
    assert set(hook["types_or"]) == {"yaml", "json", "python"}
    assert hook["entry"].split() == ["peftlint", "check", "--force-exclude"]  # as ruff's hook


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean clone of this repository's committed tree plus the working-tree changes. `.git` is not
    copied: in a git worktree it is a file naming the real repository, and the snapshot commit below
    would land on the developer's branch."""
    repo = tmp_path_factory.mktemp("hook-src")
    shutil.copytree(
        ROOT,
        repo,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns(".git", ".venv", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis", "build", "dist"),
    )
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q"], cwd=repo, check=False)
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "snapshot", "--allow-empty"], cwd=repo, check=True)
    return repo


def _try_repo(hook_repo: Path, work: Path, files: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(hook_repo), "peftlint", "--files", *files],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_hook_passes_good_and_fails_bad(hook_repo: Path, tmp_path: Path) -> None:
    work = tmp_path / "project"
    work.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=work, check=True)
    (work / "good.yaml").write_text("peft_type: LORA\nr: 8\nlora_alpha: 16\ntarget_modules: [q_proj, v_proj]\n")
    (work / "bad.yaml").write_text("peft_type: LORA\nr: 8\nlora_aplha: 16\ntarget_modules: [q_proj, v_proj]\n")
    (work / "workflow.yaml").write_text("on: push\n")
    subprocess.run(["git", "add", "-A"], cwd=work, check=True)
    home = tmp_path / "pre-commit-home"

    good = _try_repo(hook_repo, work, ["good.yaml", "workflow.yaml"], home)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "Passed" in good.stdout

    bad = _try_repo(hook_repo, work, ["bad.yaml", "good.yaml"], home)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "Failed" in bad.stdout and "PL001" in bad.stdout and "lora_alpha" in bad.stdout


ORDINARY = ROOT / "tests" / "fixtures" / "recognition" / "not-peft"  # real files, see SOURCES.md beside it


def test_hook_in_an_ordinary_repository(hook_repo: Path, tmp_path: Path) -> None:
    """pre-commit names every changed YAML/JSON/Python file: JSON with comments, Helm and CloudFormation
    templates, mkdocs.yml with python tags are skipped, and `exclude` holds for named files."""
    work = tmp_path / "project"
    shutil.copytree(ORDINARY, work)
    (work / "pyproject.toml").write_text('[tool.peftlint]\nexclude = ["experiments/"]\n')
    (work / "experiments").mkdir()
    (work / "experiments" / "scratch.yaml").write_text("peft_type: LORA\nr: 8\nlora_aplha: 16\n")  # excluded
    (work / "good.yaml").write_text("peft_type: LORA\nr: 8\nlora_alpha: 16\ntarget_modules: [q_proj, v_proj]\n")
    subprocess.run(["git", "init", "-q"], cwd=work, check=True)
    subprocess.run(["git", "add", "-A"], cwd=work, check=True)
    files = sorted(str(p.relative_to(work)) for p in work.rglob("*") if p.is_file() and ".git" not in p.parts and p.suffix != ".toml")
    result = _try_repo(hook_repo, work, files, tmp_path / "pre-commit-home")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Passed" in result.stdout and "PL000" not in result.stdout


def test_the_repositorys_own_config_runs_peftlint_on_examples(hook_repo: Path, tmp_path: Path) -> None:
    """.pre-commit-config.yaml (peftlint's own hooks) checks examples/ with this checkout's peftlint:
    clean on the good examples; the bad ones are left out, and a new mistake there is caught."""
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    [hook] = [h for repo in config["repos"] for h in repo["hooks"] if h["id"] == "peftlint"]
    assert hook["entry"] == yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))[0]["entry"]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "peftlint").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m peftlint "$@"\n', encoding="utf-8")
    (bin_dir / "peftlint").chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
        "PRE_COMMIT_HOME": str(tmp_path / "home"),
        "PRE_COMMIT_COLOR": "never",
    }
    run = [sys.executable, "-m", "pre_commit", "run", "peftlint", "--all-files"]
    clean = subprocess.run(run, cwd=hook_repo, env=env, capture_output=True, text=True, timeout=600)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "peftlint (examples/)" in clean.stdout and "Passed" in clean.stdout
    broken = hook_repo / "examples" / "good" / "zz-typo.yaml"
    broken.write_text("peft_type: LORA\nr: 8\nlora_aplha: 16\ntarget_modules: [q_proj, v_proj]\n", encoding="utf-8")
    try:
        subprocess.run(["git", "add", str(broken)], cwd=hook_repo, check=True)
        failed = subprocess.run(run, cwd=hook_repo, env=env, capture_output=True, text=True, timeout=600)
    finally:
        subprocess.run(["git", "rm", "-qf", str(broken)], cwd=hook_repo, check=True)
    assert failed.returncode == 1 and "PL001" in failed.stdout, failed.stdout
