"""`peftlint recommend`: the guides' decisions, the budget, the output, and the closed loop:
every recommended config passes `peftlint check` in the same situation, fits by `estimate`, and
loads in peft on the model (meta device)."""

from __future__ import annotations

import io
import itertools
import json
import os
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import peftlint
from peftlint.cli import main
from peftlint.cli.interactive import Cancelled, ask
from peftlint.enrich.model import resolve_model
from peftlint.enrich.stage import ModelOptions
from peftlint.pipeline import lint_paths
from peftlint.recommender import S000, S001, S002, NothingFits, Recommendation, RecommendError, Request, recommend
from peftlint.recommender.output import as_python, as_yaml, document
from peftlint.settings.config import Settings
from peftlint.settings.profile import Profile, ProfileRequest

LLAMA3 = "meta-llama/Meta-Llama-3-8B"
LLAMA31 = "meta-llama/Llama-3.1-8B"
MISTRAL = "mistralai/Mistral-7B-v0.1"
ROBERTA = "FacebookAI/roberta-base"


def rec(model: str, dialect: str = "peft", **profile: Any) -> Recommendation:
    return recommend(Request(resolve_model(model), Profile(profile), dialect, Settings()))


def decisions(result: Recommendation) -> str:
    return "\n".join(f"{r.decision} | {r.reason} | {r.source}" for r in result.rationale)


# --- the decisions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "targets"),
    [
        ("google-bert/bert-base-uncased", ["query", "value"]),
        ("openai-community/gpt2", ["c_attn"]),
        ("tiiuae/falcon-7b-instruct", ["query_key_value"]),
        (LLAMA3, ["q_proj", "v_proj"]),
        ("google-t5/t5-base", ["q", "v"]),
        ("microsoft/Phi-3-mini-4k-instruct", ["qkv_proj"]),  # peft has no default: from the role table
        ("microsoft/phi-2", ["q_proj", "v_proj"]),  # peft's default adds fc1/fc2: Q and V only
    ],
)
def test_default_is_lora_r8_alpha16_on_the_models_own_q_and_v(model: str, targets: list[str]) -> None:
    result = rec(model)
    config = result.plan.config
    assert (config["peft_type"], config["r"], config["lora_alpha"], config["target_modules"]) == ("LORA", 8, 16, targets)
    assert config.get("fan_in_fan_out", False) == (model == "openai-community/gpt2")  # GPT-2's Conv1D
    assert f"{S000} §Decision Tree (Default recommendation" in decisions(result)
    assert result.findings == []


def test_latency_critical_is_lora_to_be_merged() -> None:
    result = rec(LLAMA31, task="instruction", deployment="latency-critical")
    text = decisions(result)
    assert result.plan.config["peft_type"] == "LORA"
    assert "Is inference latency critical? Yes: LoRA" in text and "merge_and_unload()" in text
    assert next(a for a in result.alternatives if a.label.startswith("prefix")).why_not.count("PL301") == 1


def test_classification_on_roberta_is_lora_r4_with_a_classifier_head() -> None:
    result = rec(ROBERTA, task="classification", dataset_size=2000)
    assert result.plan.config == {
        "peft_type": "LORA",
        "task_type": "SEQ_CLS",
        "r": 4,
        "lora_alpha": 8,
        "lora_dropout": 0.05,
        "target_modules": ["query", "value"],
    }
    assert "Is the task simple? Prompt Tuning or LoRA r=4" in decisions(result)
    prompt = next(a for a in result.alternatives if a.label.startswith("prompt"))
    assert "soft prompts steer only large models" in prompt.why_not


def test_code_adapts_all_attention_and_the_mlp_by_their_llama_names() -> None:
    config = rec(LLAMA3, task="code").plan.config
    assert config["target_modules"] == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    assert config["r"] == 8


