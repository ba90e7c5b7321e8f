"""Shared fixtures: project paths, a Hardhat node on loopback, a JSON-RPC relay in front of it,
embedded chains."""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from services.ipfs.jsnode import JsIpfsNode

ROOT = Path(__file__).resolve().parents[1]
HARDHAT_CLI = ROOT / "node_modules" / "hardhat" / "internal" / "cli" / "cli.js"
GAKA = Path(sys.executable).with_name("gaka")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_rpc(url: str, proc: subprocess.Popen, deadline_s: float) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"hardhat node exited with {proc.returncode}")
        try:
            r = requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId",
                                         "params": []}, timeout=1)
            if r.ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"hardhat node at {url} did not answer within {deadline_s} s")


def start_hardhat_node(log_path: Path) -> tuple[subprocess.Popen, str]:
    """Start `hardhat node` on a free loopback port; the caller stops it by PID."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = log_path.open("w")
    proc = subprocess.Popen(
        ["node", str(HARDHAT_CLI), "node", "--hostname", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        _wait_for_rpc(url, proc, 90)
    except Exception:
        proc.kill()
        raise
    return proc, url


@pytest.fixture(scope="session")
def hardhat_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a Hardhat node started for this test session on 127.0.0.1."""
    proc, url = start_hardhat_node(tmp_path_factory.mktemp("hardhat") / "node.log")
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


class RpcRelay:
    """An HTTP relay to a JSON-RPC node that a test can cut or cap, as a client meets a network
    or a hosted provider: `mode` is `up`, `down` (connections are dropped) or
    `drop_after_send` (the first eth_sendRawTransaction reaches the node, then the answer is
    lost and the relay goes down). With `max_log_blocks`, an eth_getLogs over more blocks is
    refused with the error hosted providers give; `log_ranges` lists the ranges served."""

    def __init__(self, upstream: str, max_log_blocks: int | None = None) -> None:
        self.upstream = upstream
        self.mode = "up"
        self.sent = 0
        self.max_log_blocks = max_log_blocks
        self.log_ranges: list[tuple[int, int]] = []
        self.refused = 0
        relay = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if relay.mode == "down":
                    self.close_connection = True
                    self.connection.close()
                    return
                refusal = relay.refuse_logs(json.loads(body))
                if refusal is not None:
                    self.answer(200, json.dumps(refusal).encode())
                    return
                answer = requests.post(relay.upstream, data=body, timeout=30,
                                       headers={"Content-Type": "application/json"})
                if b"eth_sendRawTransaction" in body:
                    relay.sent += 1
                    if relay.mode == "drop_after_send":
                        relay.mode = "down"
                        self.close_connection = True
                        self.connection.close()
                        return
                self.answer(answer.status_code, answer.content)

            def answer(self, status: int, content: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *_args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
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

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def jsipfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JsIpfsNode]:
    """A js-ipfs node started for this test session on 127.0.0.1 (stopped by PID)."""
    node = JsIpfsNode(tmp_path_factory.mktemp("jsipfs"), free_port())
    node.start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def gaka_env(tmp_path: Path) -> dict[str, str]:
    """Environment for running the `gaka` console script against a private data dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAKA_")}
    env.update({
        "GAKA_DATA_DIR": str(tmp_path / "data"),
        "GAKA_DEPLOYMENTS_DIR": str(tmp_path / "deployments"),
        "GAKA_CONFIG": str(tmp_path / "missing.toml"),
    })
    return env
