"""`peftlint estimate` through the real CLI: the JSON contract, exact counts, rejections, spellings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import peftlint

CONTRACT = {
    "model",
    "model_type",
    "peft_type",
    "trainable_params",
    "total_params",
    "trainable_percent",
    "adapter_bytes",
    "memory",
    "warnings",
    "findings",
}
LORA_QV = "peft_type: LORA\ntask_type: CAUSAL_LM\nr: 8\nlora_alpha: 16\ntarget_modules: [q_proj, v_proj]\n"


def estimate(tmp_path: Path, text: str, *args: str) -> tuple[int, str, str]:
    path = tmp_path / "adapter.yaml"
    path.write_text(text, encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "peftlint", "estimate", str(path), *args], capture_output=True, text=True, timeout=300)
    return result.returncode, result.stdout, result.stderr


def estimate_json(tmp_path: Path, text: str, *args: str) -> tuple[int, dict]:
    code, out, err = estimate(tmp_path, text, "--format", "json", *args)
    assert "Traceback" not in err, err
    return code, json.loads(out)


def peft_counts(model_id: str, config: dict) -> tuple[int, int]:
    """The oracle: peft's own numbers, on the meta device."""
    import torch
    import transformers
    from peft import LoraConfig, get_peft_model

    from peftlint.enrich.bundled import bundled_config

    hf_config = transformers.AutoConfig.for_model(**bundled_config(model_id))
    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(hf_config)
    return get_peft_model(model, LoraConfig(**config)).get_nb_trainable_parameters()


def test_json_contract_and_exact_counts(tmp_path: Path) -> None:
    code, result = estimate_json(tmp_path, LORA_QV, "--model", "meta-llama/Llama-3.2-1B", "--seq-len", "1024")
    assert code == 0
    assert CONTRACT <= set(result)
    assert result["model_type"] == "llama" and result["peft_type"] == "LORA"
    trainable, total = peft_counts(
        "meta-llama/Llama-3.2-1B", {"task_type": "CAUSAL_LM", "r": 8, "lora_alpha": 16, "target_modules": ["q_proj", "v_proj"]}
    )
    assert (result["trainable_params"], result["total_params"]) == (trainable, total)
    memory = result["memory"]
    assert set(memory) >= {"total_bytes", "breakdown", "assumptions"}
    # the command prints what the Python API computes for the same file and settings
    api = peftlint.estimate(tmp_path / "adapter.yaml", model="meta-llama/Llama-3.2-1B", seq_len=1024)
    assert memory == api.memory
    assert result["inference"]["mergeable"] is True


def test_text_output(tmp_path: Path) -> None:
    code, out, _ = estimate(tmp_path, LORA_QV, "--model", "meta-llama/Llama-3.2-1B")
    assert code == 0
    assert "trainable params   851,968 of" in out
    assert "training peak" in out and "base weights" in out and "inference" in out


def test_more_memory_settings_change_the_estimate(tmp_path: Path) -> None:
    def peak(*args: str) -> int:
        return estimate_json(tmp_path, LORA_QV, "--model", "meta-llama/Meta-Llama-3-8B", *args)[1]["memory"]["total_bytes"]

    base = peak("--seq-len", "2048")
    assert peak("--seq-len", "2048", "--gradient-checkpointing") < base
    assert peak("--seq-len", "2048", "--load-in-4bit") < base
    assert peak("--seq-len", "2048", "--batch-size", "4") > base
    assert peak("--seq-len", "2048", "--dtype", "float32") > base


def test_rejected_config_exits_1_without_counts(tmp_path: Path) -> None:
    code, result = estimate_json(tmp_path, LORA_QV, "--model", "google-bert/bert-base-uncased")
    assert code == 1
    assert result["trainable_params"] is None and result["memory"] is None
    assert {f["code"] for f in result["findings"]} == {"PL210"}


def test_budget_error_keeps_the_numbers(tmp_path: Path) -> None:
    code, result = estimate_json(tmp_path, LORA_QV, "--model", "meta-llama/Meta-Llama-3-8B", "--seq-len", "2048", "--gpu-memory", "16GB")
    assert code == 1
    assert result["trainable_params"] == 3407872
    assert [f["code"] for f in result["findings"]] == ["PL401"]


def test_compare(tmp_path: Path) -> None:
    code, result = estimate_json(tmp_path, LORA_QV, "--model", "meta-llama/Llama-3.2-1B", "--compare")
    labels = [row["label"] for row in result["compare"]]
    assert labels[:3] == ["LoRA r=8 on Q,V", "LoRA r=16 all-linear", "QLoRA r=16 all-linear"]
    assert "prompt tuning, 200 tokens" in labels
    by_label = {row["label"]: row for row in result["compare"]}
    assert by_label["QLoRA r=16 all-linear"]["memory"]["total_bytes"] < by_label["LoRA r=16 all-linear"]["memory"]["total_bytes"]
    # peft's method comparison measures prompt tuning > IA3 > LoRA on Q,V > prefix tuning (200 tokens each)
    order = ["prompt tuning, 200 tokens", "IA3", "LoRA r=8 on Q,V", "prefix tuning, 200 tokens"]
    peaks = [by_label[label]["memory"]["total_bytes"] for label in order]
    assert peaks == sorted(peaks, reverse=True), dict(zip(order, peaks))


