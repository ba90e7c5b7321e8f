"""Start the real daemon (`gaka robot run`) as a subprocess on loopback, talk to its API."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from tests.conftest import GAKA, ROOT, free_port

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
    env.update({"GAKA_DATA_DIR": str(data_dir), "GAKA_CONFIG": os.devnull,
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


def market_settled(data_dir: Path) -> bool:
    """Every painting that reached the market is through it (the studio may be paused)."""
    rows = journal_rows(data_dir, "SELECT state FROM cycles")
    return all(r["state"] in ("done", "capture", "plan", "paint", "publish", "auction")
               for r in rows)


def wait_for(predicate: Any, timeout_s: float, what: str, step_s: float = 0.5) -> Any:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(step_s)
    raise TimeoutError(f"{what} not within {timeout_s} s")


def _selectors(abi: list[dict[str, Any]]) -> dict[bytes, str]:
    from eth_utils import function_abi_to_4byte_selector

    return {function_abi_to_4byte_selector(f): f["name"] for f in abi
            if f.get("type") == "function"}


def order_supplies(data_dir: Path) -> dict[str, str]:
    """Order transaction hash → the supply the robot ordered with it (its economy store)."""
    supplies: dict[str, str] = {}
    for path in (data_dir / "economy").glob("*.sqlite"):
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = db.execute("SELECT tx_hash, detail FROM actions WHERE kind = 'order' "
                              "AND tx_hash IS NOT NULL").fetchall()
        finally:
            db.close()
        supplies.update({tx.lower(): json.loads(detail)["supply"] for tx, detail in rows})
    return supplies


def chain_audit(chain: Any, record: dict[str, Any], cycles: list[Any],
                wallet: dict[str, Any], data_dir: Path | None = None) -> dict[str, int]:
    """Check on the chain itself that every economic action of the robot happened once.

    Every block is scanned for the robot's transactions (so a duplicate attempt shows even
    when it reverted); the contracts' events give what happened; `wallet` is the daemon's
    `/wallet` answer and `cycles` its journal rows. Returns what it counted."""
    from collections import Counter

    from eth_utils import to_checksum_address

    from services.chain.compiler import compile_project
    from services.chain.events import EventDecoder

    robot = to_checksum_address(record["robot"])
    arts = compile_project()
    names = ("PaintingNFT", "AuctionHouse", "SupplyShop", "InvestorPool")
    addr = {n: to_checksum_address(record["contracts"][n]["address"]) for n in names}
    head = chain.block_number()
    events = {n: EventDecoder(arts[n].abi).decode_all(chain.get_logs(0, head, addr[n]))
              for n in names}
    calls: Counter[tuple[str, str]] = Counter()
    gas_paid = 0  # up to the block the daemon's ledger had read
    selectors = {n: _selectors(arts[n].abi) for n in names}
    first = min(int(v["block"]) for v in record["contracts"].values())
    for number in range(first, head + 1):
        for tx in chain.w3.eth.get_block(number, full_transactions=True)["transactions"]:
            if to_checksum_address(tx["from"]) != robot or tx["to"] is None:
                continue
            receipt = chain.receipt(bytes(tx["hash"]))
            if number <= wallet["block"]:
                gas_paid += receipt["gasUsed"] * receipt["effectiveGasPrice"]
            to = to_checksum_address(tx["to"])
            contract = next((n for n in names if addr[n] == to), "other")
            data = tx.get("input", tx.get("data"))  # eth-tester names it `data`
            fn = selectors.get(contract, {}).get(bytes.fromhex(str(data)[2:10]) if
                                                 isinstance(data, str) else bytes(data)[:4], "?")
            calls[(contract, fn)] += 1
            assert receipt["status"] == 1, f"a reverted robot transaction: {contract}.{fn}"

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
    assert calls[("AuctionHouse", "createAuction")] == created, "an auction opened twice"

    placed = [e for e in events["SupplyShop"] if e.name == "OrderPlaced"]
    assert calls[("SupplyShop", "order")] == len(placed), "an order sent twice"
    # Every paint colour is the shop's one paint item, so the chain alone cannot tell a
    # second order of one colour from an order of another: the robot's economy store names
    # the supply each order transaction was for; whether that order is still open is read
    # from the chain's own events.
    supply_of = order_supplies(data_dir) if data_dir is not None else {}
    waiting: dict[tuple[int, str], int] = {}
    for e in events["SupplyShop"]:
        if e.name == "OrderPlaced":
            item = e.args["itemId"]
            key = (item, supply_of.get("0x" + e.log.tx_hash.hex(), ""))
            assert key not in waiting, f"{key} ordered again while an order was open"
            waiting[key] = e.args["orderId"]
        elif e.name in ("DeliveryConfirmed", "PaymentReleased", "OrderRefunded"):
            waiting = {k: v for k, v in waiting.items() if v != e.args["orderId"]}

    repaid = [e for e in events["InvestorPool"] if e.name == "Repaid"]
    sales = [e for e in events["AuctionHouse"] if e.name == "AuctionSettled"]
    assert calls[("InvestorPool", "repay")] == len(repaid) <= len(sales), "a repayment twice"

    balance = chain.balance(robot)
    assert wallet["unattributed_wei"] == "0", wallet
    assert int(wallet["ledger_wei"]) == int(wallet["balance_wei"]), wallet
    assert -int(wallet["totals_wei"]["gas"]) == gas_paid, "gas in the ledger ≠ gas paid"
    return {"minted": len(minted), "auctions": created, "open_now": len(open_now),
            "sold": len(sales), "orders": len(placed), "repayments": len(repaid),
            "robot_transactions": sum(calls.values()), "gas_wei": gas_paid,
            "balance_wei": balance}


@contextmanager
def daemon_with_a_painting_on_auction(env: dict[str, str], tmp: Path
                                      ) -> Iterator[tuple[int, subprocess.Popen, Path]]:
    """A daemon on a free port, handed over (port, process, log) once its first painting is
    on auction; stopped at the end, and its exit must be clean."""
    port = free_port()
    log = tmp / "daemon.log"
    proc = start_daemon(env, port, log)
    try:
        assert wait_ready(port, proc), log.read_text()[-3000:]
        wait_for(lambda: get(port, "/auctions"), 240, "a painting on auction")
        yield port, proc, log
    finally:
        assert stop(proc) == 0, log.read_text()[-3000:]
