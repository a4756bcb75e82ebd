"""Model configs in a form transformers has since replaced, read the way transformers documents.

Falcon's first Hub files (2023, `tiiuae/falcon-7b`, `-40b` and their fine-tunes) are remote-code
checkpoints: `model_type: RefinedWebModel` (7B) or `RefinedWeb` (40B), `n_layer`/`n_head`/`n_head_kv`,
and `RWForCausalLM`. No transformers release maps those names to `FalconConfig` (4.33 pinned the
four tiiuae ids to a converted Hub revision; 5.x reads the legacy file not at all). What
transformers ships instead is `models/falcon/convert_custom_code_checkpoint.py` (4.33 to 4.4x),
which rewrites such a config.json into a `falcon` one; the remote code it replaces builds the
same module names (`transformer.h.N.self_attention.query_key_value`, ...), so adapters trained on
either load on the converted model. `modern_config` applies that script's rewrite, so a 2023
falcon adapter is checked against the model its config describes, offline or from the Hub.

Kimi-Linear's checkpoint config keeps its linear-attention sizes in a `linear_attn_config` dict,
which `KimiLinearConfig.__post_init__` copies to `linear_head_dim`, `linear_num_heads` and
`linear_conv_kernel_dim`; `modern_config` does the same, so the module-tree templates (learned on
those fields) read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# convert_custom_code_checkpoint.py: `text.replace("RefinedWebModel", "falcon")`, then `RefinedWeb`
_FALCON_LEGACY_TYPES = frozenset({"RefinedWebModel", "RefinedWeb"})
# ... and the renames it makes after `del json_config["auto_map"]`
_FALCON_RENAMES = (("n_head", "num_attention_heads"), ("n_layer", "num_hidden_layers"), ("n_head_kv", "num_kv_heads"))


# KimiLinearConfig.__post_init__: `linear_attn_config` key -> the field it sets
_KIMI_LINEAR_FIELDS = (
    ("head_dim", "linear_head_dim"),
    ("num_heads", "linear_num_heads"),
    ("short_conv_kernel_size", "linear_conv_kernel_dim"),
)


def is_legacy(config: Mapping[str, Any]) -> bool:
    """Whether `modern_config` would rewrite `config`."""
    model_type = config.get("model_type")
    if model_type == "kimi_linear":
        nested = config.get("linear_attn_config")
        return isinstance(nested, Mapping) and any(key in nested and config.get(field) != nested[key] for key, field in _KIMI_LINEAR_FIELDS)
    return model_type in _FALCON_LEGACY_TYPES or (model_type == "falcon" and "n_embed" in config)


def modern_config(config: dict[str, Any]) -> dict[str, Any]:
    """`config` as transformers' conversion script writes it (a new dict), or `config` itself when
    it needs no conversion."""
    if not is_legacy(config):
        return config
    if config["model_type"] == "kimi_linear":
        nested = config["linear_attn_config"]
        return {**config, **{field: nested[key] for key, field in _KIMI_LINEAR_FIELDS if key in nested}}
    if config["model_type"] == "falcon":
        return _falcon_n_embed(config)
    converted = {key: value for key, value in config.items() if key != "auto_map"}
    converted["model_type"] = "falcon"
    architectures = converted.get("architectures")
    if isinstance(architectures, list):
        # the script's `text.replace("RWForCausalLM", "FalconForCausalLM")`
        converted["architectures"] = [a.replace("RWForCausalLM", "FalconForCausalLM") if isinstance(a, str) else a for a in architectures]
    for old, new in _FALCON_RENAMES:
        if old in converted:
            converted[new] = converted.pop(old)
    # A separate KV-head count is the 40B "new decoder architecture"; the script sets the flag
    # either way.
    converted["new_decoder_architecture"] = "n_head_kv" in config
    return _falcon_n_embed(converted)


def _falcon_n_embed(config: dict[str, Any]) -> dict[str, Any]:
    """FalconConfig (and the remote RWConfig) still take `n_embed` as the hidden size ("Backward
    compatibility with n_embed kwarg"): it wins over `hidden_size`."""
    if "n_embed" not in config:
        return config
    converted = {key: value for key, value in config.items() if key != "n_embed"}
    converted["hidden_size"] = config["n_embed"]
    return converted
