"""The command line: parses options, runs a pipeline, returns an exit code.

Exit codes: 0 nothing at or above the fail level; 1 findings at or above it;
2 usage error, bad configuration, or a file that could not be read or parsed;
130 interrupted (Ctrl-C); 141 the reader of the output went away (`| head`).

argparse rather than click: the standard library's parser costs ~2 ms to import against
click's ~25 ms, and start-up is most of what a one-file `check` (a pre-commit hook) spends.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any, Callable, Mapping, NoReturn, Sequence

from peftlint import __version__
from peftlint.config import FAIL_ON_CHOICES, ConfigError
from peftlint.engine import RuleFileError
from peftlint.profile import DEPLOYMENTS, OFFLOADS, PRIORITIES, STRATEGIES, TASKS, TRAINING_STACKS
from peftlint.resources import generated_from

if TYPE_CHECKING:
    from peftlint.engine import Rule
    from peftlint.profile import ProfileRequest

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 130, 141  # 128 + SIGINT, 128 + SIGPIPE: what shells report
FORMATS = ("text", "json", "github", "sarif")
PROFILE_FIELDS = ("task", "deployment", "dataset_size", "num_gpus", "variants", "priority", "strategy", "num_nodes", "offload")
TRAINING_PROFILE_FIELDS = ("gpu_memory", "seq_len", "batch_size")


def _split(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())


def _fail(message: str) -> NoReturn:
    print(f"peftlint: error: {message}", file=sys.stderr)
    sys.exit(EXIT_USAGE)


def _at_least_one(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"`{text}` is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def _profile_values(args: argparse.Namespace, fields: Sequence[str]) -> dict[str, Any]:
    return {name: getattr(args, name) for name in fields}


def profile_request(name: str | None, **values: object) -> ProfileRequest:
    from peftlint.profile import ProfileRequest

    return ProfileRequest(values={k: v for k, v in values.items() if v is not None}, name=name)


# --- options shared by several commands ---------------------------------------------------------


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """--model / --revision / --token, for the commands that read a base model."""
    parser.add_argument("--model", help="Base model: Hub id, folder with config.json, or a config.json [default: the config's base_model_name_or_path].")
    parser.add_argument("--revision", help="Hub revision (branch, tag or commit) of --model.")
    parser.add_argument("--token", help="Hugging Face token for gated or private repos [default: $HF_TOKEN].")


def add_profile_options(parser: argparse.ArgumentParser) -> None:
    """The user's context, over the config file's `peftlint:` block and [tool.peftlint.profile]."""
    group = parser.add_argument_group("profile", "The user's context, over the config file's `peftlint:` block and [tool.peftlint.profile].")
    group.add_argument("--task", choices=TASKS, help="What the adapter is for.")
    group.add_argument("--deployment", choices=DEPLOYMENTS, help="How it will be served.")
    group.add_argument("--dataset-size", type=_at_least_one, metavar="N", help="Training examples.")
    group.add_argument("--num-gpus", type=_at_least_one, metavar="N", help="GPUs used for training, on all nodes together.")
    group.add_argument("--num-nodes", type=_at_least_one, metavar="N", help="Machines the GPUs are spread over [default: 1].")
    group.add_argument("--strategy", choices=STRATEGIES, help="How training is spread over the GPUs (fsdp: FULL_SHARD) [default: ddp on several GPUs].")
    group.add_argument("--offload", choices=OFFLOADS, help="What DeepSpeed / FSDP keeps in CPU RAM (params: the parameters and the optimizer).")
    group.add_argument("--variants", type=_at_least_one, metavar="N", help="Task variants of one base model.")
    group.add_argument("--priority", choices=PRIORITIES, help="What matters most.")
    group.add_argument("--profile", dest="profile_name", metavar="NAME", help="A named profile: [tool.peftlint.profiles.NAME].")


def add_setup_file_options(parser: argparse.ArgumentParser) -> None:
    """--deepspeed / --accelerate-config: the files that say how training is spread over GPUs."""
    parser.add_argument("--deepspeed", metavar="PATH", help="A DeepSpeed JSON: its ZeRO stage and offload decide the per-GPU estimate.")
    parser.add_argument("--accelerate-config", metavar="PATH", help="An accelerate config YAML: distributed_type, num_processes, num_machines, fsdp_config, deepspeed_config.")


def add_training_profile_options(parser: argparse.ArgumentParser, *, defaults: bool = False) -> None:
    """--gpu-memory, --seq-len, --batch-size; `defaults` says what `estimate` assumes without them."""
    seq_len, batch_size = (" [default: the training YAML's, else 512]", " [default: the training YAML's, else 1]") if defaults else ("", "")
    parser.add_argument("--gpu-memory", metavar="SIZE", help="Memory of one GPU, e.g. 24GB (GB on a GPU is GiB), 80GiB or 24.")
    parser.add_argument("--seq-len", type=_at_least_one, metavar="N", help="Tokens per sequence." + seq_len)
    parser.add_argument("--batch-size", type=_at_least_one, metavar="N", help="Micro-batch size per GPU." + batch_size)


# --- commands -------------------------------------------------------------------------------------


def _stdin_paths(args: argparse.Namespace) -> tuple[tuple[str, ...], dict[str, str]]:
    """The paths to lint, with `-` read from stdin under --stdin-filename's name (editors pass it)."""
    paths = tuple(args.paths or (".",))
    if "-" not in paths:
        if args.stdin_filename:
            _fail("--stdin-filename names what `-` reads: add `-` to the paths")
        return paths, {}
    if args.fix or args.diff:
        _fail("--fix and --diff edit files: they cannot take `-` (stdin)")
    name = args.stdin_filename or "-"
    return tuple(name if path == "-" else path for path in paths), {name: sys.stdin.read()}


