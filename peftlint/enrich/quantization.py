"""A pre-quantised base model, as its config.json's `quantization_config` says.

A GPTQ, AWQ or AQLM upload stores its weights already quantised, and says so in config.json
(`quantization_config`, which transformers reads to build the quantised layers); a bitsandbytes
upload (`unsloth/...-bnb-4bit`) does too. The training file then says nothing like
`load_in_4bit`: the base is quantised whatever it says, and the model's own config wins
(transformers `quantizers/auto.py` `merge_quantization_configs` keeps the model's config and warns
about the one passed). The memory estimate must count the stored weights, not 16-bit ones.

What this reads is the same wherever the config comes from (bundled, the Hub cache, the Hub, a
local folder): `bundled.py` adds the recorded `quantization_config` of a re-upload whose own file
was not found (`data/models/prequantized.json`), so that it reaches here like any other.
"""

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

# The storage peftlint models, by method and bits (memory.py `_Quantized`): AutoGPTQ/gptqmodel's
# QuantLinear packs 2/3/4/8-bit weights; AutoAWQ's WQLinear_GEMM only 4-bit.
MODELLED_BITS = {"gptq": (2, 3, 4, 8), "awq": (4,)}
# AqlmConfig's defaults, which transformers uses for a key the file leaves out
# (transformers/utils/quantization_config.py): in_group_size, out_group_size, num_codebooks, nbits_per_codebook
AQLM_DEFAULTS = (8, 1, 1, 16)
# what an AQLM checkpoint may list in `linear_weights_not_to_quantize` and still have every block
# Linear quantized: the embeddings, norms and head, which stay 16-bit anyway
_AQLM_KEPT = re.compile(r"(^|\.)(embed_tokens|lm_head|[a-z_]*norm)\.weight$")
# AutoAWQ checkpoint layouts whose buffers WQLinear_GEMM's shapes describe. transformers' AwqConfig
# defaults to GEMM and reads the legacy `version` key (transformers/utils/quantization_config.py);
# the exllama backends load GEMM checkpoints.
AWQ_GEMM_LAYOUTS = ("gemm", "exllama", "exllamav2")


class BaseQuantization(NamedTuple):
    """How the base model's weights are stored. `modelled` False: peftlint cannot size them
    (`reason` says why), so memory estimates are withheld rather than guessed."""

    method: str  # "gptq" | "awq" | "bitsandbytes" | another quant_method, as written
    bits: int | None
    group_size: int | None  # None: one group per output channel (-1); bitsandbytes: None
    modelled: bool
    reason: str = ""
    double_quant: bool = False  # bitsandbytes 4-bit only
    quantize_lm_head: bool = False  # gptqmodel's `lm_head: true`
    # AQLM: (in_group_size, out_group_size, num_codebooks, nbits_per_codebook)
    codebooks: tuple[int, int, int, int] | None = None

    def describe(self) -> str:
        if self.method == "bitsandbytes":
            return f"bitsandbytes {self.bits}-bit"
        if self.codebooks is not None:
            in_group, out_group, count, nbits = self.codebooks
            return f"AQLM {count}x{nbits}, groups of {out_group}x{in_group}"
        bits = f" {self.bits}-bit" if self.bits else ""
        if self.group_size is None:
            groups = ", per-channel scales" if self.modelled else ""
        else:
            groups = f", groups of {self.group_size}"
        return f"{self.method.upper()}{bits}{groups}"

    def to_dict(self) -> dict[str, Any]:
        facts: dict[str, Any] = {
            "method": self.method,
            "bits": self.bits,
            "group_size": self.group_size,
            "modelled": self.modelled,
            "description": self.describe(),
        }
        if self.reason:
            facts["reason"] = self.reason
        return facts


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# `llm_int8_skip_modules` entries that leave every block Linear quantized: the head (transformers
# keeps lm_head out anyway) and the vision parts unsloth's uploads list (their config.json files:
# `["lm_head", "multi_modal_projector", "merger", "modality_projection"]`)
_BNB_SKIPPED_OUTSIDE_BLOCKS = frozenset({"lm_head", "multi_modal_projector", "merger", "modality_projection", "vision_tower", "visual"})


def _bitsandbytes(qc: Mapping[str, Any]) -> BaseQuantization:
    # transformers writes both `load_in_4bit` and the private `_load_in_4bit` (BitsAndBytesConfig.to_dict)
    four = qc.get("load_in_4bit") is True or qc.get("_load_in_4bit") is True
    eight = qc.get("load_in_8bit") is True or qc.get("_load_in_8bit") is True
    if four == eight:
        return BaseQuantization(
            "bitsandbytes", None, None, False, "a bitsandbytes `quantization_config` that sets neither 4-bit nor 8-bit loading, or both"
        )
    skipped = qc.get("llm_int8_skip_modules") or []
    if not isinstance(skipped, list) or not set(map(str, skipped)) <= _BNB_SKIPPED_OUTSIDE_BLOCKS:
        # e.g. unsloth's dynamic 4-bit uploads keep some block layers 16-bit: a 4-bit count would be too low
        return BaseQuantization(
            "bitsandbytes", 4 if four else 8, None, False, "bitsandbytes with `llm_int8_skip_modules` that keeps some layers unquantized"
        )
    return BaseQuantization("bitsandbytes", 4 if four else 8, None, True, double_quant=four and qc.get("bnb_4bit_use_double_quant") is True)


