"""Training-framework YAMLs (axolotl, LLaMA-Factory, TRL) read as one canonical PEFT config.

Each framework is a plug-in module here (`axolotl.py`, `llama_factory.py`, `trl.py`) declaring a
`Dialect`: its name, title and version pin, its key table (which of its keys map to which
`LoraConfig` key, how values convert), the evidence that marks a file as its own, and its reader
(the defaults the framework applies, the training settings that feed the memory estimate). Only
the PEFT-relevant part of a (usually much larger) training file is read.

`DIALECTS` below is the one registry: `detect`, `read` and every other user of a framework's
facts go through it. Adding a framework is one new module and one line there.
"""

from typing import Any, Mapping

from peftlint.normalize.dialects import axolotl, llama_factory, trl
from peftlint.normalize.dialects.base import Dialect, DialectConfig, Key, LinearNames

# The registry, in detection order: a file is the first framework's whose own evidence it has
# (axolotl's `adapter: lora` or axolotl-only keys, then TRL's, then LLaMA-Factory's); failing that,
# the first whose base-model key sits next to the LoRA keys axolotl and TRL share.
DIALECTS: tuple[Dialect, ...] = (axolotl.DIALECT, trl.DIALECT, llama_factory.DIALECT)
BY_NAME: dict[str, Dialect] = {dialect.name: dialect for dialect in DIALECTS}

# the plug-ins' names, for code that picks a framework (the recommender's writers)
AXOLOTL, LLAMA_FACTORY, TRL = axolotl.NAME, llama_factory.NAME, trl.NAME

__all__ = ["AXOLOTL", "BY_NAME", "DIALECTS", "LLAMA_FACTORY", "TRL", "Dialect", "DialectConfig", "Key", "LinearNames", "detect", "read"]


def detect(mapping: Mapping[str, Any]) -> str | None:
    """Which framework wrote this training YAML, if any (never for a mapping with `peft_type`)."""
    if "peft_type" in mapping:
        return None
    claimed = next((d for d in DIALECTS if d.claims(mapping)), None) or next((d for d in DIALECTS if d.claims_shared(mapping)), None)
    return claimed.name if claimed else None


def read(name: str, mapping: Mapping[str, Any]) -> DialectConfig:
    return BY_NAME[name].read(mapping)