def check(args: argparse.Namespace) -> int:
    from peftlint.enrich.stage import ModelOptions
    from peftlint.lint import Report, lint_paths
    from peftlint.profile import ProfileError
    from peftlint.report import reporter

    if args.peft_version is not None:
        from peftlint.peft_versions import VersionError, check_version

        try:
            check_version(args.peft_version)
        except VersionError as exc:
            _fail(f"--peft-version: {exc}")
    paths, stdin_texts = _stdin_paths(args)
    request = profile_request(args.profile_name, **_profile_values(args, PROFILE_FIELDS + TRAINING_PROFILE_FIELDS))
    if args.deepspeed or args.accelerate_config:
        from peftlint.parallel import read_setup

        problems = read_setup(profile={}, deepspeed=args.deepspeed, accelerate_config=args.accelerate_config, flags={"num_gpus": args.num_gpus}).problems
        if problems:
            _fail(str(problems[0]))
        request = request._replace(deepspeed=args.deepspeed, accelerate_config=args.accelerate_config)

    def run(texts: Mapping[str, str] | None = None) -> Report:
        try:
            return lint_paths(
                paths,
                select=_split(args.select),
                ignore=_split(args.ignore),
                fail_on=args.fail_on,
                model=ModelOptions(model=args.model, revision=args.revision, token=args.token),
                profile=request,
                texts={**stdin_texts, **(texts or {})},
                peft_version=args.peft_version,
                force_exclude=args.force_exclude,
            )
        except (ConfigError, RuleFileError, ProfileError) as exc:
            _fail(str(exc))

    report = run()
    if args.fix or args.diff:
        from peftlint.fix import fix_findings

        outcome = fix_findings(report.findings, unsafe=args.unsafe_fixes, write=not args.diff, relint=lambda texts: run(texts).findings)
        if args.diff:
            sys.stdout.write(outcome.diff())
            print(outcome.summary(written=False), file=sys.stderr)
            # like `check`: what the diff leaves unfixed still fails
            return EXIT_USAGE if report.unreadable else EXIT_FINDINGS if outcome.changed or report.failing else EXIT_OK
        print(outcome.summary(written=True), file=sys.stderr)
        report = run()  # what is left
    if args.verbose:
        for path, why in report.skipped:
            print(f"skipped {path}: {why}", file=sys.stderr)
        for config, described in report.profiles:
            print(f"profile of {config}: {described}", file=sys.stderr)
        for config, version in report.peft_versions:
            print(f"peft version of {config}: {_describe_peft_version(version)}", file=sys.stderr)
        for config, evidence in report.saved_adapters:
            print(f"saved adapter {config} ({', '.join(evidence)}): rules about training skipped, --fix keeps its weights' meaning", file=sys.stderr)
    reporter(args.output_format)(report, sys.stdout)
    return EXIT_USAGE if report.unreadable else EXIT_FINDINGS if report.failing else EXIT_OK


