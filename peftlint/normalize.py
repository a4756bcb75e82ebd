"""Recognise PEFT configs among loaded documents and put them in one canonical shape.

A Document becomes a `PeftConfig` when its content says so (a `peft_type`, a peft config class
call, or LoRA's own keys); anything else is "not a PEFT config" and is skipped quietly.
"""

import json
import re
from functools import lru_cache
from typing import Any, NamedTuple

from peftlint.dialects import DialectConfig, detect, read
from peftlint.load import Document, JsonPath
from peftlint.resources import data_dir

# Keys only LoRA-family configs have: a mapping with one of them (or `r` with `target_modules`)
# and no `peft_type` is what `LoraConfig(**kwargs)` users write by hand.
LORA_MARKERS = frozenset(
    {"lora_alpha", "lora_dropout", "use_rslora", "use_dora", "init_lora_weights", "rank_pattern", "alpha_pattern", "lora_bias"}
)
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
    return json.loads((data_dir() / "peft_types.json").read_text(encoding="utf-8"))


class PeftConfig(NamedTuple):
    """One canonical PEFT config, with where each of its keys came from."""

    document: Document
    peft_type: str  # as in peft's PeftType, e.g. "LORA"; may be a value peft doesn't know
    values: dict[str, Any]  # the user's keys, as written (profile block removed)
    peft_type_inferred: bool = False  # no `peft_type` key: read as LoRA from its keys
    profile: dict[str, Any] = {}  # the file's own `peftlint:` block; never changed in place
    root: JsonPath = ()  # where the config sits in the document
    dialect: DialectConfig | None = None  # read from an axolotl / LLaMA-Factory training YAML

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
    keys = list(values)
    if (
        file_format == "json"
        and len(keys) >= SORTED_LAYOUT_MIN_KEYS
        and keys == sorted(keys)
        and all(field in values for field in PEFT_CONFIG_FIELDS)
    ):
        marks.append("every PeftConfig field, keys sorted as peft writes them")
    return ("inference_mode: true", *marks) if marks else ()


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


def to_peft_config(document: Document) -> PeftConfig | None:
    """The PEFT config a document holds, or None when it holds none."""
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
    dialect = detect(values) if document.format in ("yaml", "json") else None
    if dialect is not None:
        read_config = read(dialect, values)
        return PeftConfig(document, "LORA", read_config.values, peft_type_inferred=True, profile=profile, dialect=read_config)
    declared = values.get("peft_type")
    if isinstance(declared, str):
        return PeftConfig(document, declared, values, profile=profile)
    if _is_lora_shaped(values):
        return PeftConfig(document, "LORA", values, peft_type_inferred=True, profile=profile)
    return None
