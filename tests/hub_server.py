"""A local HTTP server that answers like the Hugging Face Hub for `config.json` downloads.

Used through the real huggingface_hub client (HF_ENDPOINT=http://127.0.0.1:PORT). Each repo id
maps to a behaviour, including the faults of a broken Hub or proxy (a body cut short, bytes that
trickle, a redirect loop, a size that lies); every request is recorded so tests can assert on
cache reuse.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class Repo:
    config: Any = None  # served as JSON (a str is served as-is)
    status: int = 200
    error_code: str | None = None  # X-Error-Code: RepoNotFound, GatedRepo, EntryNotFound
    delay: float = 0.0  # seconds before answering
    gated_token: str | None = None  # the token that opens a gated repo
    # faults, in the download (GET) unless noted
    truncate_at: int | None = None  # send this many bytes of the body, then drop the connection
    drip: float = 0.0  # seconds between one body byte and the next
    redirect_loop: bool = False  # HEAD and GET answer `302` to the URL just asked, for ever
    advertised_size: int | None = None  # Content-Length of HEAD answers, when it should lie
    echo_auth: bool = False  # error answers quote the Authorization header back, as a careless proxy might


@dataclass
class FakeHub:
    repos: dict[str, Repo] = field(default_factory=dict)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # (method, path, auth)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeHub:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_HEAD(self) -> None:
                self._answer(body=False)

            def do_GET(self) -> None:
                self._answer(body=True)

            def _answer(self, body: bool) -> None:
                auth = self.headers.get("Authorization")
                hub.requests.append((self.command, self.path, auth))
                # /{org}/{name}/resolve/{revision}/config.json
                parts = self.path.split("?")[0].strip("/").split("/")
                repo_id = "/".join(parts[:-3]) if len(parts) >= 4 else ""
                repo = hub.repos.get(repo_id, Repo(status=404, error_code="RepoNotFound"))
                if repo.delay:
                    time.sleep(repo.delay)
                if repo.redirect_loop:
                    self.send_response(302)
                    self.send_header("Location", self.path)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status, error_code = repo.status, repo.error_code
                if repo.gated_token is not None and auth != f"Bearer {repo.gated_token}":
                    status, error_code = 401, "GatedRepo"
                payload = repo.config if isinstance(repo.config, str) else json.dumps(repo.config or {})
                error = f"{error_code or 'nope'} {auth}" if repo.echo_auth else error_code or "nope"
                data = payload.encode("utf-8") if status == 200 else json.dumps({"error": error}).encode()
                self.send_response(status)
                if error_code:
                    self.send_header("X-Error-Code", error_code)
                if error_code or repo.echo_auth:
                    self.send_header("X-Error-Message", error)
                etag = hashlib.sha1(data).hexdigest()
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("ETag", f'"{etag}"')
                size = repo.advertised_size if repo.advertised_size is not None and not body else len(data)
                self.send_header("Content-Length", str(size))
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                if body:
                    self._send_body(repo, data)

            def _send_body(self, repo: Repo, data: bytes) -> None:
                try:
                    if repo.drip:
                        for byte in range(len(data)):
                            self.wfile.write(data[byte : byte + 1])
                            self.wfile.flush()
                            time.sleep(repo.drip)
                    else:
                        self.wfile.write(data if repo.truncate_at is None else data[: repo.truncate_at])
                except (BrokenPipeError, ConnectionResetError):  # the client gave up: that is the point
                    pass
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def use(self, monkeypatch: Any, home: Path) -> FakeHub:
        """Point huggingface_hub (as peftlint calls it) at this server, with an empty cache in `home`."""
        import huggingface_hub.constants

        self.repos.clear()
        self.requests.clear()
        monkeypatch.setenv("HF_ENDPOINT", self.url)
        monkeypatch.setenv("HF_HOME", str(home))
        monkeypatch.delenv("HF_HUB_CACHE", raising=False)
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        # huggingface_hub read HF_HUB_OFFLINE=1 (set by tests/conftest.py) when it was imported
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
        monkeypatch.delenv("HF_TOKEN", raising=False)
        return self

    def asked(self, repo_id: str) -> int:
        """Requests for `repo_id`'s files so far."""
        return sum(1 for _, path, _ in self.requests if path.startswith(f"/{repo_id}/"))

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
