"""What counts as a PEFT config: content decides, and only peft's part of a file is read.

See peftlint/normalize/ (the order of evidence) and docs/recognition.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from peftlint.pipeline import lint_paths, load_configs

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "recognition"  # public files, see SOURCES.md there


def _lint(tmp_path: Path, name: str, text: str):  # noqa: ANN202 (a Report)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return lint_paths([str(path)])


def test_plain_hyper_parameter_yaml_is_not_a_peft_config(tmp_path: Path) -> None:
    report = _lint(tmp_path, "hparams.yaml", "learning_rate: 2.0e-4\nepochs: 3\nbatch_size: 16\nwarmup_steps: 100\nweight_decay: 0.01\n")
    assert report.files == 0 and report.findings == []
    assert report.skipped[0][1].startswith("not a PEFT config")


def test_a_training_scripts_own_keys_beside_lora_keys_are_not_unknown_keys(tmp_path: Path) -> None:
    text = "learning_rate: 2.0e-4\nepochs: 3\nbatch_size: 16\nr: 8\nlora_alpha: 16\nlora_droput: 0.05\ntarget_modules: [q_proj, v_proj]\n"
    report = _lint(tmp_path, "train.yaml", text)
    assert [(f.code, f.key, f.line) for f in report.findings] == [("PL001", "lora_droput", 6)]  # the typo still is one


def test_use_dora_alone_does_not_make_a_lora_config(tmp_path: Path) -> None:
    report = _lint(tmp_path, "run.yaml", "model: m\niters: 100\nuse_dora: false\nlora_layers: 16\n")
    assert report.files == 0 and report.findings == []


def test_an_adapter_config_json_without_peft_type_is_another_tools_file() -> None:
    """mlx-lm's run record (a real one): 21 PL001 errors before."""
    path = FIXTURES / "mlx-lm" / "adapter_config.json"
    report = lint_paths([str(path)])
    assert report.files == 0 and report.findings == []
    assert report.skipped == [
        (str(path), "not a PEFT config: an adapter_config.json without `peft_type`, which peft writes into every adapter it saves")
    ]


