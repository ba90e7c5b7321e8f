"""Shared fixtures: project paths, a Hardhat node on loopback, embedded chains."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow tests first: parallel workers then start them at once instead of last."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
