"""Generated docs stay in step with rules/."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _generator():
    spec = importlib.util.spec_from_file_location("gen_rule_docs", ROOT / "scripts" / "gen_rule_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rule_docs_and_readme_table_are_fresh() -> None:
    generator = _generator()
    files = generator.generated()
    for path, text in files.items():
        assert path.read_text(encoding="utf-8") == text, f"{path.name} is stale: run python scripts/gen_rule_docs.py"
    assert generator.left_over(files) == [], "pages of rules that are gone: run python scripts/gen_rule_docs.py"
    assert generator.main(["--check"]) == 0


# --- every transcript and file the README and the docs show is real ----------------------------------
#
# A ```console block is a transcript: each `$ command` line is run by bash, and what it prints
# (stdout and stderr, as one stream) must be the lines shown under it. `<!-- run in: FOLDER -->` before the block
# runs it in a copy of FOLDER (default: a folder holding a copy of examples/), shown as /repo; `$ cat FILE` of a file
# that is not there writes the lines shown into it, which is how a transcript introduces a file.
# `<!-- file: PATH -->` before a block says the block is that file of the repository, verbatim.

PAGES = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").glob("*.md"))]
_BLOCK = re.compile(r"(?:<!-- (run in|file): (\S+) -->\n)?```(\w*)\n(.*?)\n```", re.S)


def _blocks(kind: str) -> list:
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in _BLOCK.finditer(text):
            marker, where, language, body = match.groups()
            line = text.count("\n", 0, match.start()) + 1
            ident = f"{page.relative_to(ROOT)}:{line}"
            if kind == "console" and language == "console":
                found.append(pytest.param(where if marker == "run in" else None, body, id=ident))
            elif kind == "file" and marker == "file":
                found.append(pytest.param(where, body, id=ident))
    return found


def _steps(body: str) -> list[tuple[str, str]]:
    steps: list[tuple[str, list[str]]] = []
    for line in body.split("\n"):
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            assert steps, f"a console block must start with `$ `: {line!r}"
            steps[-1][1].append(line)
    return [(command, "".join(f"{line}\n" for line in shown)) for command, shown in steps]


@pytest.fixture(scope="module")
def shim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `peftlint` on PATH that is this checkout's, run by this interpreter."""
    folder = tmp_path_factory.mktemp("bin")
    script = folder / "peftlint"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m peftlint "$@"\n', encoding="utf-8")
    script.chmod(0o755)
    return folder


@pytest.mark.parametrize(("folder", "body"), _blocks("console"))
def test_console_transcripts_are_real_output(folder: str | None, body: str, shim: Path, tmp_path: Path) -> None:
    if folder is None:
        shutil.copytree(ROOT / "examples", tmp_path / "examples")
    else:
        shutil.copytree(ROOT / folder, tmp_path, dirs_exist_ok=True)
    env = {
        **os.environ,
        "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "HF_HUB_OFFLINE": "1",  # the models shown are bundled: no network
        "NO_COLOR": "1",
        "COLUMNS": "100",
    }
    for command, shown in _steps(body):
        cat = re.fullmatch(r"cat (\S+)", command)
        if cat and not (tmp_path / cat.group(1)).exists():
            (tmp_path / cat.group(1)).write_text(shown, encoding="utf-8")
        # one stream, as a terminal shows them: stderr's lines where they were printed
        result = subprocess.run(
            ["bash", "-c", command], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120
        )
        # absolute paths name the block's folder as /repo, the same on every machine
        assert result.stdout.replace(str(tmp_path), "/repo") == shown, f"$ {command}"


@pytest.mark.parametrize(("path", "body"), _blocks("file"))
def test_file_blocks_are_the_files(path: str, body: str) -> None:
    assert (ROOT / path).read_text(encoding="utf-8") == body + "\n"


def _mkdocs() -> str | None:
    """mkdocs from PATH, else from the docs venv .ci/run makes (.venv-docs)."""
    found = shutil.which("mkdocs")
    local = ROOT / ".venv-docs" / "bin" / "mkdocs"
    return found or (str(local) if local.is_file() else None)


def test_docs_site_builds_strict(tmp_path: Path) -> None:
    mkdocs = _mkdocs()
    if mkdocs is None:
        pytest.skip("mkdocs is not installed: pip install -c requirements/docs.txt -e '.[docs]' (.ci/run builds the site)")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [mkdocs, "build", "--strict", "-q", "-d", str(tmp_path / "site")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_precommit_rev_is_a_commit_with_the_hook() -> None:
    """There is no release tag: the README pins `rev:` to a commit SHA, which must exist here and
    hold the hooks file pre-commit reads."""
    [rev] = re.findall(r"^    rev: ([0-9a-f]{40})\b", (ROOT / "README.md").read_text(encoding="utf-8"), flags=re.M)
    inside = subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], cwd=ROOT, capture_output=True, text=True)
    if inside.returncode != 0:
        pytest.skip("not a git checkout")
    found = subprocess.run(["git", "cat-file", "-e", f"{rev}:.pre-commit-hooks.yaml"], cwd=ROOT, capture_output=True, text=True)
    assert found.returncode == 0, f"{rev} is not a commit of this repository with .pre-commit-hooks.yaml"
    assert f"@{rev}" in (ROOT / "README.md").read_text(encoding="utf-8")  # the CI snippet pins the same one


def test_readme_stays_a_front_door() -> None:
    """The manual lives in docs/ (issue 14: the README was 78 KB of manual, reference and notebook);
    new material goes to a docs page, linked from here."""
    size = len((ROOT / "README.md").read_bytes())
    assert size <= 15_000, f"README.md is {size} bytes: move the new section to a page in docs/"
