"""API benchmark: requests/s and p50/p99 latency of /status and /auctions on the real daemon
(one uvicorn worker, embedded chain, simulated studio), from a load generator on loopback.

The load generator is an asyncio HTTP/1.1 client keeping C connections alive, each sending
its next request as soon as the answer is read (closed loop). /health, the cheapest route,
is measured in the same run as the framework's floor; the daemon is paused while measuring
(its painting would compete for the same cores), and measured once more while it works.
Goal: ≥ 1,000 req/s and p99 < 50 ms for /status and /auctions. Medians of repeated runs.

    .venv/bin/python benchmarks/api.py [--seconds 5] [--connections 16] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from gaka.machine import machine_info
from gaka.net import free_port

ROOT = Path(__file__).resolve().parents[1]
GAKA = Path(sys.executable).with_name("gaka")


async def _client(port: int, path: str, until: float, latencies: list[float]) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    errors = 0
    while time.perf_counter() < until:
        start = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - start)
        errors += not head.startswith(b"HTTP/1.1 200")
    writer.close()
    return errors


async def _load(port: int, path: str, seconds: float, connections: int) -> dict[str, Any]:
    latencies: list[float] = []
    until = time.perf_counter() + seconds
    began = time.perf_counter()
    errors = await asyncio.gather(*(_client(port, path, until, latencies)
                                    for _ in range(connections)))
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {"requests": len(latencies), "errors": sum(errors),
            "req_per_s": len(latencies) / elapsed,
            "p50_ms": 1000 * latencies[len(latencies) // 2],
            "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)]}


def measure(port: int, path: str, seconds: float, connections: int, repeats: int
            ) -> dict[str, Any]:
    runs = [asyncio.run(_load(port, path, seconds, connections)) for _ in range(repeats)]
    out = {k: round(statistics.median(r[k] for r in runs), 2)
           for k in ("req_per_s", "p50_ms", "p99_ms")}
    out["errors"] = sum(r["errors"] for r in runs)
    out["requests"] = sum(r["requests"] for r in runs)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("GAKA_")}
        env.update({"GAKA_DATA_DIR": str(data), "GAKA_CONFIG": os.devnull,
                    "GAKA_AUCTION_DURATION_S": "3600", "GAKA_PLAN_STROKES": "12",
                    "GAKA_PLAN_SIZE": "24"})
        log = (Path(tmp) / "daemon.log").open("w")
        proc = subprocess.Popen([str(GAKA), "robot", "run", "--port", str(port)], cwd=ROOT,
                                env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    raise SystemExit(f"daemon exited: see {log.name}")
                try:
                    if requests.get(base + "/auctions", timeout=2).json():
                        break
                except (requests.RequestException, ValueError):
                    pass
                time.sleep(1)
            token = (data / "api-token").read_text().strip()
            auth = {"Authorization": f"Bearer {token}"}
            working = {p: measure(port, p, args.seconds, args.connections, 1)
                       for p in ("/status", "/auctions")}
            requests.post(base + "/pause", headers=auth, timeout=10).raise_for_status()
            time.sleep(2 * args.seconds)  # let the current step finish
            results = {p: measure(port, p, args.seconds, args.connections, args.repeats)
                       for p in ("/health", "/status", "/auctions")}
            auctions = len(requests.get(base + "/auctions", timeout=10).json())
        finally:
            proc.terminate()
            proc.wait(120)
    floor = results["/health"]["req_per_s"]
    print(json.dumps({
        "benchmark": "api",
        "machine": machine_info(["fastapi", "uvicorn", "starlette", "pydantic"]),
        "settings": {"seconds": args.seconds, "connections": args.connections,
                     "repeats": args.repeats, "workers": 1, "auctions_listed": auctions},
        "paused": results,
        "while_painting": working,
        "ratio_vs_health": {p: round(results[p]["req_per_s"] / floor, 3)
                            for p in ("/status", "/auctions")},
        "goal": {p: results[p]["req_per_s"] >= 1000 and results[p]["p99_ms"] < 50
                 for p in ("/status", "/auctions")},
    }, indent=2))


if __name__ == "__main__":
    main()
