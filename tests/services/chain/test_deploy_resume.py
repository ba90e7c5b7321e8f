"""A deploy SIGKILLed anywhere resumes on the persistent embedded chain without paying twice.

The driver process (kill_driver.py) kills itself right before or after its N-th broadcast, or
right before the N-th rename of the record; the test then reads the record as it was left,
reruns the deploy and counts on chain: the deployer's and the robot's nonces say how many
transactions each paid for.
"""

from __future__ import annotations

import fcntl
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services.chain.backends import Chain, ChainSpec, open_chain
from services.chain.compiler import compile_project
from services.chain.deploy import Deployment, deploy, load_record
from services.chain.errors import DeploymentError
from tests.conftest import ROOT

MANIFEST = json.loads((ROOT / "contracts" / "deploy.json").read_text())
CONTRACTS = [c["name"] for c in MANIFEST["contracts"]]
BY_ROBOT = sum(1 for s in MANIFEST["setup"] if s.get("from") == "robot")
BY_DEPLOYER = len(CONTRACTS) + len(MANIFEST["setup"]) - BY_ROBOT
TRANSACTIONS = BY_DEPLOYER + BY_ROBOT
# pending + done per transaction, and the final tidy-up
RENAMES = 2 * TRANSACTIONS + 1

# After every transaction (mined, not yet recorded: the dangerous window), before a few of
# them (first contract, first and last setup call) and between writing and renaming the record.
SETUP_START = len(CONTRACTS) + 1
POINTS = ([("after-send", n) for n in range(1, TRANSACTIONS + 1)]
          + [("before-send", n) for n in (1, SETUP_START, TRANSACTIONS)]
          + [("before-rename", n) for n in (1, 2, 8, RENAMES)])


def run_driver(tmp_path: Path, point: str, nth: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tests.services.chain.kill_driver", str(tmp_path / "data"),
         str(tmp_path / "deployments"), point, str(nth)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)


def check_record_as_left(chain: Chain, path: Path) -> Deployment | None:
    """The file is a complete record whose every contract is live, or there is none yet."""
    if not path.exists():
        return None
    raw = json.loads(path.read_text())  # complete JSON, never a torn write
    record = load_record(path)
    assert record is not None and raw["chain_id"] == chain.chain_id
    for entry in record.contracts.values():
        assert len(chain.w3.eth.get_code(entry.address)) > 0
        assert chain.w3.eth.get_transaction_receipt(entry.tx_hash)["status"] == 1
    for step in record.setup:
        assert chain.w3.eth.get_transaction_receipt(step.tx_hash)["status"] == 1
    return record


def check_deployed_once(chain: Chain, record: dict) -> None:
    deployer, robot = chain.accounts[0], chain.accounts[1]
    assert chain.w3.eth.get_transaction_count(deployer) == BY_DEPLOYER
    assert chain.w3.eth.get_transaction_count(robot) == BY_ROBOT
    assert sorted(record["contracts"]) == sorted(CONTRACTS)
    artifacts = compile_project()
    for name, entry in record["contracts"].items():
        # Immutables change the code's bytes but not its length.
        code = chain.w3.eth.get_code(entry["address"])
        assert len(code) == len(artifacts[name].deployed_bytecode) // 2 - 1
    assert len(record["setup"]) == len(MANIFEST["setup"])
    nft = chain.at(artifacts["PaintingNFT"], record["contracts"]["PaintingNFT"]["address"])
    house = record["contracts"]["AuctionHouse"]["address"]
    assert chain.call(nft.functions.isApprovedForAll(robot, house))


def rerun(tmp_path: Path) -> dict:
    chain = open_chain(ChainSpec("embedded", data_dir=tmp_path / "data"))
    try:
        return deploy(chain, "embedded", tmp_path / "deployments")
    finally:
        chain.close()


