"""Hostile and odd inputs through the real CLI (`python -m peftlint` in a subprocess).

Covered elsewhere, not repeated here: bad bytes, encodings, size limits, alias bombs, deep
nesting and duplicate keys (tests/load/, tests/cli/test_cli.py); a Python file that would create a
marker file or open a socket if run (tests/load/test_python.py::test_the_file_is_never_run);
unsafe rule templating such as `{x.__class__}` (tests/engine/test_rule_files.py); Hub faults
(tests/enrich/test_hub_faults.py); links, FIFOs and excludes in the walk (tests/load/test_discover.py).
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.hub_server import FakeHub, Repo

WARN = "peft_type: LORA\nr: 128\nlora_alpha: 256\ntarget_modules: [q_proj, v_proj]\n"
GOOD = "peft_type: LORA\nr: 8\nlora_alpha: 16\ntarget_modules: [q_proj, v_proj]\n"
PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 24, 1, 2


def obey_file_modes() -> None:
    """In the child before exec: root reads any file whatever its mode, through two capabilities;
    without them in the bounding set, the exec'd process is a root that mode 000 stops."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def run(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, obey_modes: bool = False, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "peftlint", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=obey_file_modes if obey_modes else None,
    )


def findings(result: subprocess.CompletedProcess[str]) -> list[tuple[str, str, str]]:
    assert "Traceback" not in result.stderr, result.stderr
    return [(f["code"], Path(f["file"]).name, f["message"]) for f in json.loads(result.stdout)["findings"]]


# --- files that cannot be read, in a directory walk ----------------------------------------------


