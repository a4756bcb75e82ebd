"""`--fix` never changes what a saved adapter's weights mean, keeps every byte outside its edits,
and plans the fixes of one file together (renames first; nothing invents a value a rename is
about to supply)."""

from __future__ import annotations

import codecs
import json
import shutil
from pathlib import Path

import pytest

from peftlint.cli import main
from peftlint.fix import SAVED_ADAPTER, fix_findings
from peftlint.pipeline import lint_paths

ROOT = Path(__file__).resolve().parents[2]
SAVED = ROOT / "tests" / "fixtures" / "saved_adapters"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["check", *args])
    out, err = capsys.readouterr()
    return code, out, err


def codes(path: Path) -> list[str]:
    return [f.code for f in lint_paths([str(path)]).findings]


# --- fixes on one file are planned together ------------------------------------------------------


def test_the_flagship_typo_example_keeps_the_users_alpha(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "lora-typos.yaml"
    shutil.copyfile(ROOT / "examples" / "bad" / "lora-typos.yaml", path)
    before = path.read_text()
    code, diff, err = run(capsys, "--diff", str(path))
    assert path.read_text() == before and code == 1
    run(capsys, "--fix", str(path))
    meant = before.replace("lora_aplha: 16", "lora_alpha: 16").replace("target_module:", "target_modules:")
    assert path.read_text() == meant  # the rename, with the user's 16; no alpha computed from a default
    assert "+lora_alpha: 16" in diff and "512" not in diff  # --diff showed exactly what --fix did
    assert "PL001" not in codes(path)  # clean of the fixed findings


def test_unsafe_fixes_are_planned_after_the_rename_from_the_users_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("peft_type: LORA\nr: 8\nlora_aplha: 1\nlora_dropuot: 0.5\ntarget_modules: [q_proj, v_proj]\n")
    run(capsys, "--fix", "--unsafe-fixes", str(path))
    # pass 1 renames both keys; pass 2 sees the user's alpha and dropout and fixes those values:
    # nothing was appended from peft's defaults
    assert path.read_text() == "peft_type: LORA\nr: 8\nlora_alpha: 16\nlora_dropout: 0.05\ntarget_modules: [q_proj, v_proj]\n"


def test_without_a_second_lint_the_deferred_edits_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("peft_type: LORA\nr: 256\nlora_aplha: 16\ntarget_modules: [q_proj, v_proj]\n")
    outcome = fix_findings(lint_paths([str(path)]).findings, unsafe=True, write=False)
    [fix] = outcome.fixes
    assert fix.fixed == path.read_text().replace("lora_aplha", "lora_alpha")
    assert [f.code for f in fix.deferred] == ["PL102"]
    assert "PL102 alpha-rank-ratio: planned after a key rename" in outcome.summary(written=False)


# --- a saved adapter's weights keep their meaning ------------------------------------------------


def test_the_issue_case_a_saved_adapter_with_r64_alpha16_is_left_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    adapter = json.loads((SAVED / "tinyllama-peft-0.19.1.json").read_text())
    adapter.update(r=64, lora_alpha=16)
    path = tmp_path / "adapter_config.json"
    raw = json.dumps(adapter, indent=2, sort_keys=True).replace("\n", "\r\n").encode()
    path.write_bytes(raw)
    run(capsys, "--fix", "--unsafe-fixes", str(path))
    assert path.read_bytes() == raw


def test_an_edit_that_would_change_a_saved_adapter_is_refused_with_the_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (SAVED / "bert-seq-cls.json").read_text().replace('"value"', '"valeu"')
    path = tmp_path / "support-bot.json"
    path.write_text(text)
    assert codes(path) == ["PL210"]  # it does not load on bert: still reported
    code, _, err = run(capsys, "--fix", "--unsafe-fixes", str(path))
    assert path.read_text() == text and code == 1
    assert f"PL210 target-module-not-found: {SAVED_ADAPTER}" in err
    # the same edit on a training config is made
    training = tmp_path / "train.json"
    training.write_text(text.replace('"inference_mode": true', '"inference_mode": false'))
    run(capsys, "--fix", "--unsafe-fixes", str(training))
    assert '"value"' in training.read_text() and "PL210" not in codes(training)


# --- bytes outside the edit stay as they were -----------------------------------------------------

CASES = {
    "a.yaml": ("# LoRA\npeft_type: LORA\nr: 8\nlora_aplha: 16   # typo\ntarget_modules: [q_proj, v_proj]\n", "lora_aplha", "lora_alpha"),
    "a.json": (
        '{\n    "peft_type": "LORA",\n    "r": 8,\n    "lora_aplha": 16,\n    "target_modules": ["q_proj", "v_proj"],\n    "note": "caf\u00e9"\n}\n',
        '"lora_aplha"',
        '"lora_alpha"',
    ),
    "train.py": (
        "from peft import LoraConfig\n\nconfig = LoraConfig(\n    r=8,\n    lora_aplha=16,  # typo\n)\n",
        "lora_aplha",
        "lora_alpha",
    ),
}


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
@pytest.mark.parametrize("bom", [False, True], ids=["no-bom", "bom"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_line_endings_bom_and_encoding_survive_byte_for_byte(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, newline: str, bom: bool
) -> None:
    text, old, new = CASES[name]
    prefix = codecs.BOM_UTF8 if bom else b""
    path = tmp_path / name
    path.write_bytes(prefix + text.replace("\n", newline).encode("utf-8"))
    run(capsys, "--fix", str(path))
    assert path.read_bytes() == prefix + text.replace(old, new).replace("\n", newline).encode("utf-8")


def test_a_json_value_added_follows_the_files_layout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = '{\r\n  "peft_type": "PROMPT_TUNING",\r\n  "task_type": "CAUSAL_LM",\r\n  "num_virtual_tokens": 20\r\n}'
    path = tmp_path / "prompt.json"
    path.write_bytes(text.encode())
    run(capsys, "--fix", "--unsafe-fixes", "--model", "facebook/opt-350m", str(path))
    assert path.read_bytes() == text.replace("20\r\n}", '20,\r\n  "token_dim": 512\r\n}').encode()


# --- every finding with a fix is fixed or says why not ---------------------------------------------


def test_diff_never_reports_nothing_to_fix_while_check_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("peft_type: LORA\nr: 8\nlora_alpha: 16\nmystery_key: 1\ntarget_modules: [q_proj, v_proj]\n")
    check_code, check_out, _ = run(capsys, str(path))
    assert "fix: Remove `mystery_key`" in check_out
    code, out, err = run(capsys, "--diff", str(path))
    assert check_code == code == 1 and out == ""
    # not "0 to fix": the removal is there, unsafe (it may be a newer peft's setting the user wants)
    assert "would fix 0 problem(s) in 0 file(s); 1 not fixed, see why below" in err and "1 unsafe fix(es) not shown" in err
    code, _, _ = run(capsys, "--fix", "--unsafe-fixes", str(path))
    assert code == 0 and path.read_text() == "peft_type: LORA\nr: 8\nlora_alpha: 16\ntarget_modules: [q_proj, v_proj]\n"


def test_a_remove_fix_without_an_edit_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("peft_type: LORA\nr: 8\nlora_alpha: 16\ntarget_modules: '.*self_attn.(q|v)_proj'\nlayers_pattern: layers\n")
    _, out, _ = run(capsys, str(path))
    assert "fix: Remove `layers_pattern` and encode the layers in the regex" in out
    code, _, err = run(capsys, "--fix", "--unsafe-fixes", str(path))
    assert code == 1 and "PL011 layers-pattern-with-regex: no automatic edit: the fix needs a choice" in err


def test_json_that_yaml_cannot_read_is_rewritten_in_its_own_layout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # tab indentation: valid JSON, not YAML; written back with its tabs and CRLF line ends
    text = '{\r\n\t"peft_type": "LORA",\r\n\t"r": 8,\r\n\t"lora_aplha": 16\r\n}\r\n'
    path = tmp_path / "tabs.json"
    path.write_bytes(text.encode())
    run(capsys, "--fix", str(path))
    assert path.read_bytes() == text.replace("lora_aplha", "lora_alpha").encode()


def test_a_saved_adapter_may_lose_only_keys_peft_ignores(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # peft <= 0.2's enable_lora/merge_weights (PL008): current peft skips them when it loads, so
    # removing them leaves the weights' meaning alone; CRLF and the BOM stay
    text = (SAVED / "llama2-peft-0.2-era.json").read_text()
    path = tmp_path / "legacy.json"
    path.write_bytes(codecs.BOM_UTF8 + text.replace("\n", "\r\n").encode())
    run(capsys, "--fix", str(path))
    kept = text.replace('  "enable_lora": null,\n', "").replace('  "merge_weights": false,\n', "")
    assert path.read_bytes() == codecs.BOM_UTF8 + kept.replace("\n", "\r\n").encode()


USER_RULE = """\
code: XX901
name: drop-rslora
severity: warning
severity_reason: "a house convention"
summary: "A house rule that removes `use_rslora`"
when: {properties: {config: {required: [use_rslora]}}}
at: use_rslora
message: "`use_rslora` is set"
fix: {title: "Remove `use_rslora`", applicability: safe, edit: {op: remove-key, key: use_rslora}}
rationale: "A rule written for this test: a removal of a key peft uses when it loads."
source: "peft src/peft/tuners/lora/config.py"
examples:
  bad: [{config: {peft_type: LORA, r: 8, use_rslora: true}, expect: [{code: XX901}]}]
  good: [{config: {peft_type: LORA, r: 8}}]
"""


def test_removing_a_key_peft_uses_is_refused_on_a_saved_adapter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # only keys peft drops when it loads (unknown, or an older peft's) may leave a saved adapter:
    # without `use_rslora` the trained update would be scaled by alpha/r instead of alpha/sqrt(r)
    (tmp_path / "house").mkdir()
    (tmp_path / "house" / "XX901-drop-rslora.yaml").write_text(USER_RULE)
    (tmp_path / "pyproject.toml").write_text('[tool.peftlint]\nrules = ["house"]\n')
    text = (SAVED / "tinyllama-peft-0.19.1.json").read_text()
    path = tmp_path / "adapter.json"
    path.write_text(text)
    code, _, err = run(capsys, "--fix", str(path))
    assert path.read_text() == text and f"XX901 drop-rslora: {SAVED_ADAPTER}" in err
    training = tmp_path / "train.json"
    training.write_text(text.replace('"inference_mode": true', '"inference_mode": false'))
    run(capsys, "--fix", str(training))
    assert '"use_rslora"' not in training.read_text()


def test_diff_exits_like_check_on_an_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "a.yaml"
    good.write_text("peft_type: LORA\nr: 8\nlora_aplha: 16\n")
    broken = tmp_path / "b.yaml"
    broken.write_text("peft_type: LORA\nr: [8\n")
    assert run(capsys, str(good), str(broken))[0] == 2
    code, out, _ = run(capsys, "--diff", str(good), str(broken))
    assert code == 2 and "+lora_alpha: 16" in out
