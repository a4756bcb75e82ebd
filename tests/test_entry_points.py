"""Every door into the pipeline gives one answer about a file: `peftlint check`, `peftlint estimate`,
`peftlint.check()` and `peftlint.estimate()` go through `pipeline.lint_config`, so their findings and
counts must agree (architecture review §1.4: they once gave three answers about one axolotl file).

`estimate` reports the errors among `check`'s findings (they say why peft would refuse the config
and why no counts are given); `check` reports every severity.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import peftlint
from peftlint.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p for p in (ROOT / "examples").rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml", ".json", ".py"))
DIALECT_FIXTURES = sorted(p for p in (ROOT / "tests" / "fixtures" / "dialects").rglob("*") if p.suffix in (".yaml", ".yml"))

# One file per input kind and dialect, each with a mistake, so that there are findings to compare.
MATRIX = {
    # the review's §1.4 file: LoRA keys without `adapter:`, and a typo'd target
    "axolotl-no-adapter.yaml": "base_model: meta-llama/Llama-3.2-1B\nlora_r: 8\nlora_alpha: 16\nlora_target_modules: [q_proj, v_porj]\n",
    "axolotl-lora.yaml": "base_model: meta-llama/Llama-3.2-1B\nadapter: lora\nlora_r: 128\nlora_alpha: 16\nlora_target_modules: [q_proj, v_porj]\nsequence_len: 2048\n",
    "llama-factory.yaml": "model_name_or_path: Qwen/Qwen2.5-0.5B\nstage: sft\nfinetuning_type: lora\nlora_rank: 256\nlora_target: q_proj,v_porj\ncutoff_len: 1024\n",
    "trl.yaml": "model_name_or_path: Qwen/Qwen2.5-0.5B\nuse_peft: true\nlora_r: 8\nlora_alpha: 4\nlora_target_modules: [q_proj, v_porj]\nmax_length: 1024\n",
    "plain.yaml": "peft_type: LORA\ntask_type: CAUSAL_LM\nbase_model_name_or_path: meta-llama/Llama-3.2-1B\nr: 8\nlora_alpha: 16\ntarget_modules: [q_proj, v_porj]\nlora_dropout: 1.5\n",
    "plain-good.yaml": "peft_type: LORA\ntask_type: CAUSAL_LM\nbase_model_name_or_path: meta-llama/Llama-3.2-1B\nr: 16\nlora_alpha: 32\ntarget_modules: [q_proj, v_proj]\n",
    "adapter_config.json": json.dumps(
        {
            "peft_type": "LORA",
            "task_type": "CAUSAL_LM",
            "base_model_name_or_path": "Qwen/Qwen2.5-0.5B",
            "r": 512,
            "lora_alpha": 16,
            "target_modules": ["q_proj", "v_proj"],
        }
    ),
    "suppressed.yaml": "peft_type: LORA\ntask_type: CAUSAL_LM\nbase_model_name_or_path: meta-llama/Llama-3.2-1B\nr: 256  # peftlint: disable=PL101\nlora_alpha: 16\ntarget_modules: [q_proj, v_porj]\n",
    # a training YAML naming a DeepSpeed file with a mistake: PL600 at the JSON's line, from every door
    "axolotl-deepspeed.yaml": "base_model: meta-llama/Llama-3.2-1B\nadapter: lora\nlora_r: 8\nlora_alpha: 16\nlora_target_modules: [q_proj, v_proj]\ndeepspeed: ds_z4.json\n",
    "ds_z4.json": '{"zero_optimization": {"stage": 4}}\n',
    # an invalid value in the file's own profile block: PL300 at its line, the rest judged without it
    "profile-block.yaml": "peft_type: LORA\ntask_type: CAUSAL_LM\nbase_model_name_or_path: meta-llama/Llama-3.2-1B\nr: 8\nlora_alpha: 16\ntarget_modules: [q_proj, v_porj]\npeftlint:\n  gpu_memory: lots\n",
    "train.py": (
        "from peft import LoraConfig\n\n"
        "config = LoraConfig(task_type='CAUSAL_LM', base_model_name_or_path='meta-llama/Llama-3.2-1B', r=8, lora_alpha=16, target_modules=['q_proj', 'v_porj'])\n"
    ),
}


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("matrix")
    for name, text in MATRIX.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def _cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    capsys.readouterr()
    code = main([*argv, "--format", "json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def _shape(finding: dict) -> tuple:
    """What must agree: code, severity, place and message."""
    return (finding["code"], finding["severity"], finding["file"], finding["line"], finding["column"], finding["message"])


def _files(matrix: Path) -> list[Path]:
    return [*EXAMPLES, *DIALECT_FIXTURES, *sorted(matrix.iterdir())]


def test_the_files_to_compare_are_there(matrix: Path) -> None:
    # an empty list would make the comparisons below pass vacuously
    assert len(EXAMPLES) >= 10 and len(DIALECT_FIXTURES) >= 10 and len(list(matrix.iterdir())) == len(MATRIX)


def test_check_estimate_and_api_agree(matrix: Path, capsys: pytest.CaptureFixture[str]) -> None:
    compared = 0
    for path in _files(matrix):
        _, checked = _cli_json(capsys, "check", str(path))
        cli_check = sorted(_shape(f) for f in checked.get("findings", []))
        api_check = sorted(_shape(f._asdict()) for f in peftlint.check(path))
        assert api_check == cli_check, path

        errors = sorted(f for f in cli_check if f[1] == "error")
        try:
            api_estimate = peftlint.estimate(path)
        except peftlint.PeftlintError as exc:  # no base model named, or one peftlint cannot resolve
            code, _ = _cli_json(capsys, "estimate", str(path))
            assert code == 2, (path, exc)
            continue
        code, cli_estimate = _cli_json(capsys, "estimate", str(path))
        assert sorted(_shape(f) for f in cli_estimate["findings"]) == errors, path
        assert sorted(_shape(f._asdict()) for f in api_estimate.findings) == errors, path
        # as `check`: an invalid profile block is exit 2 (like an unreadable file), other errors 1
        assert code == (2 if any(f[0] == "PL300" for f in errors) else 1 if errors else 0), path
        api = api_estimate.to_dict()
        for field in ("model", "peft_type", "trainable_params", "total_params", "trainable_percent", "adapter_bytes"):
            assert cli_estimate[field] == api[field], (path, field)
        compared += 1
    assert compared >= 10  # most files name a bundled model, so that counts are compared too


def test_the_review_file_gets_one_answer(matrix: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """§1.4: `check` said PL503, `estimate` PL210 with null counts, `peftlint.estimate()` nothing and
    524,288 parameters. `check`'s answer is the right one: a training YAML that trains no adapter is
    checked by the dialect rules alone, and there is no adapter to count."""
    path = matrix / "axolotl-no-adapter.yaml"
    code, found = _cli_json(capsys, "estimate", str(path))
    assert code == 1
    assert [f["code"] for f in found["findings"]] == ["PL503"]
    assert found["trainable_params"] is None
    assert [f.code for f in peftlint.estimate(path).findings] == ["PL503"]
    assert [f.code for f in peftlint.check(path)] == ["PL503"]


def test_estimate_honours_suppressions_as_check_does(matrix: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = matrix / "suppressed.yaml"
    _, checked = _cli_json(capsys, "check", str(path))
    _, estimated = _cli_json(capsys, "estimate", str(path))
    assert "PL101" not in {f["code"] for f in checked["findings"]}
    assert [f["code"] for f in estimated["findings"]] == ["PL210"]


def test_a_setup_problem_in_a_named_file_is_reported_there(matrix: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = matrix / "axolotl-deepspeed.yaml"
    _, checked = _cli_json(capsys, "check", str(path))
    (finding,) = checked["findings"]
    assert (finding["code"], Path(finding["file"]).name, finding["line"], finding["column"]) == ("PL600", "ds_z4.json", 1, 24)
    capsys.readouterr()
    main(["estimate", str(path)])
    assert f"PL600 [error] {finding['file']}:1:24: ZeRO `stage` is `4`" in capsys.readouterr().out