@pytest.mark.slow
@pytest.mark.parametrize(("point", "nth"), POINTS, ids=[f"{p}-{n}" for p, n in POINTS])
def test_killed_deploy_resumes_exactly_once(tmp_path: Path, point: str, nth: int) -> None:
    killed = run_driver(tmp_path, point, nth)
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    chain = open_chain(ChainSpec("embedded", data_dir=tmp_path / "data"))
    try:
        left = check_record_as_left(chain, tmp_path / "deployments" / "embedded.json")
        sent = chain.w3.eth.get_transaction_count(chain.accounts[0]) + \
            chain.w3.eth.get_transaction_count(chain.accounts[1])
    finally:
        chain.close()
    if point == "after-send":
        # The N-th transaction is mined but the record does not say so yet: only `pending` does.
        assert sent == nth and left is not None and left.pending is not None
        assert left.pending.kind == ("contract" if nth <= len(CONTRACTS) else "setup")
    if point == "before-send":
        assert sent == nth - 1

    first = rerun(tmp_path)
    again = rerun(tmp_path)
    assert again["redeployed"] == []
    assert again["contracts"] == first["contracts"]
    chain = open_chain(ChainSpec("embedded", data_dir=tmp_path / "data"))
    try:
        check_deployed_once(chain, first)
        final = check_record_as_left(chain, tmp_path / "deployments" / "embedded.json")
        assert final is not None and final.pending is None
    finally:
        chain.close()


@pytest.mark.slow
def test_killed_after_every_transaction_in_turn(tmp_path: Path) -> None:
    """Each run gets one transaction mined and dies before recording it; the next settles it."""
    path = tmp_path / "deployments" / "embedded.json"
    for _ in range(TRANSACTIONS):
        assert run_driver(tmp_path, "after-send", 1).returncode == -signal.SIGKILL
        chain = open_chain(ChainSpec("embedded", data_dir=tmp_path / "data"))
        try:
            check_record_as_left(chain, path)
        finally:
            chain.close()
    finished = run_driver(tmp_path, "none", 0)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == "finished"  # nothing left to deploy: all were settled
    chain = open_chain(ChainSpec("embedded", data_dir=tmp_path / "data"))
    try:
        check_deployed_once(chain, json.loads(path.read_text()))
    finally:
        chain.close()


def test_second_deploy_to_the_same_record_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "deployments"
    out.mkdir()
    with (out / ".embedded.json.lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as a deploy in another process would
        chain = open_chain(ChainSpec("embedded", data_dir=tmp_path / "data"))
        try:
            with pytest.raises(DeploymentError, match="another deploy is writing"):
                deploy(chain, "embedded", out)
            assert chain.w3.eth.get_transaction_count(chain.accounts[0]) == 0
        finally:
            chain.close()


def test_deploy_js_and_gaka_share_one_lock(tmp_path: Path) -> None:
    """scripts/deploy.js takes the very lock `gaka chain deploy` takes; it ends with the
    process that holds it, however it dies."""
    out = tmp_path / "deployments"
    holder = subprocess.Popen(
        ["node", "-e", "require('./scripts/deploy').lockRecord(process.argv[1]).then(() => "
         "{ console.log('held'); setInterval(() => {}, 1000); })", str(out / "embedded.json")],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        chain = open_chain(ChainSpec("embedded", data_dir=tmp_path / "data"))
        try:
            with pytest.raises(DeploymentError, match="another deploy is writing"):
                deploy(chain, "embedded", out)
            assert chain.w3.eth.get_transaction_count(chain.accounts[0]) == 0
            holder.send_signal(signal.SIGKILL)  # no clean-up runs: the lock must still end
            holder.wait(10)
            for _ in range(50):  # the lock's holder (flock) sees the pipe close and exits
                try:
                    record = deploy(chain, "embedded", out)
                    break
                except DeploymentError:
                    time.sleep(0.1)
            assert sorted(record["redeployed"]) == sorted(CONTRACTS)
        finally:
            chain.close()
    finally:
        holder.kill()
        holder.wait()
