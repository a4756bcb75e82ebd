"""The config.json of popular base models, shipped so that common ids work offline and without a token.

`data/models/<org>--<name>/config.json` holds the published file of Hub id `<org>/<name>` (its
`SOURCE.md` says where the values come from); `data/models/aliases.json` maps legacy ids the Hub
redirects (`gpt2`, `bert-base-uncased`) to their current ones, and `data/models/mirrors.json` maps
re-uploads of a bundled model under another id to it: unsloth's 16-bit copies and bitsandbytes
4-bit quantisations, as unsloth's own table (`unsloth/models/mapper.py`) names their originals,
and other re-uploads with their evidence in `MIRRORS.md`. The module tree and the sizes peft sees
are the original's. A quantised upload's config.json also carries a `quantization_config`, which
peftlint reads as a fact about how the base is stored (`enrich/quantization.py`): the GPTQ, AWQ
and AQLM re-uploads' are recorded in `data/models/prequantized.json` (evidence in `MIRRORS.md`)
and added to the original's config, so that the memory estimate counts their packed weights, or
withholds a figure it cannot make, instead of counting 16-bit ones. unsloth's bitsandbytes
uploads carry none here: whether they load 4-bit is read from the training file, as for their
originals. `data/models/adapters.json` maps published adapters that recipes name as
their model (`alignment-handbook/zephyr-7b-sft-qlora`) to the base model their adapter_config.json
names, which is the model the next adapter is trained on (`ADAPTERS.md`).
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from peftlint.enrich.legacy import modern_config
from peftlint.resources import data_dir


def _models_dir() -> Path:
    return data_dir() / "models"


def _directories() -> list[str]:
    # One listdir instead of a glob that stats every folder (~1-4 ms for 80 models, on the lint
    # path): a model folder is the only entry whose name holds the `--` of `<org>--<name>`.
    return [name for name in os.listdir(_models_dir()) if "--" in name]


@lru_cache(maxsize=1)
def _index() -> dict[str, Path]:
    """Lower-cased id (canonical or alias) -> the directory holding its config.json."""
    index = {name.replace("--", "/", 1).lower(): _models_dir() / name for name in _directories()}
    for table in ("aliases.json", "mirrors.json", "adapters.json"):
        with open(_models_dir() / table, encoding="utf-8") as handle:
            for alias, model_id in json.load(handle).items():
                index[alias.lower()] = index[model_id.lower()]
    return index


def bundled_ids() -> list[str]:
    """The Hub ids of the bundled configs (canonical spelling, without aliases)."""
    return sorted(name.replace("--", "/", 1) for name in _directories())


@lru_cache(maxsize=1)
def _prequantized() -> dict[str, dict[str, Any]]:
    """Lower-cased id of a pre-quantised re-upload -> the `quantization_config` its config.json carries."""
    with open(_models_dir() / "prequantized.json", encoding="utf-8") as handle:
        return {model_id.lower(): settings for model_id, settings in json.load(handle).items()}


def bundled_config(model_id: str) -> dict[str, Any] | None:
    """The bundled config.json for `model_id` (case-insensitive), or None when none is shipped; a
    legacy file (Falcon's 2023 `RefinedWebModel`) as transformers' conversion script rewrites it.

    A pre-quantised re-upload gets its original's file with the re-upload's own
    `quantization_config` (prequantized.json), as its published config.json has it."""
    directory = _index().get(model_id.lower())
    if directory is None:
        return None
    with open(directory / "config.json", encoding="utf-8") as handle:
        config: dict[str, Any] = json.load(handle)
    recorded = _prequantized().get(model_id.lower())
    if recorded is not None:
        config["quantization_config"] = json.loads(json.dumps(recorded))  # a fresh copy per call
    return modern_config(config)
