"""Runs `peftlint recommend`: the profile as `check` assembles it, the model, the decision, the output."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, NoReturn

from peftlint.enrich.model import ModelUnavailable, resolve_model
from peftlint.lint import config_profile, settings_at
from peftlint.profile import Profile, ProfileError, ProfileRequest
from peftlint.recommend_output import render
from peftlint.recommendation import NothingFits, RecommendError, Request, recommend

EXIT_OK, EXIT_NOTHING_FITS = 0, 1
FORMAT_BY_SUFFIX = {".yaml": "yaml", ".yml": "yaml", ".json": "json", ".py": "python"}


def output_format(chosen: str | None, output: str | None) -> str:
    """`--format`, else the output file's extension, else the text report."""
    if chosen:
        return chosen
    return FORMAT_BY_SUFFIX.get(Path(output).suffix.lower(), "text") if output else "text"


def assembled_profile(request: ProfileRequest) -> Profile:
    """The profile as `check` assembles it for a config with no block of its own, here."""
    return config_profile(None, settings_at(Path.cwd()), request)


def _interactive(model: str | None, profile: Profile, revision: str | None, token: str | None, fail: Callable[[str], NoReturn]) -> tuple[str, dict]:
    from peftlint.recommend_interactive import Cancelled, ask

    if not sys.stdin.isatty():
        fail("--interactive needs a terminal; pass the profile as options instead")

    def unusable(spec: str) -> str | None:
        try:
            resolve_model(spec, revision=revision, token=token)
        except ModelUnavailable as exc:
            return exc.reason
        return None

    try:
        return ask(profile.values, model, sys.stdin, sys.stdout, unusable)
    except Cancelled as exc:
        fail(str(exc))


def run_recommend(
    *,
    model: str | None,
    revision: str | None,
    token: str | None,
    profile: ProfileRequest,
    dialect: str,
    chosen_format: str | None,
    output: str | None,
    interactive: bool,
    fail: Callable[[str], NoReturn],
) -> int:
    try:
        assembled = assembled_profile(profile)
        if interactive:
            model, answers = _interactive(model, assembled, revision, token, fail)
            assembled = assembled_profile(ProfileRequest({**profile.values, **answers}, profile.name))
    except ProfileError as exc:
        fail(str(exc))
    if not model:
        fail("recommend needs --model (a Hub id, a folder with config.json, a config.json, or a bundled model)")
    fmt = output_format(chosen_format, output)
    try:
        resolved = resolve_model(model, revision=revision, token=token)
        result = recommend(Request(resolved, assembled, dialect, settings_at(Path.cwd())))
        text = render(result, fmt)
    except (ModelUnavailable, RecommendError, ValueError) as exc:
        fail(str(exc))
    except NothingFits as exc:
        print(f"peftlint: {exc}", file=sys.stderr)
        return EXIT_NOTHING_FITS
    if output is None:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror}")
    print(f"peftlint: wrote {output}: {result.plan.label}", file=sys.stderr)
    return EXIT_OK
