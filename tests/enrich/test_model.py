"""Model resolution through the real huggingface_hub client against a local stand-in Hub."""

from __future__ import annotations

import json
from pathlib import Path

import huggingface_hub.constants
import pytest

from peftlint.enrich.model import ModelUnavailable, resolve_model
from tests.hub_server import FakeHub, Repo

LLAMA_LIKE = {"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2}


@pytest.fixture(scope="module")
def hub_server():
    # One server for the module: a fetch that timed out keeps retrying in its daemon thread, and
    # it must meet a live server (answering 500s), not a closed port.
    server = FakeHub().start()
    yield server
    server.stop()


def asked(hub: FakeHub, repo_id: str) -> int:
    return sum(1 for _, path, _ in hub.requests if path.startswith(f"/{repo_id}/"))


@pytest.fixture()
def hub(hub_server: FakeHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    server = hub_server
    server.repos.clear()
    server.requests.clear()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    # huggingface_hub read HF_HUB_OFFLINE=1 (set by tests/conftest.py) when it was imported
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    return server


def test_fetch_then_cache_reuse(hub: FakeHub) -> None:
    hub.repos["acme/tiny"] = Repo(config=LLAMA_LIKE)
    first = resolve_model("acme/tiny")
    assert first.source == "hub" and first.config == LLAMA_LIKE
    before = asked(hub, "acme/tiny")
    second = resolve_model("acme/tiny")
    assert second.source == "cache" and second.config == LLAMA_LIKE
    assert asked(hub, "acme/tiny") == before  # served from HF_HOME, no new request


def test_cached_config_wins_over_bundled(hub: FakeHub) -> None:
    hub.repos["meta-llama/Meta-Llama-3-8B"] = Repo(config=LLAMA_LIKE)
    assert resolve_model("meta-llama/Meta-Llama-3-8B").source == "bundled"  # no request at all
    assert asked(hub, "meta-llama/Meta-Llama-3-8B") == 0


def test_not_found(hub: FakeHub) -> None:
    with pytest.raises(ModelUnavailable, match="not found on the Hub"):
        resolve_model("acme/missing")


def test_gated_needs_token_and_token_never_leaks(hub: FakeHub) -> None:
    secret = "hf_SECRETtoken123"
    hub.repos["acme/gated"] = Repo(config=LLAMA_LIKE, gated_token=secret)
    with pytest.raises(ModelUnavailable, match="gated") as excinfo:
        resolve_model("acme/gated", token="hf_wrong")
    assert "hf_wrong" not in str(excinfo.value)
    assert resolve_model("acme/gated", token=secret).config == LLAMA_LIKE
    assert any(auth == f"Bearer {secret}" for _, _, auth in hub.requests)


def test_token_from_environment(hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    hub.repos["acme/gated"] = Repo(config=LLAMA_LIKE, gated_token="hf_env")
    monkeypatch.setenv("HF_TOKEN", "hf_env")
    assert resolve_model("acme/gated").source == "hub"


def test_slow_server_times_out(hub: FakeHub) -> None:
    hub.repos["acme/slow"] = Repo(config=LLAMA_LIKE, delay=3)
    with pytest.raises(ModelUnavailable, match="did not answer in time"):
        resolve_model("acme/slow", timeout=0.5)


def test_server_error(hub: FakeHub) -> None:
    hub.repos["acme/broken"] = Repo(status=500)
    with pytest.raises(ModelUnavailable, match="HTTP 500|did not answer"):
        resolve_model("acme/broken", timeout=1)


def test_invalid_json_is_not_cached(hub: FakeHub) -> None:
    hub.repos["acme/bad"] = Repo(config='{"model_type": "llama", ')
    with pytest.raises(ModelUnavailable, match="not valid JSON"):
        resolve_model("acme/bad")
    hub.repos["acme/bad"] = Repo(config=LLAMA_LIKE)
    assert resolve_model("acme/bad").config == LLAMA_LIKE  # the bad answer did not poison the cache


def test_offline_mode(hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    hub.repos["acme/tiny"] = Repo(config=LLAMA_LIKE)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelUnavailable, match="offline"):
        resolve_model("acme/tiny")
    assert asked(hub, "acme/tiny") == 0
    assert resolve_model("meta-llama/Meta-Llama-3-8B").source == "bundled"


def test_local_directory_and_file(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(LLAMA_LIKE))
    assert resolve_model(str(tmp_path)).source == "local"
    assert resolve_model(str(tmp_path / "config.json")).config == LLAMA_LIKE


@pytest.mark.parametrize(
    ("spec", "reason"),
    [("./does/not/exist", "no such file"), ("not a repo id!", "neither an existing local path")],
)
def test_bad_specs(spec: str, reason: str) -> None:
    with pytest.raises(ModelUnavailable, match=reason):
        resolve_model(spec)


@pytest.mark.parametrize(
    ("content", "reason"), [("[1, 2]", "not a model config"), ("{", "not valid JSON"), ('{"hidden_size": 8}', "no `model_type`")]
)
def test_local_file_that_is_not_a_model_config(tmp_path: Path, content: str, reason: str) -> None:
    (tmp_path / "config.json").write_text(content)
    with pytest.raises(ModelUnavailable, match=reason):
        resolve_model(str(tmp_path))


def test_enrich_stage_timeout_matches_the_model_code() -> None:
    from peftlint.enrich import model, stage

    assert stage.DEFAULT_TIMEOUT == model.DEFAULT_TIMEOUT


def test_a_quantised_upload_from_the_hub_or_its_cache_is_sized_as_stored(hub: FakeHub) -> None:
    """The `quantization_config` of a fetched or cached config.json takes the path a bundled
    re-upload's recorded one does (tests/enrich/test_quantization.py): the same packed figure."""
    from peftlint import api
    from peftlint.enrich.bundled import bundled_config

    gptq = bundled_config("TechxGenus/Meta-Llama-3-8B-Instruct-GPTQ")
    assert gptq is not None
    hub.repos["acme/llama-3-8b-instruct-gptq"] = Repo(config=gptq)
    training_file = (
        Path(__file__).resolve().parents[1] / "corpus/llama-factory/hiyouga--LLaMA-Factory/examples/train_qlora/llama3_lora_sft_gptq.yaml"
    )
    for source in ("hub", "cache"):
        assert resolve_model("acme/llama-3-8b-instruct-gptq").source == source
        result = api.estimate(training_file, model="acme/llama-3-8b-instruct-gptq")
        assert result.memory is not None and result.memory["breakdown"]["base_weights"] == 5_732_835_328