def _grouped(method: str, qc: Mapping[str, Any]) -> BaseQuantization:
    bits = _int(qc.get("bits", qc.get("w_bit")))
    group = _int(qc.get("group_size", qc.get("q_group_size")))
    if method == "awq" and group is None and "group_size" not in qc and "q_group_size" not in qc:
        group = 128  # AwqConfig's default (transformers/utils/quantization_config.py)
    group_size = None if group == -1 else group

    def unmodelled(reason: str) -> BaseQuantization:
        return BaseQuantization(method, bits, group_size, False, reason)

    if bits not in MODELLED_BITS[method]:
        return unmodelled(f"{method.upper()} with bits={qc.get('bits', qc.get('w_bit'))!r}, whose packing peftlint does not size")
    if group is None or not (group == -1 or group > 0):
        return unmodelled(
            f"{method.upper()} with group_size={qc.get('group_size', qc.get('q_group_size'))!r}, which peftlint does not size"
        )
    layout = str(qc.get("format", qc.get("version", "gemm"))).lower()
    if method == "awq" and layout not in AWQ_GEMM_LAYOUTS:
        return unmodelled(f"AWQ in its `{layout}` layout, whose buffers peftlint does not size (only GEMM's)")
    if method == "gptq" and str(qc.get("checkpoint_format", "gptq")).lower() not in ("gptq", "gptq_v2"):
        return unmodelled(f"GPTQ in the `{qc.get('checkpoint_format')}` checkpoint format, whose buffers peftlint does not size")
    # per-module exceptions: some Linear layers stay 16-bit or take other settings
    for key in ("modules_to_not_convert", "modules_in_block_to_quantize", "dynamic"):
        if qc.get(key):
            return unmodelled(f"{method.upper()} with `{key}` set: not every block Linear is stored alike")
    return BaseQuantization(method, bits, group_size, True, quantize_lm_head=qc.get("lm_head") is True)


def _aqlm(qc: Mapping[str, Any]) -> BaseQuantization:
    """AQLM's QuantizedLinear stores codes for groups of in_group_size x out_group_size weights
    from num_codebooks codebooks of 2**nbits_per_codebook vectors (memory.py sizes them)."""
    names = ("in_group_size", "out_group_size", "num_codebooks", "nbits_per_codebook")
    values = [qc.get(name, default) for name, default in zip(names, AQLM_DEFAULTS)]
    sizes = [_int(v) for v in values]
    if any(size is None or not 0 < size <= 64 for size in sizes):
        bad = next(f"{n}={v!r}" for n, v, size in zip(names, values, sizes) if size is None or not 0 < size <= 64)
        return BaseQuantization("aqlm", None, None, False, f"AQLM with {bad}, which peftlint does not size")
    in_group, out_group, count, nbits = (int(size or 0) for size in sizes)
    kept = qc.get("linear_weights_not_to_quantize") or []
    if not isinstance(kept, list) or not all(isinstance(name, str) and _AQLM_KEPT.search(name) for name in kept):
        return BaseQuantization(
            "aqlm", None, None, False, "AQLM that leaves some block Linear layers unquantized (`linear_weights_not_to_quantize`)"
        )
    per_weight = count * nbits / (in_group * out_group)
    bits = int(per_weight) if per_weight == int(per_weight) else None
    return BaseQuantization("aqlm", bits, in_group, True, codebooks=(in_group, out_group, count, nbits))


def base_quantization(config: Mapping[str, Any]) -> BaseQuantization | None:
    """The pre-quantisation config.json declares, or None for a model stored in 16/32-bit."""
    qc = config.get("quantization_config")
    if qc is None:
        return None
    if not isinstance(qc, Mapping):
        return BaseQuantization("unknown", None, None, False, "a `quantization_config` that is not an object")
    method = qc.get("quant_method")
    if method is None and ("load_in_4bit" in qc or "load_in_8bit" in qc):
        method = "bitsandbytes"  # configs written before transformers added quant_method
    method = str(method or "unknown").lower()
    if method == "bitsandbytes":
        return _bitsandbytes(qc)
    if method in MODELLED_BITS:
        return _grouped(method, qc)
    if method == "aqlm":
        return _aqlm(qc)
    bits = _int(qc.get("bits"))
    return BaseQuantization(method, bits, None, False, f"{method.upper()}, whose stored weights peftlint does not size")
