"""A Hardhat node (npm `hardhat` from node_modules) on a free loopback port.

Tests and benchmarks run their localhost chain on it; it is stopped by PID, never by name.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from gaka.net import free_port

ROOT = Path(__file__).resolve().parents[2]
HARDHAT_CLI = ROOT / "node_modules" / "hardhat" / "internal" / "cli" / "cli.js"


def _wait_for_rpc(url: str, proc: subprocess.Popen, log_path: Path, deadline_s: float) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"hardhat node exited with {proc.returncode}; see {log_path}")
        try:
            answer = requests.post(url, json={"jsonrpc": "2.0", "id": 1,
                                              "method": "eth_chainId", "params": []}, timeout=1)
            if answer.ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"hardhat node at {url} did not answer within {deadline_s} s")


def start_hardhat_node(log_path: Path, deadline_s: float = 90) -> tuple[subprocess.Popen, str]:
    """Start `hardhat node` on 127.0.0.1 and a free port; returns it and its URL once it
    answers. The caller stops it (see `stop_node`)."""
    url = f"http://127.0.0.1:{(port := free_port())}"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            ["node", str(HARDHAT_CLI), "node", "--hostname", "127.0.0.1", "--port", str(port)],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for_rpc(url, proc, log_path, deadline_s)
    except BaseException:
        stop_node(proc)
        raise
    return proc, url


def stop_node(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 10 s."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def hardhat_node(log_path: Path) -> Iterator[str]:
    """A Hardhat node's URL for the duration of the block."""
    proc, url = start_hardhat_node(log_path)
    try:
        yield url
    finally:
        stop_node(proc)