def test_bert_roles_use_unambiguous_suffixes() -> None:
    config = rec("google-bert/bert-base-uncased", task="code").plan.config  # `dense` is attention output, MLP and pooler
    assert config["target_modules"] == [
        "query",
        "key",
        "value",
        "output.dense",
        "intermediate.dense",
    ]  # `output.dense`: both outputs, not the pooler
    assert rec("google-bert/bert-base-uncased", priority="quality").plan.config["target_modules"] == [
        "query",
        "key",
        "value",
        "attention.output.dense",
    ]


def test_cost_first_on_a_large_model_is_prompt_tuning_and_on_a_small_one_lora() -> None:
    large = rec(LLAMA3, task="classification", priority="cost", dataset_size=5000)
    assert large.plan.config == {"peft_type": "PROMPT_TUNING", "task_type": "SEQ_CLS", "num_virtual_tokens": 20}
    assert "Is compute extremely limited? Yes: Prompt Tuning" in decisions(large)
    small = rec("openai-community/gpt2", task="classification", priority="cost")
    assert small.plan.config["peft_type"] == "LORA"
    assert "soft prompts steer only large models" in decisions(small)


def test_prompt_tuning_gets_the_embedding_width_when_it_is_not_the_hidden_size() -> None:
    base = Request(resolve_model("facebook/opt-350m"), Profile({"priority": "cost"}))
    from peftlint.recommender import _prompt_tuning, base_model

    assert _prompt_tuning(base_model(base))["token_dim"] == 512  # OPT-350m embeds at 512, hidden 1024
    # llava-hf's text_config leaves hidden_size to LlamaConfig's default, 4096: its embedding width
    llava = Request(resolve_model("llava-hf/llava-1.5-7b-hf"), Profile({"priority": "cost"}))
    assert "token_dim" not in _prompt_tuning(base_model(llava))


def test_little_data_lowers_the_rank_and_adds_dropout() -> None:
    config = rec(MISTRAL, task="domain-adaptation", dataset_size=500).plan.config
    assert (config["r"], config["lora_dropout"]) == (8, 0.1)
    assert config["target_modules"] == ["q_proj", "v_proj", "gate_proj", "up_proj", "down_proj"]


def test_quality_first_takes_the_top_of_the_range_on_all_attention() -> None:
    result = rec(LLAMA3, task="instruction", priority="quality")
    assert (result.plan.config["r"], result.plan.config["target_modules"]) == (16, ["q_proj", "k_proj", "v_proj", "o_proj"])
    assert f"{S001} §Practical Recommendations (General-Purpose Fine-tuning)" in decisions(result)


def test_many_variants_keep_one_compact_adapter_each_and_a_heavy_one_is_made_compact() -> None:
    result = rec("Qwen/Qwen2.5-0.5B", task="domain-adaptation", priority="quality", variants=10)
    text = decisions(result)
    assert "one compact LoRA adapter per task or tenant" in text
    assert f"{S002} Concept 3 (many variants favor compact, modular artifacts)" in text  # PL303 objected, so repaired
    assert "gate_proj" not in result.plan.config["target_modules"]
    assert result.findings == []


# --- the budget -----------------------------------------------------------------------------------


def test_latency_critical_chat_on_24gb_needs_gradient_checkpointing() -> None:
    result = rec(LLAMA31, task="instruction", deployment="latency-critical", gpu_memory=24, seq_len=2048)
    assert result.plan.training.gradient_checkpointing and result.plan.training.quantization is None
    assert "train with gradient checkpointing" in decisions(result)
    assert result.estimate.memory["total_bytes"] <= 24 * 2**30


def test_the_profiles_stack_is_the_one_the_budget_is_judged_with() -> None:
    transformers = rec(LLAMA31, task="instruction", gpu_memory=80, seq_len=2048)
    torchtune = rec(LLAMA31, task="instruction", gpu_memory=80, seq_len=2048, stack="torchtune")
    assert torchtune.plan.training.stack == "torchtune" and transformers.plan.training.stack == "transformers"
    assert torchtune.estimate.memory["assumptions"]["stack"] == "torchtune"
    assert torchtune.estimate.memory["total_bytes"] < transformers.estimate.memory["total_bytes"]


