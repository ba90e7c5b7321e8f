"""Runs the real deploy and SIGKILLs itself at a chosen point.

Usage: python -m tests.services.chain.kill_driver CHAIN DEPLOYMENTS_DIR POINT N
CHAIN is the embedded chain's data dir, or the URL of a Hardhat node. POINT is before-send /
after-send (the N-th broadcast of this run) or before-rename (the N-th record write, after its
temporary file is complete). The instrumentation lives here, in the test, and wraps the
production functions from outside.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from services.chain import backends
from services.chain.deploy import deploy


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    where, out_dir, point, nth = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    counts = {"send": 0, "rename": 0}
    broadcast, replace = backends.Web3Chain._broadcast, os.replace

    def counted_broadcast(self, raw, tx_hash, abi):  # noqa: ANN001, ANN202
        counts["send"] += 1
        if point == "before-send" and counts["send"] == nth:
            _die()
        out = broadcast(self, raw, tx_hash, abi)
        if point == "after-send" and counts["send"] == nth:
            _die()
        return out

    def counted_replace(src, dst):  # noqa: ANN001, ANN202
        counts["rename"] += 1
        if point == "before-rename" and counts["rename"] == nth:
            _die()
        return replace(src, dst)

    backends.Web3Chain._broadcast = counted_broadcast
    os.replace = counted_replace
    if where.startswith("http"):
        name, spec = "localhost", backends.ChainSpec("localhost", rpc_url=where)
    else:
        name, spec = "embedded", backends.ChainSpec("embedded", data_dir=Path(where))
    record = deploy(backends.open_chain(spec), name, out_dir)
    print("finished", ",".join(record["redeployed"]), flush=True)


if __name__ == "__main__":
    main()
