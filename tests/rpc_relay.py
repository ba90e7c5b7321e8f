"""An HTTP relay to a JSON-RPC node that a test can cut: a network failure as a client meets it.

Modes: `up`; `down` (every connection dropped); `lose_send` (the first eth_sendRawTransaction
never reaches the node, then up again); `lose_answer` (it reaches the node, its answer is
lost, then up again); `lose_answer_then_down` (the same, then down).
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

AFTER_LOSS = {"lose_send": "up", "lose_answer": "up", "lose_answer_then_down": "down"}


class RpcRelay:
    """Forwards POSTs to `upstream` on a loopback port until `close()`; counts the sends it saw
    (`sends`) and the requests or answers it lost (`dropped`)."""

    def __init__(self, upstream: str, mode: str = "up") -> None:
        self.upstream = upstream
        self.mode = mode
        self.sends = 0
        self.dropped = 0
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                is_send = b"eth_sendRawTransaction" in body
                relay.sends += is_send
                if relay.mode == "down" or (is_send and relay.mode == "lose_send"):
                    self._lose(is_send)
                    return
                answer = requests.post(relay.upstream, data=body, timeout=30,
                                       headers={"Content-Type": "application/json"})
                if is_send and relay.mode in ("lose_answer", "lose_answer_then_down"):
                    self._lose(is_send)  # the node has the transaction; the client never hears
                    return
                self.send_response(answer.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def _lose(self, is_send: bool) -> None:
                if is_send and relay.mode in AFTER_LOSS:
                    relay.dropped += 1
                    relay.mode = AFTER_LOSS[relay.mode]
                self.close_connection = True
                self.connection.close()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
