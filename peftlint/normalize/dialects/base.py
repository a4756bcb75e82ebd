"""What every dialect plug-in is made of: the `Dialect` it declares, the `DialectConfig` its
reader returns, `LinearNames` (a framework's own "every linear layer" list) and the helpers the
readers share.

This lives apart from the package's `__init__.py` (the registry) because the plug-ins import it
and the registry imports the plug-ins: one module for both would be an import cycle.
"""

from typing import Any, Callable, Mapping, NamedTuple

from peftlint.suggest import closest


class Key(NamedTuple):
    canonical: str  # the LoraConfig key
    convert: Callable[[Any], Any] | None = None


class LinearNames(NamedTuple):
    """A training framework's own "every linear layer" switch (axolotl's `lora_target_linear`,
    LLaMA-Factory's `lora_target: all`).

    The framework collects the leaf names of the model's linear modules itself and hands peft that
    list (axolotl: unioned with the file's own entries), never peft's `all-linear` shorthand. So
    none of peft's `all-linear` handling applies: not its output-layer rule, and not the fused-MoE
    conversion that turns `all-linear` into expert `target_parameters` (a v5 Mixtral's router and
    experts hold bare parameters, so no linear name reaches them). A plain value: enrich
    (`enrich.targets.framework_linear_names`) applies it to a model.
    """

    listed: tuple[str, ...]  # the file's own target names, which the union keeps (list entries, never regexes)
    kinds: tuple[str, ...]  # module kinds (enrich.modules.ModuleKind) the framework counts as linear
    # model_type -> leaf name of the output layer the framework drops from the names it found
    # ("" for every other model type); an entry in `listed` keeps it (axolotl)
    output_layers: Mapping[str, str] = {}
    # model_type -> substrings: a module whose dotted path contains one is not looked at ("" for
    # every model type; both apply) (LLaMA-Factory's forbidden_modules)
    skipped_paths: Mapping[str, tuple[str, ...]] = {}
    # model_type -> why the framework's list for that model is not modelled (it builds it otherwise)
    unmodelled: Mapping[str, str] = {}


class DialectConfig(NamedTuple):
    name: str
    values: dict[str, Any]  # canonical LoraConfig keys
    key_paths: dict[str, str]  # canonical key -> the dialect key it came from, or the one to write
    training: dict[str, Any]  # dtype, quantization, optimizer, batch_size, seq_len, gradient_checkpointing
    unknown_keys: list[dict[str, Any]]  # LoRA-looking keys the framework does not have (typos)
    uses_lora: bool  # the framework will train a LoRA adapter with this file
    lora_keys: list[str] = []  # the file's LoRA-only keys that hold a value (not a blank placeholder)
    # `target_modules: all-linear` stands for the framework's own list of linear layers, not peft's shorthand
    linear_names: LinearNames | None = None


class Dialect(NamedTuple):
    """One training framework, as a plug-in module declares it (`DIALECT = Dialect(...)`)."""

    name: str  # the id in facts (`dialect.name`) and in `recommend --format`
    title: str  # how messages name the framework
    version: str  # the framework commit its tables follow
    lora_switch: str  # the one setting that makes the framework train LoRA at all
    unknown_key_effect: str  # what the framework does with a key it does not know
    keys: Mapping[str, Key]  # its key -> the canonical LoraConfig key
    # its own evidence: a key or value no other framework has (first pass, in registry order)
    claims: Callable[[Mapping[str, Any]], bool]
    # weaker evidence, asked only when no framework claimed the file: the LoRA keys several
    # frameworks share, next to this framework's own base-model key
    claims_shared: Callable[[Mapping[str, Any]], bool]
    read: Callable[[Mapping[str, Any]], DialectConfig]


# Keys of more than one framework: `lora_r`, `lora_target_modules` and `lora_modules_to_save` are
# both axolotl's and TRL's (and many home-grown scripts'); the base model's key tells them apart
# (`base_model` / `model_name_or_path`), and without either they are no framework's.
SHARED_LORA_KEYS = frozenset({"lora_r", "lora_target_modules", "lora_modules_to_save"})


def shared_keys_with(base_model_key: str) -> Callable[[Mapping[str, Any]], bool]:
    """`claims_shared` for a framework whose base-model key is `base_model_key`."""

    def claims_shared(mapping: Mapping[str, Any]) -> bool:
        return base_model_key in mapping and not SHARED_LORA_KEYS.isdisjoint(mapping)

    return claims_shared


def claims_nothing(mapping: Mapping[str, Any]) -> bool:
    return False


def placeholder(value: Any) -> bool:
    """Blank template entries (`lora_r:`, `lora_target_modules: []`, `false`) set nothing."""
    return value is None or value is False or value in ("", [], {})


def lora_keys(mapping: Mapping[str, Any], lora_only: set[str]) -> list[str]:
    return [key for key in mapping if key in lora_only and not placeholder(mapping[key])]


def map_keys(mapping: Mapping[str, Any], keys: Mapping[str, Key]) -> tuple[dict[str, Any], dict[str, str]]:
    """Canonical values, and for every canonical key the dialect's name for it (set or not)."""
    values, paths = {}, {key.canonical: dialect_key for dialect_key, key in keys.items()}
    for dialect_key, key in keys.items():
        if dialect_key in mapping and mapping[dialect_key] is not None:
            value = mapping[dialect_key]
            values[key.canonical] = key.convert(value) if key.convert else value
    return values, paths


def typos(mapping: Mapping[str, Any], known: set[str], prefixes: tuple[str, ...]) -> list[dict[str, Any]]:
    unknown = []
    for key in mapping:
        if isinstance(key, str) and key.startswith(prefixes) and key not in known:
            suggestion = closest(key, sorted(known), cutoff=0.75)
            unknown.append({"key": key, "path": [key], "suggestion": suggestion})
    return unknown


def dtype(mapping: Mapping[str, Any], default: str) -> str:
    if mapping.get("bf16") in (True, "auto", "true"):
        return "bf16"
    if mapping.get("fp16") in (True, "true"):
        return "fp16"
    return default
