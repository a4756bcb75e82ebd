"""What the commands share: exit codes, usage errors, the option groups several commands take,
and the help formatter."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any, NoReturn, Sequence

from peftlint.settings.profile import DEPLOYMENTS, OFFLOADS, PRIORITIES, STRATEGIES, TASKS

if TYPE_CHECKING:
    from peftlint.settings.profile import ProfileRequest

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 130, 141  # 128 + SIGINT, 128 + SIGPIPE: what shells report
FORMATS = ("text", "json", "github", "sarif")
PROFILE_FIELDS = ("task", "deployment", "dataset_size", "num_gpus", "variants", "priority", "strategy", "num_nodes", "offload")
TRAINING_PROFILE_FIELDS = ("gpu_memory", "seq_len", "batch_size")


def split(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())


def fail(message: str) -> NoReturn:
    print(f"peftlint: error: {message}", file=sys.stderr)
    sys.exit(EXIT_USAGE)


def at_least_one(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"`{text}` is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def profile_values(args: argparse.Namespace, fields: Sequence[str]) -> dict[str, Any]:
    return {name: getattr(args, name) for name in fields}


def profile_request(name: str | None, **values: object) -> ProfileRequest:
    from peftlint.settings.profile import ProfileRequest

    return ProfileRequest(values={k: v for k, v in values.items() if v is not None}, name=name)


# --- options shared by several commands ---------------------------------------------------------


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """--model / --revision / --token, for the commands that read a base model."""
    parser.add_argument(
        "--model", help="Base model: Hub id, folder with config.json, or a config.json [default: the config's base_model_name_or_path]."
    )
    parser.add_argument("--revision", help="Hub revision (branch, tag or commit) of --model.")
    parser.add_argument("--token", help="Hugging Face token for gated or private repos [default: $HF_TOKEN].")


def add_profile_options(parser: argparse.ArgumentParser) -> None:
    """The user's context, over the config file's `peftlint:` block and [tool.peftlint.profile]."""
    group = parser.add_argument_group(
        "profile", "The user's context, over the config file's `peftlint:` block and [tool.peftlint.profile]."
    )
    group.add_argument("--task", choices=TASKS, help="What the adapter is for.")
    group.add_argument("--deployment", choices=DEPLOYMENTS, help="How it will be served.")
    group.add_argument("--dataset-size", type=at_least_one, metavar="N", help="Training examples.")
    group.add_argument("--num-gpus", type=at_least_one, metavar="N", help="GPUs used for training, on all nodes together.")
    group.add_argument("--num-nodes", type=at_least_one, metavar="N", help="Machines the GPUs are spread over [default: 1].")
    group.add_argument(
        "--strategy", choices=STRATEGIES, help="How training is spread over the GPUs (fsdp: FULL_SHARD) [default: ddp on several GPUs]."
    )
    group.add_argument(
        "--offload", choices=OFFLOADS, help="What DeepSpeed / FSDP keeps in CPU RAM (params: the parameters and the optimizer)."
    )
    group.add_argument("--variants", type=at_least_one, metavar="N", help="Task variants of one base model.")
    group.add_argument("--priority", choices=PRIORITIES, help="What matters most.")
    group.add_argument("--profile", dest="profile_name", metavar="NAME", help="A named profile: [tool.peftlint.profiles.NAME].")


def add_setup_file_options(parser: argparse.ArgumentParser) -> None:
    """--deepspeed / --accelerate-config: the files that say how training is spread over GPUs."""
    parser.add_argument("--deepspeed", metavar="PATH", help="A DeepSpeed JSON: its ZeRO stage and offload decide the per-GPU estimate.")
    parser.add_argument(
        "--accelerate-config",
        metavar="PATH",
        help="An accelerate config YAML: distributed_type, num_processes, num_machines, fsdp_config, deepspeed_config.",
    )


def add_training_profile_options(parser: argparse.ArgumentParser, *, defaults: bool = False) -> None:
    """--gpu-memory, --seq-len, --batch-size; `defaults` says what `estimate` assumes without them."""
    seq_len, batch_size = (" [default: the training YAML's, else 512]", " [default: the training YAML's, else 1]") if defaults else ("", "")
    parser.add_argument("--gpu-memory", metavar="SIZE", help="Memory of one GPU, e.g. 24GB (GB on a GPU is GiB), 80GiB or 24.")
    parser.add_argument("--seq-len", type=at_least_one, metavar="N", help="Tokens per sequence." + seq_len)
    parser.add_argument("--batch-size", type=at_least_one, metavar="N", help="Micro-batch size per GPU." + batch_size)


def terminal_columns() -> int:
    """What shutil.get_terminal_size() answers, without importing shutil: argparse imports it for
    every parser it builds when no width is given, and shutil brings bz2 and lzma (~2 ms)."""
    try:
        if (columns := int(os.environ["COLUMNS"])) > 0:
            return columns
    except (KeyError, ValueError):
        pass
    stdout = sys.__stdout__  # None when Python started without one (pythonw)
    if stdout is None:
        return 80
    try:
        return os.get_terminal_size(stdout.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        return 80


class HelpFormatter(argparse.HelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=terminal_columns() - 2)


class RawHelpFormatter(argparse.RawDescriptionHelpFormatter, HelpFormatter):
    pass


def profile_of(args: argparse.Namespace) -> ProfileRequest:
    """The profile the command line asks for: --profile NAME and every profile and training flag."""
    return profile_request(args.profile_name, **profile_values(args, PROFILE_FIELDS + TRAINING_PROFILE_FIELDS))
