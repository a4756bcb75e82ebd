"""Recognise PEFT configs among loaded documents and put them in one canonical shape.

A mapping is a PEFT config when its content says so, in this order:
- a peft config class call (`LoraConfig(...)` in Python);
- a training framework's LoRA settings (axolotl, LLaMA-Factory, TRL: peftlint/normalize/dialects/, one module each);
- a `peft_type`;
- LoRA's own keys without a `peft_type` (`lora_alpha`, `lora_dropout`, ..., or `r` with
  `target_modules`), as people write `LoraConfig(**kwargs)` files. Such a file often carries the
  training script's own settings too (`learning_rate`, `epochs`): only the keys peft has, or that
  look like a misspelling of one, are read; the rest belong to the script (so do `lora_r`,
  `lora_target_modules`: frameworks' names for LoRA's settings). A LitGPT or ms-swift config (`lora_query`,
  `tuner_type` beside `model`, ...) is not one: LitGPT trains LoRA without peft, ms-swift names its
  settings its own way.
A document that is none of these may hold one as a block (Hydra-style `peft:`, `lora:`,
`peft_config:`, `lora_config:`, at most three levels down); it is read at that position.
Anything else is "not a PEFT config" and is skipped (`-v` says why). An `adapter_config.json`
without `peft_type` is another tool's file: peft writes `peft_type` into every adapter it saves.
"""

import json
import re
from functools import lru_cache
from pathlib import PurePath
from typing import Any, NamedTuple

from peftlint.load import Document, JsonPath
from peftlint.normalize.dialects import DIALECTS, DialectConfig, detect, read
from peftlint.resources import data_dir

# Keys only LoRA-family configs have: a mapping with one of them (or `r` with `target_modules`)
# and no `peft_type` is what `LoraConfig(**kwargs)` users write by hand.
# `use_dora`/`use_rslora` are left out: other trainers have flags of that name (mlx-lm's run
# records, named adapter_config.json too, carry `use_dora` and nothing else of peft's).
LORA_MARKERS = frozenset({"lora_alpha", "lora_dropout", "init_lora_weights", "rank_pattern", "alpha_pattern", "lora_bias"})
# LitGPT's switches for where LoRA goes (its `finetune lora` configs set all six beside `lora_r`,
# `lora_alpha`, `lora_dropout`): LitGPT trains LoRA with its own code, not peft, so such a file is
# not a PEFT config, and its `precision` or `lora_mlp` are no misspelt peft keys
LITGPT_LORA_SWITCHES = frozenset({"lora_query", "lora_key", "lora_value", "lora_projection", "lora_mlp", "lora_head"})
# ms-swift names the method `tuner_type` (`train_type` before 4.0) beside `model` and `lora_rank`,
# in its YAML configs and in the args.json `swift sft` writes into every output folder; its 200-odd
# keys include other methods' (`boft_block_size`, `adapters`) and a `template`, so read as a peft
# config, or as LLaMA-Factory's, it drew errors about keys that are ms-swift's own
SWIFT_TUNER_KEYS = frozenset({"tuner_type", "train_type"})
# Fields peft fills in itself when it saves an adapter; nobody types them into a file meant for
# `LoraConfig(**kwargs)`, so a training script's key that merely resembles one (`precision` ~
# `revision`) is the script's, not a typo
SAVED_ONLY_FIELDS = frozenset({"revision", "peft_version", "auto_mapping"})
# keys under which Hydra-style configs nest the PEFT part
NESTED_BLOCKS = frozenset({"peft", "lora", "peft_config", "lora_config"})
MAX_NESTING = 3
# Hydra's instantiation keys: `_target_: peft.LoraConfig` names the class, the others steer Hydra
HYDRA_TARGET = "_target_"
HYDRA_KEYS = frozenset({HYDRA_TARGET, "_partial_", "_convert_", "_recursive_", "_args_"})
SAVED_ADAPTER_NAME = "adapter_config.json"
PROFILE_KEY = "peftlint"  # a top-level block holding the user's profile; never a PEFT key
# Fields `PeftConfig` itself has in every peft release since 0.2: `to_dict` writes all of them.
PEFT_CONFIG_FIELDS = ("base_model_name_or_path", "inference_mode", "peft_type", "task_type")
# Fewer keys than this could be in sorted order by chance; every saved adapter has more.
SORTED_LAYOUT_MIN_KEYS = 8
# `key`, `key=value`, `key: value` inside backticks: how rule messages name config keys
_BACKTICKED_KEY = re.compile(r"`([a-z_][a-z0-9_]*)((?:[=:][^`]*)?)`")


