"""Falcon's 2023 remote-code configs (`RefinedWebModel`, `RefinedWeb`), read as transformers'
conversion script rewrites them, from every place a model config comes from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from peftlint.enrich.architecture import module_tree_from_config
from peftlint.enrich.bundled import bundled_config
from peftlint.enrich.legacy import is_legacy, modern_config
from peftlint.enrich.model import model_config_from, resolve_model
from peftlint.resources import data_dir

FALCON_7B_FILE = data_dir() / "models" / "tiiuae--falcon-7b" / "config.json"
# falcon-40b's first file had these shape keys (tests/enrich/calibration_models/falcon-40b/SOURCE.md)
FALCON_40B_LEGACY = {
    "model_type": "RefinedWeb",
    "architectures": ["RWForCausalLM"],
    "auto_map": {"AutoConfig": "configuration_RW.RWConfig", "AutoModelForCausalLM": "modelling_RW.RWForCausalLM"},
    "hidden_size": 8192,
    "n_head": 128,
    "n_head_kv": 8,
    "n_layer": 60,
    "parallel_attn": True,
    "bias": False,
    "alibi": False,
    "vocab_size": 65024,
}


def test_the_bundled_falcon_7b_is_the_legacy_file_read_as_falcon() -> None:
    raw = json.loads(FALCON_7B_FILE.read_text(encoding="utf-8"))
    assert raw["model_type"] == "RefinedWebModel" and is_legacy(raw)
    config = bundled_config("tiiuae/falcon-7b")
    assert config is not None
    assert config["model_type"] == "falcon" and "auto_map" not in config
    assert (config["num_attention_heads"], config["num_hidden_layers"], config["new_decoder_architecture"]) == (71, 32, False)
    assert config["architectures"] == ["FalconForCausalLM"]
    tree = module_tree_from_config(config, "CAUSAL_LM")
    # the RW remote code's module names, which 2023 adapters target
    qkv = tree.modules[1]
    assert (qkv.name, qkv.in_features, qkv.out_features) == ("transformer.h.0.self_attention.query_key_value", 4544, 4672)
    assert tree.num_layers == 32


def test_a_separate_kv_head_count_is_the_new_decoder_architecture() -> None:
    config = modern_config(dict(FALCON_40B_LEGACY))
    assert config["new_decoder_architecture"] is True and config["num_kv_heads"] == 8
    tree = module_tree_from_config(config, "CAUSAL_LM")
    qkv = next(m for m in tree.modules if m.name.endswith("query_key_value"))
    assert qkv.out_features == (128 + 2 * 8) * 64  # 40B's grouped query_key_value


def test_n_embed_sets_the_hidden_size_as_falcon_config_does() -> None:
    config = modern_config({**FALCON_40B_LEGACY, "n_embed": 4096, "hidden_size": 8192})
    assert config["hidden_size"] == 4096 and "n_embed" not in config


def test_a_current_config_is_left_alone() -> None:
    config = {"model_type": "falcon", "hidden_size": 64}
    assert modern_config(config) is config
    assert not is_legacy({"model_type": "llama", "n_head": 4})


def test_a_legacy_file_is_converted_from_a_path_and_as_data(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(FALCON_40B_LEGACY), encoding="utf-8")
    assert resolve_model(str(tmp_path)).config["model_type"] == "falcon"
    assert model_config_from(FALCON_40B_LEGACY).config["num_hidden_layers"] == 60


@pytest.mark.slow
def test_the_conversion_builds_what_transformers_builds() -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from peftlint.enrich.torch_tree import module_tree

    for legacy in (json.loads(FALCON_7B_FILE.read_text(encoding="utf-8")), FALCON_40B_LEGACY):
        config = {**modern_config(legacy), "num_hidden_layers": 2}
        with torch.device("meta"):
            model = transformers.FalconForCausalLM(transformers.FalconConfig.from_dict(config))
        assert module_tree_from_config(config, "CAUSAL_LM") == module_tree(model)


def test_kimi_linears_nested_sizes_are_read_as_its_config_class_reads_them() -> None:
    config = {"model_type": "kimi_linear", "linear_attn_config": {"head_dim": 64, "num_heads": 16, "short_conv_kernel_size": 3}}
    assert is_legacy(config)
    converted = modern_config(config)
    assert (converted["linear_head_dim"], converted["linear_num_heads"], converted["linear_conv_kernel_dim"]) == (64, 16, 3)
    assert not is_legacy(converted) and modern_config(converted) is converted
