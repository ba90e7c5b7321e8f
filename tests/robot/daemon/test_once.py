"""`gaka robot run --once`: one full cycle (minted, auctioned, through the market), then exit.

Oracle: the embedded chain's ERC-721 Transfer events from the zero address, read after the
daemon exited."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from eth_utils import keccak

from services.chain.backends import ChainSpec, open_chain
from tests.conftest import GAKA, ROOT, free_port
from tests.robot.daemon.helpers import daemon_env, journal_rows

TRANSFER = keccak(text="Transfer(address,address,uint256)")
ZERO = bytes(32)


@pytest.mark.slow
def test_once_runs_exactly_one_cycle(tmp_path: Path) -> None:
    data = tmp_path / "robot"
    # Several canvases in stock: only --once may keep the studio from painting a second.
    env = daemon_env(data, GAKA_SUPPLIES_START=json.dumps({"canvas": 4, "brush": 2}))
    out = subprocess.run([str(GAKA), "robot", "run", "--once", "--port", str(free_port())],
                         cwd=ROOT, env=env, text=True, capture_output=True, timeout=600)
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]

    cycles = journal_rows(data, "SELECT state, token_id FROM cycles")
    assert [r["state"] for r in cycles] == ["done"]
    record = json.loads((data / "deployments" / "embedded.json").read_text())
    chain = open_chain(ChainSpec("embedded", data_dir=data))
    try:
        nft = record["contracts"]["PaintingNFT"]["address"]
        mints = chain.get_logs(0, chain.block_number(), nft, [TRANSFER, ZERO])
    finally:
        chain.close()
    assert [int.from_bytes(log.topics[3], "big") for log in mints] == [
        int(cycles[0]["token_id"])]
