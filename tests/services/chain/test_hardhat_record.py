"""`gaka chain deploy` and `scripts/deploy.js` share one record: either continues the other.

All on a Hardhat node started for the session; counts are the deployer's and the robot's
nonces before and after, read straight from the node.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from services.chain.deploy import load_record
from tests.conftest import GAKA, HARDHAT_CLI, ROOT

pytestmark = pytest.mark.hardhat

MANIFEST = json.loads((ROOT / "contracts" / "deploy.json").read_text())
CONTRACTS = sorted(c["name"] for c in MANIFEST["contracts"])
BY_ROBOT = sum(1 for s in MANIFEST["setup"] if s.get("from") == "robot")
BY_DEPLOYER = len(CONTRACTS) + len(MANIFEST["setup"]) - BY_ROBOT
# Hardhat's first two dev accounts: the deployer and the robot.
DEPLOYER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
ROBOT = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
KILLER = Path(__file__).with_name("js") / "kill_after_send.js"


def nonces(url: str) -> tuple[int, int]:
    def count(address: str) -> int:
        answer = requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method":
                                          "eth_getTransactionCount",
                                          "params": [address, "latest"]}, timeout=10).json()
        return int(answer["result"], 16)

    return count(DEPLOYER), count(ROBOT)


def hardhat_deploy(url: str, out: Path, kill_after: int | None = None
                   ) -> subprocess.CompletedProcess:
    env = {**os.environ, "GAKA_LOCALHOST_RPC_URL": url, "GAKA_DEPLOYMENTS_DIR": str(out)}
    if kill_after is not None:
        env.update(NODE_OPTIONS=f"--require {KILLER}", GAKA_TEST_KILL_AFTER_SEND=str(kill_after))
    return subprocess.run(["node", str(HARDHAT_CLI), "run", "scripts/deploy.js", "--network",
                           "localhost"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def python_deploy(env: dict[str, str], url: str, out: Path) -> subprocess.CompletedProcess:
    env = {**env, "GAKA_LOCALHOST_RPC_URL": url, "GAKA_DEPLOYMENTS_DIR": str(out)}
    return subprocess.run([str(GAKA), "chain", "deploy", "--network", "localhost"], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


def deployed_once(url: str, before: tuple[int, int], out: Path) -> None:
    assert nonces(url) == (before[0] + BY_DEPLOYER, before[1] + BY_ROBOT)
    record = load_record(out / "localhost.json")
    assert record is not None and record.pending is None
    assert sorted(record.contracts) == CONTRACTS
    assert len(record.setup) == len(MANIFEST["setup"])


def test_python_then_hardhat_redeploys_nothing(hardhat_node: str, gaka_env: dict[str, str],
                                               tmp_path: Path) -> None:
    before = nonces(hardhat_node)
    first = python_deploy(gaka_env, hardhat_node, tmp_path)
    assert first.returncode == 0, first.stderr
    saved = json.loads((tmp_path / "localhost.json").read_text())
    second = hardhat_deploy(hardhat_node, tmp_path)
    assert second.returncode == 0, second.stderr
    assert "redeployed: nothing" in second.stdout
    deployed_once(hardhat_node, before, tmp_path)
    assert json.loads((tmp_path / "localhost.json").read_text())["contracts"] == \
        saved["contracts"]


def test_hardhat_then_python_redeploys_nothing(hardhat_node: str, gaka_env: dict[str, str],
                                               tmp_path: Path) -> None:
    before = nonces(hardhat_node)
    first = hardhat_deploy(hardhat_node, tmp_path)
    assert first.returncode == 0, first.stderr
    saved = json.loads((tmp_path / "localhost.json").read_text())
    second = python_deploy(gaka_env, hardhat_node, tmp_path)
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["redeployed"] == []
    assert json.loads(second.stdout)["contracts"] == saved["contracts"]
    deployed_once(hardhat_node, before, tmp_path)


def test_hardhat_settles_a_killed_python_deploy(hardhat_node: str, tmp_path: Path) -> None:
    before = nonces(hardhat_node)
    killed = subprocess.run(
        [sys.executable, "-m", "tests.services.chain.kill_driver", hardhat_node, str(tmp_path),
         "after-send", "2"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    pending = load_record(tmp_path / "localhost.json").pending
    assert pending is not None and pending.raw_tx is not None  # mined, not yet recorded

    resumed = hardhat_deploy(hardhat_node, tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "redeployed: SupplyShop InvestorPool" in resumed.stdout  # AuctionHouse was settled
    deployed_once(hardhat_node, before, tmp_path)


def test_killed_hardhat_deploy_resumes_and_python_refuses_to_guess(
        hardhat_node: str, gaka_env: dict[str, str], tmp_path: Path) -> None:
    before = nonces(hardhat_node)
    killed = hardhat_deploy(hardhat_node, tmp_path, kill_after=3)
    # `hardhat run` runs the script in a child process, which is the one killed.
    assert "wrote" not in killed.stdout, killed.stdout + killed.stderr
    pending = load_record(tmp_path / "localhost.json").pending
    # Killed between the node taking the transaction and the script learning its hash.
    assert pending is not None and pending.tx_hash is None and pending.name == "SupplyShop"

    refused = python_deploy(gaka_env, hardhat_node, tmp_path)
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: an interrupted Hardhat deploy left nonce")
    assert "npx hardhat run scripts/deploy.js" in refused.stderr
    assert nonces(hardhat_node) == (before[0] + 3, before[1])  # nothing sent

    resumed = hardhat_deploy(hardhat_node, tmp_path)  # finds nonce 3's transaction on chain
    assert resumed.returncode == 0, resumed.stderr
    assert "redeployed: InvestorPool" in resumed.stdout
    deployed_once(hardhat_node, before, tmp_path)
    again = python_deploy(gaka_env, hardhat_node, tmp_path)
    assert json.loads(again.stdout)["redeployed"] == []
    deployed_once(hardhat_node, before, tmp_path)


def _rpc(url: str, method: str, params: list) -> object:
    return requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method,
                                    "params": params}, timeout=10).json().get("result")


def _in_pool(url: str) -> int:
    """The deployer's transactions the node holds, mined or waiting."""
    return int(_rpc(url, "eth_getTransactionCount", [DEPLOYER, "pending"]), 16)


