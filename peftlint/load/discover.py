"""The files `check` reads under a folder: config-looking files, in a fixed order, minus excludes.

- Order: depth first, entries sorted by name, so what is read never depends on the file system.
- A symbolic link to a folder is not followed (a link loop cannot trap the walk, and nothing is
  read twice); a link to a file is read as that file; a link that leads nowhere (dangling, or a
  loop of links) and anything that is not a regular file (a FIFO would block the read for ever)
  hold nothing to check: they are skipped, with the reason `-v` shows.
- A folder that cannot be listed is passed on as a path: reading it fails with the same reason,
  and that is a PL000 finding (exit 2), not configs that silently go unchecked.
- Hidden and tool folders (SKIPPED_DIRS) are not entered, nor are excluded ones: the patterns of
  `[tool.peftlint] exclude` (gitignore syntax, relative to the pyproject.toml's folder) and, with
  `respect-gitignore = true`, those of the `.gitignore` files from that folder down.
- A file named on the command line is read, excluded or not, unless `force-exclude = true` (or
  `--force-exclude`): then `exclude` applies to it too, as ruff's option of the same name does. This
  is what a pre-commit hook needs, since pre-commit names every changed file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Iterator

from peftlint.settings.config import Settings, settings_for

CONFIG_SUFFIXES = frozenset({".yaml", ".yml", ".json", ".py"})
SKIPPED_DIRS = frozenset({".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".mypy_cache"})
GITIGNORE = ".gitignore"


def iter_files(paths: Iterable[str], skipped: list[tuple[str, str]] | None = None, *, force_exclude: bool = False) -> Iterator[str]:
    """The files named in `paths` (any extension), and the config-looking files under the folders
    among them; entries left out for a reason worth telling are added to `skipped` as (path, why).
    `force_exclude` applies `exclude` to the named files whatever `force-exclude` says."""
    skipped = [] if skipped is None else skipped
    for raw in paths:
        if os.path.isdir(raw):
            yield from _walk(raw, _Excludes(settings_for(Path(raw)), raw), skipped)
            continue
        settings = settings_for(Path(raw))
        if (force_exclude or settings.force_exclude) and settings.excludes_file(raw):
            skipped.append((raw, "excluded by `exclude` in pyproject.toml (force-exclude)"))
        else:
            yield raw


def _walk(top: str, excludes: _Excludes, skipped: list[tuple[str, str]]) -> Iterator[str]:
    stack = [(top, excludes.relative_top)]
    while stack:
        folder, rel = stack.pop()
        try:
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except OSError:
            yield folder
            continue
        excludes.enter(folder, rel)
        subfolders = []
        for entry in entries:
            entry_rel = f"{rel}/{entry.name}" if rel else entry.name
            if entry.is_dir(follow_symlinks=False):
                if entry.name not in SKIPPED_DIRS and not entry.name.startswith(".") and not excludes.excluded(entry_rel, folder=True):
                    subfolders.append((entry.path, entry_rel))
            elif os.path.splitext(entry.name)[1] in CONFIG_SUFFIXES and not excludes.excluded(entry_rel, folder=False):
                why = _not_a_file(entry)
                if why:
                    skipped.append((entry.path, why))
                else:
                    yield entry.path
        stack.extend(reversed(subfolders))


def _not_a_file(entry: os.DirEntry[str]) -> str | None:
    """Why a directory entry named like a config holds nothing to read, or None if it is a file."""
    try:
        if entry.is_file():  # follows a link
            return None
        if entry.is_dir():
            return "symbolic link to a folder, not followed"
    except OSError as exc:  # a link to nowhere: too many levels of symbolic links
        return f"symbolic link that leads nowhere ({exc.strerror or exc.__class__.__name__})"
    if entry.is_symlink() and not os.path.exists(entry.path):
        return "symbolic link that leads nowhere (No such file or directory)"
    return "not a regular file"


class _Excludes:
    """Which paths below the settings' root folder are excluded, by `exclude` and `.gitignore`s.

    Paths are relative to the root, with `/`. `.gitignore` files are read as the walk enters
    their folder (and those of the folders above the walk's top, down from the root); as in git, the
    deepest file with a matching pattern decides, and the last matching pattern in it.
    """

    def __init__(self, settings: Settings, top: str) -> None:
        self.settings = settings
        self.gitignores: dict[str, Any] = {}  # folder (relative) -> its compiled .gitignore
        self.relative_top = ""
        if settings.root is None:
            return
        try:
            relative = Path(top).resolve().relative_to(settings.root).as_posix()
        except ValueError:  # not below the root: no pattern of it applies
            self.settings = Settings()
            return
        self.relative_top = "" if relative == "." else relative
        if settings.respect_gitignore and self.relative_top:
            parts = self.relative_top.split("/")
            for depth in range(len(parts)):  # the folders above the top, from the root down
                self._read_gitignore(settings.root.joinpath(*parts[:depth]), "/".join(parts[:depth]))

    def enter(self, folder: str, rel: str) -> None:
        if self.settings.respect_gitignore:
            self._read_gitignore(Path(folder), rel)

    def _read_gitignore(self, folder: Path, rel: str) -> None:
        try:
            lines = (folder / GITIGNORE).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:  # none there (the usual case), or unreadable: git skips those too
            return
        from pathspec import GitIgnoreSpec  # ~15 ms: only for trees that have a .gitignore

        self.gitignores[rel] = GitIgnoreSpec.from_lines(lines)

    def excluded(self, rel: str, *, folder: bool) -> bool:
        path = rel + "/" if folder else rel
        if self.settings.is_excluded(path):
            return True
        if not self.gitignores:
            return False
        parts = rel.split("/")
        for depth in range(len(parts) - 1, -1, -1):  # the deepest .gitignore that has a say decides
            spec = self.gitignores.get("/".join(parts[:depth]))
            if spec is not None:
                decision = spec.check_file("/".join(parts[depth:]) + ("/" if folder else "")).include
                if decision is not None:
                    return bool(decision)
        return False
