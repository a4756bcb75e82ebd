"""Find a base model's config.json: a local path, the Hugging Face cache, the bundled set, the Hub.

Only config.json is ever read or fetched (with huggingface_hub, honouring HF_HOME, HF_ENDPOINT,
HF_HUB_OFFLINE and HF_TOKEN). Order for a Hub id: the local cache (what was fetched before wins),
then the bundled copy (exact id, no network), then the Hub with a short timeout. Every failure is
a `ModelUnavailable` with a one-line reason; the caller turns it into a finding.

A broken Hub or proxy cannot hang the lint, fill memory or spoil the cache: the fetch has a hard
deadline; the advertised size is checked before the download and the file's size before it is
read; a cached config.json that is not a model config is deleted (snapshot link and blob) and
fetched again; and the token never appears in a reason.
"""

import enum
import json
import os
import re
from pathlib import Path
from typing import Any, Mapping, NamedTuple

from peftlint.enrich.bundled import bundled_config
from peftlint.enrich.legacy import modern_config
from peftlint.errors import ConfigSourceError, ModelError

CONFIG_NAME = "config.json"
DEFAULT_TIMEOUT = 10.0  # seconds; a lint must not hang on a slow Hub
MAX_CONFIG_BYTES = 5_000_000  # config.json files are a few KB; anything huge is not one
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,95}(/[A-Za-z0-9][A-Za-z0-9_.\-]{0,95})?$")


class ModelUnavailable(Exception):
    """The model's config.json could not be had; `reason` is one line, never with a token."""

    def __init__(self, model: str, reason: str):
        super().__init__(f"model facts unavailable for {model}: {reason}")
        self.model = model
        self.reason = reason


class ModelConfig(NamedTuple):
    model_id: str  # as the user or the adapter config named it
    config: dict[str, Any]
    source: str  # "local" | "cache" | "bundled" | "hub"
    location: str | None = None  # file it was read from, if any


