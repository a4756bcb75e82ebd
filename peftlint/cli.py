"""The command line: parses options, runs a pipeline, returns an exit code.

Exit codes: 0 nothing at or above the fail level; 1 findings at or above it;
2 usage error, bad configuration, or a file that could not be read or parsed.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Callable, NoReturn, Sequence

import click

from peftlint import __version__
from peftlint.config import FAIL_ON_CHOICES, ConfigError
from peftlint.engine import RuleFileError

if TYPE_CHECKING:
    from peftlint.engine import Rule
    from peftlint.profile import ProfileRequest

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
FORMATS = ("text", "json", "github", "sarif")


def _split(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())


def _fail(message: str) -> NoReturn:
    click.echo(f"peftlint: error: {message}", err=True)
    sys.exit(EXIT_USAGE)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="peftlint")
def cli() -> None:
    """Lint Hugging Face PEFT adapter configs before a GPU is touched."""


def model_options(command: Callable[..., None]) -> Callable[..., None]:
    """--model / --revision / --token, shared by the commands that read a base model."""
    command = click.option("--token", default=None, help="Hugging Face token for gated or private repos [default: $HF_TOKEN].")(command)
    command = click.option("--revision", default=None, help="Hub revision (branch, tag or commit) of --model.")(command)
    return click.option(
        "--model", default=None, help="Base model: Hub id, folder with config.json, or a config.json [default: the config's base_model_name_or_path]."
    )(command)


PROFILE_HELP = "The user's context, over the config file's `peftlint:` block and [tool.peftlint.profile]."


def profile_options(command: Callable[..., None]) -> Callable[..., None]:
    """--task, --deployment, ... --profile: the profile fields, shared by `check` and `recommend`."""
    from peftlint.profile import DEPLOYMENTS, PRIORITIES, TASKS

    options = [
        click.option("--task", type=click.Choice(TASKS), default=None, help="What the adapter is for."),
        click.option("--deployment", type=click.Choice(DEPLOYMENTS), default=None, help="How it will be served."),
        click.option("--dataset-size", type=click.IntRange(min=1), default=None, help="Training examples."),
        click.option("--num-gpus", type=click.IntRange(min=1), default=None, help="GPUs used for training."),
        click.option("--variants", type=click.IntRange(min=1), default=None, help="Task variants of one base model."),
        click.option("--priority", type=click.Choice(PRIORITIES), default=None, help="What matters most."),
        click.option("--profile", "profile_name", default=None, help="A named profile: [tool.peftlint.profiles.NAME]."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def training_profile_options(command: Callable[..., None]) -> Callable[..., None]:
    """--gpu-memory, --seq-len, --batch-size: profile fields `estimate` already has as options."""
    command = click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Micro-batch size per GPU.")(command)
    command = click.option("--seq-len", type=click.IntRange(min=1), default=None, help="Tokens per sequence.")(command)
    return click.option("--gpu-memory", default=None, help="Memory of one GPU, e.g. 24GB (GB on a GPU is GiB), 80GiB or 24.")(command)


def profile_request(name: str | None, **values: object) -> ProfileRequest:
    from peftlint.profile import ProfileRequest

    return ProfileRequest(values={k: v for k, v in values.items() if v is not None}, name=name)


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--select", multiple=True, help="Only these rules (codes, code prefixes such as PL1, or names; comma-separated).")
@click.option("--ignore", multiple=True, help="Skip these rules (codes, prefixes or names; comma-separated).")
@click.option("--fail-on", type=click.Choice(FAIL_ON_CHOICES), default=None, help="Lowest severity that makes the exit code 1 [default: warning].")
@click.option("-v", "--verbose", is_flag=True, help="Also say which files were skipped and why, and the profile of each config.")
@click.option("--fix", is_flag=True, help="Apply the safe fixes to the files (comments and layout kept), then report what is left.")
@click.option("--diff", is_flag=True, help="Print the fixes as a unified diff and change nothing (exit 1 if there are any).")
@click.option("--unsafe-fixes", is_flag=True, help="With --fix or --diff: also apply fixes that change training behaviour.")
@model_options
@profile_options
@training_profile_options
def check(
    paths: tuple[str, ...],
    output_format: str,
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    fail_on: str | None,
    verbose: bool,
    fix: bool,
    diff: bool,
    unsafe_fixes: bool,
    model: str | None,
    revision: str | None,
    token: str | None,
    profile_name: str | None,
    **profile: object,
) -> None:
    """Lint PEFT configs in PATHS (files or folders; default: the current folder)."""
    from peftlint.enrich.stage import ModelOptions
    from peftlint.lint import Report, lint_paths
    from peftlint.profile import ProfileError
    from peftlint.report import reporter

    def run() -> Report:
        try:
            return lint_paths(
                paths or (".",),
                select=_split(select),
                ignore=_split(ignore),
                fail_on=fail_on,
                model=ModelOptions(model=model, revision=revision, token=token),
                profile=profile_request(profile_name, **profile),
            )
        except (ConfigError, RuleFileError, ProfileError) as exc:
            _fail(str(exc))

    report = run()
    if fix or diff:
        from peftlint.fix import fix_findings

        outcome = fix_findings(report.findings, unsafe=unsafe_fixes, write=not diff)
        if diff:
            sys.stdout.write(outcome.diff())
            click.echo(outcome.summary(written=False), err=True)
            sys.exit(EXIT_FINDINGS if outcome.changed else EXIT_OK)
        click.echo(outcome.summary(written=True), err=True)
        report = run()  # what is left
    if verbose:
        for path, why in report.skipped:
            click.echo(f"skipped {path}: {why}", err=True)
        for config, described in report.profiles:
            click.echo(f"profile of {config}: {described}", err=True)
    reporter(output_format)(report, sys.stdout)
    sys.exit(EXIT_USAGE if report.unreadable else EXIT_FINDINGS if report.failing else EXIT_OK)


def _rules() -> list[Rule]:
    from peftlint.lint import rule_set

    try:
        return list(rule_set(()))
    except RuleFileError as exc:
        _fail(str(exc))


@cli.command("rules")
def list_rules() -> None:
    """List every rule: code, name, severity, summary."""
    for rule in _rules():
        needs = f"  [needs: {', '.join(rule.inputs)}]" if rule.inputs else ""
        click.echo(f"{rule.code}  {rule.name:<32} {rule.severity:<8} {rule.summary}{needs}")


@cli.command()
@click.argument("code")
def explain(code: str) -> None:
    """Show a rule's documentation (by code, name or alias)."""
    from peftlint.docs import explain as render

    rule = next((r for r in _rules() if code in r.identifiers or code.upper() == r.code), None)
    if rule is None:
        _fail(f"no rule `{code}`; `peftlint rules` lists them")
    click.echo(render(rule), nl=False)


