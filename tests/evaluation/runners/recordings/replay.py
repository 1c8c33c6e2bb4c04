"""A stand-in Kubernetes API server for the runner tests: it replays a recorded conversation.

Each exchange of a recording (``<name>.json`` beside this file) is the request the
runner must make next (method, path, query, JSON body) and the answer to give. A request that
differs from the expected one is answered 500 and noted in ``mismatches``; ``cluster`` names
what the cluster would do just before that answer (the pod's helpers fetching the inputs or
uploading the outputs through their signed URLs), which the test supplies as ``actions``.
Signed URLs change with every run (their signature, the store's port), so the values of the
``PODIUM_*_URL`` variables are compared as ``<url>``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

RECORDINGS = Path(__file__).parent


def masked(body):
    """``body`` with every PODIUM_*_URL value replaced by ``<url>``."""
    if isinstance(body, dict):
        if str(body.get("name", "")).startswith("PODIUM_") and body.get("name", "").endswith(
                "_URL") and "value" in body:
            return {**body, "value": "<url>"}
        return {key: masked(value) for key, value in body.items()}
    if isinstance(body, list):
        return [masked(item) for item in body]
    return body


class Replay:
    """Serves one recording on 127.0.0.1; use as a context manager."""

    def __init__(self, name: str, actions: dict[str, Callable[[Replay], None]] | None = None):
        self.exchanges = json.loads((RECORDINGS / f"{name}.json").read_text())["exchanges"]
        self.actions = actions or {}
        self.next = 0
        self.received: list[dict] = []
        self.mismatches: list[str] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def request_body(self, index: int) -> dict:
        """The body the runner actually sent in exchange ``index``."""
        return self.received[index]["body"]

    def __enter__(self) -> Replay:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _answer(self, method: str, raw_path: str, body) -> tuple[int, dict]:
        parts = urlsplit(raw_path)
        request = {"method": method, "path": parts.path,
                   "query": {k: v[0] for k, v in parse_qs(parts.query).items()}, "body": body}
        with self.lock:
            index = self.next
            self.next += 1
            self.received.append(request)
        if index >= len(self.exchanges):
            self.mismatches.append(f"unexpected request {index}: {method} {raw_path}")
            return 500, {"kind": "Status", "message": "not in the recording"}
        expected = self.exchanges[index]
        wanted = {"body": None, "query": {}, **expected["request"]}
        got = {**request, "body": masked(body)}
        if got != wanted:
            self.mismatches.append(f"request {index}: expected {wanted}, got {got}")
            return 500, {"kind": "Status", "message": "request differs from the recording"}
        if "cluster" in expected:
            self.actions[expected["cluster"]](self)
        return expected["response"]["status"], expected["response"]["body"]

    def _handler(self):
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length) if length else b""
                status, answer = replay._answer(self.command, self.path,
                                                json.loads(data) if data else None)
                payload = answer if isinstance(answer, str) else json.dumps(answer)
                encoded = payload.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain" if isinstance(answer, str)
                                 else "application/json")
                self.send_header("Content-Length", str(len(encoded)))
                self.end_headers()
                self.wfile.write(encoded)

            do_GET = do_POST = do_DELETE = _serve

            def log_message(self, *args) -> None:
                pass

        return Handler