def _describe_peft_version(fact: dict[str, str]) -> str:
    from peftlint.validate import NOT_READ

    if fact["source"] == NOT_READ:
        return "any (no key of this config depends on it)"
    release = "" if fact["release"] == fact["version"] else f"; the keys of {fact['release']}"
    return f"{fact['version']} ({fact['source']}{release})"


def _rules(rule_dirs: Sequence[str] = ()) -> list[Rule]:
    """The shipped rules, the rule folders of the current folder's settings ([tool.peftlint]
    rules), and `rule_dirs`."""
    from pathlib import Path

    from peftlint.config import settings_for_dir
    from peftlint.lint import rule_set

    try:
        configured = settings_for_dir(Path.cwd()).rule_dirs
        extra = tuple(Path(d).resolve() for d in rule_dirs if Path(d).resolve() not in configured)
        return list(rule_set(configured + extra))
    except (ConfigError, RuleFileError) as exc:
        _fail(str(exc))


def list_rules(args: argparse.Namespace) -> int:
    if args.test:
        return _test_rules(args.test)
    for rule in _rules():
        needs = f"  [needs: {', '.join(rule.inputs)}]" if rule.inputs else ""
        print(f"{rule.code}  {rule.name:<32} {rule.severity:<8} {rule.summary}{needs}")
    return EXIT_OK


def _test_rules(folder: str) -> int:
    """`rules --test DIR`: run the good and bad examples of every rule in DIR, as conftest's
    `verify` runs a policy's tests; one line per example, exit 1 if any fails."""
    import tempfile
    from pathlib import Path

    from peftlint.examples import example_problem

    directory = Path(folder).resolve()
    rules = [r for r in _rules([folder]) if Path(r.path).parent == directory]
    if not rules:
        _fail(f"{folder}: no rule files (*.yaml) in this folder")
    failed = passed = 0
    for rule in rules:
        for kind in ("bad", "good"):
            for n, example in enumerate(rule.examples[kind]):
                with tempfile.TemporaryDirectory() as tmp:
                    problem = example_problem(rule, kind, example, Path(tmp), [directory])
                print(f"{'FAIL' if problem else 'ok  '}  {rule.code} {kind}[{n}]" + (f": {problem}" if problem else ""))
                failed, passed = (failed + 1, passed) if problem else (failed, passed + 1)
    print(f"{passed} passed, {failed} failed ({len(rules)} rule(s) in {folder})")
    return EXIT_FINDINGS if failed else EXIT_OK


def explain(args: argparse.Namespace) -> int:
    from peftlint.docs import explain as render

    rule = next((r for r in _rules() if args.code in r.identifiers or args.code.upper() == r.code), None)
    if rule is None:
        _fail(f"no rule `{args.code}`; `peftlint rules` lists them")
    sys.stdout.write(render(rule))
    return EXIT_OK


def estimate(args: argparse.Namespace) -> int:
    from peftlint.estimate_command import TRAINING_FLAGS, run_estimate

    training = _profile_values(args, TRAINING_FLAGS)
    return run_estimate(
        args.config_path,
        model=args.model,
        revision=args.revision,
        token=args.token,
        output_format=args.output_format,
        training_flags=training,
        gpu_memory=args.gpu_memory,
        compare=args.compare,
        fail=_fail,
        deepspeed=args.deepspeed,
        accelerate_config=args.accelerate_config,
        profile=profile_request(args.profile_name, **_profile_values(args, PROFILE_FIELDS + TRAINING_PROFILE_FIELDS)),
    )


def recommend(args: argparse.Namespace) -> int:
    from peftlint.recommend_command import run_recommend

    if args.output and os.path.lexists(args.output) and not args.force:
        _fail(f"{args.output} exists: pass --force to overwrite it")
    return run_recommend(
        model=args.model,
        revision=args.revision,
        token=args.token,
        profile=profile_request(args.profile_name, **_profile_values(args, PROFILE_FIELDS + TRAINING_PROFILE_FIELDS)),
        dialect=args.dialect,
        chosen_format=args.output_format,
        output=args.output,
        interactive=args.interactive,
        fail=_fail,
    )


