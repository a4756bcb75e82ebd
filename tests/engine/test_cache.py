"""The parsed-rule cache only speeds loading up: results equal a fresh parse, changes are seen."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from peftlint.engine import RuleFileError, load_rules
from peftlint.engine.cache import RuleCache
from peftlint.resources import rules_dir

RULE = (
    (rules_dir() / "PL103-dropout-too-high.yaml")
    .read_text(encoding="utf-8")
    .replace("PL103", "ORG001")
    .replace("dropout-too-high", "org-rule")
)


def test_cached_rules_equal_freshly_parsed(tmp_path: Path) -> None:
    cache_path = tmp_path / "cache.json"
    fresh = load_rules()
    first = load_rules(cache=RuleCache(cache_path))
    assert cache_path.is_file()
    second = load_rules(cache=RuleCache(cache_path))
    assert fresh == first == second


def test_a_changed_rule_file_is_parsed_again(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    rule_file = folder / "ORG001-org-rule.yaml"
    rule_file.write_text(RULE, encoding="utf-8")
    cache_path = tmp_path / "cache.json"
    load_rules([folder], cache=RuleCache(cache_path))
    rule_file.write_text(RULE.replace("severity: info", "severity: error"), encoding="utf-8")
    os.utime(rule_file, ns=(1, 1))  # a different stamp even on coarse file systems
    rule = next(r for r in load_rules([folder], cache=RuleCache(cache_path)) if r.code == "ORG001")
    assert rule.severity == "error"


def test_an_invalid_user_rule_is_never_cached(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "ORG001-org-rule.yaml").write_text(RULE.replace("severity: warning", "severity: fatal"), encoding="utf-8")
    for _ in range(2):
        with pytest.raises(RuleFileError, match="severity"):
            load_rules([folder], cache=RuleCache(tmp_path / "cache.json"))


@pytest.mark.parametrize("content", ["{", "[]", '{"version": 1, "rules": {"x": 5}}', ""])
def test_a_corrupt_cache_is_ignored(tmp_path: Path, content: str) -> None:
    cache_path = tmp_path / "cache.json"
    cache_path.write_text(content, encoding="utf-8")
    assert load_rules(cache=RuleCache(cache_path)) == load_rules()


def test_an_unwritable_cache_is_ignored(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert load_rules(cache=RuleCache(blocker / "cache.json")) == load_rules()


def test_entries_of_removed_rule_folders_are_dropped_and_others_kept(tmp_path: Path) -> None:
    cache_path = tmp_path / "cache.json"
    kept, removed = tmp_path / "kept", tmp_path / "removed"
    for folder in (kept, removed):
        folder.mkdir()
        (folder / "ORG001-org-rule.yaml").write_text(RULE, encoding="utf-8")
        load_rules([folder], cache=RuleCache(cache_path))
    (removed / "ORG001-org-rule.yaml").unlink()
    removed.rmdir()
    load_rules(cache=RuleCache(cache_path))  # a run that uses neither folder
    entries = RuleCache(cache_path).entries
    assert str(kept / "ORG001-org-rule.yaml") in entries
    assert not any(path.startswith(str(removed)) for path in entries)


def test_each_set_of_rule_folders_has_its_own_cache_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from peftlint.engine.cache import cache_file

    monkeypatch.setenv("PEFTLINT_CACHE_DIR", str(tmp_path / "cache"))
    team = tmp_path / "team-rules"
    shipped_only, with_team = cache_file([rules_dir()]), cache_file([rules_dir(), team])
    assert shipped_only != with_team and shipped_only == cache_file([rules_dir()])
    team.mkdir()
    (team / "ORG001-org-rule.yaml").write_text(RULE, encoding="utf-8")
    load_rules([team], cache=RuleCache(with_team))
    load_rules(cache=RuleCache(shipped_only))
    # a run of the shipped rules alone reads (and parses) none of the team's entries
    assert not any(path.startswith(str(team)) for path in RuleCache(shipped_only).entries)
    assert any(path.startswith(str(team)) for path in RuleCache(with_team).entries)
