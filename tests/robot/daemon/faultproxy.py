"""A JSON-RPC fault proxy on loopback: forwards to a node, but drops, delays or fails a
share of the calls (each kind a third of `rate`), seeded so a run can be replayed.

- drop: half before forwarding (the node never sees it), half after (the node acted, the
  answer is lost) — the connection is closed without a response;
- delay: 0.2–1.5 s before forwarding;
- error: an HTTP 503, or a JSON-RPC error object (the node never sees it).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests


class FaultProxy:
    """Start with `start()`, stop with `stop()`; `url` is where clients connect."""

    def __init__(self, upstream: str, rate: float = 0.3, seed: int = 0) -> None:
        self.upstream = upstream
        self.rate = rate
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:
                return

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fault = proxy._draw()
                if fault == "drop_before":
                    self.close_connection = True
                    return
                if fault == "error_rpc":
                    try:
                        ident = json.loads(body).get("id")
                    except (ValueError, AttributeError):
                        ident = None
                    self._answer(200, json.dumps({"jsonrpc": "2.0", "id": ident, "error": {
                        "code": -32603, "message": "fault proxy: injected error"}}).encode())
                    return
                if fault == "error_http":
                    self._answer(503, b"fault proxy: unavailable")
                    return
                if fault == "delay":
                    time.sleep(proxy.rng.uniform(0.2, 1.5))
                try:
                    answer = requests.post(proxy.upstream, data=body, timeout=30,
                                           headers={"Content-Type": "application/json"})
                except requests.RequestException:
                    self._answer(502, b"fault proxy: upstream down")
                    return
                if fault == "drop_after":
                    self.close_connection = True
                    return
                self._answer(answer.status_code, answer.content)

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _draw(self) -> str:
        with self.lock:
            self.counts["calls"] += 1
            if self.rng.random() >= self.rate:
                return "ok"
            fault = self.rng.choice(("drop_before", "drop_after", "delay", "delay",
                                     "error_rpc", "error_http"))
            self.counts[fault] += 1
            return fault

    def start(self) -> FaultProxy:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
