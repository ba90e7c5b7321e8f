"""An HTTP relay to a JSON-RPC node that a test can cut or cap, as a client meets a network or
a hosted provider.

Modes: `up`; `down` (every connection dropped); `lose_send` (the first eth_sendRawTransaction
never reaches the node, then up again); `lose_answer` (it reaches the node, its answer is
lost, then up again); `lose_answer_then_down` (the same, then down); `fail_send` (the first
eth_sendRawTransaction is answered with a node's "internal error" and never reaches the node,
then up); `fail_after_send` (it reaches the node, the answer is that error, then up). With
`max_log_blocks`,
an eth_getLogs over more blocks is refused with the error hosted providers give;
`log_ranges` lists the ranges served. Receipts of the transactions in `hidden_receipts` are
answered `null`, as a lagging replica behind a load balancer answers for a mined transaction.
With `failing_lookups`, eth_getTransactionByHash is answered with the error geth gives while
it indexes transactions.
`methods` counts the requests it saw by JSON-RPC method.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

AFTER_LOSS = {"lose_send": "up", "lose_answer": "up", "lose_answer_then_down": "down",
              "fail_send": "up", "fail_after_send": "up"}


class RpcRelay:
    """Forwards POSTs to `upstream` on a loopback port until `close()`; counts the sends it saw
    (`sends`), the requests or answers it lost (`dropped`) and the log queries it refused
    (`refused`)."""

    def __init__(self, upstream: str, mode: str = "up", max_log_blocks: int | None = None
                 ) -> None:
        self.upstream = upstream
        self.mode = mode
        self.sends = 0
        self.dropped = 0
        self.max_log_blocks = max_log_blocks
        self.log_ranges: list[tuple[int, int]] = []
        self.refused = 0
        self.hidden_receipts: set[str] = set()
        self.failing_lookups = False
        self.methods: Counter[str] = Counter()
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                is_send = b"eth_sendRawTransaction" in body
                relay.sends += is_send
                if relay.mode == "down" or (is_send and relay.mode == "lose_send"):
                    self._lose(is_send)
                    return
                request = json.loads(body)
                if isinstance(request, dict):
                    relay.methods[str(request.get("method"))] += 1
                if is_send and relay.mode == "fail_send":
                    self._fail(request)
                    return
                refusal = (relay.refuse_logs(request) or relay.hide_receipt(request)
                           or relay.fail_lookup(request))
                if refusal is not None:
                    self._answer(200, json.dumps(refusal).encode())
                    return
                answer = requests.post(relay.upstream, data=body, timeout=30,
                                       headers={"Content-Type": "application/json"})
                if is_send and relay.mode in ("lose_answer", "lose_answer_then_down"):
                    self._lose(is_send)  # the node has the transaction; the client never hears
                    return
                if is_send and relay.mode == "fail_after_send":
                    self._fail(request)  # the node has the transaction; the client hears an error
                    return
                self._answer(answer.status_code, answer.content)

            def _answer(self, status: int, content: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def _fail(self, request: dict) -> None:
                relay.dropped += 1
                relay.mode = AFTER_LOSS[relay.mode]
                self._answer(200, json.dumps({"jsonrpc": "2.0", "id": request.get("id"), "error": {
                    "code": -32603, "message": "Internal error"}}).encode())

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

    def refuse_logs(self, request: dict) -> dict | None:
        """The error answer to an eth_getLogs over too many blocks; None to pass it on."""
        if not isinstance(request, dict) or request.get("method") != "eth_getLogs":
            return None
        query = request["params"][0]
        first, last = int(query["fromBlock"], 16), int(query["toBlock"], 16)
        if self.max_log_blocks is not None and last - first + 1 > self.max_log_blocks:
            self.refused += 1
            return {"jsonrpc": "2.0", "id": request.get("id"),
                    "error": {"code": -32005, "message": "query exceeds max block range "
                              f"{self.max_log_blocks}"}}
        self.log_ranges.append((first, last))
        return None

    def fail_lookup(self, request: dict) -> dict | None:
        """geth's answer to a transaction lookup while it indexes; None to pass it on."""
        if (self.failing_lookups and isinstance(request, dict)
                and request.get("method") == "eth_getTransactionByHash"):
            return {"jsonrpc": "2.0", "id": request.get("id"), "error": {
                "code": -32000, "message": "transaction indexing is in progress"}}
        return None

    def hide_receipt(self, request: dict) -> dict | None:
        """A `null` receipt for a hidden transaction; None to pass the request on."""
        if (isinstance(request, dict) and request.get("method") == "eth_getTransactionReceipt"
                and request["params"][0].lower() in self.hidden_receipts):
            return {"jsonrpc": "2.0", "id": request.get("id"), "result": None}
        return None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
