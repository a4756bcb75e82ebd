"""The user's profile: values, their parsing, where they come from and which source wins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from peftlint.cli import main
from peftlint.pipeline import lint_paths
from peftlint.settings.profile import (
    GIB,
    Layer,
    ProfileError,
    ProfileRequest,
    assemble,
    comment_profile,
    parse_gpu_memory,
    parse_profile,
    resolve,
)

LORA = "peft_type: LORA\nr: 8\nlora_alpha: 16\ntarget_modules: [q_proj, v_proj]\n"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- values -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "gib"),
    [("24GB", 24), ("24GiB", 24), ("24", 24), (24, 24), ("80 gb", 80), ("80g", 80), ("1.5GB", 1.5), (40.0, 40)],
)
def test_gpu_memory_is_gib_per_card(given: object, gib: float) -> None:
    assert parse_gpu_memory(given) == int(gib * GIB)
    assert parse_profile({"gpu_memory": given}, "x") == {"gpu_memory": gib}


@pytest.mark.parametrize("given", ["lots", "0", "0GB", "-8GB", "24MB", "24 TB", "", True, None, [24], float("inf"), float("nan")])
def test_gpu_memory_that_is_no_size_is_refused(given: object) -> None:
    with pytest.raises(ProfileError, match="`gpu_memory` must be a size such as `24GB`, `80GiB` or `24`"):
        parse_profile({"gpu_memory": given}, "x")


def test_choices_are_normalised_and_wrong_ones_name_the_allowed_values() -> None:
    assert parse_profile({"task": "Domain_Adaptation", "deployment": "EDGE", "priority": "cost"}, "x") == {
        "task": "domain-adaptation",
        "deployment": "edge",
        "priority": "cost",
    }
    with pytest.raises(ProfileError) as error:
        parse_profile({"deployment": "fast"}, "pyproject.toml [tool.peftlint.profile]")
    assert str(error.value) == (
        "pyproject.toml [tool.peftlint.profile]: `deployment` must be one of latency-critical, batch, multi-tenant, edge, not `fast`"
    )
    assert error.value.key == "deployment" and error.value.reason.startswith("`deployment` must be one of")


@pytest.mark.parametrize(("given", "count"), [(1200, 1200), ("1200", 1200), ("1,200", 1200), ("1_200", 1200)])
def test_counts_accept_digit_groups(given: object, count: int) -> None:
    assert parse_profile({"dataset-size": given}, "x") == {"dataset_size": count}


@pytest.mark.parametrize("given", [0, -3, 2.5, "12k", "1,20", True])
def test_counts_must_be_whole_and_positive(given: object) -> None:
    with pytest.raises(ProfileError, match="`variants` must be a whole number of at least 1"):
        parse_profile({"variants": given}, "x")


def test_unknown_field_suggests_the_closest() -> None:
    with pytest.raises(
        ProfileError, match=r"unknown profile field `gpu_mem` \(did you mean `gpu_memory`\?\); the fields are task, deployment"
    ):
        parse_profile({"gpu_mem": "24GB"}, "x")
    with pytest.raises(ProfileError, match="the profile must be a mapping"):
        parse_profile(["task"], "x")


def test_python_comment_profile_skips_suppressions() -> None:
    text = "import peft\n# peftlint: disable=PL101\n\n# peftlint: task=code, deployment=batch\nc = peft.LoraConfig(r=8)  # peftlint: disable=PL102\n"
    assert comment_profile(text) == ({"task": "code", "deployment": "batch"}, 4)
    assert comment_profile("# peftlint: disable-file\n") == ({}, None)


# --- layers and precedence ----------------------------------------------------------------------


def test_later_layers_win_and_remember_their_source() -> None:
    profile = resolve(
        [Layer("base", {"task": "code", "seq_len": 512}), Layer("file", {"seq_len": "2048"}), Layer("--task", {"task": "style"})]
    )
    assert profile.values == {"task": "style", "seq_len": 2048}
    assert profile.sources == {"task": "--task", "seq_len": "file"}
    assert profile.describe() == "task=style (--task), seq_len=2048 (file)"


def test_error_names_the_layer_it_came_from() -> None:
    with pytest.raises(ProfileError) as error:
        resolve([Layer("base", {"task": "code"}), Layer("a.yaml:4 `peftlint:` block", {"priority": "fast"}, in_file=True, line=4)])
    assert error.value.layer is not None and error.value.layer.in_file and error.value.layer.line == 4


def test_named_profile_sits_between_pyproject_and_file() -> None:
    profiles = {"chat": {"task": "instruction", "deployment": "latency-critical"}}
    profile = assemble(
        pyproject="pyproject.toml",
        table={"task": "code", "gpu_memory": "24GB"},
        profiles=profiles,
        request=ProfileRequest({"gpu_memory": "80GB"}, name="chat"),
        file_layer=Layer("a.yaml:5 `peftlint:` block", {"deployment": "batch"}, in_file=True),
    )
    assert profile.values == {"task": "instruction", "gpu_memory": 80, "deployment": "batch"}
    assert profile.sources == {
        "task": "pyproject.toml [tool.peftlint.profiles.chat]",
        "gpu_memory": "--gpu-memory",
        "deployment": "a.yaml:5 `peftlint:` block",
    }
    with pytest.raises(ProfileError, match=r"no profile `bulk` in pyproject.toml \[tool.peftlint.profiles\] \(defined: chat\)"):
        assemble(pyproject="pyproject.toml", table={}, profiles=profiles, request=ProfileRequest(name="bulk"), file_layer=None)


PYPROJECT = """\
[tool.peftlint.profile]
task = "code"
gpu_memory = "24GB"
seq_len = 1024

