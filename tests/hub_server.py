"""A local HTTP server that answers like the Hugging Face Hub for `config.json` downloads.

Used through the real huggingface_hub client (HF_ENDPOINT=http://127.0.0.1:PORT). Each repo id
maps to a behaviour; every request is recorded so tests can assert on cache reuse.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class Repo:
    config: Any = None  # served as JSON (a str is served as-is)
    status: int = 200
    error_code: str | None = None  # X-Error-Code: RepoNotFound, GatedRepo, EntryNotFound
    delay: float = 0.0  # seconds before answering
    gated_token: str | None = None  # the token that opens a gated repo


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
                status, error_code = repo.status, repo.error_code
                if repo.gated_token is not None and auth != f"Bearer {repo.gated_token}":
                    status, error_code = 401, "GatedRepo"
                payload = repo.config if isinstance(repo.config, str) else json.dumps(repo.config or {})
                data = payload.encode("utf-8") if status == 200 else b'{"error": "nope"}'
                self.send_response(status)
                if error_code:
                    self.send_header("X-Error-Code", error_code)
                    self.send_header("X-Error-Message", error_code)
                etag = hashlib.sha1(data).hexdigest()
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("ETag", f'"{etag}"')
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                if body:
                    self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
