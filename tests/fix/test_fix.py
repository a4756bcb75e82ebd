"""`peftlint check --fix / --diff / --unsafe-fixes`: the fixed values change, nothing else does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from peftlint.cli import main
from peftlint.engine import Rule, load_rules
from peftlint.engine.examples import lint_example
from peftlint.enrich.stage import ModelOptions
from peftlint.fix import fix_findings
from peftlint.pipeline import lint_paths

LLAMA = "meta-llama/Llama-3.2-1B"

# a hand-written file: comments everywhere, 4-space list indent, odd spacing, quotes, a long line
COMMENTED = """\
# LoRA for the support bot   (reviewed 2024-05)
peft_type: LORA   # the method
r: 16
lora_alpha:    4      # too low?
target_modules:
    - q_proj
    - v_prj    # typo here
    # k_proj later
lora_dropout: 0.05
modules_to_save: []
layers_pattern:  "layers"     # quoted on purpose
layers_to_transform: [0, 1,   2, 3]
init_lora_weights: true
long_comment_below: null
# a very long comment that goes on and on and on and on and on and on past the eighty-column mark, untouched
peftlint: {task: instruction,  deployment: batch}
"""


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["check", *args])
    out, err = capsys.readouterr()
    return code, out, err


def write(folder: Path, name: str, text: str, newline: str = "\n") -> Path:
    path = folder / name
    path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return path


def test_commented_yaml_round_trips_byte_for_byte_except_the_fixed_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "adapter.yaml", COMMENTED)
    code, _, err = run(capsys, "--fix", "--unsafe-fixes", "--model", LLAMA, str(path))
    expected = (
        COMMENTED.replace("lora_alpha:    4 ", "lora_alpha:    32 ")
        .replace("- v_prj    #", "- v_proj    #")
        .replace("long_comment_below: null\n", "")  # an unknown key without a close match: removed (unsafe)
    )
    assert path.read_text(encoding="utf-8") == expected
    assert "fixed 3 problem(s) in 1 file(s)" in err


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_line_endings_and_a_missing_final_newline_survive(tmp_path: Path, capsys: pytest.CaptureFixture[str], newline: str) -> None:
    text = "peft_type: LORA\nr: 8\nlora_aplha: 16   # typo\ntarget_modules: [q_proj, v_proj]"
    path = write(tmp_path, "a.yaml", text, newline)
    run(capsys, "--fix", str(path))
    assert path.read_bytes() == text.replace("lora_aplha", "lora_alpha").replace("\n", newline).encode()


def test_diff_shows_a_unified_diff_and_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "adapter.yaml", COMMENTED)
    before = path.read_bytes()
    code, out, err = run(capsys, "--diff", "--unsafe-fixes", "--model", LLAMA, str(path))
    assert code == 1
    assert path.read_bytes() == before
    assert out.splitlines()[:2] == [f"--- {path}", f"+++ {path}"]
    assert "-lora_alpha:    4      # too low?" in out and "+lora_alpha:    32      # too low?" in out
    assert "-    - v_prj    # typo here" in out and "+    - v_proj    # typo here" in out
    assert "-long_comment_below: null" in out
    assert "would fix 3 problem(s) in 1 file(s)" in err


def test_diff_of_a_clean_file_is_empty(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "a.yaml", "peft_type: LORA\nr: 8\nlora_alpha: 16\ntarget_modules: [q_proj, v_proj]\n")
    assert run(capsys, "--diff", str(path))[:2] == (0, "")


def test_unsafe_fixes_are_only_shown_unless_asked_for(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "peft_type: LORA\nr: 8\nlora_alpha: 16\nlora_dropout: 0.5  # heavy\ntarget_modules: [q_proj, v_proj]\n"
    path = write(tmp_path, "a.yaml", text)
    code, out, err = run(capsys, "--fix", str(path))
    assert path.read_text() == text
    assert "1 unsafe fix(es) not applied" in err
    assert "PL103" in out and code == 1  # still reported, with its fix title
    code, out, err = run(capsys, "--diff", str(path))
    # nothing safe to show, but `check` fails on a fixable finding: --diff says so and fails too
    assert (code, out) == (1, "") and "would fix 0 problem(s)" in err and "1 unsafe fix(es) not shown" in err
    code, out, err = run(capsys, "--fix", "--unsafe-fixes", str(path))
    assert path.read_text() == text.replace("0.5  # heavy", "0.05  # heavy")
    assert code == 0, out


def test_json_keeps_its_indentation_and_key_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = {
        "base_model_name_or_path": LLAMA,
        "peft_type": "LORA",
        "r": 8,
        "lora_aplha": 16,
        "target_modules": ["q_proj", "v_porj"],
        "task_type": "CAUSAL_LM",
    }
    path = tmp_path / "adapter.json"
    path.write_text(json.dumps(config, indent=4) + "\n")
    run(capsys, "--fix", "--unsafe-fixes", str(path))
    fixed = {("lora_alpha" if k == "lora_aplha" else k): v for k, v in config.items()}
    fixed["target_modules"] = ["q_proj", "v_proj"]
    assert path.read_text() == json.dumps(fixed, indent=4) + "\n"


PYTHON = """\
from peft import LoraConfig, PromptTuningConfig