[tool.peftlint.profiles.cls]
task = "classification"
dataset_size = 1200
"""


def _profiles(report) -> dict[str, str]:
    return {Path(config).name: described for config, described in report.profiles}


def test_three_sources_in_order(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", PYPROJECT)
    plain = write(tmp_path, "plain.yaml", LORA)
    block = write(tmp_path, "block.yaml", LORA + "peftlint: {task: style, seq_len: 2048}\n")
    script = write(tmp_path, "train.py", "from peft import LoraConfig\n# peftlint: task=instruction\nc = LoraConfig(r=8, lora_alpha=16)\n")
    report = lint_paths([str(plain), str(block), str(script)])
    described = _profiles(report)
    pyproject = f"{tmp_path / 'pyproject.toml'} [tool.peftlint.profile]"
    assert described["plain.yaml"] == f"task=code ({pyproject}), gpu_memory=24 GiB ({pyproject}), seq_len=1024 ({pyproject})"
    assert described["block.yaml"] == (
        f"task=style ({block}:5 `peftlint:` block), gpu_memory=24 GiB ({pyproject}), seq_len=2048 ({block}:5 `peftlint:` block)"
    )
    assert described["train.py"].startswith(f"task=instruction ({script}:2 `# peftlint:` comment)")

    flagged = lint_paths([str(block)], profile=ProfileRequest({"task": "classification"}, name="cls"))
    named = f"{tmp_path / 'pyproject.toml'} [tool.peftlint.profiles.cls]"
    assert _profiles(flagged)["block.yaml"] == (
        f"task=classification (--task), dataset_size=1200 ({named}), gpu_memory=24 GiB ({pyproject}), "
        f"seq_len=2048 ({block}:5 `peftlint:` block)"
    )


def test_profile_reaches_the_rules_from_each_source(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[tool.peftlint.profile]\ndeployment = "latency-critical"\n')
    from_pyproject = write(tmp_path, "a.yaml", LORA)
    from_comment = write(
        tmp_path, "sub/train.py", "from peft import LoraConfig\n# peftlint: deployment=edge\nc = LoraConfig(r=8, lora_alpha=16)\n"
    )
    batch_block = write(tmp_path, "b.yaml", LORA + "peftlint: {deployment: batch}\n")
    report = lint_paths([str(from_pyproject), str(from_comment), str(batch_block)], select=("PL302",))
    assert sorted((Path(f.file).name, f.message.split(" deployment")[0]) for f in report.findings) == [
        ("a.yaml", "`LORA` for a `latency-critical`"),
        ("train.py", "`LORA` for a `edge`"),
    ]
    overridden = lint_paths([str(batch_block)], select=("PL302",), profile=ProfileRequest({"deployment": "latency-critical"}))
    assert [f.code for f in overridden.findings] == ["PL302"]


def test_rules_that_need_a_missing_value_stay_silent(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", "peft_type: PREFIX_TUNING\ntask_type: CAUSAL_LM\nnum_virtual_tokens: 20\n")
    assert lint_paths([str(path)], select=("PL3",)).findings == []
    assert {
        f.code for f in lint_paths([str(path)], select=("PL3",), profile=ProfileRequest({"task": "code", "deployment": "edge"})).findings
    } == {
        "PL301",
        "PL331",
    }


# --- the command line ---------------------------------------------------------------------------


def test_verbose_check_shows_profile_and_sources(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "pyproject.toml", PYPROJECT)
    path = write(tmp_path, "a.yaml", LORA + "peftlint:\n  deployment: batch\n")
    code, _, err = run(capsys, "check", "-v", "--profile", "cls", "--priority", "quality", "--gpu-memory", "80GiB", str(path))
    assert code == 0, err
    pyproject = tmp_path / "pyproject.toml"
    assert (
        f"profile of {path}: task=classification ({pyproject} [tool.peftlint.profiles.cls]), deployment=batch ({path}:5 `peftlint:` block)"
        in err
    )
    assert "gpu_memory=80 GiB (--gpu-memory)" in err and "priority=quality (--priority)" in err
    assert f"seq_len=1024 ({pyproject} [tool.peftlint.profile])" in err


def test_verbose_says_when_there_is_no_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "a.yaml", LORA)
    _, _, err = run(capsys, "check", "-v", str(path))
    assert f"profile of {path}: none" in err


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (
            ["--deployment", "fast"],
            "argument --deployment: invalid choice: 'fast' (choose from 'latency-critical', 'batch', 'multi-tenant', 'edge')",
        ),
        (["--gpu-memory", "lots"], "--gpu-memory: `gpu_memory` must be a size such as `24GB`"),
        (["--dataset-size", "0"], "argument --dataset-size: must be at least 1, not 0"),
        (["--profile", "nope"], "no profile `nope` in"),
    ],
)
def test_bad_command_line_value_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], says: str) -> None:
    path = write(tmp_path, "a.yaml", LORA)
    code, _, err = run(capsys, "check", *args, str(path))
    assert code == 2 and says in err, err


def test_bad_pyproject_value_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "pyproject.toml", '[tool.peftlint.profile]\ndeployment = "fast"\n')
    code, _, err = run(capsys, "check", str(write(tmp_path, "a.yaml", LORA)))
    assert code == 2
    assert f"{tmp_path / 'pyproject.toml'} [tool.peftlint.profile]: `deployment` must be one of latency-critical, batch" in err


def test_bad_file_block_is_reported_at_its_key_and_the_rest_is_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write(
        tmp_path, "bad.yaml", "peft_type: LORA\nr: 128\nlora_alpha: 256\ntarget_modules: [q_proj, v_proj]\npeftlint:\n  gpu_memory: lots\n"
    )
    other = write(tmp_path, "other.yaml", "peft_type: LORA\nr: 128\nlora_alpha: 256\ntarget_modules: [q_proj, v_proj]\n")
    code, out, _ = run(capsys, "check", "--format", "json", str(bad), str(other))
    assert code == 2
    findings = {(Path(f["file"]).name, f["code"], f["line"]) for f in json.loads(out)["findings"]}
    assert findings == {("bad.yaml", "PL300", 6), ("bad.yaml", "PL101", 2), ("other.yaml", "PL101", 2)}


def test_estimate_reads_the_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "pyproject.toml", '[tool.peftlint.profile]\nseq_len = 2048\ngpu_memory = "16GB"\ntask = "instruction"\n')
    path = write(tmp_path, "a.yaml", "peft_type: LORA\ntask_type: CAUSAL_LM\nr: 8\nlora_alpha: 16\ntarget_modules: [q_proj, v_proj]\n")
    code, out, err = run(capsys, "estimate", "--format", "json", "--model", "meta-llama/Meta-Llama-3-8B", str(path))
    result = json.loads(out)
    assert code == 1, err  # 16 GiB is too small at 2048 tokens: PL401
    assert [f["code"] for f in result["findings"]] == ["PL401"]
    code, out, _ = run(
        capsys, "estimate", "--format", "json", "--model", "meta-llama/Meta-Llama-3-8B", "--gpu-memory", "80GB", "--task", "code", str(path)
    )
    assert code == 0 and json.loads(out)["findings"] == []
    code, _, err = run(capsys, "estimate", "--model", "meta-llama/Meta-Llama-3-8B", "--deployment", "fast", str(path))
    assert code == 2 and "invalid choice: 'fast'" in err


# --- across files: one size fits all ------------------------------------------------------------


def test_same_settings_under_different_tasks_across_files(tmp_path: Path) -> None:
    a = write(tmp_path, "cls/adapter.yaml", LORA + "peftlint: {task: classification}\n")
    b = write(tmp_path, "code/adapter.yaml", LORA + "peftlint: {task: code}\n")
    c = write(tmp_path, "code2/adapter.yaml", LORA + "peftlint: {task: code}\n")
    d = write(tmp_path, "tuned/adapter.yaml", LORA.replace("r: 8", "r: 16") + "peftlint: {task: instruction}\n")
    report = lint_paths([str(tmp_path)], select=("PL305",))
    by_file = {Path(f.file).parent.name: f.message for f in report.findings}
    assert set(by_file) == {"cls", "code", "code2"}
    assert by_file["cls"].endswith(f"also for: {b} (code), {c} (code); tasks have different needs")
    assert by_file["code"].endswith(f"also for: {a} (classification); tasks have different needs")
    assert lint_paths([str(a), str(d)], select=("PL305",)).findings == []


def test_training_fields_reach_the_memory_estimate(tmp_path: Path) -> None:
    """A plain PEFT config states how it trains in its profile: the estimate follows it."""
    from peftlint.enrich.stage import ModelOptions
    from peftlint.pipeline import lint_paths

    base = "peft_type: LORA\ntask_type: CAUSAL_LM\nr: 8\nlora_alpha: 16\ntarget_modules: [q_proj, v_proj]\n"
    path = tmp_path / "a.yaml"
    model = ModelOptions(model="meta-llama/Meta-Llama-3-8B")

    def codes(profile: str) -> list[str]:
        path.write_text(base + "peftlint: {gpu_memory: 24GB, seq_len: 2048" + profile + "}\n")
        return [f.code for f in lint_paths([str(path)], model=model).findings if f.severity != "info"]

    assert codes("") == ["PL401"]
    assert codes(", gradient_checkpointing: true") == []
    assert codes(", quantization: 4bit") == ["PL401"]  # at 2,048 tokens the activations, not the weights, are the problem
    assert codes(", quantization: 4bit, gradient_checkpointing: true") == []
    assert codes(", gradient_checkpointing: yes, quantization: none") == []


@pytest.mark.parametrize(("field", "value"), [("gradient_checkpointing", "maybe"), ("quantization", "3bit"), ("stack", "megatron")])
def test_bad_training_fields_name_the_allowed_values(field: str, value: str) -> None:
    from peftlint.settings.profile import ProfileError, parse_value

    with pytest.raises(ProfileError, match="true or false|4bit, 8bit, none|transformers, torchtune, litgpt"):
        parse_value(field, value)


def test_stack_field_reaches_the_estimate() -> None:
    from peftlint.enrich.stage import training_from
    from peftlint.settings.profile import parse_value, training_settings

    assert training_from(training_settings({"stack": parse_value("stack", "litgpt")}), None, None).stack == "litgpt"
    assert training_from({}, None, None).stack == "transformers"