def test_verbose_says_why_a_file_is_skipped() -> None:
    import subprocess
    import sys

    path = FIXTURES / "mlx-lm" / "adapter_config.json"
    out = subprocess.run([sys.executable, "-m", "peftlint", "check", "-v", str(path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"skipped {path}: not a PEFT config: an adapter_config.json without `peft_type`" in out.stdout + out.stderr


HYDRA = """\
model:
  name: meta-llama/Llama-3.2-1B
  dtype: bf16
peft:
  r: 8
  lora_alpah: 16
  target_modules: [q_proj, v_proj]
trainer:
  learning_rate: 2.0e-4
  max_steps: 1000
"""


def test_hydra_peft_block_is_read_at_its_position(tmp_path: Path) -> None:
    report = _lint(tmp_path, "config.yaml", HYDRA)
    assert [(f.code, f.key, f.line, f.column) for f in report.findings] == [("PL001", "lora_alpah", 6, 3)]
    [config] = load_configs(str(tmp_path / "config.yaml"))
    assert config.root == ("peft",) and config.values["r"] == 8


def test_hydra_block_fix_edits_the_block(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "config.yaml"
    path.write_text(HYDRA, encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "peftlint", "check", "--fix", str(path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert path.read_text(encoding="utf-8") == HYDRA.replace("lora_alpah", "lora_alpha")


@pytest.mark.parametrize(
    ("text", "root", "peft_type"),
    [
        ("training:\n  lr: 1.0e-4\n  lora:\n    r: 16\n    lora_alpha: 32\n    target_modules: all-linear\n", ("training", "lora"), "LORA"),
        (
            "model:\n  peft_config:\n    peft_type: IA3\n    target_modules: [k_proj, v_proj, down_proj]\n    feedforward_modules: [down_proj]\n",
            ("model", "peft_config"),
            "IA3",
        ),
        ("peft:\n  _target_: peft.PromptTuningConfig\n  num_virtual_tokens: 20\n  task_type: CAUSAL_LM\n", ("peft",), "PROMPT_TUNING"),
    ],
    ids=["nested-lora", "declared-type", "hydra-target"],
)
def test_nested_blocks_of_any_method(tmp_path: Path, text: str, root: tuple, peft_type: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    [config] = load_configs(str(path))
    assert (config.root, config.peft_type) == (root, peft_type)
    assert "_target_" not in config.values
    assert not [f for f in lint_paths([str(path)]).findings if f.code == "PL001"]


def test_several_nested_blocks_are_each_a_config(tmp_path: Path) -> None:
    text = "policy:\n  peft:\n    r: 8\n    lora_alpha: 16\n    target_modules: [q_proj]\nreward:\n  peft:\n    r: 4\n    lora_alpah: 8\n    target_modules: [q_proj]\n"
    report = _lint(tmp_path, "rlhf.yaml", text)
    assert [(f.code, f.key, f.line) for f in report.findings] == [("PL001", "lora_alpah", 9)]
    assert [c.root for c in load_configs(str(tmp_path / "rlhf.yaml"))] == [("policy", "peft"), ("reward", "peft")]


def test_a_block_that_is_not_peft_shaped_is_not_read(tmp_path: Path) -> None:
    report = _lint(tmp_path, "config.yaml", "lora:\n  rank: 8\n  alpha: 16\npeft:\n  enabled: true\n")
    assert report.files == 0 and report.findings == []


def test_a_top_level_config_is_not_searched_for_blocks(tmp_path: Path) -> None:
    """axolotl's own `peft:` key (LoftQ settings) stays part of the axolotl file."""
    text = "base_model: meta-llama/Llama-3.2-1B\nadapter: lora\nlora_r: 8\nlora_alpha: 16\nlora_target_linear: true\npeft:\n  loftq_config:\n    loftq_bits: 4\n"
    path = tmp_path / "axolotl.yaml"
    path.write_text(text, encoding="utf-8")
    [config] = load_configs(str(path))
    assert config.root == () and config.dialect is not None


NOT_PEFT = FIXTURES / "not-peft"  # real files of an ordinary repository that do not parse as peftlint reads them
ORDINARY = [
    NOT_PEFT / "vscode" / "settings.json",  # JSON with comments
    NOT_PEFT / "vscode" / "launch.json",
    NOT_PEFT / "helm" / "templates" / "deployment.yaml",  # {{ }}
    NOT_PEFT / "mkdocs" / "mkdocs.yml",  # !ENV, !!python/name:
    NOT_PEFT / "cloudformation" / "SNSTopic.yaml",  # !Ref, !GetAtt
]


@pytest.mark.parametrize("path", ORDINARY, ids=lambda p: p.parent.name + "/" + p.name)
def test_an_unparseable_file_with_no_sign_of_peft_is_skipped(path: Path) -> None:
    report = lint_paths([str(path)])
    assert (report.files, report.unreadable, report.findings) == (0, 0, [])
    [(skipped, why)] = report.skipped
    assert (
        skipped == str(path) and why.startswith("does not parse (") and why.endswith("and shows no sign of being a PEFT or training config")
    )


def test_the_hook_passes_an_ordinary_repositorys_files() -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "peftlint", "check", "-v", *map(str, ORDINARY)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "unsupported YAML tag `!Ref` at line 36" in out.stdout + out.stderr  # -v says why


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("train.yaml", "peft_type: LORA\nr: [8\n"),  # by content: a peft key
        ("train.yaml", "base_model: x\nadapter: qlora\nsequence_len: {{ seq }}\n"),  # axolotl's switch
        ("lora.yaml", "rank: [8\n"),  # by name
        ("my_peft.json", '{"rank": 8,}'),
        ("adapter_config.json", '{"r": 8, // comment\n}'),
        ("model.py", "from peft import LoraConfig\nconfig = LoraConfig(r=8,\n"),
        ("run.yaml", "model_name_or_path: x\nuse_peft: true\nlora_r: !!python/name:os.getcwd\n"),
    ],
)
def test_an_unparseable_file_that_looks_like_a_config_is_pl000(tmp_path: Path, name: str, text: str) -> None:
    report = _lint(tmp_path, name, text)
    assert [f.code for f in report.findings] == ["PL000"] and report.unreadable == 1


def test_unparseable_python_without_peft_is_skipped(tmp_path: Path) -> None:
    report = _lint(tmp_path, "script.py", "def broken(:\n    pass\n")
    assert report.findings == [] and "does not parse (invalid Python" in report.skipped[0][1]


def test_a_folder_of_ordinary_files_is_walked_without_pl000(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(NOT_PEFT, tmp_path / "repo")
    report = lint_paths([str(tmp_path / "repo")])
    assert report.findings == [] and len(report.skipped) == len(ORDINARY)


def test_a_projects_short_names_for_loras_settings_are_its_scripts_keys(tmp_path: Path) -> None:
    """`alpha`/`dropout` with no `lora_alpha`/`lora_dropout` and no `peft_type`: the project's own
    names, mapped by its script (two real repositories in tests/corpus/other do this); beside
    `lora_alpha`, `alpha` is LoHa's key in a LoRA config, an error as before."""
    own = tmp_path / "own.yaml"
    own.write_text("r: 32\nalpha: 64\ndropout: 0.05\ntarget_modules: [q_proj, v_proj]\n", encoding="utf-8")
    both = tmp_path / "both.yaml"
    both.write_text("r: 8\nalpha: 16\nlora_alpha: 16\ntarget_modules: [q_proj]\n", encoding="utf-8")
    report = lint_paths([str(own), str(both)])
    assert [(Path(f.file).name, f.code, f.key) for f in report.findings if f.severity == "error"] == [("both.yaml", "PL001", "alpha")]


def test_litgpts_lora_settings_are_not_a_peft_config(tmp_path: Path) -> None:
    """LitGPT's `finetune lora` configs (two in tests/corpus/other) hold `lora_alpha` and
    `lora_dropout` beside LitGPT's own switches: LitGPT trains LoRA with its own code, so its
    `precision` and `lora_mlp` were PL001 errors ("did you mean `revision`/`lora_alpha`") on an
    official file. One switch alone is not enough: it could be a user's stray key."""
    text = "checkpoint_dir: checkpoints/meta-llama/Llama-3.2-1B\nprecision: bf16-true\nlora_r: 32\nlora_alpha: 16\nlora_dropout: 0.05\n"
    text += "lora_query: true\nlora_key: false\nlora_value: true\nlora_projection: false\nlora_mlp: false\nlora_head: false\n"
    report = _lint(tmp_path, "lora.yaml", text)
    assert report.files == 0 and report.findings == []
    assert report.skipped[0][1].startswith("not a PEFT config: LitGPT's LoRA settings")
    one = _lint(tmp_path, "one.yaml", "r: 8\nlora_alpha: 16\nlora_mlp: true\n")
    assert [(f.code, f.key) for f in one.findings if f.severity == "error"] == [("PL001", "lora_mlp")]


def test_a_frameworks_lora_prefixed_names_are_its_own_keys(tmp_path: Path) -> None:
    """oumi's `peft:` block (tests/corpus/other) names LoRA's settings `lora_r`,
    `lora_target_modules`, as TRL's ModelConfig and alpaca-lora's arguments do: the framework maps
    them, `LoraConfig` would refuse them, so they are no typos of `r`/`target_modules`. A real
    misspelling beside them still is one."""
    text = "model:\n  model_name: microsoft/Phi-3-mini-4k-instruct\npeft:\n  lora_r: 8\n  lora_alpha: 16\n  lora_droput: 0.05\n"
    text += "  lora_target_modules: [q_proj, v_proj]\n  lora_task_type: CAUSAL_LM\n"
    report = _lint(tmp_path, "train.yaml", text)
    assert [(f.code, f.key) for f in report.findings if f.severity == "error"] == [("PL001", "lora_droput")]


def test_a_scripts_model_name_or_path_and_precision_are_its_own_keys(tmp_path: Path) -> None:
    """A training script's YAML with LoRA's keys beside `model_name_or_path` (the HF scripts' and
    TRL's name for the base model) and `precision` (Lightning's): neither is a typo of
    `base_model_name_or_path` or `revision` (a field only peft's save fills in), and renaming
    them, as PL001's fix proposed, would break the script. `target_module` still is a typo."""
    text = "model_name_or_path: meta-llama/Llama-2-7b-hf\nprecision: bf16\nr: 16\nlora_alpha: 32\n"
    text += "target_module: [q_proj, v_proj]\nlearning_rate: 2.0e-4\n"
    report = _lint(tmp_path, "train.yaml", text)
    assert [(f.code, f.key) for f in report.findings if f.severity == "error"] == [("PL001", "target_module")]


def test_ms_swifts_arguments_are_not_a_peft_config(tmp_path: Path) -> None:
    """The args.json `swift sft` writes into every output folder (the keys below are a few of its
    200-odd, as ms-swift 3.8 wrote them): its `template` made it LLaMA-Factory's (PL505: no base
    model, as ms-swift calls it `model`), and read as a peft config its other methods' keys
    (`boft_block_size`, `adapters`) and `lora_bias: "none"` were errors. ms-swift's own YAML
    (tests/corpus/other) is skipped the same way."""
    args = {
        "model": "Qwen/Qwen2.5-7B-Instruct",
        "template": "qwen2_5",
        "train_type": "lora",
        "adapters": [],
        "target_modules": ["all-linear"],
    }
    args |= {"lora_rank": 8, "lora_alpha": 32, "lora_dropout": 0.05, "lora_bias": "none", "init_weights": True, "boft_block_size": 4}
    report = _lint(tmp_path, "args.json", json.dumps(args, indent=2))
    assert report.files == 0 and report.findings == []
    assert report.skipped[0][1].startswith("not a PEFT config: ms-swift's arguments")
