"""A broken Hub, through the real huggingface_hub client: every fault is one clear reason, in
bounded time, and never spoils the cache or shows the token.

The stand-in Hub (tests/hub_server.py) injects the faults: HTTP 500, a body cut short, invalid
JSON, a huge body (announced, or hidden behind a HEAD that lies), bytes that trickle slower than
the deadline, a redirect loop, and error pages that quote the Authorization header back.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from peftlint.enrich.model import MAX_CONFIG_BYTES, ModelUnavailable, resolve_model
from tests.hub_server import FakeHub, Repo

LLAMA_LIKE = {"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2}
TOKEN = "hf_FaultTestTokenDoNotPrint0123456789"
TIMEOUT = 2.0  # the deadline given to resolve_model; a fault must be reported within it (+ slack)
HUGE = json.dumps({"model_type": "llama", "padding": "x" * (MAX_CONFIG_BYTES + 1)})

# fault -> (the Repo that answers with it, what the reason says)
FAULTS = {
    "http-500": (Repo(status=500), "the Hub answered HTTP 500"),
    "truncated-body": (Repo(config=LLAMA_LIKE, truncate_at=10), "cut short|did not answer in time"),
    "invalid-json": (Repo(config='{"model_type": "llama", '), "not valid JSON"),
    "not-a-model-config": (Repo(config="[1, 2, 3]"), "not a model config"),
    "deep-json": (Repo(config="[" * 100_000 + "]" * 100_000), "nested too deeply"),
    "huge-body": (Repo(config=HUGE), f"larger than {MAX_CONFIG_BYTES:,}"),
    "huge-body-behind-lying-head": (Repo(config=HUGE, advertised_size=100), "not the size it announced"),
    "slow-drip": (Repo(config=LLAMA_LIKE, drip=0.05), "did not answer in time"),
    "redirect-loop": (Repo(redirect_loop=True), "redirect loop"),
    "token-echoed-in-error-page": (Repo(status=403, echo_auth=True), "HTTP 403"),
}


@pytest.fixture(scope="module")
def hub_server():
    # One server for the module: a fetch abandoned at its deadline goes on in a daemon thread,
    # and must meet a live server, not a closed port.
    server = FakeHub().start()
    yield server
    server.stop()


@pytest.fixture()
def hub(hub_server: FakeHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeHub:
    return hub_server.use(monkeypatch, tmp_path / "hf-home")


def timed_failure(repo_id: str) -> tuple[ModelUnavailable, float]:
    start = time.perf_counter()
    with pytest.raises(ModelUnavailable) as caught:
        resolve_model(repo_id, token=TOKEN, timeout=TIMEOUT)
    return caught.value, time.perf_counter() - start


@pytest.mark.parametrize("fault", list(FAULTS))
def test_fault_is_one_clear_reason_in_bounded_time(hub: FakeHub, fault: str) -> None:
    repo, reason = FAULTS[fault]
    hub.repos["acme/faulty"] = repo
    error, elapsed = timed_failure("acme/faulty")
    assert pytest.approx(0, abs=TIMEOUT + 1.0) == elapsed
    assert error.model == "acme/faulty"
    assert __import__("re").search(reason, error.reason), error.reason
    assert "\n" not in error.reason
    assert TOKEN not in str(error) and TOKEN not in repr(error.args)


@pytest.mark.parametrize("fault", list(FAULTS))
def test_the_next_good_answer_is_used_after_a_fault(hub: FakeHub, fault: str) -> None:
    hub.repos["acme/flaky"] = FAULTS[fault][0]
    timed_failure("acme/flaky")
    hub.repos["acme/flaky"] = Repo(config=LLAMA_LIKE)
    model = resolve_model("acme/flaky", token=TOKEN, timeout=TIMEOUT)
    assert (model.source, model.config) == ("hub", LLAMA_LIKE)
    assert resolve_model("acme/flaky", timeout=TIMEOUT).source == "cache"  # and that one is kept


def test_a_huge_body_announced_as_such_is_never_downloaded(hub: FakeHub) -> None:
    hub.repos["acme/huge"] = Repo(config=HUGE)
    timed_failure("acme/huge")
    assert [method for method, _, _ in hub.requests] == ["HEAD"]


def test_a_bad_answer_leaves_nothing_in_the_cache(hub: FakeHub, tmp_path: Path) -> None:
    hub.repos["acme/bad"] = Repo(config='{"model_type": ')
    timed_failure("acme/bad")
    cached = [p for p in (tmp_path / "hf-home").rglob("*") if p.is_file() and not p.name.endswith(".lock")]
    assert not [p for p in cached if "blobs" in p.parts or "snapshots" in p.parts], cached


def test_a_spoiled_cache_entry_is_fetched_again(hub: FakeHub, tmp_path: Path) -> None:
    """A copy spoiled after the download (a fetch that finished after its deadline, a disk
    error, another tool): the lint fetches the file again instead of failing on the copy."""
    hub.repos["acme/tiny"] = Repo(config=LLAMA_LIKE)
    first = resolve_model("acme/tiny", timeout=TIMEOUT)
    assert first.location is not None
    Path(first.location).resolve().write_text("{ spoiled", encoding="utf-8")
    again = resolve_model("acme/tiny", timeout=TIMEOUT)
    assert (again.source, again.config) == ("hub", LLAMA_LIKE)


def test_a_huge_local_config_is_never_read_whole(tmp_path: Path) -> None:
    with (tmp_path / "config.json").open("wb") as handle:
        handle.truncate(8 * 2**30)  # sparse: 8 GiB that a whole read would try to hold in memory
    start = time.perf_counter()
    with pytest.raises(ModelUnavailable, match=f"larger than {MAX_CONFIG_BYTES:,} bytes"):
        resolve_model(str(tmp_path))
    assert time.perf_counter() - start < 2


def test_deeply_nested_local_config(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"model_type": "llama", "x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(ModelUnavailable, match="nested too deeply"):
        resolve_model(str(tmp_path))