@pytest.fixture()
def locked(tmp_path: Path) -> Iterator[Path]:
    """tmp_path with `secret.yaml` and the folder `locked/` at mode 000."""
    (tmp_path / "a.yaml").write_text(WARN, encoding="utf-8")
    (tmp_path / "secret.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "inside.yaml").write_text(WARN, encoding="utf-8")
    (tmp_path / "secret.yaml").chmod(0o000)
    (tmp_path / "locked").chmod(0o000)
    probe = subprocess.run(
        [sys.executable, "-c", "open('secret.yaml').read()"], cwd=tmp_path, preexec_fn=obey_file_modes, capture_output=True
    )
    if probe.returncode == 0:
        pytest.skip("mode 000 does not stop this process from reading (root without a way to drop CAP_DAC_OVERRIDE)")
    yield tmp_path
    (tmp_path / "locked").chmod(0o755)  # so that pytest can clean up


def test_unreadable_file_and_folder_are_findings_and_the_rest_is_checked(locked: Path) -> None:
    result = run("check", "--format", "json", ".", cwd=locked, obey_modes=True)
    assert result.returncode == 2, result.stdout + result.stderr
    assert sorted(c for c in findings(result) if c[0] == "PL000") == [
        ("PL000", "locked", "cannot read file: Permission denied"),
        ("PL000", "secret.yaml", "cannot read file: Permission denied"),
    ]
    assert ("PL101", "a.yaml") in {(code, name) for code, name, _ in findings(result)}
    named = run("check", "--format", "json", "locked/inside.yaml", cwd=locked, obey_modes=True)  # its folder can't be searched
    assert (named.returncode, findings(named)) == (2, [("PL000", "inside.yaml", "cannot read file: Permission denied")])


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux /proc")
def test_a_file_that_fails_to_read_even_for_root(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(WARN, encoding="utf-8")
    (tmp_path / "mem.yaml").symlink_to("/proc/self/mem")  # open() works, read() fails with EIO
    result = run("check", "--format", "json", str(tmp_path))
    assert result.returncode == 2
    assert ("PL000", "mem.yaml", "cannot read file: Input/output error") in findings(result)


def test_links_loops_and_fifos_never_hang_the_walk(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "loop1.yaml").symlink_to("loop2.yaml")
    (tmp_path / "loop2.yaml").symlink_to("loop1.yaml")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "parent").symlink_to(tmp_path, target_is_directory=True)
    os.mkfifo(tmp_path / "fifo.yaml")
    result = run("check", "-v", str(tmp_path), timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no problems in 1 file(s)" in result.stdout
    for name in ("loop1.yaml", "loop2.yaml", "fifo.yaml"):
        assert f"{name}: " in result.stderr


# --- a base model's config.json with hostile values ----------------------------------------------

LLAMA = {
    "model_type": "llama",
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "vocab_size": 100,
}


def llama(**values: object) -> str:
    return json.dumps({**LLAMA, **values})


HOSTILE_MODEL_CONFIGS = {
    "float hidden_size 1e12": (llama(hidden_size=1e12), "`hidden_size` must be an integer, got 1000000000000.0"),
    "int hidden_size 10**12": (llama(hidden_size=10**12), "`hidden_size` is 1000000000000, larger than any real model"),
    "int past int64": (llama(vocab_size=10**30), "`vocab_size` is 1000000000000000000000000000000, larger than any real model"),
    "negative layers": (llama(num_hidden_layers=-3), "`num_hidden_layers` must be at least 1, got -3"),
    "zero heads": (llama(num_attention_heads=0), "`num_attention_heads` must be at least 1, got 0"),
    "string for an int": (llama(hidden_size="64"), '`hidden_size` must be an integer, got "64"'),
    "bool for an int": (llama(num_hidden_layers=True), "`num_hidden_layers` must be an integer, got true"),
    "list for an int": (llama(num_hidden_layers=[2]), "`num_hidden_layers` must be an integer, got [2]"),
    "NaN": (llama().replace('"hidden_size": 64', '"hidden_size": NaN'), "`hidden_size` must be an integer, got NaN"),
    "Infinity": (
        llama().replace('"num_hidden_layers": 2', '"num_hidden_layers": 1e400'),
        "`num_hidden_layers` must be an integer, got Infinity",
    ),
    "millions of layers": (llama(num_hidden_layers=10**8), "`num_hidden_layers` is 100000000, larger than any real model"),
    "billions of experts": (
        json.dumps({**LLAMA, "model_type": "mixtral", "num_local_experts": 10**9}),
        "`num_local_experts` is 1000000000, larger than any real model",
    ),
    "model_type not a string": (json.dumps({**LLAMA, "model_type": 5}), "no `model_type`"),
    "no model_type": (json.dumps({"hidden_size": 8}), "no `model_type`"),
    "not an object": ("[1, 2]", "not a model config"),
    "not JSON": ("{'model_type': 'llama'}", "is not valid JSON"),
    "nested 100,000 deep": ('{"model_type": "llama", "x": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
    "not UTF-8": (json.dumps({**LLAMA, "name": "café"}, ensure_ascii=False).encode("latin-1"), "UnicodeDecodeError"),
}


@pytest.mark.parametrize("case", list(HOSTILE_MODEL_CONFIGS))
def test_hostile_model_config_is_one_clear_finding(tmp_path: Path, case: str) -> None:
    content, message = HOSTILE_MODEL_CONFIGS[case]
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_bytes(content if isinstance(content, bytes) else content.encode())
    (tmp_path / "a.yaml").write_text(GOOD, encoding="utf-8")
    start = time.perf_counter()
    result = run("check", "--format", "json", "--model", str(model), str(tmp_path / "a.yaml"))
    assert time.perf_counter() - start < 30
    [(code, _, text)] = findings(result)
    assert code == "PL200" and message in text, text
    assert result.returncode == 1  # a warning: the config itself was still checked


def test_a_huge_model_config_is_refused_unread(tmp_path: Path) -> None:
    with (tmp_path / "config.json").open("wb") as handle:
        handle.truncate(8 * 2**30)  # sparse 8 GiB
    (tmp_path / "a.yaml").write_text(GOOD, encoding="utf-8")
    result = run("check", "--format", "json", "--model", str(tmp_path / "config.json"), str(tmp_path / "a.yaml"), timeout=30)
    [(code, _, text)] = findings(result)
    assert code == "PL200" and "larger than 5,000,000 bytes" in text


def test_hostile_config_of_an_architecture_without_a_template_is_bounded(tmp_path: Path) -> None:
    # biogpt has no template in data/architectures/: `check` says so without importing torch,
    # and `estimate`'s [exact] fallback refuses absurd sizes instead of building 20,000 layers
    (tmp_path / "config.json").write_text(json.dumps({**LLAMA, "model_type": "biogpt", "num_hidden_layers": 20_000}))
    (tmp_path / "a.yaml").write_text(GOOD, encoding="utf-8")
    [(code, _, text)] = findings(run("check", "--format", "json", "--model", str(tmp_path), str(tmp_path / "a.yaml"), timeout=20))
    assert code == "PL200" and "biogpt" in text and "[exact]" in text
    estimate = run("estimate", "--model", str(tmp_path), str(tmp_path / "a.yaml"), timeout=60)
    assert estimate.returncode == 2 and "num_hidden_layers" in estimate.stderr and "20000" in estimate.stderr


# --- HF_TOKEN never appears in any output ----------------------------------------------------------

TOKEN = "hf_HostileTestTokenMustNeverBePrinted42"
HUB_REPOS = {
    "acme/gated": Repo(config=LLAMA, gated_token="hf_the_right_one"),
    "acme/missing": Repo(status=404, error_code="RepoNotFound"),
    "acme/broken": Repo(status=500),
    "acme/echo": Repo(status=403, echo_auth=True),  # an error page that quotes the Authorization header
    "acme/loop": Repo(redirect_loop=True),
    "acme/garbage": Repo(config='{"model_type": "llama", "hidden_size": ' + TOKEN),
}


@pytest.fixture(scope="module")
def hub() -> Iterator[FakeHub]:
    server = FakeHub().start()
    server.repos.update(HUB_REPOS)
    yield server
    server.stop()


def hub_env(hub: FakeHub, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    return {**env, "HF_ENDPOINT": hub.url, "HF_HOME": str(home), "HF_TOKEN": TOKEN, "HF_HUB_OFFLINE": "0"}


@pytest.mark.parametrize("output_format", ["text", "json", "github", "sarif"])
def test_the_token_never_appears_in_any_output(hub: FakeHub, tmp_path: Path, output_format: str) -> None:
    hub.requests.clear()
    for repo_id in HUB_REPOS:
        name = repo_id.split("/")[1]
        (tmp_path / f"{name}.yaml").write_text(f"{GOOD}base_model_name_or_path: {repo_id}\n", encoding="utf-8")
    env = hub_env(hub, tmp_path / "hf-home")
    result = run("check", "-v", "--format", output_format, str(tmp_path), env=env)
    assert result.returncode == 0, result.stdout + result.stderr  # PL201 is info: the configs are fine
    assert "Traceback" not in result.stderr
    assert any(auth == f"Bearer {TOKEN}" for _, _, auth in hub.requests)  # the token was sent: it could leak
    assert TOKEN not in result.stdout + result.stderr
    assert result.stdout.count("PL201") >= len(HUB_REPOS) if output_format != "sarif" else "PL201" in result.stdout


@pytest.mark.parametrize("repo_id", list(HUB_REPOS))
def test_the_token_never_appears_with_model_or_estimate(hub: FakeHub, tmp_path: Path, repo_id: str) -> None:
    config = tmp_path / "a.yaml"
    config.write_text(GOOD, encoding="utf-8")
    env = hub_env(hub, tmp_path / "hf-home")
    checked = run("check", "--model", repo_id, "--token", TOKEN, str(config), env=env)
    estimated = run("estimate", str(config), "--model", repo_id, env=env)
    assert (checked.returncode, estimated.returncode) == (1, 2), checked.stdout + estimated.stderr
    assert "PL200" in checked.stdout and f"model facts unavailable for {repo_id}" in estimated.stderr
    for result in (checked, estimated):
        assert TOKEN not in result.stdout + result.stderr
        assert "Traceback" not in result.stderr
