"""A node that accepts connections and never answers costs exactly the documented tries."""

from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account

from services.chain.backends import ChainSpec, open_chain
from services.chain.errors import RPCUnavailable
from tests.conftest import GAKA, ROOT

TRIES = ChainSpec().retries  # the README promises 3


class SilentServer:
    """Accepts TCP connections on loopback, reads nothing, answers nothing."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)  # held open until close()

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


@pytest.mark.timeout(60)
def test_call_to_silent_node_fails_after_documented_tries(silent: SilentServer) -> None:
    assert TRIES == 3
    with pytest.raises(RPCUnavailable) as err:
        open_chain(ChainSpec("rpc", rpc_url=silent.url, signer=Account.create(),
                             rpc_timeout_s=0.5))
    assert silent.url in str(err.value)
    assert f"after {TRIES} tries of 0.5 s" in str(err.value)
    assert len(silent.accepted) == TRIES


@pytest.mark.timeout(120)
def test_cli_deploy_to_silent_node(silent: SilentServer, gaka_env: dict[str, str],
                                   tmp_path: Path) -> None:
    env = {**gaka_env, "GAKA_KEYSTORE": str(tmp_path / "robot.json"),
           "GAKA_KEYSTORE_PASSWORD": "pw", "GAKA_RPC_TIMEOUT_S": "0.5"}
    made = subprocess.run([str(GAKA), "chain", "account", "new"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    out = subprocess.run([str(GAKA), "chain", "deploy", "--rpc-url", silent.url], env=env,
                         cwd=ROOT, capture_output=True, text=True, timeout=100)
    assert out.returncode == 1
    assert out.stderr.splitlines() == [
        f"error: RPC node at {silent.url} is unavailable: ReadTimeout after {TRIES} tries "
        "of 0.5 s"]
    assert len(silent.accepted) == TRIES
