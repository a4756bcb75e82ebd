"""`peftlint recommend`: the profile as `check` assembles it, the model, the decision, the output."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from peftlint.cli.options import add_model_options, add_profile_options, add_training_profile_options, fail, profile_of
from peftlint.enrich.model import ModelUnavailable, resolve_model
from peftlint.pipeline import config_profile, settings_at
from peftlint.recommender import NothingFits, RecommendError, Request, recommend
from peftlint.recommender.output import render
from peftlint.settings.profile import Profile, ProfileError, ProfileRequest

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


def _interactive(model: str | None, profile: Profile, revision: str | None, token: str | None) -> tuple[str, dict[str, Any]]:
    from peftlint.cli.interactive import Cancelled, ask

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
) -> int:
    try:
        assembled = assembled_profile(profile)
        if interactive:
            model, answers = _interactive(model, assembled, revision, token)
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


def run(args: argparse.Namespace) -> int:
    if args.output and os.path.lexists(args.output) and not args.force:
        fail(f"{args.output} exists: pass --force to overwrite it")
    return run_recommend(
        model=args.model,
        revision=args.revision,
        token=args.token,
        profile=profile_of(args),
        dialect=args.dialect,
        chosen_format=args.output_format,
        output=args.output,
        interactive=args.interactive,
    )


def add_options(advise: argparse.ArgumentParser) -> None:
    add_model_options(advise)
    add_profile_options(advise)
    add_training_profile_options(advise)
    advise.add_argument(
        "--format",
        dest="output_format",
        choices=("text", "yaml", "json", "python", "deepspeed", "accelerate"),
        help="[default: from -o's extension, else text] deepspeed / accelerate: the DeepSpeed JSON or accelerate config for the chosen strategy (never picked from the extension: .json and .yaml mean the json and yaml formats)",
    )
    advise.add_argument(
        "--dialect",
        choices=("peft", "axolotl", "llama-factory", "trl"),
        default="peft",
        help="The file to write: a peft config, or a training framework's YAML (default: peft).",
    )
    advise.add_argument("-o", "--output", metavar="FILE", help="Write to this file instead of stdout (an existing file only with --force).")
    advise.add_argument("--force", action="store_true", help="With -o: overwrite the file if it exists.")
    advise.add_argument("--interactive", action="store_true", help="Ask the method guide's questions one by one (needs a terminal).")
