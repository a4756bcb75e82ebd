"""The user's context (task, deployment, data, hardware): its fields, their values, and where
each value came from.

A profile is assembled from layers, lowest first: `[tool.peftlint.profile]` in pyproject.toml,
then `[tool.peftlint.profiles.NAME]` chosen with `--profile NAME`, then the config file's own
block (`peftlint:` in YAML/JSON, `# peftlint: task=... deployment=...` in Python), then CLI
flags. A value that is not allowed is a ProfileError (a usage error) naming its source and
the allowed values, whichever layer it came from.
"""

import math
import re
from typing import Any, Iterable, Mapping, NamedTuple

from peftlint.suggest import closest

GIB = 1024**3
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(gib|gb|g)?\s*$", re.IGNORECASE)
_COUNT = re.compile(r"^\s*\d{1,3}(?:[_,]?\d{3})*\s*$|^\s*\d+\s*$")

TASKS = ("classification", "instruction", "domain-adaptation", "style", "code", "multi-task", "other")
DEPLOYMENTS = ("latency-critical", "batch", "multi-tenant", "edge")
PRIORITIES = ("quality", "cost", "speed")
QUANTIZATIONS = ("4bit", "8bit", "none")  # how the base weights are loaded for training
# how training is spread over GPUs (peftlint/enrich/distributed.py models each); `fsdp` is FULL_SHARD
STRATEGIES = ("single", "ddp", "zero1", "zero2", "zero3", "fsdp", "fsdp-shard-grad-op", "fsdp-hybrid", "fsdp-no-shard")
OFFLOADS = ("none", "optimizer", "params")  # params: the parameters and the optimizer
# the training stack the memory estimate follows (peftlint/enrich/memory.py STACK_SETTINGS)
TRAINING_STACKS = ("transformers", "torchtune", "litgpt")
CHOICES: dict[str, tuple[str, ...]] = {
    "task": TASKS, "deployment": DEPLOYMENTS, "priority": PRIORITIES, "quantization": QUANTIZATIONS,
    "strategy": STRATEGIES, "offload": OFFLOADS, "stack": TRAINING_STACKS,
}  # fmt: skip
COUNTS = ("dataset_size", "num_gpus", "num_nodes", "seq_len", "batch_size", "variants")
# the documented order (also the order `-v` prints them in)
FIELDS = (
    "task",
    "deployment",
    "dataset_size",
    "gpu_memory",
    "num_gpus",
    "seq_len",
    "batch_size",
    "variants",
    "priority",
    # how a plain PEFT config is trained (training YAMLs say it themselves): feeds the memory estimate
    "gradient_checkpointing",
    "quantization",
    "stack",
    # how training is spread over GPUs (training YAMLs, DeepSpeed and accelerate configs say it too)
    "strategy",
    "num_nodes",
    "offload",
)
FLAGS = ("gradient_checkpointing",)
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")

# `# peftlint: task=classification deployment=batch` in a Python file (suppression directives
# `disable=...` share the prefix and are left to peftlint/settings/suppress.py)
_COMMENT = re.compile(r"#\s*peftlint:\s*(.*)$")
_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_\-]*)\s*=\s*([^\s,;]+)")
_SUPPRESSION_KEYS = frozenset({"disable", "disable-file"})


class ProfileError(ValueError):
    """A profile value that is not allowed; the message names the source and the allowed values.

    `reason` is the message without its source, `key` the offending field as written (None: the
    whole block), `layer` the source it came from.
    """

    def __init__(self, message: str, *, reason: str | None = None, key: str | None = None, layer: "Layer | None" = None):
        super().__init__(message)
        self.reason = reason or message
        self.key = key
        self.layer = layer


def parse_gpu_memory(value: Any) -> int:
    """Bytes of one GPU: `24GB`, `24GiB` or `24`. GPUs are sold in GiB, so `80GB` means 80 GiB."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < math.inf:
        return int(value * GIB)
    match = _MEMORY.match(str(value))
    if match is None or float(match.group(1)) <= 0:
        raise ProfileError(f"gpu_memory `{value}` is not a size: use e.g. `24GB`, `80GiB` or `24` (GiB per GPU)")
    return int(float(match.group(1)) * GIB)


def training_settings(profile: Mapping[str, Any]) -> dict[str, Any]:
    """The profile's say on how training runs (for configs that cannot say it themselves)."""
    settings: dict[str, Any] = {}
    if "gradient_checkpointing" in profile:
        settings["gradient_checkpointing"] = profile["gradient_checkpointing"]
    if "quantization" in profile:
        settings["quantization"] = None if profile["quantization"] == "none" else profile["quantization"]
    if "stack" in profile:
        settings["stack"] = profile["stack"]
    return settings


def profile_gpu_bytes(profile: Mapping[str, Any]) -> int | None:
    value = profile.get("gpu_memory")
    return None if value is None else parse_gpu_memory(value)


def field_name(key: Any) -> str:
    """`dataset-size` (TOML style) and `dataset_size` name the same field."""
    return str(key).strip().replace("-", "_")


def _choice(name: str, value: Any) -> str:
    allowed = CHOICES[name]
    text = str(value).strip().lower().replace("_", "-")
    if isinstance(value, str) and text in allowed:
        return text
    raise ProfileError(f"`{name}` must be one of {', '.join(allowed)}, not `{value}`")


