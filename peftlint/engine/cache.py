"""A cache of parsed rule files, keyed by path, size and modification time.

Parsing ~40 YAML rule files is most of the work a one-file `check` does after start-up; the
cache turns it into one JSON read. It is only an accelerator: a missing, corrupt or unwritable
cache is ignored, and a rule file that changed is parsed (and validated) again.
"""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path
from typing import Any, Iterable

VERSION = 3  # 2: without the rules' documentation parts (engine.DOCUMENTATION); 3: with `escalate`


def cache_file(folders: Iterable[Path] = ()) -> Path:
    """One cache file per set of rule folders: a run reads only the entries it can use, however many
    checkouts, virtual environments and projects share the cache folder."""
    root = os.environ.get("PEFTLINT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "peftlint"
    )
    key = zlib.crc32("\n".join(str(folder) for folder in folders).encode("utf-8"))
    return Path(root) / f"rules-v{VERSION}-{key:08x}.json"


class RuleCache:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or cache_file()
        self.entries: dict[str, Any] = {}
        self.used: set[str] = set()
        self.dirty = False
        try:
            loaded = json.loads(self.path.read_text(encoding="utf-8"))
            if isinstance(loaded, dict) and loaded.get("version") == VERSION and isinstance(loaded.get("rules"), dict):
                self.entries = loaded["rules"]
        except (OSError, ValueError):
            pass

    @staticmethod
    def _stamp(path: Path) -> list[int]:
        stat = path.stat()
        return [stat.st_mtime_ns, stat.st_size]

    def get(self, path: Path) -> dict[str, Any] | None:
        self.used.add(str(path))
        entry = self.entries.get(str(path))
        if isinstance(entry, dict) and entry.get("stamp") == self._stamp(path) and isinstance(data := entry.get("data"), dict):
            return data
        return None

    def put(self, path: Path, data: dict[str, Any]) -> None:
        self.used.add(str(path))
        self.entries[str(path)] = {"stamp": self._stamp(path), "data": data}
        self.dirty = True

    def save(self) -> None:
        # rule folders of removed checkouts and temporary projects would otherwise pile up
        stale = [path for path in self.entries.keys() - self.used if not os.path.exists(path)]
        for path in stale:
            del self.entries[path]
        if not (self.dirty or stale):
            return
        import tempfile  # only when something changed: most runs only read the cache

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", dir=self.path.parent, delete=False, suffix=".tmp", encoding="utf-8") as handle:
                json.dump({"version": VERSION, "rules": self.entries}, handle)
            os.replace(handle.name, self.path)  # atomic: concurrent runs never see half a file
        except OSError:
            pass