def test_a_small_gpu_takes_the_remedies_in_order_down_to_qlora() -> None:
    result = rec(LLAMA3, task="instruction", gpu_memory=12, seq_len=1024, batch_size=4)
    steps = [r.decision for r in result.rationale if r.decision.startswith("train with")]
    assert steps == [
        "train with gradient checkpointing",
        "train with micro-batch 1 with 4x gradient accumulation",
        "train with 4-bit QLoRA",
    ]
    assert (result.plan.training.quantization, result.plan.accumulation, result.plan.label) == ("4bit", 4, "QLoRA r=8 on q_proj, v_proj")


def test_when_nothing_fits_it_says_what_would_with_numbers() -> None:
    with pytest.raises(NothingFits) as caught:
        rec("meta-llama/Llama-2-70b-hf", gpu_memory=16, seq_len=4096)
    message = str(caught.value)
    assert "nothing fits 16.0 GiB: even QLoRA r=8 on q_proj, v_proj with every remedy needs" in message
    assert "more memory: at least" in message and "a smaller model: meta-llama/Llama-2-13b-hf (13.0B parameters)" in message
    with pytest.raises(NothingFits, match=r"shorter sequences: at most [\d,]+ tokens fit"):
        rec(LLAMA3, gpu_memory=10, seq_len=8192)


# --- dialects and output --------------------------------------------------------------------------


def test_axolotl_and_llama_factory_files_carry_the_training_settings() -> None:
    axolotl = rec(LLAMA3, "axolotl", task="instruction", gpu_memory=12, seq_len=1024, batch_size=4).file_mapping()
    assert axolotl == {
        "base_model": LLAMA3,
        "adapter": "qlora",
        "load_in_4bit": True,
        "lora_r": 8,
        "lora_alpha": 16,
        "lora_dropout": 0.05,
        "lora_target_modules": ["q_proj", "v_proj"],
        "sequence_len": 1024,
        "micro_batch_size": 1,
        "gradient_accumulation_steps": 4,
        "gradient_checkpointing": True,
        "bf16": True,
        "optimizer": "adamw_torch",
    }
    factory = rec(LLAMA3, "llama-factory", task="code").file_mapping()
    assert factory["lora_target"] == "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj"
    assert factory["disable_gradient_checkpointing"] is True and "peftlint" not in factory  # LLaMA-Factory refuses unknown keys


def test_frameworks_train_causal_lms_only() -> None:
    with pytest.raises(RecommendError, match="axolotl trains causal language models"):
        rec(ROBERTA, "axolotl")


