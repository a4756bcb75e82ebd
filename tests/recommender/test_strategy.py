"""`recommend --num-gpus`: the fastest strategy that fits, and the DeepSpeed / accelerate / framework
files it writes, read back by `estimate` and `check` with the same strategy and offload."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from peftlint.enrich.model import resolve_model
from peftlint.load import Document
from peftlint.normalize.distributed import read_setup
from peftlint.recommender import Recommendation, Request, recommend
from peftlint.settings.config import Settings
from peftlint.settings.profile import Profile

LLAMA70 = "meta-llama/Llama-2-70b-hf"
LLAMA1 = "meta-llama/Llama-3.2-1B"
ADAPTER = "peft_type: LORA\ntask_type: CAUSAL_LM\nr: 8\nlora_alpha: 16\ntarget_modules: [q_proj, v_proj]\n"


def rec(model: str, dialect: str = "peft", **profile: Any) -> Recommendation:
    return recommend(Request(resolve_model(model), Profile(profile), dialect, Settings()))


def peftlint(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "peftlint", *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def test_70b_on_4x80gb_is_sharded_with_the_faster_options_figures() -> None:
    result = rec(LLAMA70, task="instruction", num_gpus=4, gpu_memory="80GB")
    assert (result.distributed.strategy, result.distributed.offload) == ("fsdp", "none")
    (reason,) = [r for r in result.rationale if r.decision == "train with FSDP over 4 GPUs"]
    assert "the fastest strategy that fits" in reason.reason
    assert "DDP over 4 GPUs 145.6 GiB" in reason.reason and "DeepSpeed ZeRO-2 over 4 GPUs" in reason.reason
    assert result.estimate.memory is not None and result.estimate.memory["total_bytes"] <= 80 * 1024**3


def test_1b_on_2x24gb_is_ddp_and_no_budget_is_ddp() -> None:
    assert rec(LLAMA1, num_gpus=2, gpu_memory="24GB").distributed.strategy == "ddp"
    unbudgeted = rec(LLAMA1, num_gpus=2)
    assert unbudgeted.distributed.strategy == "ddp" and any("no --gpu-memory" in r.reason for r in unbudgeted.rationale)


def test_llama_factory_is_given_zero3_which_its_file_can_name(tmp_path: Path) -> None:
    result = rec(LLAMA70, "llama-factory", task="instruction", num_gpus=4, gpu_memory="80GB")
    assert result.distributed.strategy == "zero3" and result.file_mapping()["deepspeed"] == "examples/deepspeed/ds_z3_config.json"
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(result.file_mapping()))
    checked = peftlint("check", "train.yaml", "--task", "instruction", "--gpu-memory", "80GB", "--num-gpus", "4", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout


def test_a_given_strategy_or_offload_is_kept_and_one_gpu_gets_none() -> None:
    offloaded = rec(LLAMA1, num_gpus=2, gpu_memory="24GB", offload="params").distributed
    assert (offloaded.strategy, offloaded.offload) == ("zero3", "params")
    assert rec(LLAMA70, num_gpus=4, gpu_memory="80GB", strategy="zero3").distributed.strategy == "zero3"
    assert rec(LLAMA1, gpu_memory="24GB").distributed.strategy == "single"


def _estimated(folder: Path, *args: str) -> dict[str, Any]:
    (folder / "adapter.yaml").write_text(ADAPTER)
    result = peftlint("estimate", "adapter.yaml", "--model", LLAMA70, "--gpu-memory", "80GB", "--format", "json", *args, cwd=folder)
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        (["--num-gpus", "4"], ("fsdp", "none")),
        (["--num-gpus", "4", "--strategy", "zero3", "--offload", "params"], ("zero3", "params")),
        (["--num-gpus", "4", "--strategy", "zero2", "--offload", "optimizer"], ("zero3", "optimizer")),
    ],
)
def test_written_accelerate_and_deepspeed_files_read_back_the_same(profile: list[str], expected: tuple[str, str], tmp_path: Path) -> None:
    # the last case: a given ZeRO-2 replicates 70B weights, so the budget's remedy shards them (ZeRO-3, offload kept)
    common = ["recommend", "--model", LLAMA70, "--gpu-memory", "80GB", *profile]
    accelerate = peftlint(*common, "--format", "accelerate", "-o", "accelerate.yaml", cwd=tmp_path)
    assert accelerate.returncode == 0, accelerate.stderr
    found = _estimated(tmp_path, "--accelerate-config", "accelerate.yaml")
    assert (found["memory"]["distributed"]["strategy"], found["memory"]["distributed"]["offload"]) == expected
    assert found["memory"]["distributed"]["num_gpus"] == 4
    assert not [f for f in found["findings"] if f["code"].startswith("PL6")]
    deepspeed = peftlint(*common, "--format", "deepspeed", "-o", "ds.json", cwd=tmp_path)
    if expected[0] == "fsdp":
        assert deepspeed.returncode == 2 and "use --format accelerate" in deepspeed.stderr
        return
    assert deepspeed.returncode == 0, deepspeed.stderr
    written = json.loads((tmp_path / "ds.json").read_text())
    assert written["train_micro_batch_size_per_gpu"] == "auto" and written["bf16"] == {"enabled": True}
    found = _estimated(tmp_path, "--num-gpus", "4", "--deepspeed", "ds.json")
    assert (found["memory"]["distributed"]["strategy"], found["memory"]["distributed"]["offload"]) == expected
    assert not [f for f in found["findings"] if f["code"].startswith("PL6")]


@pytest.mark.parametrize("dialect", ["axolotl", "llama-factory", "trl"])
@pytest.mark.parametrize(
    ("strategy", "offload"), [("zero3", "none"), ("zero3", "params"), ("zero2", "none"), ("fsdp", "none"), ("fsdp", "params")]
)
def test_framework_files_name_the_strategy_in_their_own_keys(dialect: str, strategy: str, offload: str) -> None:
    result = rec(LLAMA70, dialect, num_gpus=4, gpu_memory="80GB", strategy=strategy, offload=offload)
    mapping = result.file_mapping()
    setup = read_setup(profile={}, document=Document(f"train-{dialect}.yaml", "yaml", mapping, {}), dialect=dialect)
    assert setup.problems == []
    if strategy == "fsdp" and dialect == "llama-factory":
        assert "fsdp" not in mapping and "deepspeed" not in mapping  # FSDP through --format accelerate
        return
    # the file names the plan recommend settled on (a replicating ZeRO-2 is sharded by the budget's remedy)
    assert (setup.settings["strategy"], setup.settings["offload"]) == (result.distributed.strategy, result.distributed.offload)
    assert not setup.settings.get("offload_unnamed")
    if dialect == "axolotl" and (strategy, offload) == ("zero3", "none"):
        assert mapping["deepspeed"] == "deepspeed_configs/zero3_bf16.json"
    if dialect == "llama-factory" and (strategy, offload) == ("zero3", "none"):
        assert mapping["deepspeed"] == "examples/deepspeed/ds_z3_config.json"


def test_json_document_and_text_carry_the_strategy() -> None:
    from peftlint.recommender.output import as_text, document

    result = rec(LLAMA70, num_gpus=4, gpu_memory="80GB")
    assert document(result)["training"]["distributed"] == {"strategy": "fsdp", "num_gpus": 4, "num_nodes": 1, "offload": "none"}
    assert "Train with: bf16, FSDP over 4 GPUs" in as_text(result)
    assert yaml.safe_load(json.dumps(document(result)))["training"]["distributed"]["strategy"] == "fsdp"


@pytest.mark.parametrize(
    ("dialect", "model", "profile", "infos"),
    [
        ("axolotl", LLAMA70, {"strategy": "fsdp", "offload": "params"}, []),
        # no shipped axolotl ZeRO-2 without offload: inline. The user forced ZeRO-2, and check's
        # info says what it saves over DDP for an adapter (almost nothing), with ZeRO-3's figure
        ("axolotl", "meta-llama/Llama-2-7b-hf", {"strategy": "zero2"}, ["PL610"]),
        ("trl", LLAMA70, {"strategy": "zero3"}, []),
        ("trl", LLAMA70, {}, []),
    ],
)
def test_written_framework_files_check_clean(dialect: str, model: str, profile: dict[str, str], infos: list[str], tmp_path: Path) -> None:
    flags = [part for key, value in profile.items() for part in (f"--{key}", value)]
    common = ["--gpu-memory", "80GB", "--num-gpus", "4", "--task", "instruction"]
    written = peftlint("recommend", "--model", model, *common, *flags, "--dialect", dialect, "-o", "train.yaml", cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    data = yaml.safe_load((tmp_path / "train.yaml").read_text())
    assert "deepspeed" in data or "fsdp" in data
    checked = peftlint("check", "train.yaml", *common, "--format", "json", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout
    findings = json.loads(checked.stdout)["findings"]
    assert [(f["code"], f["severity"]) for f in findings] == [(code, "info") for code in infos]


@pytest.mark.parametrize(
    ("model", "block"),
    [
        (LLAMA70, "LlamaDecoderLayer"),
        ("mistralai/Mistral-7B-v0.1", "MistralDecoderLayer"),
        ("Qwen/Qwen2.5-7B", "Qwen2DecoderLayer"),
        ("google/gemma-2-9b", "Gemma2DecoderLayer"),
    ],
)
def test_fsdp_files_name_the_block_class_to_wrap(model: str, block: str) -> None:
    import torch
    import transformers

    from peftlint.recommender.output import as_accelerate

    result = rec(model, num_gpus=4, gpu_memory="80GB", strategy="fsdp")
    assert yaml.safe_load(as_accelerate(result))["fsdp_config"]["fsdp_transformer_layer_cls_to_wrap"] == block
    assert (
        rec(model, "axolotl", num_gpus=4, gpu_memory="80GB", strategy="fsdp").file_mapping()["fsdp_config"][
            "fsdp_transformer_layer_cls_to_wrap"
        ]
        == block
    )
    # accelerate looks the name up among the model's own modules (get_module_class_from_name)
    config = transformers.AutoConfig.for_model(**{**resolve_model(model).config, "num_hidden_layers": 1})
    with torch.device("meta"):
        built = transformers.AutoModelForCausalLM.from_config(config)
    assert block in {type(module).__name__ for module in built.modules()} and block in built._no_split_modules


def test_an_unknown_block_class_is_said_not_guessed() -> None:
    from peftlint.enrich.architecture import layer_classes
    from peftlint.recommender.output import as_accelerate

    written = as_accelerate(
        rec("distilbert/distilbert-base-uncased", num_gpus=4, gpu_memory="80GB", strategy="fsdp", task="classification")
    )
    assert "fsdp_transformer_layer_cls_to_wrap" not in yaml.safe_load(written)["fsdp_config"]
    assert "# fsdp_transformer_layer_cls_to_wrap left out: transformers names no block class for distilbert" in written
    assert layer_classes("distilbert") == () and layer_classes("no-such-model-type") is None


def test_several_nodes_shard_within_a_node_and_say_why(tmp_path: Path) -> None:
    result = rec(LLAMA70, task="instruction", num_gpus=16, num_nodes=2, gpu_memory="80GB")
    assert (result.distributed.strategy, result.distributed.num_nodes) == ("fsdp-hybrid", 2)
    (reason,) = [r for r in result.rationale if r.decision == "train with FSDP HYBRID_SHARD over 16 GPUs on 2 nodes"]
    assert (
        "shards within each node's 8 GPUs and replicates across nodes" in reason.reason and "DDP over 16 GPUs on 2 nodes" in reason.reason
    )
    # one node: nothing to keep inside a node, FULL_SHARD as before
    assert rec(LLAMA70, task="instruction", num_gpus=8, gpu_memory="80GB").distributed.strategy == "fsdp"
    # too large for one node's shards: full sharding, whose gathers cross nodes, and the reason says so
    tight = rec(LLAMA70, task="instruction", num_gpus=8, num_nodes=2, gpu_memory="40GB")
    assert tight.distributed.strategy != "fsdp-hybrid"
    assert any("FSDP HYBRID_SHARD over 8 GPUs on 2 nodes" in r.reason and "cross the 2 nodes" in r.reason for r in tight.rationale)
    # DDP fits: only gradients cross nodes
    small = rec(LLAMA1, num_gpus=16, num_nodes=2, gpu_memory="24GB")
    assert small.distributed.strategy == "ddp" and any("only gradients cross between the 2 nodes" in r.reason for r in small.rationale)
    # LLaMA-Factory names DeepSpeed only: ZeRO-3
    assert rec(LLAMA70, "llama-factory", task="instruction", num_gpus=16, num_nodes=2, gpu_memory="80GB").distributed.strategy == "zero3"
    # the accelerate file reads back as the same plan
    written = peftlint(
        "recommend",
        "--model",
        LLAMA70,
        "--gpu-memory",
        "80GB",
        "--num-gpus",
        "16",
        "--num-nodes",
        "2",
        "--format",
        "accelerate",
        "-o",
        "accelerate.yaml",
        cwd=tmp_path,
    )
    assert written.returncode == 0, written.stderr
    config = yaml.safe_load((tmp_path / "accelerate.yaml").read_text())
    assert (config["num_machines"], config["num_processes"], config["fsdp_config"]["fsdp_sharding_strategy"]) == (2, 16, "HYBRID_SHARD")
    found = _estimated(tmp_path, "--accelerate-config", "accelerate.yaml")["memory"]["distributed"]
    assert found == {"strategy": "fsdp-hybrid", "num_gpus": 16, "num_nodes": 2, "offload": "none"}


def test_deepspeed_on_several_nodes_is_zero_plus_plus_and_its_file_reads_back(tmp_path: Path) -> None:
    # LLaMA-Factory names DeepSpeed only: ZeRO-3 with ZeRO++ hpZ within each node's 8 GPUs
    factory = rec(LLAMA70, "llama-factory", task="instruction", num_gpus=16, num_nodes=2, gpu_memory="80GB")
    assert (factory.distributed.strategy, factory.distributed.hpz_partition_size) == ("zero3", 8)
    (reason,) = [r for r in factory.rationale if r.decision == "train with DeepSpeed ZeRO-3 with ZeRO++ hpZ over 16 GPUs on 2 nodes"]
    assert "ZeRO++ hpZ keeps a second copy of the weights sharded within each node's 8 GPUs" in reason.reason
    written = factory.file_mapping()["deepspeed"]  # no shipped config sets ZeRO++: inline
    assert written["zero_optimization"]["zero_hpz_partition_size"] == 8
    setup = read_setup(profile={}, document=Document("train.yaml", "yaml", factory.file_mapping(), {}), dialect="llama-factory")
    assert setup.problems == [] and setup.settings["hpz_partition_size"] == 8
    assert factory.estimate.memory is not None and factory.estimate.memory["breakdown"]["secondary_weights"] > 0
    # one node: plain ZeRO-3, as before
    assert rec(LLAMA70, "llama-factory", task="instruction", num_gpus=4, gpu_memory="80GB").distributed.hpz_partition_size == 1
    # the DeepSpeed JSON carries it, and estimate reads it back
    ds = peftlint(
        "recommend",
        "--model",
        LLAMA70,
        "--dialect",
        "llama-factory",
        "--gpu-memory",
        "80GB",
        "--num-gpus",
        "16",
        "--num-nodes",
        "2",
        "--format",
        "deepspeed",
        "-o",
        "ds.json",
        cwd=tmp_path,
    )
    assert ds.returncode == 0, ds.stderr
    assert json.loads((tmp_path / "ds.json").read_text())["zero_optimization"]["zero_hpz_partition_size"] == 8
    found = _estimated(tmp_path, "--num-gpus", "16", "--num-nodes", "2", "--deepspeed", "ds.json")["memory"]
    assert found["distributed"]["strategy"] == "zero3" and found["breakdown"]["secondary_weights"] > 0
