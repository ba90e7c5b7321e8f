"""A js-ipfs node (npm `ipfs`, Kubo RPC API) from node_modules, for machines without Kubo.

Tests and benchmarks start one on a loopback port, offline, with its own repo; `stop()` ends
it by PID. No outside connection is made (`--offline`, no bootstrap, no preload).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

CLI = Path(__file__).resolve().parents[2] / "node_modules" / "ipfs" / "src" / "cli.js"


class JsIpfsNode:
    """A js-ipfs daemon (Kubo RPC API) on a loopback port, offline, with its own repo.

    `stop()` kills it by PID; `start()` brings it back on the same repo and port."""

    def __init__(self, repo: Path, port: int) -> None:
        self.repo = repo
        repo.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "IPFS_PATH": str(repo)}
        self.proc: subprocess.Popen | None = None
        self.api = self.url = ""
        self._cli(["init", "--profile", "test"])
        for key, value in (("Addresses.API", f"/ip4/127.0.0.1/tcp/{port}"),
                           ("Addresses.RPC", "/ip4/127.0.0.1/tcp/0"),
                           ("Addresses.Gateway", "")):
            self._cli(["config", key, value])
        self.api = f"/ip4/127.0.0.1/tcp/{port}/http"
        self.url = f"http://127.0.0.1:{port}"

    def _cli(self, args: list[str], timeout: float = 60) -> str:
        out = subprocess.run(["node", str(CLI), *args], env=self.env, cwd=self.repo,
                             capture_output=True, text=True, timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError(f"jsipfs {' '.join(args)} failed: {out.stderr[-2000:]}")
        return out.stdout

    def cli(self, *args: str) -> str:
        """Run the js-ipfs CLI against this daemon (e.g. `add -q FILE`). Its own reading of
        the multiaddr in the repo's `api` file fails on Node 20 ("Invalid URL"): pass a URL."""
        return self._cli(["--api", self.url, *args])

    def start(self) -> None:
        log_path = self.repo / "daemon.log"
        seen = log_path.stat().st_size if log_path.exists() else 0  # a restart appends
        log = log_path.open("a")
        self.proc = subprocess.Popen(
            ["node", str(CLI), "daemon", "--offline", "--enable-preload=false"],
            env=self.env, cwd=self.repo, stdout=log, stderr=subprocess.STDOUT)
        end = time.monotonic() + 90
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"js-ipfs daemon exited with {self.proc.returncode}: "
                                   f"{(self.repo / 'daemon.log').read_text()[-2000:]}")
            if "Daemon is ready" in log_path.read_text()[seen:]:
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("js-ipfs daemon did not become ready within 90 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        (self.repo / "api").unlink(missing_ok=True)
        (self.repo / "repo.lock").unlink(missing_ok=True)
