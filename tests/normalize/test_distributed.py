"""Reading the distributed setup from every place it is written (peftlint/normalize/distributed.py), and the
per-GPU estimate `peftlint estimate` prints from it. The DeepSpeed and accelerate files under
tests/fixtures/distributed are public ones, copied verbatim (PROVENANCE.md there)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from peftlint.load import Document
from peftlint.normalize.distributed import checked_plan, read_setup

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "distributed"
LORA = "peft_type: LORA\ntask_type: CAUSAL_LM\nr: 8\nlora_alpha: 16\ntarget_modules: [q_proj, v_proj]\n"


def setup_of(**kwargs: object) -> object:
    return read_setup(profile=kwargs.pop("profile", {}), **kwargs)


def doc(data: dict, path: str = "train.yaml", positions: dict | None = None) -> Document:
    return Document(path, "yaml", data, positions or {})


@pytest.mark.parametrize(
    ("name", "strategy", "offload"),
    [
        ("axolotl-zero2.json", "zero2", "optimizer"),  # the shipped ZeRO-2 offloads the optimizer
        ("axolotl-zero3_bf16_cpuoffload_all.json", "zero3", "params"),
        ("llama-factory-ds_z3_config.json", "zero3", "none"),
    ],
)
def test_public_deepspeed_configs(name: str, strategy: str, offload: str) -> None:
    setup = setup_of(deepspeed=str(FIXTURES / name))
    assert setup.problems == []
    assert (setup.settings["strategy"], setup.settings["offload"]) == (strategy, offload)


def test_public_accelerate_configs() -> None:
    fsdp = setup_of(accelerate_config=str(FIXTURES / "peft-fsdp_config_qlora.yaml"))
    assert fsdp.problems == []
    assert checked_plan(fsdp)[0] == {"strategy": "fsdp", "num_gpus": 2, "num_nodes": 1, "offload": "params"}
    assert fsdp.settings["low_cpu_loading"] is True and fsdp.settings["use_orig_params"] is False
    zero3 = setup_of(accelerate_config=str(FIXTURES / "peft-deepspeed_config_z3_qlora.yaml"))
    assert checked_plan(zero3)[0] == {"strategy": "zero3", "num_gpus": 2, "num_nodes": 1, "offload": "none"}


def test_bad_deepspeed_files_are_problems_at_their_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "zero_optimization": {\n    "stage": 2,\n  }\n}\n')
    (problem,) = setup_of(deepspeed=str(broken)).problems
    assert problem.file == str(broken) and problem.line == 4 and "does not parse" in problem.message
    stage4 = tmp_path / "stage4.json"
    stage4.write_text('{\n  "zero_optimization": {\n    "stage": 4\n  }\n}\n')
    (problem,) = setup_of(deepspeed=str(stage4)).problems
    assert (problem.line, problem.message) == (3, "ZeRO `stage` is `4`: DeepSpeed has stages 0, 1, 2 and 3")
    auto = tmp_path / "auto.json"
    auto.write_text('{"zero_optimization": {"stage": "auto", "offload_optimizer": {"device": "cpu"}}}')
    (problem,) = setup_of(deepspeed=str(auto)).problems
    assert '`stage: "auto"` cannot be resolved' in str(problem) and str(problem).startswith(f"{auto}:1:")
    param = tmp_path / "param.json"
    param.write_text('{"zero_optimization": {"stage": 2, "offload_param": {"device": "cpu"}}}')
    assert "needs ZeRO stage 3" in setup_of(deepspeed=str(param)).problems[0].message
    hpz = tmp_path / "hpz.json"
    hpz.write_text('{"zero_optimization": {"stage": 2, "zero_hpz_partition_size": 8}}')
    assert "`zero_hpz_partition_size` (ZeRO++ hpZ) needs ZeRO stage 3" in setup_of(deepspeed=str(hpz)).problems[0].message
    hpz.write_text('{"zero_optimization": {"stage": 3, "zero_hpz_partition_size": "auto"}}')
    assert "must be a whole number of GPUs" in setup_of(deepspeed=str(hpz)).problems[0].message
    hpz.write_text('{"zero_optimization": {"stage": 3, "zero_hpz_partition_size": 8}}')
    read = setup_of(deepspeed=str(hpz))
    assert read.problems == [] and read.settings["hpz_partition_size"] == 8


def test_num_processes_that_disagrees_with_num_gpus() -> None:
    setup = setup_of(accelerate_config=str(FIXTURES / "peft-fsdp_config_qlora.yaml"), flags={"num_gpus": 4})
    (problem,) = setup.problems
    assert problem.line == 19 and problem.message == "`num_processes: 2` disagrees with --num-gpus 4"
    assert setup.settings["num_gpus"] == 4  # the flag wins


def test_training_file_keys() -> None:
    # axolotl names its shipped config; found by name when it is not next to the file
    axolotl = setup_of(document=doc({"deepspeed": "deepspeed_configs/zero2.json"}))
    assert (axolotl.settings["strategy"], axolotl.settings["offload"]) == ("zero2", "optimizer")
    hf = setup_of(document=doc({"fsdp": "full_shard auto_wrap offload", "fsdp_config": {"use_orig_params": True}}))
    assert (hf.settings["strategy"], hf.settings["offload"], hf.settings["use_orig_params"]) == ("fsdp", "params", True)
    fsdp2 = setup_of(document=doc({"fsdp_version": 2, "fsdp_config": {"reshard_after_forward": False, "offload_params": False}}))
    assert (fsdp2.settings["strategy"], fsdp2.settings["fsdp_version"]) == ("fsdp-shard-grad-op", 2)
    both = setup_of(document=doc({"deepspeed": {"zero_optimization": {"stage": 3}}, "fsdp": ["full_shard"]}))
    assert both.settings["deepspeed_and_fsdp"] is True
    # the job may start in another folder: a file not found here is no finding, the estimate says so
    missing = setup_of(document=doc({"deepspeed": "my_ds.json"}))
    assert missing.problems == [] and missing.settings["deepspeed_unresolved"] == "my_ds.json"


def test_python_training_arguments_are_read_with_ast(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(
        "from peft import LoraConfig\nfrom transformers import TrainingArguments\n\n"
        "config = LoraConfig(r=8, lora_alpha=16, target_modules=['q_proj', 'v_proj'])\n"
        "args = TrainingArguments(output_dir='out', fsdp='shard_grad_op auto_wrap', bf16=True)\n"
    )
    setup = setup_of(document=Document(str(script), "python", {}, {}))
    assert setup.settings["strategy"] == "fsdp-shard-grad-op"
    assert setup.sources["strategy"] == f"{script}:5 `fsdp`"


def test_contradictions_name_where_each_setting_came_from() -> None:
    setup = setup_of(profile={"num_gpus": 4, "strategy": "ddp"}, flags={"offload": "optimizer"})
    plan, problem = checked_plan(setup)
    assert plan == {} and "needs DeepSpeed ZeRO or FSDP" in problem.message and "offload from --offload" in problem.message


# --- the command line ---------------------------------------------------------------------------


def estimate(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    config = tmp_path / "lora.yaml"
    config.write_text(LORA)
    return subprocess.run(
        [sys.executable, "-m", "peftlint", "estimate", str(config), "--model", "meta-llama/Llama-2-70b-hf", "--gpu-memory", "80GB", *args],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_70b_lora_fits_4x80gb_under_fsdp_and_not_under_ddp(tmp_path: Path) -> None:
    fsdp = estimate(tmp_path, "--num-gpus", "4", "--strategy", "fsdp", "--format", "json")
    assert fsdp.returncode == 0, fsdp.stderr
    memory = json.loads(fsdp.stdout)["memory"]
    assert memory["distributed"] == {"strategy": "fsdp", "num_gpus": 4, "num_nodes": 1, "offload": "none"}
    assert memory["total_bytes"] < 80 * 2**30
    assert memory["breakdown"]["base_weights"] < 33 * 2**30  # a quarter of 128.5 GiB
    assert memory["cpu_bytes"] > 0
    ddp = estimate(tmp_path, "--num-gpus", "4", "--strategy", "ddp")
    assert ddp.returncode == 1
    assert "PL608" in ddp.stdout and "PL402" not in ddp.stdout
    assert "with FSDP over 4 GPUs:" in ddp.stdout and "GiB per GPU (fits)" in ddp.stdout
    assert "per GPU, DDP over 4 GPUs" in ddp.stdout


def test_estimate_refuses_a_broken_deepspeed_file_with_its_position(tmp_path: Path) -> None:
    broken = tmp_path / "ds.json"
    broken.write_text('{"zero_optimization": {"stage": 4}}')
    result = estimate(tmp_path, "--num-gpus", "2", "--deepspeed", str(broken))
    assert result.returncode == 2
    assert result.stderr.strip() == f"peftlint: error: {broken}:1:24: ZeRO `stage` is `4`: DeepSpeed has stages 0, 1, 2 and 3"
    assert "Traceback" not in result.stderr


def test_compare_sets_the_strategies_side_by_side(tmp_path: Path) -> None:
    result = estimate(tmp_path, "--num-gpus", "4", "--strategy", "fsdp", "--compare", "--format", "json")
    labels = [row["label"] for row in json.loads(result.stdout)["compare"]]
    assert "DDP over 4 GPUs" in labels and "DeepSpeed ZeRO-3 over 4 GPUs" in labels


def test_estimate_memory_matches_the_documented_schema(tmp_path: Path) -> None:
    import jsonschema_rs

    schema = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "output.schema.json").read_text())
    validator = jsonschema_rs.validator_for({**schema["$defs"]["estimate_memory"], "$defs": schema["$defs"]})
    for args in ((), ("--num-gpus", "8", "--num-nodes", "2", "--strategy", "fsdp-hybrid")):
        result = estimate(tmp_path, "--format", "json", *args)
        validator.validate(json.loads(result.stdout)["memory"])


def check_70b_lora(tmp_path: Path) -> list[str]:
    """`peftlint check` of a LoRA config on Llama-2-70B with 80 GB GPUs and 2048 tokens."""
    config = tmp_path / "lora.yaml"
    config.write_text(LORA)
    model = ["--model", "meta-llama/Llama-2-70b-hf", "--gpu-memory", "80GB", "--seq-len", "2048"]
    return [sys.executable, "-m", "peftlint", "check", str(config), *model]


def test_check_judges_the_fit_per_gpu(tmp_path: Path) -> None:
    common = [*check_70b_lora(tmp_path), "--num-gpus", "4"]
    ddp = subprocess.run([*common, "--strategy", "ddp"], capture_output=True, text=True, timeout=120)
    assert "PL401" in ddp.stdout and "GiB per GPU (DDP over 4 GPUs) does not fit 80.0 GiB" in ddp.stdout
    assert "with FSDP over 4 GPUs:" in ddp.stdout
    fsdp = subprocess.run([*common, "--strategy", "fsdp", "--format", "json"], capture_output=True, text=True, timeout=120)
    assert [f["code"] for f in json.loads(fsdp.stdout)["findings"]] == ["PL401"]  # no PL402: the weights are sharded
    assert "+ gradient checkpointing" not in fsdp.stdout and "with gradient checkpointing: " in fsdp.stdout


def test_recommend_budgets_per_gpu_and_shards_replicated_weights() -> None:
    common = [
        sys.executable,
        "-m",
        "peftlint",
        "recommend",
        "--model",
        "meta-llama/Llama-2-70b-hf",
        "--gpu-memory",
        "80GB",
        "--task",
        "instruction",
        "--num-gpus",
        "4",
    ]
    ddp = subprocess.run([*common, "--strategy", "ddp"], capture_output=True, text=True, timeout=120)
    assert ddp.returncode == 0, ddp.stderr
    assert "train with FSDP over 4 GPUs: estimated peak" in ddp.stdout and "GiB per GPU, FSDP over 4 GPUs" in ddp.stdout
    contradiction = subprocess.run([*common, "--strategy", "ddp", "--offload", "params"], capture_output=True, text=True, timeout=120)
    assert contradiction.returncode == 2
    assert contradiction.stderr == "peftlint: error: offloading to CPU needs DeepSpeed ZeRO or FSDP, not `ddp`\n"


def test_check_reads_the_setup_files_given_on_the_command_line(tmp_path: Path) -> None:
    common = check_70b_lora(tmp_path)
    plain = subprocess.run([*common, "--num-gpus", "2", "--format", "json"], capture_output=True, text=True, timeout=120)
    assert sorted(f["code"] for f in json.loads(plain.stdout)["findings"]) == ["PL401", "PL608"]  # DDP
    accelerate = subprocess.run(
        [*common, "--num-gpus", "2", "--accelerate-config", str(FIXTURES / "peft-fsdp_config_qlora.yaml"), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert json.loads(accelerate.stdout)["findings"] == []  # FSDP with the weights offloaded: fits
    wrong = subprocess.run(
        [*common, "--num-gpus", "4", "--accelerate-config", str(FIXTURES / "peft-fsdp_config_qlora.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert wrong.returncode == 2
    assert (
        wrong.stderr
        == f"peftlint: error: {FIXTURES / 'peft-fsdp_config_qlora.yaml'}:19:1: `num_processes: 2` disagrees with --num-gpus 4\n"
    )


def test_fsdp2_mixed_precision_from_an_accelerate_config(tmp_path: Path) -> None:
    config = tmp_path / "fsdp2.yaml"
    config.write_text(
        "distributed_type: FSDP\nmixed_precision: bf16\nnum_processes: 4\nfsdp_config:\n  fsdp_version: 2\n  fsdp_reshard_after_forward: true\n"
    )
    setup = setup_of(accelerate_config=str(config))
    assert setup.problems == [] and setup.settings["fsdp_version"] == 2 and setup.settings["mixed_precision"] is True
    from peftlint.normalize.distributed import plan_settings

    assert plan_settings(setup.settings)["fp32_shards"] is True


def test_the_api_estimates_per_gpu_like_the_command(tmp_path: Path) -> None:
    import peftlint
    from peftlint.api import SettingsError

    config = tmp_path / "lora.yaml"
    config.write_text(LORA)
    result = peftlint.estimate(str(config), model="meta-llama/Llama-2-70b-hf", num_gpus=4, strategy="fsdp", gpu_memory="80GB")
    assert result.memory["distributed"] == {"strategy": "fsdp", "num_gpus": 4, "num_nodes": 1, "offload": "none"}
    command = estimate(tmp_path, "--num-gpus", "4", "--strategy", "fsdp", "--format", "json")
    assert json.loads(command.stdout)["memory"]["total_bytes"] == result.memory["total_bytes"]
    zero3 = peftlint.estimate(
        str(config), model="meta-llama/Llama-2-70b-hf", num_gpus=2, deepspeed=str(FIXTURES / "llama-factory-ds_z3_config.json")
    )
    assert zero3.memory["distributed"]["strategy"] == "zero3"
    with pytest.raises(SettingsError, match="needs DeepSpeed ZeRO or FSDP"):
        peftlint.estimate(str(config), model="meta-llama/Llama-2-70b-hf", num_gpus=2, strategy="ddp", offload="params")


def test_a_deepspeed_run_is_offered_zero3_rather_than_fsdp(tmp_path: Path) -> None:
    config = tmp_path / "train.yaml"
    config.write_text(
        "base_model: meta-llama/Llama-2-70b-hf\nadapter: lora\nlora_r: 8\nlora_alpha: 16\nlora_target_linear: true\nbf16: true\ndeepspeed: deepspeed_configs/zero2.json\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "peftlint", "check", str(config), "--num-gpus", "8", "--gpu-memory", "80GB"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "PL608" in result.stdout and "with DeepSpeed ZeRO-3 over 8 GPUs, optimizer offloaded to CPU:" in result.stdout