def _count(name: str, value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    if isinstance(value, str) and _COUNT.match(value) and int(re.sub(r"[_,\s]", "", value)) >= 1:
        return int(re.sub(r"[_,\s]", "", value))
    raise ProfileError(f"`{name}` must be a whole number of at least 1, not `{value}`")


def _gib(value: Any) -> int | float:
    gib = parse_gpu_memory(value) / GIB
    return int(gib) if gib == int(gib) else round(gib, 2)


def _flag(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ProfileError(f"`{name}` must be true or false, not `{value}`")


def parse_value(name: str, value: Any) -> Any:
    """The normalized value of one field (`gpu_memory` in GiB); raises ProfileError."""
    if name in FLAGS:
        return _flag(name, value)
    if name in CHOICES:
        return _choice(name, value)
    if name in COUNTS:
        return _count(name, value)
    if name == "gpu_memory":
        try:
            return _gib(value)
        except ProfileError:
            raise ProfileError(f"`gpu_memory` must be a size such as `24GB`, `80GiB` or `24` (GiB per GPU), not `{value}`") from None
    raise ProfileError(unknown_field_message(name))


def unknown_field_message(name: str) -> str:
    close = closest(name, FIELDS)
    hint = f" (did you mean `{close}`?)" if close else ""
    return f"unknown profile field `{name}`{hint}; the fields are {', '.join(FIELDS)}"


def parse_profile(raw: Any, where: str) -> dict[str, Any]:
    """A validated, normalized profile mapping; errors name `where` the values came from."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        reason = f"the profile must be a mapping of fields ({', '.join(FIELDS)}), not `{raw}`"
        raise ProfileError(f"{where}: {reason}", reason=reason)
    values = {}
    for key, value in raw.items():
        name = field_name(key)
        try:
            if name not in FIELDS:
                raise ProfileError(unknown_field_message(name))
            values[name] = parse_value(name, value)
        except ProfileError as exc:
            raise ProfileError(f"{where}: {exc}", reason=str(exc), key=str(key)) from None
    return values


def comment_profile(text: str) -> tuple[dict[str, str], int | None]:
    """The raw `key=value` pairs of `# peftlint:` profile comments in Python source, and the
    line of the first one (None when there is none). Suppression directives are skipped."""
    found: dict[str, str] = {}
    first_line = None
    if "peftlint:" not in text:
        return found, None
    for number, line in enumerate(text.splitlines(), start=1):
        match = _COMMENT.search(line)
        if match is None:
            continue
        pairs = [(key, value) for key, value in _ASSIGNMENT.findall(match.group(1)) if key not in _SUPPRESSION_KEYS]
        if not pairs or match.group(1).strip().startswith(tuple(_SUPPRESSION_KEYS)):
            continue
        found.update(pairs)
        first_line = first_line or number
    return found, first_line


class Layer(NamedTuple):
    """One source of profile values: `label` says where they came from (shown by `-v`)."""

    label: str
    values: Any  # a mapping when valid; anything a file holds otherwise
    in_file: bool = False  # the config file's own block: an invalid value is a finding there
    line: int | None = None  # where the block starts in the file


class Profile(NamedTuple):
    """A value: its dicts are never changed in place (the empty defaults are shared)."""

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}  # field -> label of the layer it came from

    def describe(self) -> str:
        """`task=classification (--task), gpu_memory=24 GiB (pyproject.toml [tool.peftlint.profile])`."""
        if not self.values:
            return "none (no --task, `peftlint:` block or [tool.peftlint.profile])"
        parts = []
        for name in FIELDS:
            if name in self.values:
                value = f"{self.values[name]} GiB" if name == "gpu_memory" else self.values[name]
                parts.append(f"{name}={value} ({self.sources[name]})")
        return ", ".join(parts)


def resolve(layers: Iterable[Layer]) -> Profile:
    """Later layers win; every value is validated against the label of its own layer."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for layer in layers:
        try:
            parsed = parse_profile(layer.values, layer.label)
        except ProfileError as exc:
            exc.layer = layer
            raise
        for name, value in parsed.items():
            values[name], sources[name] = value, layer.label
    return Profile(values, sources)


class ProfileRequest(NamedTuple):
    """What the command line asks for: flag values by field (None: not given), `--profile NAME`."""

    values: Mapping[str, Any] = {}  # never changed in place
    name: str | None = None
    # --deepspeed / --accelerate-config: files describing how training is spread over GPUs
    deepspeed: str | None = None
    accelerate_config: str | None = None


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def assemble(
    *,
    pyproject: str,
    table: Mapping[str, Any],
    profiles: Mapping[str, Mapping[str, Any]],
    request: ProfileRequest,
    file_layer: Layer | None,
) -> Profile:
    """pyproject's profile < its named profile (`--profile NAME`) < the file's own < CLI flags."""
    layers = [Layer(f"{pyproject} [tool.peftlint.profile]", table)]
    if request.name is not None:
        chosen = named_profile(profiles, request.name, pyproject)
        layers.append(Layer(f"{pyproject} [tool.peftlint.profiles.{request.name}]", chosen))
    if file_layer is not None:
        layers.append(file_layer)
    layers += [Layer(flag(name), {name: value}) for name, value in request.values.items() if value is not None]
    return resolve(layers)


def named_profile(profiles: Mapping[str, Mapping[str, Any]], name: str, where: str) -> Mapping[str, Any]:
    """`[tool.peftlint.profiles.NAME]`; an unknown name is a ProfileError listing the defined ones."""
    if name in profiles:
        return profiles[name]
    defined = ", ".join(sorted(profiles)) or "none"
    raise ProfileError(f"no profile `{name}` in {where} [tool.peftlint.profiles] (defined: {defined})")