# the chat adapter
config = LoraConfig(
    r=8,
    lora_alpha=1,  # far too low
    target_modules=['q_proj', "v_prj"],  # one typo
    lora_dropuot=0.1,
)
prompt = PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=20)
"""


def test_python_literals_are_edited_in_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "train.py", PYTHON)
    run(capsys, "--fix", "--unsafe-fixes", "--model", "facebook/opt-350m", str(path))
    expected = (
        PYTHON.replace("lora_alpha=1,", "lora_alpha=16,")
        .replace('"v_prj"', '"v_proj"')
        .replace("lora_dropuot=", "lora_dropout=")
        .replace("num_virtual_tokens=20)", "num_virtual_tokens=20, token_dim=512)")
    )
    assert path.read_text() == expected


def test_python_multiline_call_gets_a_new_keyword_on_its_own_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (
        'from peft import PromptTuningConfig\n\nconfig = PromptTuningConfig(\n    task_type="CAUSAL_LM",\n    num_virtual_tokens=20,\n)\n'
    )
    path = write(tmp_path, "p.py", text)
    run(capsys, "--fix", "--unsafe-fixes", "--model", "facebook/opt-350m", str(path))
    assert path.read_text() == text.replace("=20,\n", "=20,\n    token_dim=512,\n")


def test_dialect_files_are_edited_at_their_own_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    axolotl = write(
        tmp_path,
        "axolotl.yaml",
        f"base_model: {LLAMA}\nadapter: lora\nlora_r: 8\nlora_alpah: 16  # typo\nlora_target_modules:\n  - q_proj\n  - v_porj\n",
    )
    factory = write(
        tmp_path,
        "factory.yaml",
        f"model_name_or_path: {LLAMA}\nfinetuning_type: lora\nlora_rank: 8\nlora_alpha: 1\nlora_target: q_proj,v_prj\n",
    )
    run(capsys, "--fix", "--unsafe-fixes", str(axolotl), str(factory))
    assert (
        axolotl.read_text()
        == f"base_model: {LLAMA}\nadapter: lora\nlora_r: 8\nlora_alpha: 16  # typo\nlora_target_modules:\n  - q_proj\n  - v_proj\n"
    )
    assert (
        factory.read_text()
        == f"model_name_or_path: {LLAMA}\nfinetuning_type: lora\nlora_rank: 8\nlora_alpha: 16\nlora_target: q_proj,v_proj\n"
    )


def test_second_yaml_document_and_a_key_added_to_its_mapping(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "peft_type: LORA\nr: 8\nlora_alpha: 16\ntarget_modules: [q_proj, v_proj]\n---\n# prompt\npeft_type: PROMPT_TUNING\ntask_type: CAUSAL_LM\nnum_virtual_tokens: 20  # short\n"
    path = write(tmp_path, "two.yaml", text)
    run(capsys, "--fix", "--unsafe-fixes", "--model", "facebook/opt-350m", str(path))
    assert path.read_text() == text + "token_dim: 512\n"


def test_a_suggestion_already_in_the_list_removes_the_typo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "peft_type: LORA\nr: 8\nlora_alpha: 16\ntarget_modules:\n  - q_proj\n  - v_proj\n  - v_prj\n"
    path = write(tmp_path, "a.yaml", text)
    run(capsys, "--fix", "--unsafe-fixes", "--model", LLAMA, str(path))
    assert path.read_text() == text.replace("  - v_prj\n", "")


def test_a_rename_onto_a_key_that_exists_is_skipped_with_the_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "peft_type: LORA\nr: 8\nlora_alpha: 16\nlora_aplha: 16\ntarget_modules: [q_proj, v_proj]\n"
    path = write(tmp_path, "a.yaml", text)
    code, _, err = run(capsys, "--fix", str(path))
    assert path.read_text() == text
    assert "not fixed:" in err and "PL001" in err and "`lora_alpha` is already set" in err


def test_edits_stay_out_of_the_json_contract(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", "peft_type: LORA\nr: 8\nlora_aplha: 16\n")
    finding = lint_paths([str(path)]).findings[0]
    assert finding.edit is not None and finding.edit.op == "rename-key"
    assert list(finding.to_dict()) == ["code", "name", "severity", "file", "line", "column", "key", "message", "fix"]


RULES_WITH_EDITS = [rule for rule in load_rules() if rule.fix_edit]


def test_the_safe_fixes_the_issue_names_have_edits() -> None:
    assert {"PL001", "PL102", "PL210", "PL218", "PL219", "PL500"} <= {r.code for r in RULES_WITH_EDITS}


def test_a_fix_that_changes_training_is_never_safe() -> None:
    """The policy (docs/fix-safety.md): safe is a misspelt key renamed, its value kept (PL001,
    PL500), a value peft itself corrects to at run time (PL219), or a key of an older peft that
    the peft in use skips (PL008); any fix that picks a value or a target list changes what is
    trained, so it is unsafe."""
    assert sorted(r.code for r in load_rules() if r.fix_applicability == "safe") == ["PL001", "PL008", "PL219", "PL500"]


@pytest.mark.parametrize("rule", RULES_WITH_EDITS, ids=lambda r: r.code)
def test_fixing_a_bad_example_makes_its_finding_go_away(rule: Rule, tmp_path: Path) -> None:
    """sqlfluff's fix_str, computed: each bad example whose finding has an edit is clean after it."""
    fixed = 0
    for number, example in enumerate(rule.examples["bad"]):
        folder = tmp_path / str(number)
        folder.mkdir()
        findings = lint_example(rule, example, folder)
        editable = [f for f in findings if f.edit is not None]
        if not editable:
            continue
        outcome = fix_findings(editable, unsafe=True)
        assert all(not fix.skipped for fix in outcome.fixes), outcome.summary(written=True)
        path = Path(str(editable[0].file))
        report = lint_paths([str(path)], select=(rule.code,), model=ModelOptions(model=example.get("model")))
        assert len(report.findings) == len(findings) - len(editable), (rule.code, path.read_text(), report.findings)
        fixed += 1
    assert fixed, f"{rule.code}: no bad example has an applicable edit"
