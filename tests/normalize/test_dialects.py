"""axolotl, LLaMA-Factory and TRL training YAMLs: recognised by content, mapped to one canonical
config, checked by every rule, with findings at the dialect's own keys and in its own words."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from peftlint.normalize.dialects import AXOLOTL, LLAMA_FACTORY, TRL, detect, read
from peftlint.pipeline import lint_paths, load_configs

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
REAL = Path(__file__).resolve().parents[1] / "fixtures" / "dialects"  # public configs, see SOURCES.md there


@pytest.mark.parametrize(
    ("mapping", "dialect"),
    [
        ({"adapter": "lora", "base_model": "x"}, AXOLOTL),
        ({"adapter": "qlora"}, AXOLOTL),
        ({"lora_r": 8, "base_model": "x"}, AXOLOTL),
        ({"lora_target_linear": True}, AXOLOTL),
        ({"finetuning_type": "lora", "model_name_or_path": "x"}, LLAMA_FACTORY),
        ({"lora_rank": 8, "lora_target": "all"}, LLAMA_FACTORY),
        ({"peft_type": "LORA", "lora_r": 8}, None),  # a PEFT config with a typo, not axolotl
        ({"r": 8, "lora_alpha": 16}, None),
        ({"datasets": [], "base_model": "x"}, None),  # axolotl full fine-tuning: no PEFT here
        ({"model_name_or_path": "x", "use_peft": True, "lora_r": 16}, TRL),
        ({"model_name_or_path": "x", "lora_r": 16, "lora_target_modules": ["q_proj"]}, TRL),  # use_peft forgotten
        ({"lora_task_type": "SEQ_CLS"}, TRL),
        ({"base_model": "x", "lora_r": 16}, AXOLOTL),  # the shared keys with axolotl's base-model key
        ({"model_name_or_path": "x", "lora_r": 16, "lora_target_linear": True}, AXOLOTL),  # axolotl-only key wins
        ({"model_name_or_path": "x", "finetuning_type": "lora", "lora_rank": 8}, LLAMA_FACTORY),
        ({"lora_rank": 8, "lora_alpha": 16, "lora_layers": 16, "iters": 100}, None),  # an mlx-style script's keys
        ({"model_name_or_path": "x", "dataset_name": "imdb", "learning_rate": 1e-4}, None),  # TRL without PEFT
        ({"model_path": "x", "lr": 2e-4, "lora_r": 16, "lora_alpha": 32, "target_modules": ["c_attn"]}, None),  # a script's own JSON
    ],
)
def test_detection_by_content(mapping: dict, dialect: str | None) -> None:
    assert detect(mapping) == dialect


def test_llama_factory_defaults() -> None:
    config = read(
        LLAMA_FACTORY, {"model_name_or_path": "m", "lora_rank": 16, "lora_target": "q_proj, v_proj", "additional_target": "score"}
    )
    assert config.values["lora_alpha"] == 32  # 2 x lora_rank
    assert config.values["target_modules"] == ["q_proj", "v_proj"] and config.values["modules_to_save"] == ["score"]
    assert config.training["seq_len"] == 2048 and config.training["batch_size"] == 8 and config.training["gradient_checkpointing"]
    assert read(LLAMA_FACTORY, {"lora_target": "all"}).values["target_modules"] == "all-linear"
    assert read(LLAMA_FACTORY, {"quantization_bit": 4}).training["quantization"] == "4bit"


def test_llama_factory_quantization_bit_of_another_type_is_no_quantization(tmp_path: Path) -> None:
    # a list was looked up in a dict: TypeError (unhashable), a traceback out of `check`
    assert read(LLAMA_FACTORY, {"quantization_bit": [4]}).training["quantization"] is None
    path = tmp_path / "train.yaml"
    path.write_text("model_name_or_path: meta-llama/Llama-3.2-1B\nfinetuning_type: lora\nlora_target: all\nquantization_bit: [4]\n")
    lint_paths([str(path)])


def test_axolotl_mapping() -> None:
    config = read(
        AXOLOTL,
        {
            "adapter": "qlora",
            "load_in_4bit": True,
            "lora_r": 32,
            "lora_target_linear": True,
            "sequence_len": 4096,
            "micro_batch_size": 2,
            "bf16": "auto",
            "optimizer": "paged_adamw_8bit",
        },
    )
    assert config.values["r"] == 32 and config.values["target_modules"] == "all-linear" and config.values["bias"] == "none"
    assert config.training == {
        "dtype": "bf16",
        "quantization": "4bit",
        "optimizer": "paged_adamw_8bit",
        "batch_size": 2,
        "seq_len": 4096,
        "gradient_checkpointing": False,
    }
    assert config.key_paths["target_modules"] == "lora_target_linear"
    # axolotl's own linear names, not peft's `all-linear`: bitsandbytes loads Conv1D as a Linear4bit
    assert config.linear_names is not None and config.linear_names.kinds == ("linear", "conv1d") and config.linear_names.listed == ()


def test_axolotl_target_linear_keeps_the_list_for_the_union() -> None:
    listed = read(AXOLOTL, {"adapter": "lora", "lora_target_linear": True, "lora_target_modules": ["lm_head", 3]}).linear_names
    assert listed is not None and listed.listed == ("lm_head",) and listed.kinds == ("linear",)
    assert read(AXOLOTL, {"adapter": "lora", "lora_target_linear": True, "lora_target_modules": "q_proj"}).linear_names.listed == (
        "q_proj",
    )
    assert read(AXOLOTL, {"adapter": "lora", "lora_target_modules": ["q_proj"]}).linear_names is None


def test_llama_factory_target_all_is_its_own_linear_list() -> None:
    # find_all_linear_modules' list, not peft's `all-linear` (no fused-MoE conversion, its own skips)
    names = read(LLAMA_FACTORY, {"model_name_or_path": "m", "lora_target": "all"}).linear_names
    assert names is not None and names.listed == () and names.kinds == ("linear",) and names.skipped_paths[""] == ("lm_head",)
    assert read(LLAMA_FACTORY, {"model_name_or_path": "m", "finetuning_type": "lora"}).linear_names == names  # "all" is the default
    assert read(LLAMA_FACTORY, {"lora_target": "all", "quantization_bit": 4}).linear_names.kinds == ("linear", "conv1d")  # bitsandbytes
    assert read(LLAMA_FACTORY, {"lora_target": "all", "quantization_bit": 4, "quantization_method": "hqq"}).linear_names.kinds == (
        "linear",
    )
    assert read(LLAMA_FACTORY, {"lora_target": "q_proj,v_proj"}).linear_names is None


def test_llama_factory_target_all_on_a_multimodal_model_is_not_guessed() -> None:
    from peftlint.enrich.modules import Module, ModuleTree
    from peftlint.enrich.targets import resolve_targets

    config = read(LLAMA_FACTORY, {"lora_target": "all"})
    tree = ModuleTree("llava", (Module("language_model.layers.0.q_proj", "linear", 4, 4, False, 16),), 16, 1, {})
    with pytest.raises(ValueError, match="multimodal model .* is not modelled"):
        resolve_targets(tree, config.values, "LORA", "CAUSAL_LM", config.linear_names)


def test_good_examples_are_clean() -> None:
    report = lint_paths([str(EXAMPLES / "good" / "axolotl"), str(EXAMPLES / "good" / "llama-factory")])
    assert report.files == 3 and report.findings == []


def test_axolotl_findings_point_at_axolotl_keys() -> None:
    path = EXAMPLES / "bad" / "axolotl" / "qlora-mistakes.yaml"
    report = lint_paths([str(path)])
    got = {(f.code, f.key, f.line) for f in report.findings}
    assert ("PL501", "adapter", 2) in got
    assert ("PL101", "lora_r", 4) in got
    assert ("PL500", "lora_alpah", 5) in got
    assert ("PL210", "lora_target_modules.1", 8) in got
    for finding in report.findings:  # the message speaks axolotl: `lora_r`, never a bare `r`
        assert "`r=" not in finding.message and "`r:" not in (finding.fix or "")
    assert any("`lora_r=128`" in f.message for f in report.findings)


def test_llama_factory_findings_point_at_its_keys() -> None:
    report = lint_paths([str(EXAMPLES / "bad" / "llama-factory" / "bert-targets.yaml")])
    assert {(f.code, f.key, f.line) for f in report.findings} == {("PL210", "lora_target", 5)}
    assert all(f.message.startswith("`lora_target` entry") for f in report.findings)


def test_full_fine_tuning_file_is_checked_by_dialect_rules_only(tmp_path: Path) -> None:
    path = tmp_path / "full.yaml"
    path.write_text("base_model: meta-llama/Llama-3.2-1B\nlora_r: 512\nlora_alpha: 2\nlora_target_linear: true\n")
    report = lint_paths([str(path)])
    assert [f.code for f in report.findings] == ["PL503"]


def test_dialect_training_settings_feed_the_estimate(tmp_path: Path) -> None:
    path = EXAMPLES / "good" / "axolotl" / "llama3-qlora.yaml"

    def peak(*args: str) -> dict:
        out = subprocess.run(
            [sys.executable, "-m", "peftlint", "estimate", str(path), "--format", "json", *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    from_file = peak()
    assert from_file["memory"]["assumptions"]  # 4-bit, seq 2048, batch 2, checkpointing, paged 8-bit AdamW
    assert peak("--seq-len", "4096")["memory"]["total_bytes"] > from_file["memory"]["total_bytes"]
    assert peak("--no-gradient-checkpointing")["memory"]["total_bytes"] > from_file["memory"]["total_bytes"]
    full_precision = peak("--dtype", "bf16")  # the flag keeps the file's 4-bit loading
    assert full_precision["memory"]["total_bytes"] == from_file["memory"]["total_bytes"]


def test_mixed_training_file_ignores_unrelated_keys(tmp_path: Path) -> None:
    path = tmp_path / "train.yaml"
    path.write_text(
        "base_model: meta-llama/Llama-3.2-1B\nadapter: lora\nlora_r: 8\nlora_alpha: 16\nlora_target_modules: [q_proj, v_proj]\nwandb_project: x\ndeepspeed: ds.json\nspecial_tokens: {pad_token: '<pad>'}\n"
    )
    assert lint_paths([str(path)]).findings == []


def test_missing_base_model_is_reported_and_the_rest_still_checked() -> None:
    report = lint_paths([str(EXAMPLES / "bad" / "llama-factory" / "no-base-model.yaml")])
    assert [(f.code, f.line) for f in report.findings] == [("PL505", 2)]
    assert report.findings[0].message.startswith("this LLaMA-Factory file names no base model")


def test_trl_mapping_follows_model_config() -> None:
    config = read(
        TRL,
        {
            "model_name_or_path": "m",
            "use_peft": True,
            "lora_target_modules": ["all-linear"],
            "load_in_4bit": True,
            "dtype": "bfloat16",
            "max_length": 2048,
        },
    )
    # TRL's ModelConfig defaults, which are not LoraConfig's; a one-item list becomes its string
    assert config.values == {
        "base_model_name_or_path": "m",
        "r": 16,
        "lora_alpha": 32,
        "lora_dropout": 0.05,
        "task_type": "CAUSAL_LM",
        "bias": "none",
        "target_modules": "all-linear",
    }
    assert config.training == {
        "dtype": "bf16",
        "quantization": "4bit",
        "optimizer": "adamw_torch",
        "batch_size": 8,
        "seq_len": 2048,
        "gradient_checkpointing": True,
    }
    assert config.uses_lora and config.key_paths["r"] == "lora_r" and config.key_paths["task_type"] == "lora_task_type"
    assert not read(TRL, {"model_name_or_path": "m", "lora_r": 8}).uses_lora  # no use_peft: full fine-tuning


def test_trl_typos_are_framework_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / "sft.yaml"
    path.write_text(
        "model_name_or_path: meta-llama/Llama-3.2-1B\nuse_peft: true\nlora_r: 16\nlora_alpah: 32\nbnb_4bit_quant_typ: nf4\nlearning_rate: 2.0e-4\n"
    )
    report = lint_paths([str(path)])
    got = {(f.code, f.key, f.line) for f in report.findings}
    assert got == {("PL500", "lora_alpah", 4), ("PL500", "bnb_4bit_quant_typ", 5)}
    assert all("TrlParser stops" in f.message for f in report.findings)


@pytest.mark.parametrize("name", ["zephyr_sft_config_qlora.yaml", "zephyr_dpo_config_qlora.yaml"])
def test_real_trl_recipes_are_read_as_trl(name: str) -> None:
    [config] = load_configs(str(REAL / "trl" / name))
    assert config.dialect is not None and config.dialect.name == TRL and config.dialect.uses_lora
    assert config.values["target_modules"] == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    assert config.dialect.training["quantization"] == "4bit"
    codes = {f.code for f in lint_paths([str(REAL / "trl" / name)]).findings}
    assert not codes & {"PL001", "PL500", "PL503", "PL505"}  # names its base model, no unknown key


def test_trl_config_without_peft_is_not_a_peft_config() -> None:
    report = lint_paths([str(REAL / "trl" / "example_config.yaml")])
    assert report.files == 0 and report.findings == [] and report.skipped[0][1].startswith("not a PEFT config")


@pytest.mark.parametrize(
    "path",
    [
        "llama-factory/llama3_freeze_sft.yaml",
        "llama-factory/llama3_badam_full_sft.yaml",
        "llama-factory/llama3_oft_sft.yaml",
        "llama-factory/qwen3_full_sft.yaml",
        "axolotl/llama2_fft_optimized.yml",
        "axolotl/phi-ft.yml",
        "axolotl/llama2_lisa.yml",
    ],
)
def test_real_runs_without_lora_settings_are_not_told_their_lora_settings_are_ignored(path: str) -> None:
    """freeze, full (+BAdam) and OFT files with no LoRA key, and templates with blank LoRA keys."""
    assert lint_paths([str(REAL / path)]).findings == []


def test_real_lora_settings_without_adapter_are_reported() -> None:
    """axolotl's archived falcon example sets lora_r: 64 ... with `adapter:` blank: they are ignored."""
    [finding] = lint_paths([str(REAL / "axolotl" / "falcon_config-7b.yml")]).findings
    assert finding.code == "PL503"
    assert "(lora_r, lora_alpha, lora_dropout, lora_target_linear)" in finding.message and "`adapter: lora` is missing" in finding.message