@lru_cache(maxsize=1)
def peft_types() -> dict[str, Any]:
    """The index generated from peft (scripts/gen_schemas.py): types, classes, keys."""
    data: dict[str, Any] = json.loads((data_dir() / "peft_types.json").read_text(encoding="utf-8"))
    return data


class PeftConfig(NamedTuple):
    """One canonical PEFT config, with where each of its keys came from."""

    document: Document
    peft_type: str  # as in peft's PeftType, e.g. "LORA"; may be a value peft doesn't know
    values: dict[str, Any]  # the user's keys, as written (profile block removed)
    peft_type_inferred: bool = False  # no `peft_type` key: read as LoRA from its keys
    profile: dict[str, Any] = {}  # the file's own `peftlint:` block; never changed in place
    root: JsonPath = ()  # where the config sits in the document
    dialect: DialectConfig | None = None  # read from an axolotl / LLaMA-Factory / TRL training YAML

    @property
    def path(self) -> str:
        return self.document.path

    @property
    def saved_adapter(self) -> bool:
        """What `PeftModel.save_pretrained` wrote next to trained weights, told by content (see
        `saved_adapter_evidence`), never by the file's name."""
        return bool(self.saved_adapter_evidence)

    @property
    def saved_adapter_evidence(self) -> tuple[str, ...]:
        """Why this config reads as a saved adapter; empty when it does not."""
        if self.dialect is not None or self.document.class_name is not None:
            return ()
        return saved_adapter_evidence(self.values, self.document.format)

    def source_path(self, key_path: JsonPath) -> JsonPath:
        """Where a canonical key sits in the file: a dialect writes `lora_r` for `r`, and its
        comma-separated lists (`lora_target: q_proj,v_proj`) have no items to point at."""
        key_path = tuple(key_path)
        if self.dialect is None or not key_path or key_path[0] not in self.dialect.key_paths:
            return key_path
        path = (self.dialect.key_paths[key_path[0]], *key_path[1:])
        while len(path) > 1 and isinstance(path[-1], int) and self.root + path not in self.document.positions:
            path = path[:-1]
        return path

    def position(self, key_path: JsonPath) -> tuple[int | None, int | None]:
        return self.document.position(self.root + self.source_path(key_path))

    def in_own_words(self, text: str) -> str:
        """A message with canonical key names in backticks renamed to the file's own keys."""
        if self.dialect is None or not text:
            return text
        names = self.dialect.key_paths

        def rename(match: re.Match[str]) -> str:
            key, rest = match.group(1), match.group(2)
            return f"`{names.get(key, key)}{rest}`"

        return _BACKTICKED_KEY.sub(rename, text)


def saved_adapter_evidence(values: dict[str, Any], file_format: str) -> tuple[str, ...]:
    """The marks `PeftModel.save_pretrained` leaves in a config, or () when they are missing.

    It sets `inference_mode: true` before it writes, and `to_dict` writes every field of the
    config class, `PeftConfig`'s own among them. One of these is needed on top, because a
    hand-written training config can hold `inference_mode: true` by mistake (PL104's case):
    - `peft_version`, which peft writes itself (0.15 on) and nobody types;
    - `revision` next to `base_model_name_or_path` (peft 0.3 on; hand-written configs name the
      model, if at all, without the revision key);
    - peft's layout: JSON with the keys sorted (`json.dumps(sort_keys=True)`), every field of
      `PeftConfig` present, and too many keys to be sorted by chance (any peft, 0.2 included).
    """
    if values.get("inference_mode") is not True or not isinstance(values.get("peft_type"), str):
        return ()
    marks = []
    if "peft_version" in values:
        marks.append("peft_version")
    if "revision" in values and "base_model_name_or_path" in values:
        marks.append("base_model_name_or_path with revision")
    if peft_layout(values, file_format):
        marks.append("every PeftConfig field, keys sorted as peft writes them")
    return ("inference_mode: true", *marks) if marks else ()


def peft_layout(values: dict[str, Any], file_format: str) -> bool:
    """JSON as peft's `to_json_string` writes it: keys sorted, every `PeftConfig` field present, and
    too many keys to be sorted by chance. peft wrote such a file (a saved adapter, or a config of
    peft's own benchmarks, which keep `inference_mode: false`)."""
    keys = list(values)
    return (
        file_format == "json"
        and len(keys) >= SORTED_LAYOUT_MIN_KEYS
        and keys == sorted(keys)
        and all(field in values for field in PEFT_CONFIG_FIELDS)
    )


