"""A lost eth_sendRawTransaction (request or answer) is retried without ever paying twice."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from services.chain.backends import ChainSpec, open_chain
from services.chain.compiler import compile_project


class _LossyProxy(ThreadingHTTPServer):
    """JSON-RPC proxy that loses the first send: its request, or the node's answer."""

    def __init__(self, upstream: str, lose: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream = upstream
        self.lose = lose
        self.sends = 0
        self.dropped = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: _LossyProxy

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        is_send = json.loads(body).get("method") == "eth_sendRawTransaction"
        if is_send:
            self.server.sends += 1
        drop = is_send and self.server.dropped == 0
        if drop and self.server.lose == "request":
            self.server.dropped += 1
            self.close_connection = True
            return
        answer = requests.post(self.server.upstream, data=body,
                               headers={"Content-Type": "application/json"}, timeout=30)
        if drop:
            # The node has the transaction; the client never hears so.
            self.server.dropped += 1
            self.close_connection = True
            return
        self.send_response(answer.status_code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)


@pytest.fixture(params=["request", "answer"])
def lossy(hardhat_node: str, request: pytest.FixtureRequest) -> Iterator[_LossyProxy]:
    proxy = _LossyProxy(hardhat_node, request.param)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    yield proxy
    proxy.shutdown()
    proxy.server_close()


def test_lost_send_answer_does_not_double_send(hardhat_node: str, lossy: _LossyProxy) -> None:
    direct = open_chain(ChainSpec("localhost", rpc_url=hardhat_node))
    counter = direct.deploy(compile_project()["Counter"])

    flaky = open_chain(ChainSpec("localhost", rpc_url=lossy.url))
    sender = flaky.accounts[2]
    nonce_before = direct.w3.eth.get_transaction_count(sender)
    receipt = flaky.transact(flaky.w3.eth.contract(address=counter.address, abi=counter.abi)
                             .functions.add(5), sender=sender)

    assert lossy.dropped == 1
    # Both are sent again, byte for byte: a lost request is then simply taken, a lost answer
    # is refused as known (nonce too low) and recognised as the transaction already mined.
    assert lossy.sends == 2
    assert receipt["status"] == 1
    assert direct.call(counter.functions.count()) == 5  # executed exactly once
    assert direct.w3.eth.get_transaction_count(sender) == nonce_before + 1
