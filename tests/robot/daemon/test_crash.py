"""SIGKILL the real daemon at ≥ 50 random moments across cycles, restart it each time, then
check on the chain itself that every economic action happened exactly once.

Oracles: the embedded chain's blocks and events (read after the daemon stopped), not the
daemon's own records: every robot transaction is scanned, so a duplicate attempt shows even
when it reverted.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import Counter
from pathlib import Path

import pytest
from eth_utils import function_abi_to_4byte_selector, to_checksum_address

from services.chain.backends import ChainSpec, open_chain
from services.chain.compiler import compile_project
from services.chain.events import EventDecoder
from tests.conftest import free_port
from tests.robot.daemon.helpers import (
    daemon_env,
    get,
    journal_rows,
    post,
    start_daemon,
    stop,
    wait_for,
    wait_ready,
)

KILLS = int(os.environ.get("GAKA_CRASH_KILLS", "50"))


def _selectors(abi: list[dict]) -> dict[bytes, str]:
    return {function_abi_to_4byte_selector(f): f["name"] for f in abi
            if f.get("type") == "function"}


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_sigkill_at_random_moments(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = daemon_env(data)
    port = free_port()
    log = tmp_path / "daemon.log"
    rng = random.Random(int(os.environ.get("GAKA_CRASH_SEED", "13")))
    startup: list[float] = []
    kills = during_startup = 0
    began = time.monotonic()
    while kills < KILLS:
        spawned = time.monotonic()
        proc = start_daemon(env, port, log)
        if startup and rng.random() < 0.25:
            # A moment of the start-up itself: deploy, catching up with the chain.
            time.sleep(rng.uniform(0.2, sorted(startup)[len(startup) // 2]))
            during_startup += _ready(port) is False
        else:
            assert wait_ready(port, proc), f"daemon died:\n{log.read_text()[-3000:]}"
            startup.append(time.monotonic() - spawned)
            # A moment of the work: planning, painting, minting, auctions, settling …
            time.sleep(rng.uniform(0.0, 5.0))
        assert proc.poll() is None, f"daemon died by itself:\n{log.read_text()[-3000:]}"
        proc.kill()
        proc.wait()
        kills += 1

    # Let it finish what is under way: no new paintings, every auction to its end.
    proc = start_daemon(env, port, log)
    assert wait_ready(port, proc), log.read_text()[-3000:]
    token = (data / "api-token").read_text().strip()
    assert post(port, "/pause", token).status_code == 200

    def settled() -> bool:
        rows = journal_rows(data, "SELECT state FROM cycles")
        return all(r["state"] in ("done", "capture", "plan", "paint", "publish", "auction")
                   for r in rows)

    wait_for(settled, 240, "every minted painting through its auction")
    wallet = get(port, "/wallet")
    assert stop(proc) == 0, log.read_text()[-3000:]
    cycles = journal_rows(data, "SELECT id, state, token_id FROM cycles")
    done = sum(r["state"] == "done" for r in cycles)
    median = sorted(startup)[len(startup) // 2]
    print(f"\n{kills} SIGKILLs ({during_startup} during start-up) in "
          f"{time.monotonic() - began:.0f} s; cycles started {len(cycles)}, completed {done}; "
          f"median start-up {median:.1f} s")
    assert done >= 2, "the daemon made no progress between kills"

    # ----- the chain as oracle
    record = json.loads((data / "deployments" / "embedded.json").read_text())
    robot = to_checksum_address(record["robot"])
    arts = compile_project()
    names = ("PaintingNFT", "AuctionHouse", "SupplyShop", "InvestorPool")
    addr = {n: to_checksum_address(record["contracts"][n]["address"]) for n in names}
    chain = open_chain(ChainSpec("embedded", data_dir=data))
    try:
        head = chain.block_number()
        events = {n: EventDecoder(arts[n].abi).decode_all(chain.get_logs(0, head, addr[n]))
                  for n in names}
        calls: Counter[tuple[str, str]] = Counter()
        gas_paid = 0
        selectors = {n: _selectors(arts[n].abi) for n in names}
        for number in range(head + 1):
            for tx in chain.w3.eth.get_block(number, full_transactions=True)["transactions"]:
                if to_checksum_address(tx["from"]) != robot or tx["to"] is None:
                    continue
                receipt = chain.receipt(bytes(tx["hash"]))
                gas_paid += receipt["gasUsed"] * receipt["effectiveGasPrice"]
                to = to_checksum_address(tx["to"])
                contract = next((n for n in names if addr[n] == to), "other")
                fn = selectors.get(contract, {}).get(bytes(tx["input"])[:4], "?")
                calls[(contract, fn)] += 1
                assert receipt["status"] == 1, f"a reverted robot transaction: {contract}.{fn}"
        balance = chain.balance(robot)
    finally:
        chain.close()

    minted = [e.args["tokenId"] for e in events["PaintingNFT"] if e.name == "PaintingMinted"]
    assert len(minted) == len(set(minted)), "a painting minted twice"
    assert calls[("PaintingNFT", "mint")] == len(minted), "a mint sent twice"
    journal_tokens = {int(r["token_id"]) for r in cycles if r["token_id"]}
    assert journal_tokens == set(minted), "minted paintings and the journal disagree"

    open_now: set[int] = set()
    for e in events["AuctionHouse"]:
        token = e.args.get("tokenId")
        if e.name == "AuctionCreated":
            assert token not in open_now, f"token {token} auctioned twice at once"
            open_now.add(token)
        elif e.name in ("AuctionSettled", "AuctionUnsold", "AuctionCanceled"):
            open_now.discard(token)
    created = sum(e.name == "AuctionCreated" for e in events["AuctionHouse"])
    assert calls[("AuctionHouse", "createAuction")] == created
    assert not open_now, f"auctions left open: {open_now}"

    placed = [e for e in events["SupplyShop"] if e.name == "OrderPlaced"]
    assert calls[("SupplyShop", "order")] == len(placed), "an order sent twice"
    waiting: dict[int, int] = {}
    for e in events["SupplyShop"]:
        if e.name == "OrderPlaced":
            item = e.args["itemId"]
            assert item not in waiting, f"item {item} ordered again while an order was open"
            waiting[item] = e.args["orderId"]
        elif e.name in ("DeliveryConfirmed", "PaymentReleased", "OrderRefunded"):
            waiting = {k: v for k, v in waiting.items() if v != e.args["orderId"]}

    repaid = [e for e in events["InvestorPool"] if e.name == "Repaid"]
    sales = [e for e in events["AuctionHouse"] if e.name == "AuctionSettled"]
    assert calls[("InvestorPool", "repay")] == len(repaid) <= len(sales)

    assert wallet["unattributed_wei"] == "0", wallet
    assert int(wallet["balance_wei"]) == int(wallet["ledger_wei"]) == balance
    assert -int(wallet["totals_wei"]["gas"]) == gas_paid, "gas in the ledger ≠ gas paid"
    assert not journal_rows(data, "SELECT key FROM effects WHERE status != 'done'")
    print(f"minted {len(minted)}, auctions {created}, sold {len(sales)}, orders {len(placed)}, "
          f"repayments {len(repaid)}; ledger = balance = {balance} wei")


def _ready(port: int) -> bool:
    import requests

    try:
        return requests.get(f"http://127.0.0.1:{port}/health", timeout=0.5).ok
    except requests.RequestException:
        return False