def other_framework(mapping: dict[str, Any]) -> str | None:
    """Which framework with LoRA settings of its own, that peftlint does not read, wrote `mapping`
    (said as `-v`'s reason to skip it), or None."""
    if len(LITGPT_LORA_SWITCHES.intersection(mapping)) >= 2:  # one could be a typo; LitGPT writes six
        return "LitGPT's LoRA settings (`lora_query`, `lora_mlp`, ...), which LitGPT trains with its own code, not peft"
    if "lora_rank" in mapping and "model" in mapping and not SWIFT_TUNER_KEYS.isdisjoint(mapping):
        return "ms-swift's arguments (`tuner_type`/`train_type` beside `model` and `lora_rank`), in ms-swift's own key names"
    return None


def _is_lora_shaped(mapping: dict[str, Any]) -> bool:
    keys = set(mapping)
    return bool(keys & LORA_MARKERS) or {"r", "target_modules"} <= keys


def _valid_unicode(value: Any) -> Any:
    """Lone surrogates (`"\\ud800"` in JSON) become U+FFFD: no encoder downstream accepts them."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace") if not value.isascii() else value
    if isinstance(value, list):
        return [_valid_unicode(v) for v in value]
    if isinstance(value, dict):
        return {_valid_unicode(k): _valid_unicode(v) for k, v in value.items()}
    return value


def _peft_keys_only(values: dict[str, Any]) -> dict[str, Any]:
    """An inferred LoRA config without the keys that belong to the training script around it: kept
    are peft's keys (of any method: PL001 says which) and near-misses of LoRA's (PL001's typos)."""
    types = peft_types()["types"]
    lora_keys = types["LORA"]["keys"]
    every_key = {key for entry in types.values() for key in entry["keys"]}
    # `alpha`, `dropout` beside no `lora_alpha`, `lora_dropout`: the project's own short names for
    # LoRA's settings, which its script maps (`lora_alpha=cfg["alpha"]`), not LoHa's `alpha`
    short_names = {key for key in values if f"lora_{key}" in lora_keys and f"lora_{key}" not in values}
    # `lora_r`, `lora_target_modules`, `model_name_or_path`: the names that training scripts and
    # frameworks give LoRA's settings (alpaca-lora, TRL's ModelConfig, oumi's `peft:` block, the
    # dialects' key tables), mapped by their code; `LoraConfig` would refuse them, so they are no
    # typos of its keys
    framework_names = {key for key in values if key.startswith("lora_") and key not in lora_keys and key[len("lora_") :] in lora_keys}
    framework_names |= {key for dialect in DIALECTS for key in dialect.keys if key in values and key not in lora_keys}
    unknown = [key for key in values if key not in every_key or key in short_names]
    if not unknown:
        return values
    from peftlint.suggest import closest  # only a file with foreign keys needs difflib

    typo_targets = [key for key in lora_keys if key not in SAVED_ONLY_FIELDS]
    foreign = short_names | framework_names | {key for key in unknown if closest(key, typo_targets, cutoff=0.75) is None}
    return {key: value for key, value in values.items() if key not in foreign}


def _is_adapter_file(document: Document) -> bool:
    return document.format == "json" and PurePath(document.path).name == SAVED_ADAPTER_NAME


def _read_mapping(document: Document, values: dict[str, Any], profile: dict[str, Any], root: JsonPath) -> PeftConfig | None:
    if other_framework(values) is not None:
        return None
    if root and isinstance(values.get(HYDRA_TARGET), str):  # `_target_: peft.LoraConfig`
        class_name = values[HYDRA_TARGET].rpartition(".")[2]
        peft_type = peft_types()["classes"].get(class_name)
        if peft_type is not None:
            values = {k: v for k, v in values.items() if k not in HYDRA_KEYS and k != "peft_type"}
            return PeftConfig(document, peft_type, values, profile=profile, root=root)
    dialect = detect(values) if document.format in ("yaml", "json") and not root else None
    if dialect is not None:
        read_config = read(dialect, values)
        return PeftConfig(document, "LORA", read_config.values, peft_type_inferred=True, profile=profile, dialect=read_config)
    declared = values.get("peft_type")
    if isinstance(declared, str):
        return PeftConfig(document, declared, values, profile=profile, root=root)
    if _is_lora_shaped(values):
        return PeftConfig(document, "LORA", _peft_keys_only(values), peft_type_inferred=True, profile=profile, root=root)
    return None


def to_peft_config(document: Document) -> PeftConfig | None:
    """The PEFT config a document holds at its top level, or None when it holds none."""
    data = _valid_unicode(document.data)
    if not isinstance(data, dict):
        return None
    values = {str(k): v for k, v in data.items() if k != PROFILE_KEY}
    profile = data.get(PROFILE_KEY)
    profile = profile if isinstance(profile, dict) else {}
    if document.class_name is not None:
        peft_type = peft_types()["classes"].get(document.class_name, "LORA")
        values.pop("peft_type", None)
        return PeftConfig(document, peft_type, values, profile=profile)
    if _is_adapter_file(document) and "peft_type" not in values:  # another tool's file (skip_reason)
        return None
    return _read_mapping(document, values, profile, ())


def peft_configs(document: Document) -> list[PeftConfig]:
    """The PEFT configs a document holds: itself, or else its nested `peft:`/`lora:` blocks."""
    config = to_peft_config(document)
    if config is not None:
        return [config]
    data = _valid_unicode(document.data)
    if not isinstance(data, dict) or document.class_name is not None or _is_adapter_file(document):
        return []
    profile = data.get(PROFILE_KEY)
    profile = profile if isinstance(profile, dict) else {}
    return _nested_configs(document, data, (), profile)


def _nested_configs(document: Document, mapping: dict[str, Any], root: JsonPath, profile: dict[str, Any]) -> list[PeftConfig]:
    found = []
    for key, value in mapping.items():
        if not isinstance(value, dict) or key == PROFILE_KEY:
            continue
        path = (*root, key)
        config = (
            _read_mapping(document, {str(k): v for k, v in value.items()}, profile, path) if str(key).lower() in NESTED_BLOCKS else None
        )
        if config is not None:
            found.append(config)
        elif len(path) < MAX_NESTING:
            found += _nested_configs(document, value, path, profile)
    return found


# What makes a file that does not parse look like a PEFT or training config (it is then PL000; any
# other unparseable file, e.g. JSON with comments, a Helm template or a CloudFormation template with
# `!Ref` tags, is skipped): its name, or a key or class name no other kind of file uses.
_CONFIG_NAME = re.compile(r"(?<![a-z])(q?lora|peft|adapter_config)(?![a-z])", re.IGNORECASE)
_CONFIG_WORDS = (
    r"peft|peft_type|use_peft|target_modules|finetuning_type|num_virtual_tokens|base_model_name_or_path|lora_[a-z_]+|adapter:\s*q?lora"
)
SNIFF_BYTES = 1_000_000  # a config shows what it is long before this


@lru_cache(maxsize=1)
def _config_content() -> re.Pattern[str]:
    classes = "|".join(sorted(map(re.escape, peft_types()["classes"])))
    return re.compile(rf"\b({_CONFIG_WORDS}|{classes})\b")


def looks_like_config(path: str, text: str | None = None) -> bool:
    """Whether a file that could not be loaded looks like a PEFT or training config, by its name
    or its first SNIFF_BYTES (or `text`, what stands in for it); one that cannot even be opened
    might be one (true)."""
    if _CONFIG_NAME.search(PurePath(path).name):
        return True
    if text is not None:
        return _config_content().search(text[:SNIFF_BYTES]) is not None
    try:
        with open(path, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError:
        return True
    from peftlint.load import LoadError
    from peftlint.load.files import decode

    try:
        text = decode(head, path)
    except LoadError:  # not text as the loaders read it: look at its ASCII all the same
        text = head.decode("latin-1")
    return _config_content().search(text) is not None


def skip_reason(documents: list[Document], path: str = "") -> str:
    """Why the file at `path`, which loaded, holds no PEFT config, for `-v`."""
    if not documents and PurePath(path).suffix.lower() == ".py":
        # the Python loader gives no document for a script without a literal config call: "empty
        # file" would misstate a training script that builds its config from arguments
        return "no peft config class called in this Python file (`LoraConfig(...)` and the like); a config built any other way (command-line arguments, a dict for `get_peft_config`, keywords of Unsloth's `get_peft_model`) is not read"
    if not documents:
        return "empty file"
    for document in documents:
        framework = other_framework(document.data) if isinstance(document.data, dict) else None
        if framework is not None:
            return f"not a PEFT config: {framework}"
    if any(_is_adapter_file(d) and isinstance(d.data, dict) and "peft_type" not in d.data for d in documents):
        return f"not a PEFT config: an {SAVED_ADAPTER_NAME} without `peft_type`, which peft writes into every adapter it saves"
    return "not a PEFT config (no `peft_type`, peft config class, LoRA keys, `peft:`/`lora:` block, or axolotl, LLaMA-Factory or TRL LoRA settings)"