def test_json_document_shape(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["recommend", "--model", ROBERTA, "--task", "classification", "--dataset-size", "2000", "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert list(out) == ["config", "rationale", "estimate", "alternatives", "training"]
    assert all(set(r) == {"decision", "reason", "source"} and r["source"] for r in out["rationale"])
    assert set(out["estimate"]) == set(peftlint.estimate(ROBERTA_CONFIG, model=ROBERTA).to_dict())
    assert out["estimate"]["trainable_params"] == peftlint.estimate(out["config"], model=ROBERTA).trainable_params
    assert all(set(a) == {"label", "config", "why_not"} for a in out["alternatives"])


ROBERTA_CONFIG = {"peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": ["query", "value"], "task_type": "SEQ_CLS"}


def test_written_files_recheck_clean_on_their_own(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A YAML or Python file names its base model and profile: `peftlint check FILE` alone re-checks it."""
    for name in ("adapter.yaml", "adapter.py"):
        path = tmp_path / name
        assert main(["recommend", "--model", ROBERTA, "--task", "classification", "--dataset-size", "2000", "-o", str(path)]) == 0
        assert f"wrote {path}" in capsys.readouterr().err
        report = lint_paths([str(path)])
        assert report.profiles and "task=classification" in report.profiles[0][1]
        assert [f for f in report.findings if f.severity != "info"] == [], report.findings
        assert report.files == 1


def test_nothing_fits_exits_1_and_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recommend", "--model", "meta-llama/Llama-2-70b-hf", "--gpu-memory", "16GB", "--seq-len", "4096"]) == 1
    assert "what would fit" in capsys.readouterr().err
    assert main(["recommend", "--task", "code"]) == 2
    assert "recommend needs --model" in capsys.readouterr().err
    assert main(["recommend", "--model", "no/such-model-anywhere"]) == 2
    assert main(["recommend", "--model", LLAMA3, "--dialect", "axolotl", "--format", "python"]) == 2


# --- interactive ----------------------------------------------------------------------------------


def test_questions_take_defaults_reask_on_a_bad_answer_and_end_on_eof() -> None:
    answers = io.StringIO("\ncode\nten\n10\nmulti-tenant\nnone\n24GB\n2048\n\n5000\n")
    out = io.StringIO()
    model, values = ask({"batch_size": 2}, ROBERTA, answers, out)
    assert model == ROBERTA
    assert values == {
        "task": "code",
        "variants": 10,
        "deployment": "multi-tenant",
        "gpu_memory": 24,
        "seq_len": 2048,
        "batch_size": 2,
        "dataset_size": 5000,
    }
    prompts = out.getvalue()
    assert "2. How deep is the task shift? (classification / instruction" in prompts and "[instruction]" in prompts
    assert prompts.count("3. How many variants") == 2 and "must be a whole number" in prompts
    with pytest.raises(Cancelled):
        ask({}, None, io.StringIO("gpt2\n"), io.StringIO())


def test_interactive_on_a_pseudo_terminal(tmp_path: Path) -> None:
    main_fd, child_fd = os.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "peftlint", "recommend", "--interactive", "--format", "json"],
        stdin=child_fd,
        stdout=child_fd,
        stderr=child_fd,
        cwd=tmp_path,
        close_fds=True,
    )
    os.close(child_fd)
    replies = iter(["gpt2", "classification", "", "", "", "", "", "", "3000"])
    transcript = b""
    while process.poll() is None:
        ready, _, _ = select.select([main_fd], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(main_fd, 4096)
        except OSError:  # the child closed the terminal
            break
        transcript += chunk
        # after the last question only the JSON follows, whose chunks may also end in ":" (`"reason":`)
        reply = next(replies, None) if chunk.rstrip().endswith(b":") else None
        if reply is not None:
            os.write(main_fd, (reply + "\n").encode())
    process.wait(timeout=30)
    os.close(main_fd)
    text = transcript.decode()
    assert process.returncode == 0, text
    assert "1. How strong is the base model already?" in text and "5. What matters most" in text
    body = json.loads(text[text.index("{") :])
    assert body["config"]["target_modules"] == ["c_attn"] and body["config"]["task_type"] == "SEQ_CLS"


def test_interactive_needs_a_terminal() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "peftlint", "recommend", "--interactive"], input="", capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2 and "needs a terminal" in result.stderr


# --- closing the loop -----------------------------------------------------------------------------

GRID_MODELS = [
    LLAMA3,
    MISTRAL,
    "Qwen/Qwen2.5-0.5B",
    "openai-community/gpt2",
    "google-bert/bert-base-uncased",
    ROBERTA,
    "google-t5/t5-base",
    "tiiuae/falcon-7b-instruct",
]
TASKS = ["classification", "instruction", "domain-adaptation", "style", "code", "multi-task", "other"]
DEPLOYMENTS = [None, "latency-critical", "multi-tenant", "batch"]
BUDGETS = [None, 8, 24]
PRIORITIES = [None, "quality", "cost", "speed"]


def _profile(task: str, deployment: str | None, budget: int | None, priority: str | None) -> dict[str, Any]:
    profile = {"task": task, "deployment": deployment, "gpu_memory": budget, "priority": priority, "seq_len": 1024, "batch_size": 4}
    profile["dataset_size"] = 800 if task == "classification" else 20_000
    profile["variants"] = 10 if deployment == "multi-tenant" else None
    return {k: v for k, v in profile.items() if v is not None}


def _flags(profile: dict[str, Any]) -> dict[str, Any]:
    return {k: (f"{v}GB" if k == "gpu_memory" else v) for k, v in profile.items()}


def closes_the_loop(model: str, dialect: str, profile: dict[str, Any], folder: Path) -> Recommendation | None:
    """Write the recommendation, check it with the same profile, estimate it: clean, and it fits."""
    try:
        result = rec(model, dialect, **profile)
    except NothingFits:
        assert profile.get("gpu_memory") is not None, "only a budget can make nothing fit"
        return None
    except RecommendError:
        assert dialect != "peft" and model in ("google-bert/bert-base-uncased", ROBERTA, "google-t5/t5-base")
        return None
    path = folder / f"{model.replace('/', '--')}-{dialect}-{abs(hash(json.dumps(profile, sort_keys=True)))}.yaml"
    path.write_text(as_yaml(result), encoding="utf-8")
    training = result.plan.training
    # the same profile; its micro-batch is the one the recommendation trains with
    flags = {**profile, **({"batch_size": training.batch_size} if "batch_size" in profile else {})}
    options = ModelOptions(model=model, training=training if dialect == "peft" else None)
    report = lint_paths([str(path)], model=options, profile=ProfileRequest(_flags(flags)))
    assert report.files == 1 and not report.unreadable
    objections = [f"{f.code} {f.message}" for f in report.findings if f.severity != "info"]
    assert objections == [], (model, dialect, profile, objections)
    estimate = peftlint.estimate(
        str(path),
        model=model,
        seq_len=training.seq_len,
        batch_size=training.batch_size,
        gradient_checkpointing=training.gradient_checkpointing,
        quantization=training.quantization,
        gpu_memory=f"{profile['gpu_memory']}GB" if "gpu_memory" in profile else None,
    )
    assert estimate.findings == [] and estimate.trainable_params
    if "gpu_memory" in profile:
        assert estimate.memory["total_bytes"] <= profile["gpu_memory"] * 2**30
    assert estimate.memory["total_bytes"] == result.estimate.memory["total_bytes"]
    return result


FAST_GRID = [
    (LLAMA31, "peft", {"task": "instruction", "deployment": "latency-critical", "gpu_memory": 24, "seq_len": 2048}),
    (ROBERTA, "peft", {"task": "classification", "dataset_size": 2000}),
    (MISTRAL, "peft", {"task": "domain-adaptation", "deployment": "multi-tenant", "variants": 10}),
    (LLAMA3, "axolotl", {"task": "code", "gpu_memory": 16, "seq_len": 2048, "batch_size": 4}),
    (LLAMA3, "llama-factory", {"task": "instruction", "gpu_memory": 24, "seq_len": 4096, "priority": "quality"}),
    ("openai-community/gpt2", "axolotl", {"task": "style", "deployment": "edge"}),
    ("Qwen/Qwen2.5-0.5B", "peft", {"task": "classification", "priority": "cost", "dataset_size": 5000}),
    ("google-t5/t5-base", "peft", {"task": "code", "priority": "quality", "gpu_memory": 8}),
    ("tiiuae/falcon-7b-instruct", "llama-factory", {"task": "multi-task", "gpu_memory": 16, "batch_size": 8}),
    (LLAMA3, "trl", {"task": "instruction", "gpu_memory": 16, "seq_len": 2048, "batch_size": 4}),
    ("openai-community/gpt2", "trl", {"task": "style"}),  # one target: written as the regex TRL passes on
]


@pytest.mark.parametrize(("model", "dialect", "profile"), FAST_GRID, ids=[f"{m}-{d}" for m, d, _ in FAST_GRID])
def test_recommendations_pass_check_and_fit(model: str, dialect: str, profile: dict[str, Any], tmp_path: Path) -> None:
    assert closes_the_loop(model, dialect, profile, tmp_path) is not None


def _grid() -> list[Any]:
    return [
        pytest.param(model, dialect, id=f"{model}-{dialect}")
        for model, dialect in itertools.product(GRID_MODELS, ("peft", "axolotl", "llama-factory"))
    ]


def _situations(dialect: str) -> list[dict[str, Any]]:
    """tasks x deployments x budgets, with the priorities taken in turn (the frameworks' files: fewer deployments)."""
    deployments = DEPLOYMENTS if dialect == "peft" else DEPLOYMENTS[:2]
    space = itertools.product(TASKS, deployments, BUDGETS)
    return [_profile(task, deployment, budget, PRIORITIES[n % len(PRIORITIES)]) for n, (task, deployment, budget) in enumerate(space)]


@pytest.mark.slow
@pytest.mark.parametrize(("model", "dialect"), _grid())
def test_grid_every_recommendation_passes_check_fits_and_loads_in_peft(model: str, dialect: str, tmp_path: Path) -> None:
    """models x tasks x deployments x budgets: check-clean and within budget, every one; and every
    distinct peft config, given to peft's own config class, applies to the model on the meta device
    with the trainable parameters the estimate gave."""
    configs: dict[str, Recommendation] = {}
    for profile in _situations(dialect):
        result = closes_the_loop(model, dialect, profile, tmp_path)
        if result is not None and dialect == "peft":
            configs.setdefault(json.dumps(document(result)["config"], sort_keys=True), result)
    if dialect == "peft":
        assert len(configs) >= 5, list(configs)
        for result in configs.values():
            assert _peft_trainable(model, document(result)["config"]) == result.estimate.trainable_params, document(result)["config"]


def _peft_trainable(model: str, config: dict[str, Any]) -> int:
    import torch
    import transformers
    from peft import get_peft_model
    from peft.config import PeftConfig

    from peftlint.enrich.exact import AUTO_CLASSES

    transformers.logging.set_verbosity_error()
    hf_config = transformers.AutoConfig.for_model(**resolve_model(model).config)
    with torch.device("meta"):
        base = getattr(transformers, AUTO_CLASSES.get(config.get("task_type") or "", "AutoModel")).from_config(hf_config)
    peft_config = PeftConfig.from_peft_type(**{k: v for k, v in config.items() if k != "base_model_name_or_path"})
    return get_peft_model(base, peft_config).get_nb_trainable_parameters()[0]


def test_a_fast_config_loads_in_peft() -> None:
    result = rec("openai-community/gpt2", task="code")  # Conv1D layers: fan_in_fan_out must be right
    assert _peft_trainable("openai-community/gpt2", document(result)["config"]) == result.estimate.trainable_params


def test_yaml_and_python_outputs_parse_back_to_the_config() -> None:
    result = rec(LLAMA31, task="instruction", deployment="latency-critical", gpu_memory=24, seq_len=2048)
    data = yaml.safe_load(as_yaml(result))
    assert data == result.file_mapping() and data["peftlint"]["gpu_memory"] == "24GiB"
    source = as_python(result)
    assert "# peftlint: task=instruction deployment=latency-critical gpu_memory=24GiB seq_len=2048 gradient_checkpointing=True" in source
    assert "config = LoraConfig(\n" in source and '    target_modules=["q_proj", "v_proj"],\n' in source


def test_a_plain_peft_file_says_how_it_trains_in_its_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A recommendation that needs gradient checkpointing writes it into the `peftlint:` block, so
    `check` on the file alone estimates the same run and finds it fits."""
    args = [
        "recommend",
        "--model",
        LLAMA31,
        "--task",
        "instruction",
        "--deployment",
        "latency-critical",
        "--gpu-memory",
        "24GB",
        "--seq-len",
        "2048",
    ]
    peft_file = tmp_path / "chat.yaml"
    assert main([*args, "-o", str(peft_file)]) == 0
    capsys.readouterr()
    assert "gradient_checkpointing: true" in peft_file.read_text()
    assert [f for f in lint_paths([str(peft_file)]).findings if f.severity != "info"] == []
    peft_file.write_text(peft_file.read_text().replace(", gradient_checkpointing: true", ""))
    [memory] = [f for f in lint_paths([str(peft_file)]).findings if f.severity != "info"]
    assert memory.code == "PL401" and "with gradient checkpointing" in memory.message


# The transcripts of docs/recommend.md (what the README's Recommend section was) are run by
# tests/test_docs.py::test_console_transcripts_are_real_output, with every other page's.