@cli.command()
@click.argument("config_path", metavar="CONFIG", type=click.Path())
@model_options
@click.option("--format", "output_format", type=click.Choice(("text", "json")), default="text", show_default=True)
@click.option("--dtype", default=None, help="Base weights: bf16, fp16, fp32 (or bfloat16, float16, float32) [default: the training YAML's, else bf16].")
@click.option("--optimizer", default=None, help="adamw, adamw-8bit, paged-adamw-8bit, sgd (or transformers' optim names) [default: the training YAML's, else adamw].")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Micro-batch size per GPU [default: the training YAML's, else 1].")
@click.option("--seq-len", type=click.IntRange(min=1), default=None, help="Tokens per sequence [default: the training YAML's, else 512].")
@click.option("--gradient-checkpointing/--no-gradient-checkpointing", default=None, help="[default: the training YAML's, else off]")
@click.option("--load-in-4bit", "quantization", flag_value="4bit", help="QLoRA: 4-bit base weights (NF4, double quantization).")
@click.option("--load-in-8bit", "quantization", flag_value="8bit", help="8-bit base weights.")
@click.option("--gpu-memory", default=None, help="Memory of one GPU, e.g. 24GB (GB on a GPU is GiB), 80GiB or 24.")
@click.option("--compare", is_flag=True, help="Also estimate the usual alternatives side by side.")
@profile_options
def estimate(
    config_path: str,
    model: str | None,
    revision: str | None,
    token: str | None,
    output_format: str,
    gpu_memory: str | None,
    compare: bool,
    profile_name: str | None,
    **options: object,
) -> None:
    """Trainable parameters, adapter size and GPU memory of the PEFT config in CONFIG."""
    from peftlint.estimate_command import TRAINING_FLAGS, run_estimate

    training = {name: options.pop(name) for name in TRAINING_FLAGS}  # the rest are profile fields
    sys.exit(
        run_estimate(
            config_path,
            model=model,
            revision=revision,
            token=token,
            output_format=output_format,
            training_flags=training,
            gpu_memory=gpu_memory,
            compare=compare,
            fail=_fail,
            profile=profile_request(
                profile_name, gpu_memory=gpu_memory, seq_len=training["seq_len"], batch_size=training["batch_size"], **options
            ),
        )
    )


@cli.command()
@model_options
@profile_options
@training_profile_options
@click.option("--format", "output_format", type=click.Choice(("text", "yaml", "json", "python")), default=None, help="[default: from -o's extension, else text]")
@click.option("--dialect", type=click.Choice(("peft", "axolotl", "llama-factory")), default="peft", show_default=True, help="The file to write: a peft config, or a training framework's YAML.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Write to this file instead of stdout.")
@click.option("--interactive", is_flag=True, help="Ask the method guide's questions one by one (needs a terminal).")
def recommend(
    model: str | None,
    revision: str | None,
    token: str | None,
    profile_name: str | None,
    output_format: str | None,
    dialect: str,
    output: str | None,
    interactive: bool,
    **profile: object,
) -> None:
    """The PEFT config the method guides recommend for --model and the profile; exit 1 if nothing fits."""
    from peftlint.recommend_command import run_recommend

    sys.exit(
        run_recommend(
            model=model,
            revision=revision,
            token=token,
            profile=profile_request(profile_name, **profile),
            dialect=dialect,
            chosen_format=output_format,
            output=output,
            interactive=interactive,
            fail=_fail,
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="peftlint", standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0)
    return EXIT_OK