def json_value(value: Any, key: str = "") -> Any:
    """`value` as JSON data, the way `save_pretrained` writes it: enums by value, sets as sorted lists.

    Here, below the API and the integrations that both read configs given as objects."""
    if isinstance(value, enum.Enum):  # before str: PeftType and TaskType are str enums
        return json_value(value.value, key)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, Mapping):
        return {str(k): json_value(v, f"{key}.{k}" if key else str(k)) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return [json_value(v, key) for v in sorted(value, key=str)]
    if isinstance(value, (list, tuple)):
        return [json_value(v, f"{key}.{i}") for i, v in enumerate(value)]
    raise ConfigSourceError(f"`{key}` holds a {type(value).__name__}, which has no JSON form")


def model_config_from(data: Mapping[str, Any], name: str | None = None) -> ModelConfig:
    """A config.json given as data (a mapping or `PretrainedConfig.to_dict()`) as a resolved model,
    named by its `_name_or_path`, else `name`, else its `model_type`."""
    config = json_value(data)
    if not isinstance(config.get("model_type"), str) or not config["model_type"]:
        raise ModelError("the model config has no `model_type`: pass the model's config.json")
    config = modern_config(config)
    return ModelConfig(model_id=str(config.get("_name_or_path") or name or config["model_type"]), config=config, source="local")


def _parse(model: str, text: str) -> dict[str, Any]:
    try:
        config = json.loads(text)
    except ValueError as exc:
        raise ModelUnavailable(model, f"{CONFIG_NAME} is not valid JSON ({exc})") from None
    except RecursionError:  # json recurses per nesting level: `[[[[...` past Python's limit
        raise ModelUnavailable(model, f"{CONFIG_NAME} is nested too deeply to be a model config") from None
    if not isinstance(config, dict) or not isinstance(config.get("model_type"), str):
        raise ModelUnavailable(model, f"{CONFIG_NAME} is not a model config (no `model_type`)")
    return modern_config(config)


def _read(model: str, path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)  # bounded: a huge file is never read whole
        if len(raw) > MAX_CONFIG_BYTES:
            raise ModelUnavailable(model, f"{path} is larger than {MAX_CONFIG_BYTES:,} bytes: not a config.json")
        return _parse(model, raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelUnavailable(model, f"cannot read {path}: {exc.__class__.__name__}") from None


def _looks_like_path(spec: str) -> bool:
    return spec.startswith((".", "/", "~")) or os.sep in spec.rstrip(os.sep) and not _REPO_ID.match(spec) or os.path.exists(spec)


def _local(spec: str) -> ModelConfig:
    path = Path(spec).expanduser()
    if path.is_dir():
        path = path / CONFIG_NAME
    if not path.is_file():
        raise ModelUnavailable(spec, f"no such file: {path}")
    return ModelConfig(spec, _read(spec, path), "local", str(path))


def _hub_reason(exc: Exception, token: str | None) -> str:
    from huggingface_hub import errors

    if isinstance(exc, errors.GatedRepoError):
        reason = "gated repository: accept its licence on the Hub and pass --token or set HF_TOKEN"
    elif isinstance(exc, errors.RepositoryNotFoundError):
        reason = "repository not found on the Hub (or private: pass --token or set HF_TOKEN)"
    elif isinstance(exc, errors.RevisionNotFoundError):
        reason = "revision not found on the Hub"
    elif isinstance(exc, errors.RemoteEntryNotFoundError):
        reason = f"the repository has no {CONFIG_NAME}"
    elif isinstance(exc, errors.LocalEntryNotFoundError):
        reason = "the Hub is unreachable (offline or timed out) and the config is not cached"
    elif isinstance(exc, errors.HfHubHTTPError) and exc.response is not None:
        reason = f"the Hub answered HTTP {exc.response.status_code}"
    elif isinstance(exc, TimeoutError) or exc.__class__.__name__.endswith("Timeout"):  # ours, or httpx's
        reason = f"the Hub did not answer in time ({exc or exc.__class__.__name__})"
    elif exc.__class__.__name__ == "TooManyRedirects":  # httpx's and requests' name, whichever the client uses
        reason = "the Hub answered with too many redirects (a redirect loop)"
    elif exc.__class__.__name__ == "RemoteProtocolError" or "Consistency check failed" in str(exc):
        reason = f"the Hub's answer was cut short or not the size it announced ({exc.__class__.__name__})"
    else:
        reason = f"cannot reach the Hub ({exc.__class__.__name__})"
    return reason.replace(token, "***") if token else reason


def _cache_dir() -> str | None:
    if cache := os.environ.get("HF_HUB_CACHE"):
        return cache
    if home := os.environ.get("HF_HOME"):
        return os.path.join(home, "hub")
    return None  # huggingface_hub's default (~/.cache/huggingface/hub)


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _check_size(repo_id: str, revision: str | None, token: str | None, timeout: float) -> None:
    """Refuse a config.json the Hub announces as huge before a byte of it is downloaded."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    # no retries: a 5xx answer is reported at once instead of after huggingface_hub's back-off
    url = hf_hub_url(repo_id, CONFIG_NAME, revision=revision, endpoint=os.environ.get("HF_ENDPOINT") or None)
    size = get_hf_file_metadata(url, token=token or None, timeout=timeout).size
    if size is not None and size > MAX_CONFIG_BYTES:
        raise ModelUnavailable(repo_id, f"the Hub's {CONFIG_NAME} is {size:,} bytes, larger than {MAX_CONFIG_BYTES:,}: not a model config")


def _download(repo_id: str, revision: str | None, token: str | None, timeout: float, cached_only: bool) -> str:
    from huggingface_hub import hf_hub_download

    def fetch() -> str:
        if not cached_only:
            _check_size(repo_id, revision, token, timeout)
        return hf_hub_download(
            repo_id,
            CONFIG_NAME,
            revision=revision,
            token=token or None,
            etag_timeout=timeout,
            local_files_only=cached_only,
            # read per call: huggingface_hub reads these once, at its import
            endpoint=os.environ.get("HF_ENDPOINT") or None,
            cache_dir=_cache_dir(),
        )

    if cached_only:
        return fetch()
    # hf_hub_download retries network errors and 5xx answers five times with back-off (about
    # 25 s in all) and has no option to turn that off: a daemon thread with a deadline bounds it.
    import logging  # here: only a real download needs them (bundled and cached models do not)
    import threading

    # its retry and resume chatter ("Trying to resume download..."): the reason says what failed
    logging.getLogger("huggingface_hub").setLevel(logging.ERROR)
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["path"] = fetch()
        except BaseException as exc:  # handed to the caller below
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="peftlint-hub-fetch", daemon=True)  # not joined at exit
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError(f"no answer within {timeout:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return str(outcome["path"])


def _maybe_cached(repo_id: str) -> bool:
    """Whether the Hugging Face cache has a folder for this repo at all (its documented layout:
    `models--{org}--{name}`). When it has none, huggingface_hub (~0.2 s to import and set up,
    and it may ask the Hub for client metadata) is not needed to know that nothing is cached."""
    from huggingface_hub.constants import HF_HUB_CACHE

    root = Path(_cache_dir() or HF_HUB_CACHE)
    return (root / ("models--" + repo_id.replace("/", "--"))).is_dir()


def _from_hub(repo_id: str, revision: str | None, token: str | None, timeout: float) -> ModelConfig:
    if _maybe_cached(repo_id):
        from huggingface_hub import errors

        try:
            path = _download(repo_id, revision, token, timeout, cached_only=True)
            return ModelConfig(repo_id, _cached(repo_id, Path(path)), "cache", path)
        except (errors.LocalEntryNotFoundError, ModelUnavailable):  # not cached, or a bad copy (now removed)
            pass
    if revision is None and (config := bundled_config(repo_id)) is not None:
        return ModelConfig(repo_id, config, "bundled")
    if _offline():
        raise ModelUnavailable(repo_id, "offline (HF_HUB_OFFLINE is set) and not in the cache or the bundled set")
    try:
        path = _download(repo_id, revision, token, timeout, cached_only=False)
    except ModelUnavailable:
        raise
    except Exception as exc:  # huggingface_hub raises many types (HTTP, network, validation)
        raise ModelUnavailable(repo_id, _hub_reason(exc, token)) from None
    return ModelConfig(repo_id, _cached(repo_id, Path(path)), "hub", path)


def _cached(repo_id: str, path: Path) -> dict[str, Any]:
    """Read a cached config.json; a bad one is removed so that the next good answer is used."""
    try:
        return _read(repo_id, path)
    except ModelUnavailable:
        # the snapshot entry links to a blob named by the ETag: huggingface_hub would link a new
        # snapshot entry to the same bad blob, so both go
        blob = path.resolve()
        path.unlink(missing_ok=True)
        blob.unlink(missing_ok=True)
        raise


def resolve_model(
    spec: str,
    *,
    revision: str | None = None,
    token: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> ModelConfig:
    """The config.json of `spec`: a path to config.json, a folder holding one, or a Hub repo id."""
    if _looks_like_path(spec):
        return _local(spec)
    if not _REPO_ID.match(spec):
        raise ModelUnavailable(spec, "neither an existing local path nor a Hub repo id such as `meta-llama/Llama-3.1-8B`")
    return _from_hub(spec, revision, token or os.environ.get("HF_TOKEN"), timeout)