# --- the parser -----------------------------------------------------------------------------------


def _terminal_columns() -> int:
    """What shutil.get_terminal_size() answers, without importing shutil: argparse imports it for
    every parser it builds when no width is given, and shutil brings bz2 and lzma (~2 ms)."""
    try:
        if (columns := int(os.environ["COLUMNS"])) > 0:
            return columns
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        return 80


class _HelpFormatter(argparse.HelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=_terminal_columns() - 2)


class _RawHelpFormatter(argparse.RawDescriptionHelpFormatter, _HelpFormatter):
    pass


def _check_options(lint: argparse.ArgumentParser) -> None:
    lint.add_argument("paths", nargs="*", metavar="PATHS", help="Files and folders to check; `-` reads one config from stdin [default: .].")
    lint.add_argument("--stdin-filename", metavar="NAME", help="The file name `-` stands for: its format, settings and the name in findings.")
    lint.add_argument("--format", dest="output_format", choices=FORMATS, default="text", help="(default: text)")
    lint.add_argument("--select", action="append", default=[], metavar="RULES", help="Only these rules (codes, code prefixes such as PL1, or names; comma-separated).")
    lint.add_argument("--ignore", action="append", default=[], metavar="RULES", help="Skip these rules (codes, prefixes or names; comma-separated).")
    lint.add_argument("--fail-on", choices=FAIL_ON_CHOICES, help="Lowest severity that makes the exit code 1 [default: warning].")
    lint.add_argument("-v", "--verbose", action="store_true", help="Also say which files were skipped and why, and the profile of each config.")
    lint.add_argument("--force-exclude", action="store_true", help="Apply `exclude` from pyproject.toml to files named on the command line too (as pre-commit names them); same as `force-exclude = true`.")
    lint.add_argument("--fix", action="store_true", help="Apply the safe fixes to the files (comments and layout kept), then report what is left.")
    lint.add_argument("--diff", action="store_true", help="Print the fixes as a unified diff and change nothing (exit codes as `check`, and 1 if there is a diff).")
    lint.add_argument("--unsafe-fixes", action="store_true", help="With --fix or --diff: also apply fixes that change training behaviour.")
    lint.add_argument("--peft-version", metavar="X.Y.Z", help="The peft the configs are for [default: [tool.peftlint] peft-version, else each file's peft_version, else the installed peft's].")
    add_model_options(lint)
    add_profile_options(lint)
    add_training_profile_options(lint)
    add_setup_file_options(lint)


def _rules_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--test", metavar="DIR", help="Run the good and bad examples of the rule files in DIR; exit 1 if one fails.")


def _explain_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("code", metavar="CODE")


def _estimate_options(cost: argparse.ArgumentParser) -> None:
    cost.add_argument("config_path", metavar="CONFIG")
    add_model_options(cost)
    cost.add_argument("--format", dest="output_format", choices=("text", "json"), default="text", help="(default: text)")
    cost.add_argument("--dtype", help="Base weights: bf16, fp16, fp32 (or bfloat16, float16, float32) [default: the training YAML's, else bf16].")
    cost.add_argument("--optimizer", help="adamw, adamw-8bit, paged-adamw-8bit, sgd (or transformers' optim names) [default: the training YAML's, else adamw].")
    add_training_profile_options(cost, defaults=True)
    cost.add_argument("--gradient-checkpointing", action=argparse.BooleanOptionalAction, help="[default: the training YAML's, else off]")
    bits = cost.add_mutually_exclusive_group()
    bits.add_argument("--load-in-4bit", dest="quantization", action="store_const", const="4bit", help="QLoRA: 4-bit base weights (NF4, double quantization).")
    bits.add_argument("--load-in-8bit", dest="quantization", action="store_const", const="8bit", help="8-bit base weights.")
    cost.add_argument("--stack", choices=TRAINING_STACKS, help="The training stack: adapter dtype, loss, QLoRA kernels (transformers+peft, torchtune, litgpt) [default: the profile's, else transformers].")
    cost.add_argument("--compare", action="store_true", help="Also estimate the usual alternatives side by side (and the strategies, on several GPUs).")
    add_setup_file_options(cost)
    add_profile_options(cost)