@pytest.mark.parametrize(
    ("option", "value", "assumption", "shown"),
    [("--dtype", "bfloat16", "weights", "bf16"), ("--dtype", "float16", "weights", "fp16"),
     ("--optimizer", "adamw_bnb_8bit", "optimizer", "adamw-8bit"), ("--optimizer", "paged_adamw_8bit", "optimizer", "paged-adamw-8bit"),
     ("--optimizer", "sgd", "optimizer", "sgd")],
)  # fmt: skip
def test_spellings(tmp_path: Path, option: str, value: str, assumption: str, shown: str) -> None:
    code, result = estimate_json(tmp_path, LORA_QV, "--model", "meta-llama/Llama-3.2-1B", option, value)
    assert code == 0
    assert result["memory"]["assumptions"][assumption].startswith(shown)  # the spelling reached the estimate


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--model", "meta-llama/Llama-3.2-1B", "--dtype", "fp8"), "bf16"),
        (("--model", "meta-llama/Llama-3.2-1B", "--optimizer", "lion"), "adamw"),
        (("--model", "meta-llama/Llama-3.2-1B", "--gpu-memory", "lots"), "24GB"),
        ((), "no base model: pass --model"),
        (("--model", "./nowhere"), "model facts unavailable for ./nowhere"),
    ],
)
def test_usage_errors(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    code, _, err = estimate(tmp_path, LORA_QV, *args)
    assert code == 2 and message in err and "Traceback" not in err


def test_base_model_from_the_config(tmp_path: Path) -> None:
    code, result = estimate_json(tmp_path, LORA_QV + "base_model_name_or_path: meta-llama/Llama-3.2-1B\n")
    assert code == 0 and result["model"] == "meta-llama/Llama-3.2-1B"


@pytest.mark.slow
def test_exact_fallback_builds_unknown_architectures_on_meta(tmp_path: Path) -> None:
    from transformers import AutoConfig

    from peftlint.enrich.architecture import known_model_types

    assert "gpt_neo" not in known_model_types()
    config = AutoConfig.for_model(
        "gpt_neo",
        hidden_size=64,
        num_layers=2,
        num_heads=4,
        attention_types=[[["global", "local"], 1]],
        vocab_size=100,
        max_position_embeddings=128,
    ).to_dict()
    config["architectures"] = ["GPTNeoForCausalLM"]
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text(json.dumps(config))
    code, result = estimate_json(tmp_path, LORA_QV, "--model", str(tmp_path / "model"))
    assert code == 0 and result["model_type"] == "gpt_neo"
    assert result["trainable_params"] == 2 * 2 * (8 * 64 + 64 * 8)  # q and v, 2 layers, A and B


def test_the_profile_says_how_a_plain_config_trains(tmp_path: Path) -> None:
    def peak(block: str) -> int:
        code, result = estimate_json(tmp_path, LORA_QV + block, "--model", "meta-llama/Meta-Llama-3-8B")
        assert code == 0
        return result["memory"]["total_bytes"]

    plain = peak("peftlint: {seq_len: 2048}\n")
    assert peak("peftlint: {seq_len: 2048, gradient_checkpointing: true}\n") < plain
    assert peak("peftlint: {seq_len: 2048, quantization: 4bit}\n") < plain
    assert peak("peftlint: {seq_len: 4096}\n") > plain


def test_stack_flag_and_profile_field_and_the_three_figures(tmp_path: Path) -> None:
    _, default = estimate_json(tmp_path, LORA_QV, "--model", "meta-llama/Llama-3.2-1B")
    _, flag = estimate_json(tmp_path, LORA_QV, "--model", "meta-llama/Llama-3.2-1B", "--stack", "torchtune")
    _, profile = estimate_json(tmp_path, LORA_QV + "peftlint: {stack: torchtune}\n", "--model", "meta-llama/Llama-3.2-1B")
    assert default["memory"]["assumptions"]["stack"] == "transformers"
    assert flag["memory"] == profile["memory"] and flag["memory"]["assumptions"]["stack"] == "torchtune"
    # torchtune keeps the adapters in bf16 and chunks the loss: less than transformers + peft
    assert flag["memory"]["breakdown"]["trainable_weights"] * 2 == default["memory"]["breakdown"]["trainable_weights"]
    assert flag["memory"]["total_bytes"] < default["memory"]["total_bytes"]
    memory = default["memory"]
    assert memory["peak_allocated_bytes"] < memory["peak_reserved_bytes"] < memory["total_bytes"]
    code, out, err = estimate(tmp_path, LORA_QV, "--model", "meta-llama/Llama-3.2-1B", "--stack", "megatron")
    assert code == 2 and "invalid choice: 'megatron'" in err and "Traceback" not in err
