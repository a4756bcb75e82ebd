"""The directory walk: fixed order, gitignore-style excludes, links, and files that are not files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from peftlint.load.discover import iter_files

CONFIG = "peft_type: LORA\nr: 8\n"


def tree(root: Path, *names: str, pyproject: str | None = None) -> Path:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(CONFIG, encoding="utf-8")
    if pyproject is not None:
        (root / "pyproject.toml").write_text(f"[tool.peftlint]\n{pyproject}\n", encoding="utf-8")
    return root


def walked(root: Path, skipped: list[tuple[str, str]] | None = None) -> list[str]:
    return [Path(p).relative_to(root).as_posix() for p in iter_files([str(root)], skipped)]


def test_order_is_depth_first_by_name_whatever_the_creation_order(tmp_path: Path) -> None:
    names = ["b/z.yaml", "a.yaml", "b/a/x.json", "B.yaml", "a/c.py", "b/y.yml", "notes.txt", ".hidden/h.yaml", "node_modules/n.yaml"]
    tree(tmp_path, *names)
    # a folder's files first, then its subfolders; names in code point order (capitals first)
    assert walked(tmp_path) == ["B.yaml", "a.yaml", "a/c.py", "b/y.yml", "b/z.yaml", "b/a/x.json"]


@pytest.mark.parametrize(
    ("patterns", "kept"),
    [
        ('["build/"]', ["a.yaml", "src/a.yaml", "src/k.json"]),  # a folder pattern, at any depth; the folder is not entered
        ('["*.json"]', ["a.yaml", "build/a.yaml", "src/a.yaml", "src/build/a.yaml"]),
        ('["/build"]', ["a.yaml", "src/a.yaml", "src/build/a.yaml", "src/k.json"]),  # anchored at pyproject.toml's folder
        ('["src/**/a.yaml"]', ["a.yaml", "build/a.yaml", "build/k.json", "src/k.json"]),
        ('["*.json", "!src/k.json"]', ["a.yaml", "build/a.yaml", "src/a.yaml", "src/k.json", "src/build/a.yaml"]),
        ('["src/*"]', ["a.yaml", "build/a.yaml", "build/k.json"]),  # fnmatch-era patterns keep their meaning
    ],
)
def test_exclude_uses_gitignore_syntax(tmp_path: Path, patterns: str, kept: list[str]) -> None:
    tree(
        tmp_path,
        "a.yaml",
        "build/a.yaml",
        "build/k.json",
        "src/a.yaml",
        "src/k.json",
        "src/build/a.yaml",
        pyproject=f"exclude = {patterns}",
    )
    assert sorted(walked(tmp_path)) == sorted(kept)


def test_excludes_are_relative_to_the_pyproject_folder_when_walking_a_subfolder(tmp_path: Path) -> None:
    tree(tmp_path, "configs/build/a.yaml", "configs/b.yaml", "build/c.yaml", pyproject='exclude = ["/configs/build/"]')
    assert walked(tmp_path / "configs") == ["b.yaml"]


def test_a_file_named_on_the_command_line_is_read_even_if_excluded(tmp_path: Path) -> None:
    tree(tmp_path, "build/a.yaml", pyproject='exclude = ["build/"]')
    named = str(tmp_path / "build" / "a.yaml")
    assert list(iter_files([named])) == [named]


@pytest.mark.parametrize(("setting", "kept"), [("", ["a.yaml", "out/ckpt/adapter_config.json"]), ("respect-gitignore = true", ["a.yaml"])])
def test_gitignore_is_read_only_when_asked(tmp_path: Path, setting: str, kept: list[str]) -> None:
    tree(tmp_path, "a.yaml", "out/ckpt/adapter_config.json", pyproject=setting)
    (tmp_path / ".gitignore").write_text("out/\n", encoding="utf-8")  # where training runs save adapters
    assert walked(tmp_path) == kept


def test_nested_gitignores_the_deepest_decides(tmp_path: Path) -> None:
    tree(tmp_path, "a.json", "keep/a.json", "keep/b.json", "sub/x.yaml", "sub/deeper/y.yaml", pyproject="respect-gitignore = true")
    (tmp_path / ".gitignore").write_text("*.json\n# a comment\n", encoding="utf-8")
    (tmp_path / "keep" / ".gitignore").write_text("!a.json\n", encoding="utf-8")
    (tmp_path / "sub" / ".gitignore").write_text("/deeper\n", encoding="utf-8")
    assert walked(tmp_path) == ["keep/a.json", "sub/x.yaml"]
    assert walked(tmp_path / "sub") == ["x.yaml"]  # the .gitignore files above the walked folder count too
    assert walked(tmp_path / "keep") == ["a.json"]


def test_no_pyproject_means_no_patterns(tmp_path: Path) -> None:
    tree(tmp_path, "build/a.yaml")
    (tmp_path / ".gitignore").write_text("build/\n", encoding="utf-8")
    assert walked(tmp_path) == ["build/a.yaml"]


def test_links_loops_and_special_files_are_skipped_with_a_reason(tmp_path: Path) -> None:
    tree(tmp_path, "real/a.yaml")
    (tmp_path / "loop1.yaml").symlink_to("loop2.yaml")
    (tmp_path / "loop2.yaml").symlink_to("loop1.yaml")
    (tmp_path / "dangling.yaml").symlink_to("nowhere.yaml")
    (tmp_path / "linked.yaml").symlink_to(tmp_path / "real" / "a.yaml")
    (tmp_path / "folder.yaml").symlink_to(tmp_path / "real", target_is_directory=True)
    (tmp_path / "real" / "up").symlink_to(tmp_path, target_is_directory=True)  # a folder loop
    os.mkfifo(tmp_path / "fifo.yaml")  # opening it would block until someone writes: never read
    skipped: list[tuple[str, str]] = []
    assert walked(tmp_path, skipped) == ["linked.yaml", "real/a.yaml"]
    assert [(Path(p).name, why) for p, why in skipped] == [
        ("dangling.yaml", "symbolic link that leads nowhere (No such file or directory)"),
        ("fifo.yaml", "not a regular file"),
        ("folder.yaml", "symbolic link to a folder, not followed"),
        ("loop1.yaml", "symbolic link that leads nowhere (Too many levels of symbolic links)"),
        ("loop2.yaml", "symbolic link that leads nowhere (Too many levels of symbolic links)"),
    ]


def test_pathspec_is_imported_only_when_there_are_patterns(tmp_path: Path) -> None:
    tree(tmp_path / "plain", "a.yaml")
    tree(tmp_path / "excluding", "a.yaml", pyproject='exclude = ["b/"]')
    code = "import sys\nfrom peftlint.load.discover import iter_files\nlist(iter_files([sys.argv[1]]))\nprint('pathspec' in sys.modules)"
    imported = [
        subprocess.run([sys.executable, "-c", code, str(tmp_path / name)], capture_output=True, text=True, check=True).stdout.strip()
        for name in ("plain", "excluding")
    ]
    assert imported == ["False", "True"]


def test_force_exclude_applies_exclude_to_named_files(tmp_path: Path) -> None:
    """pre-commit names every changed file: with force-exclude, `exclude` still holds (ruff's option)."""
    (tmp_path / "pyproject.toml").write_text('[tool.peftlint]\nexclude = ["experiments/", "*.tmp.yaml"]\nforce-exclude = true\n')
    for name in ("experiments/deep/a.yaml", "b.tmp.yaml", "c.yaml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("r: 8\n")
    named = [str(tmp_path / n) for n in ("experiments/deep/a.yaml", "b.tmp.yaml", "c.yaml")]
    skipped: list = []
    assert list(iter_files(named, skipped)) == [named[2]]
    assert skipped == [
        (named[0], "excluded by `exclude` in pyproject.toml (force-exclude)"),
        (named[1], "excluded by `exclude` in pyproject.toml (force-exclude)"),
    ]


def test_force_exclude_flag_without_the_setting(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.peftlint]\nexclude = ["*.tmp.yaml"]\n')
    path = tmp_path / "b.tmp.yaml"
    path.write_text("r: 8\n")
    assert list(iter_files([str(path)])) == [str(path)]  # named files are read by default
    assert list(iter_files([str(path)], force_exclude=True)) == []


def test_force_exclude_leaves_files_outside_the_root_alone(tmp_path: Path) -> None:
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "pyproject.toml").write_text('[tool.peftlint]\nexclude = ["*.yaml"]\nforce-exclude = true\n')
    outside = tmp_path / "other.yaml"
    outside.write_text("r: 8\n")
    assert list(iter_files([str(outside)])) == [str(outside)]