def _recommend_options(advise: argparse.ArgumentParser) -> None:
    add_model_options(advise)
    add_profile_options(advise)
    add_training_profile_options(advise)
    advise.add_argument("--format", dest="output_format", choices=("text", "yaml", "json", "python", "deepspeed", "accelerate"), help="[default: from -o's extension, else text] deepspeed / accelerate: the DeepSpeed JSON or accelerate config for the chosen strategy (never picked from the extension: .json and .yaml mean the json and yaml formats)")
    advise.add_argument("--dialect", choices=("peft", "axolotl", "llama-factory", "trl"), default="peft", help="The file to write: a peft config, or a training framework's YAML (default: peft).")
    advise.add_argument("-o", "--output", metavar="FILE", help="Write to this file instead of stdout (an existing file only with --force).")
    advise.add_argument("--force", action="store_true", help="With -o: overwrite the file if it exists.")
    advise.add_argument("--interactive", action="store_true", help="Ask the method guide's questions one by one (needs a terminal).")


# name: (run, summary, options)
COMMANDS: dict[str, tuple[Callable[[argparse.Namespace], int], str, Callable[[argparse.ArgumentParser], None] | None]] = {
    "check": (check, "Lint PEFT configs in PATHS (files or folders; default: the current folder).", _check_options),
    "rules": (list_rules, "List every rule: code, name, severity, summary (with the rule folders of [tool.peftlint] rules).", _rules_options),
    "explain": (explain, "Show a rule's documentation (by code, name or alias).", _explain_options),
    "estimate": (estimate, "Trainable parameters, adapter size and GPU memory of the PEFT config in CONFIG.", _estimate_options),
    "recommend": (recommend, "The PEFT config the method guides recommend for --model and the profile; exit 1 if nothing fits.", _recommend_options),
}


def build_parser(command: str) -> argparse.ArgumentParser:
    """The parser of one command: building only it keeps start-up short (argparse looks up
    translations for every parser it creates)."""
    run, summary, add_options = COMMANDS[command]
    parser = argparse.ArgumentParser(prog=f"peftlint {command}", description=summary, formatter_class=_HelpFormatter)
    parser.set_defaults(run=run)
    if add_options is not None:
        add_options(parser)
    return parser


def _top_parser() -> argparse.ArgumentParser:
    listing = "\n".join(f"  {name:<10} {summary}" for name, (_, summary, _) in COMMANDS.items())
    parser = argparse.ArgumentParser(
        prog="peftlint",
        usage="peftlint [-h] [--version] COMMAND ...",
        description="Lint Hugging Face PEFT adapter configs before a GPU is touched.",
        epilog=f"commands:\n{listing}\n\n`peftlint COMMAND --help` describes a command's options.",
        formatter_class=_RawHelpFormatter,
    )
    knowledge = ", ".join(f"{name} {version}" for name, version in generated_from().items())
    parser.add_argument(
        "--version", action="version", version=f"peftlint, version {__version__}\nmodel and peft knowledge generated from {knowledge}"
    )
    parser.add_argument("command", choices=COMMANDS, metavar="COMMAND", help=argparse.SUPPRESS)
    parser.add_argument("arguments", nargs=argparse.REMAINDER, metavar="...", help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        status = _run_command(list(sys.argv[1:] if argv is None else argv))
        sys.stdout.flush()  # here, so that a reader that has gone is seen inside the try
        return status
    except KeyboardInterrupt:
        print("peftlint: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader has gone (`peftlint rules | head`): stop quietly, as Unix tools do, and point
        # stdout at /dev/null so that the interpreter's last flush has nowhere to fail
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _run_command(argv: list[str]) -> int:
    try:
        if not argv or argv[0] not in COMMANDS:  # --help, --version, a misspelt command
            top = _top_parser().parse_args(argv)
            argv = [top.command, *top.arguments]
        args = build_parser(argv[0]).parse_args(argv[1:])
        return args.run(args)
    except SystemExit as exc:  # argparse's usage errors (2), --help and --version (0), and _fail (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE if exc.code else EXIT_OK
