"""`peftlint check / rules / explain` end to end, through the real CLI in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD = "peft_type: LORA\nr: 8\nlora_alpha: 16\ntarget_modules: [q_proj, v_proj]\n"
# a warning under the severity policy (docs/severity.md): dropout far outside published practice
WARN = "peft_type: LORA\nr: 8\nlora_alpha: 16\nlora_dropout: 0.9\ntarget_modules: [q_proj, v_proj]\n"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "peftlint", *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def check_json(*args: str, cwd: Path | None = None) -> tuple[int, dict]:
    result = run("check", "--format", "json", *args, cwd=cwd)
    return result.returncode, json.loads(result.stdout)


def test_clean_file_exits_0(tmp_path: Path) -> None:
    result = run("check", str(write(tmp_path, "a.yaml", GOOD)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no problems in 1 file" in result.stdout


def test_text_format_line_and_fix(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", WARN)
    result = run("check", str(path))
    assert result.returncode == 1
    assert f"{path}:4:1: PL103 [warning] `lora_dropout=0.9`" in result.stdout
    assert "  fix: Use `lora_dropout: 0.05`" in result.stdout
    assert "1 warning(s)" in result.stdout
    assert "\033[" not in result.stdout  # no colour when not a TTY


def test_json_contract(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", WARN.replace("lora_alpha", "lora_aplha"))
    code, report = check_json(str(path))
    assert code == 1
    assert set(report) == {"version", "findings", "summary"}
    assert report["summary"] == {"files": 1, "errors": 1, "warnings": 1, "infos": 0}  # PL103; alpha falls back to 8 = r
    finding = next(f for f in report["findings"] if f["code"] == "PL001")
    assert list(finding) == ["code", "name", "severity", "file", "line", "column", "key", "message", "fix"]
    assert finding == {
        "code": "PL001",
        "name": "unknown-key",
        "severity": "error",
        "file": str(path),
        "line": 3,
        "column": 1,
        "key": "lora_aplha",
        "message": "unknown key `lora_aplha`: did you mean `lora_alpha`?",
        "fix": "Rename `lora_aplha` to `lora_alpha`",
    }


def test_github_format(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", WARN)
    result = run("check", "--format", "github", str(path))
    assert result.stdout.startswith(f"::warning file={path},line=4,col=1,title=PL103 dropout-too-high::`lora_dropout=0.9`")


@pytest.mark.parametrize(("fail_on", "code"), [("error", 0), ("warning", 1), ("info", 1), ("never", 0)])
def test_fail_on(tmp_path: Path, fail_on: str, code: int) -> None:
    # the same finding under every threshold: only the exit code follows --fail-on
    exit_code, report = check_json("--fail-on", fail_on, str(write(tmp_path, "a.yaml", WARN)))
    assert [(f["code"], f["severity"]) for f in report["findings"]] == [("PL103", "warning")]
    assert exit_code == code


@pytest.mark.parametrize(
    "option", [("--select", "PL0"), ("--ignore", "PL103"), ("--ignore", "dropout-too-high"), ("--select", "PL101,PL102")]
)
def test_select_and_ignore(tmp_path: Path, option: tuple[str, str]) -> None:
    code, report = check_json(*option, str(write(tmp_path, "a.yaml", WARN)))
    assert code == 0 and report["findings"] == []


def test_pyproject_settings_found_walking_up(tmp_path: Path) -> None:
    write(
        tmp_path,
        "pyproject.toml",
        '[tool.peftlint]\nignore = ["PL102"]\nfail-on = "error"\nseverity = {rank-too-high = "error"}\n',
    )
    path = write(tmp_path, "configs/deep/a.yaml", "peft_type: LORA\nr: 128\nlora_alpha: 2048\ntarget_modules: [q_proj, v_proj]\n")
    code, report = check_json(str(path))
    assert [(f["code"], f["severity"]) for f in report["findings"]] == [("PL101", "error")]
    assert code == 1


def test_configured_severity_replaces_the_escalations(tmp_path: Path) -> None:
    # r=512, lora_alpha=32768 (64x) escalates PL102 to a warning by measure; the user's own
    # severity for the rule is a decision about every finding of it
    config = "peft_type: LORA\nr: 512\nlora_alpha: 32768\ntarget_modules: [q_proj, v_proj]\n"
    path = write(tmp_path, "a.yaml", config)
    code, report = check_json("--select", "PL102", str(path))
    assert (code, [f["severity"] for f in report["findings"]]) == (1, ["warning"])
    assert "64.0x is 8x above the highest published scale" in report["findings"][0]["message"]
    write(tmp_path, "pyproject.toml", '[tool.peftlint]\nseverity = {alpha-rank-ratio = "info"}\n')
    code, report = check_json("--select", "PL102", str(path))
    assert (code, [f["severity"] for f in report["findings"]]) == (0, ["info"])
    assert "far outside published practice" not in report["findings"][0]["message"]


def test_bad_pyproject_is_a_usage_error(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[tool.peftlint]\nfail_on = "error"\n')
    result = run("check", str(write(tmp_path, "a.yaml", GOOD)))
    assert result.returncode == 2
    assert "invalid [tool.peftlint]" in result.stderr and "fail_on" in result.stderr
    assert "Traceback" not in result.stderr


def test_user_rule_folder_from_pyproject(tmp_path: Path) -> None:
    rule = (ROOT / "rules" / "PL103-dropout-too-high.yaml").read_text(encoding="utf-8")
    rule = rule.replace("PL103", "ORG001").replace("dropout-too-high", "org-dropout").replace("0.3", "0.01")
    write(tmp_path, "lint-rules/ORG001-org-dropout.yaml", rule)
    write(tmp_path, "pyproject.toml", '[tool.peftlint]\nrules = ["lint-rules"]\n')
    path = write(tmp_path, "a.yaml", GOOD + "lora_dropout: 0.05\n")
    code, report = check_json("--select", "ORG", str(path))
    assert [f["code"] for f in report["findings"]] == ["ORG001"]


def test_malformed_user_rule_is_a_clear_usage_error(tmp_path: Path) -> None:
    write(tmp_path, "lint-rules/ORG001-x.yaml", "code: ORG001\nname: x\n")
    write(tmp_path, "pyproject.toml", '[tool.peftlint]\nrules = ["lint-rules"]\n')
    result = run("check", str(write(tmp_path, "a.yaml", GOOD)))
    assert result.returncode == 2
    assert "ORG001-x.yaml: invalid rule" in result.stderr and "Traceback" not in result.stderr


def test_inline_suppressions_yaml(tmp_path: Path) -> None:
    text = "peft_type: LORA\nr: 128  # peftlint: disable=PL101\nlora_alpha: 256\n# peftlint: disable=alpha-rank-ratio\nlora_dropout: 0.9\ntarget_modules: [q_proj]\n"
    code, report = check_json(str(write(tmp_path, "a.yaml", text)))
    assert [f["code"] for f in report["findings"]] == ["PL103"]
    result = run("check", str(tmp_path / "a.yaml"))
    assert "1 suppressed" in result.stdout


def test_disable_file(tmp_path: Path) -> None:
    code, report = check_json(str(write(tmp_path, "a.yaml", "# peftlint: disable-file\n" + WARN)))
    assert code == 0 and report["findings"] == []


def test_inline_suppression_python(tmp_path: Path) -> None:
    text = "from peft import LoraConfig\nc = LoraConfig(r=128, lora_alpha=256)  # peftlint: disable=PL101\n"
    code, report = check_json(str(write(tmp_path, "train.py", text)))
    assert code == 0 and report["findings"] == []


def test_per_file_ignores_for_json(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[tool.peftlint]\nper-file-ignores = {"legacy/*.json" = ["PL101"]}\n')
    path = write(tmp_path, "legacy/adapter_config.json", json.dumps({"peft_type": "LORA", "r": 128, "lora_alpha": 256}))
    code, report = check_json(str(path))
    assert code == 0 and report["findings"] == []


def test_directory_walk_skips_non_peft_files(tmp_path: Path) -> None:
    write(tmp_path, "configs/a.yaml", WARN)
    write(tmp_path, "configs/ci.yaml", "on: push\njobs: {}\n")
    write(tmp_path, "configs/setup.py", "print('hello')\n")
    write(tmp_path, "configs/empty.yaml", "")
    write(tmp_path, "configs/notes.txt", "r: 128\n")
    write(tmp_path, ".venv/x.yaml", WARN)
    result = run("check", "-v", str(tmp_path))
    assert result.returncode == 1
    assert "1 file(s)" in result.stdout
    assert "skipped" in result.stderr and "ci.yaml: not a PEFT config" in result.stderr
    assert "empty.yaml: empty file" in result.stderr
    assert "setup.py: no peft config class called in this Python file" in result.stderr


def test_content_not_extension_decides(tmp_path: Path) -> None:
    path = write(tmp_path, "adapter.conf", json.dumps({"peft_type": "LORA", "r": 128, "lora_alpha": 256}))
    code, report = check_json(str(path))
    assert [f["code"] for f in report["findings"]] == ["PL101"]


def test_multi_document_yaml(tmp_path: Path) -> None:
    code, report = check_json(str(write(tmp_path, "a.yaml", GOOD + "---\n" + WARN)))
    assert [(f["code"], f["line"]) for f in report["findings"]] == [("PL103", 9)]


def test_loraish_mapping_without_peft_type_is_lora(tmp_path: Path) -> None:
    code, report = check_json(str(write(tmp_path, "a.yaml", "r: 8\nlora_alpha: 16\nlora_aplha: 3\n")))
    assert [f["key"] for f in report["findings"]] == ["lora_aplha"]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("broken.yaml", b"peft_type: LORA\nr: [8\n"),
        ("broken.json", b'{"peft_type": "LORA", "r": 8,}'),
        ("binary.yaml", b"\x00\x01\x02peft"),
        ("latin1.yaml", b"peft_type: LORA\nr: 8 # caf\xe9\n"),
        ("dupes.yaml", b"peft_type: LORA\nr: 8\nr: 16\n"),
        (
            "bomb.yaml",
            b"peft_type: LORA\na: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n",
        ),
        ("deep.yaml", b"peft_type: LORA\na: " + b"[" * 10000 + b"]" * 10000 + b"\n"),
        ("syntax.py", b"from peft import LoraConfig\nc = LoraConfig(r=8,\n"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_others_still_checked(tmp_path: Path, name: str, content: bytes) -> None:
    bad = tmp_path / name
    bad.write_bytes(content)
    other = write(tmp_path, "z_other.yaml", WARN)
    result = run("check", "--format", "json", str(bad), str(other))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    unreadable = [f for f in report["findings"] if f["code"] == "PL000"]
    assert len(unreadable) == 1 and unreadable[0]["file"] == str(bad)
    assert "\n" not in unreadable[0]["message"]
    assert any(f["code"] == "PL103" and f["file"] == str(other) for f in report["findings"])


def test_file_above_size_limit(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", "[tool.peftlint]\nmax-file-size = 100\n")
    path = write(tmp_path, "a.yaml", GOOD + "# padding\n" * 20)
    code, report = check_json(str(path))
    assert code == 2 and report["findings"][0]["code"] == "PL000"


def test_missing_file_is_exit_2(tmp_path: Path) -> None:
    code, report = check_json(str(tmp_path / "nope.yaml"))
    assert code == 2 and report["findings"][0]["code"] == "PL000"


def test_rules_and_explain() -> None:
    listing = run("rules")
    assert listing.returncode == 0
    assert "PL101  rank-too-high" in listing.stdout
    for ident in ("PL101", "rank-too-high", "pl101"):
        explained = run("explain", ident)
        assert explained.returncode == 0
        for section in ("What it does", "Why is this bad?", "Example", "Use instead", "References", "[choosing-a-method]"):
            assert section in explained.stdout
    missing = run("explain", "PL999")
    assert missing.returncode == 2 and "no rule `PL999`" in missing.stderr


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0 and "peftlint, version" in result.stdout


def test_usage_error_exit_2() -> None:
    assert run("check", "--format", "xml", ".").returncode == 2
    misspelt = run("chek", ".")
    assert misspelt.returncode == 2 and "invalid choice: 'chek'" in misspelt.stderr
    assert run().returncode == 2


def test_help_lists_the_commands_and_each_commands_options() -> None:
    top = run("--help")
    assert top.returncode == 0 and all(command in top.stdout for command in ("check", "rules", "explain", "estimate", "recommend"))
    check = run("check", "--help")
    assert check.returncode == 0 and "--select RULES" in check.stdout and "--gpu-memory SIZE" in check.stdout


def test_lint_path_imports_no_heavy_packages(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", WARN)
    code = (
        "import sys, peftlint.cli\n"
        f"try:\n    peftlint.cli.main(['check', {str(path)!r}])\nexcept SystemExit:\n    pass\n"
        # the heavy ML packages, and the start-up costs measured out of the lint path (docs/performance.md):
        # dataclasses (imports inspect, ~10 ms), difflib (only for did-you-mean), pathspec (only with excludes),
        # shutil (argparse imports it, with bz2 and lzma, unless given a width)
        "print(sorted(m for m in ('torch', 'transformers', 'peft', 'jsonschema', 'dataclasses', 'inspect', 'difflib', 'pathspec', 'shutil') if m in sys.modules))"
    )
    # a rule-cache miss writes the cache once (tempfile, which imports shutil): measure a warm run,
    # the one a pre-commit hook makes every time, whatever the tests before this one left behind
    run("check", str(path))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout + result.stderr


def test_estimate_with_every_memory_term_imports_no_ml_package(tmp_path: Path) -> None:
    # per-method terms, --compare (LoRA, IA3, prefix, prompt tuning) and a stack: still plain arithmetic
    path = write(tmp_path, "a.yaml", "peft_type: LORA\ntask_type: CAUSAL_LM\nr: 8\ntarget_modules: [q_proj, v_proj]\nuse_dora: true\n")
    args = ["estimate", str(path), "--model", "meta-llama/Llama-3.2-1B", "--compare", "--stack", "torchtune", "--format", "json"]
    code = (
        "import sys, io, contextlib, peftlint.cli\n"
        f"with contextlib.redirect_stdout(io.StringIO()):\n    try:\n        peftlint.cli.main({args!r})\n    except SystemExit:\n        pass\n"
        "print(sorted(m for m in ('torch', 'transformers', 'peft', 'bitsandbytes', 'torchtune', 'deepspeed', 'accelerate') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout + result.stderr


@pytest.mark.parametrize("command", [["check"], ["estimate", "--model", "meta-llama/Meta-Llama-3-8B"]])
def test_start_up_compiles_no_annotations(tmp_path: Path, command: list[str]) -> None:
    """The NamedTuples of `check` and `estimate` are declared without `from __future__ import
    annotations`: with it, typing compiles every field's annotation string, and the first compile()
    of a process alone costs ~1.5 ms of start-up (docs/performance.md)."""
    path = write(tmp_path, "a.yaml", WARN)
    code = (
        "import builtins, sys\n"
        "compiled = []\n"
        "real = builtins.compile\n"
        "builtins.compile = lambda source, *a, **k: compiled.append(source) or real(source, *a, **k)\n"
        "import peftlint.cli\n"
        f"peftlint.cli.main({[*command, str(path)]!r})\n"
        "print([s for s in compiled if isinstance(s, str)])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout + result.stderr


def test_adalora_without_total_step_is_one_finding(tmp_path: Path) -> None:
    path = write(
        tmp_path, "a.yaml", "peft_type: ADALORA\ntask_type: CAUSAL_LM\ninit_r: 12\ntarget_r: 8\ntarget_modules: [q_proj, v_proj]\n"
    )
    result = run("check", "--format", "json", str(path))
    assert [f["code"] for f in json.loads(result.stdout)["findings"]] == ["PL341"]


@pytest.mark.parametrize(
    ("option", "selector", "hint"),
    [
        ("--select", "PL1O1", "did you mean `PL101`?"),
        ("--select", "pl101", "did you mean `PL101`?"),
        ("--ignore", "rank-to-high", "did you mean `rank-too-high`?"),
        ("--select", "xyzzy", "`peftlint rules` lists the codes and names"),
    ],
)
def test_a_selector_naming_no_rule_is_a_usage_error(tmp_path: Path, option: str, selector: str, hint: str) -> None:
    result = run("check", option, selector, str(write(tmp_path, "a.yaml", WARN)))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == f"peftlint: error: {option[2:]}: `{selector}` is no rule code, code prefix or rule name; {hint}\n"


@pytest.mark.parametrize(
    ("table", "option"),
    [
        ('select = ["PL1O1"]', "select"),
        ('ignore = ["pl103"]', "ignore"),
        ('severity = { "PL1O3" = "error" }', "severity"),
        ('per-file-ignores = { "*.yaml" = ["dropout-to-high"] }', "per-file-ignores"),
    ],
)
def test_a_pyproject_selector_naming_no_rule_is_a_usage_error(tmp_path: Path, table: str, option: str) -> None:
    write(tmp_path, "pyproject.toml", f"[tool.peftlint]\n{table}\n")
    result = run("check", str(write(tmp_path, "a.yaml", WARN)))
    assert result.returncode == 2 and f"peftlint: error: {option}: `" in result.stderr and "did you mean" in result.stderr


def test_prefixes_and_names_still_select(tmp_path: Path) -> None:
    path = str(write(tmp_path, "a.yaml", WARN))
    assert run("check", "--select", "PL1", path).returncode == 1
    assert run("check", "--select", "PL", "--ignore", "dropout-too-high", path).returncode == 0


def test_ctrl_c_exits_130_with_one_line() -> None:
    import os
    import signal
    import time

    controller, terminal = os.openpty()  # --interactive asks on a terminal, then waits for an answer
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "peftlint", "recommend", "--interactive"],
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.5)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        os.close(controller)
        os.close(terminal)
    assert process.returncode == 130
    assert stderr == "peftlint: interrupted\n"


@pytest.mark.parametrize("command", [("rules",), ("check", "--format", "json", "{many}"), ("check", "{many}")])
def test_a_reader_that_goes_away_leaves_no_traceback(tmp_path: Path, command: tuple[str, ...]) -> None:
    for index in range(300):  # ~110 KB of findings: more than a pipe holds, so the writer meets the closed end
        write(tmp_path / "many", f"{index}.yaml", WARN)
    args = [part.replace("{many}", str(tmp_path / "many")) for part in command]
    shell = f"{sys.executable} -m peftlint {' '.join(args)} | head -c 1 > /dev/null; echo ${{PIPESTATUS[0]}}"
    result = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=120)
    # `rules` (~10 KB) may fit in the pipe before `head` leaves; 110 KB of findings cannot
    assert result.stdout in ({"0\n", "141\n"} if command == ("rules",) else {"141\n"})
    assert result.stderr == ""


def test_check_reads_stdin_under_the_stdin_filename(tmp_path: Path) -> None:
    text = '{"peft_type": "LORA", "r": 8, "lora_aplha": 16}'
    result = subprocess.run(
        [sys.executable, "-m", "peftlint", "check", "-", "--stdin-filename", "adapters/adapter_config.json", "--format", "json"],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    [finding] = json.loads(result.stdout)["findings"]
    assert result.returncode == 1
    assert (finding["code"], finding["file"], finding["line"], finding["column"]) == ("PL001", "adapters/adapter_config.json", 1, 31)
    plain = subprocess.run([sys.executable, "-m", "peftlint", "check", "-"], input=WARN, capture_output=True, text=True, timeout=60)
    assert plain.stdout.startswith("-:4:") and plain.returncode == 1


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("check", "-", "--fix"), "--fix and --diff edit files: they cannot take `-` (stdin)"),
        (("check", "a.yaml", "--stdin-filename", "b.yaml"), "--stdin-filename names what `-` reads: add `-` to the paths"),
    ],
)
def test_stdin_misuse_is_a_usage_error(args: tuple[str, ...], error: str) -> None:
    result = run(*args)
    assert result.returncode == 2 and result.stderr == f"peftlint: error: {error}\n"


def test_a_run_with_no_peft_config_says_so(tmp_path: Path) -> None:
    write(tmp_path, "hparams.yaml", "learning_rate: 0.0002\nepochs: 3\n")
    result = run("check", str(tmp_path))
    assert result.returncode == 0
    assert result.stdout == "No PEFT config found (1 file(s) skipped: -v says why): nothing to check.\n"


@pytest.mark.parametrize(
    ("environment", "coloured"), [({"FORCE_COLOR": "1"}, True), ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, False), ({}, False)]
)
def test_colour_follows_no_color_and_force_color(tmp_path: Path, environment: dict[str, str], coloured: bool) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")} | environment
    path = str(write(tmp_path, "a.yaml", WARN))
    result = subprocess.run([sys.executable, "-m", "peftlint", "check", path], capture_output=True, text=True, env=env, timeout=60)
    assert ("\033[" in result.stdout) is coloured


def test_recommend_output_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    target = write(tmp_path, "lora.yaml", "mine\n")
    args = ("recommend", "--model", "google-bert/bert-base-uncased", "--task", "classification", "-o", str(target))
    refused = run(*args)
    assert refused.returncode == 2 and refused.stderr == f"peftlint: error: {target} exists: pass --force to overwrite it\n"
    assert target.read_text() == "mine\n"
    assert run(*args, "--force").returncode == 0 and "peft_type" in target.read_text()


@pytest.mark.parametrize(
    ("model", "targets"),
    [
        ("Qwen/Qwen2-VL-7B-Instruct", "[proj, qkv]"),  # `proj` is also its Conv3d patch embedding (3 channels)
        ("google/vit-base-patch16-224-in21k", "[projection]"),  # its Conv2d patch embedding (3 channels)
    ],
)
def test_a_convolution_target_is_neither_unsupported_nor_narrower_than_its_rank(tmp_path: Path, model: str, targets: str) -> None:
    """peft wraps Conv2d/Conv3d with LoRA, and a convolution's update spans channels x kernel (3 x 16 x 16
    inputs for ViT's), so r=8 is neither a failing target (PL216) nor above the layer's size (PL221)."""
    path = write(tmp_path, "adapter.yaml", f"peft_type: LORA\nr: 8\ntarget_modules: {targets}\nbase_model_name_or_path: {model}\n")
    _, report = check_json(str(path))
    codes = {f["code"] for f in report["findings"]}
    assert not codes & {"PL216", "PL221"}, report