@pytest.fixture
def mempool(hardhat_node: str):
    """The node stops mining on its own, as a public network's pool keeps a transaction a while."""
    _rpc(hardhat_node, "evm_setAutomine", [False])
    try:
        yield hardhat_node
    finally:
        _rpc(hardhat_node, "evm_setAutomine", [True])
        _rpc(hardhat_node, "evm_mine", [])


def test_python_resume_of_an_unmined_transaction_never_pays_twice(
        mempool: str, gaka_env: dict[str, str], tmp_path: Path) -> None:
    before = nonces(mempool)
    killed = subprocess.run(
        [sys.executable, "-m", "tests.services.chain.kill_driver", mempool, str(tmp_path),
         "after-send", "1"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert _in_pool(mempool) == before[0] + 1
    # The rerun resends the same bytes (the node answers "Known transaction") and waits.
    waiting = python_deploy({**gaka_env, "GAKA_RECEIPT_TIMEOUT_S": "2"}, mempool, tmp_path)
    assert waiting.returncode == 1 and waiting.stderr.startswith("error:"), waiting.stderr
    assert _in_pool(mempool) == before[0] + 1
    _rpc(mempool, "evm_mine", [])
    _rpc(mempool, "evm_setAutomine", [True])
    done = python_deploy(gaka_env, mempool, tmp_path)
    assert done.returncode == 0, done.stderr
    deployed_once(mempool, before, tmp_path)


def test_hardhat_resume_of_an_unidentified_unmined_transaction_never_pays_twice(
        mempool: str, tmp_path: Path) -> None:
    before = nonces(mempool)
    hardhat_deploy(mempool, tmp_path, kill_after=1)
    pending = load_record(tmp_path / "localhost.json").pending
    assert pending is not None and pending.tx_hash is None
    assert _in_pool(mempool) == before[0] + 1
    waiting = hardhat_deploy(mempool, tmp_path)
    assert waiting.returncode != 0 and "waiting to be mined" in waiting.stderr
    assert _in_pool(mempool) == before[0] + 1
    _rpc(mempool, "evm_mine", [])
    _rpc(mempool, "evm_setAutomine", [True])
    done = hardhat_deploy(mempool, tmp_path)
    assert done.returncode == 0, done.stderr
    deployed_once(mempool, before, tmp_path)


def test_hardhat_deploy_refuses_a_record_another_deploy_holds(hardhat_node: str,
                                                             tmp_path: Path) -> None:
    before = nonces(hardhat_node)
    with (tmp_path / ".localhost.json.lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as `gaka chain deploy` holds it while it runs
        refused = hardhat_deploy(hardhat_node, tmp_path)
    assert refused.returncode == 1
    assert f"error: another deploy is writing {tmp_path / 'localhost.json'}" in refused.stderr
    assert nonces(hardhat_node) == before and not (tmp_path / "localhost.json").exists()
    finished = hardhat_deploy(hardhat_node, tmp_path)  # released: the same command now runs
    assert finished.returncode == 0, finished.stderr
    deployed_once(hardhat_node, before, tmp_path)