def test_real_llama_factory_lora_example_is_lora() -> None:
    [config] = load_configs(str(REAL / "llama-factory" / "qwen3_lora_sft.yaml"))
    assert config.dialect is not None and config.dialect.name == LLAMA_FACTORY and config.dialect.uses_lora


def test_axolotl_target_linear_on_v5_mixtral_adapts_the_linear_layers_axolotl_finds(tmp_path: Path) -> None:
    """axolotl hands peft the names of Mixtral's Linear layers (the attention projections; v5's
    router and experts hold bare parameters), never `all-linear`: no fused-MoE conversion, so
    dropout is fine, and the memory remedies re-estimate the same targets."""
    keys = "base_model: mistralai/Mixtral-8x7B-v0.1\nadapter: qlora\nload_in_4bit: true\nlora_r: 32\nlora_alpha: 16\nlora_dropout: 0.05\n"
    path = tmp_path / "mixtral.yml"
    path.write_text(keys + "lora_target_linear: true\npeftlint:\n  gpu_memory: 16GB\n", encoding="utf-8")
    report = lint_paths([str(path)])
    assert [f.code for f in report.findings if f.severity == "error"] == ["PL401"]  # 46.7B parameters in 4-bit: not in 16 GB
    assert "r=8 instead of 32" in next(f.message for f in report.findings if f.code == "PL401")
    hidden, kv, layers = 4096, 1024, 32
    from peftlint.api import estimate

    assert estimate(str(path)).trainable_params == layers * 32 * (2 * (hidden + hidden) + 2 * (hidden + kv))  # q, o; k, v


def test_every_dialect_module_is_registered_once() -> None:
    # a framework is one module in peftlint/normalize/dialects/ and one line in DIALECTS
    import importlib
    import pkgutil

    import peftlint.normalize.dialects as package
    from peftlint.normalize.dialects import BY_NAME, DIALECTS

    modules = [m.name for m in pkgutil.iter_modules(package.__path__) if m.name != "base"]
    declared = [importlib.import_module(f"{package.__name__}.{name}").DIALECT for name in modules]
    assert sorted(d.name for d in declared) == sorted(d.name for d in DIALECTS) == sorted(BY_NAME)
    assert [d.name for d in DIALECTS] == [AXOLOTL, TRL, LLAMA_FACTORY]  # the detection order
