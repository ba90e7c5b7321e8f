"""Start the real daemon (`gaka robot run`) as a subprocess on loopback, talk to its API."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import requests

from tests.conftest import GAKA, ROOT

# Tiny paintings and short auctions: a cycle takes seconds, not minutes.
FAST = {
    "GAKA_AUCTION_DURATION_S": "4", "GAKA_AUCTION_TIME_BUFFER_S": "1",
    "GAKA_PLAN_STROKES": "6", "GAKA_PLAN_SIZE": "16", "GAKA_PLAN_ITERATIONS": "2",
    "GAKA_FILM_WIDTH": "64", "GAKA_FILM_HEIGHT": "48",
    "GAKA_SUPPLIES_START": json.dumps({"canvas": 2, "brush": 2}),
}


def daemon_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAKA_")}
    env.update(FAST)
    env.update({"GAKA_DATA_DIR": str(data_dir), "GAKA_CONFIG": str(data_dir / "none.toml"),
                "GAKA_DEPLOYMENTS_DIR": str(data_dir / "deployments"),
                "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


def start_daemon(env: dict[str, str], port: int, log: Path, *args: str) -> subprocess.Popen:
    with log.open("a") as out:
        return subprocess.Popen([str(GAKA), "robot", "run", "--port", str(port), *args],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_ready(port: int, proc: subprocess.Popen, timeout_s: float = 180) -> bool:
    """True once /health answers; False if the process died first."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        try:
            if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).ok:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"daemon on port {port} not ready within {timeout_s} s")


def get(port: int, path: str) -> Any:
    answer = requests.get(f"http://127.0.0.1:{port}{path}", timeout=10)
    answer.raise_for_status()
    return answer.json()


def post(port: int, path: str, token: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(f"http://127.0.0.1:{port}{path}", headers=headers, timeout=10)


def stop(proc: subprocess.Popen, timeout_s: float = 120) -> int:
    """SIGTERM and wait: the daemon parks and exits by itself."""
    proc.terminate()
    return proc.wait(timeout_s)


def journal_rows(data_dir: Path, sql: str) -> list[sqlite3.Row]:
    db = sqlite3.connect(data_dir / "journal.sqlite")
    db.row_factory = sqlite3.Row
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def wait_for(predicate: Any, timeout_s: float, what: str, step_s: float = 0.5) -> Any:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(step_s)
    raise TimeoutError(f"{what} not within {timeout_s} s")
