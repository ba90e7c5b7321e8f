"""A simulated month of the robot's economy on the embedded chain; prints one JSON document.

30 paintings, one a day of chain time: plan (small) → paint with the simulated arm → pin and
mint → auction to simulated bidders (snipers extend it) → settle → re-list unsold ones by
policy → repay investors half of each sale → reorder supplies → the shop ships → confirm.
Each auction draws which collectors come (some days none, so paintings go unsold and are
re-listed). The robot starts the month nearly broke, with a funding round from three investors.
Crashes are injected before sending a transaction and between sending it and recording it (the
robot restarts and goes on), so `duplicate_orders` counts what exactly-once must prevent.
Every figure about money is read back from the chain: sales from AuctionSettled, repayments
from the pool, orders from SupplyShop, the balance from the node.
Run: .venv/bin/python benchmarks/economy.py [--paintings N]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gaka.config import Settings  # noqa: E402
from gaka.machine import machine_info  # noqa: E402
from robot.economy_sim import paint_and_publish, restock, sell  # noqa: E402
from services.auctions import auctions  # noqa: E402
from services.chain.backends import ChainSpec, open_chain  # noqa: E402
from services.chain.deploy import deploy  # noqa: E402
from services.economy.core import Economy, open_economy  # noqa: E402
from services.investors import investors  # noqa: E402
from services.ipfs.embedded import EmbeddedStore  # noqa: E402
from services.ledger.ledger import ledger_report  # noqa: E402
from services.market import market  # noqa: E402
from services.supplies import supplies  # noqa: E402

DAY = 86_400
START_WEI = 5 * 10**16
LOANS = (10**17, 10**17, 5 * 10**16)
PRICES = {"canvas": 75 * 10**14, "brush": 10**15, "paint": 2 * 10**15}
CRASH_RATE = 0.15


class Crash(Exception):
    """The robot died between mining a transaction and writing down that it did."""


def images() -> list[Any]:
    from skimage import data

    return [data.chelsea(), data.astronaut(), data.coffee(), data.rocket(), data.cat()]


def retry(step: Any, reopen: Any, crashes: list[str]) -> Any:
    """Run one step of the cycle; after a crash, restart the robot and run it again."""
    for _ in range(10):
        try:
            return step()
        except Crash as exc:
            crashes.append(str(exc))
            reopen()
    raise RuntimeError("ten crashes in a row")


def duplicate_orders(eco: Economy) -> int:
    """Orders on chain that are not the one order of a shortage: unknown to the robot, or
    placed while an order for the same supply was still open (both read from chain events)."""
    c = eco.contracts
    events = eco.chain.events(c.shop, from_block=c.start_block)
    by_tx = {a.tx_hash: a.detail["supply"] for a in eco.store.actions("order") if a.tx_hash}
    open_for: dict[str, int] = {}
    supply_of: dict[int, str] = {}
    dupes = 0
    for e in events:
        if e.name == "OrderPlaced" and e.args["buyer"] == eco.wallet:
            supply = by_tx.get("0x" + e.log.tx_hash.hex())
            if supply is None or supply in open_for:
                dupes += 1
            if supply is not None:
                open_for[supply] = e.args["orderId"]
                supply_of[e.args["orderId"]] = supply
        elif e.name in ("DeliveryConfirmed", "PaymentReleased", "OrderRefunded",
                        "DisputeResolved"):
            open_for.pop(supply_of.get(e.args["orderId"], ""), None)
    return dupes


def run(paintings: int, tmp: Path) -> dict[str, Any]:
    started = time.perf_counter()
    rng = random.Random(2026)
    chain = open_chain(ChainSpec("embedded", data_dir=tmp / "chain"))
    settings = Settings(data_dir=tmp / "data", deployments_dir=tmp / "deployments",
                        auction_reserve_wei=2 * 10**16, auction_duration_s=20 * 3600,
                        auction_time_buffer_s=900, auction_relist_max=2,
                        auction_relist_discount_bps=2500, repay_share_bps=5000,
                        supplies_start={"canvas": 5, "brush": 2})
    # The robot (dev account 1) starts the month nearly broke; investors will fund it.
    robot = chain.accounts[1]
    chain.send_eth(chain.accounts[9], chain.balance(robot) - START_WEI, sender=robot)
    record = deploy(chain, "embedded", settings.deployments_dir, robot=robot)
    crashes: list[str] = []

    def hook(point: str, key: str) -> None:
        if rng.random() < CRASH_RATE / 2:  # at "intent" and at "sent"
            raise Crash(key)

    state: dict[str, Economy] = {"eco": open_economy(chain, record, settings, hook=hook)}

    def reopen() -> None:
        state["eco"].store.close()
        state["eco"] = open_economy(chain, record, settings, hook=hook)

    eco = state["eco"]
    c = eco.contracts
    market.setup_local_market(chain, c, 500, settings.auction_time_buffer_s,
                              settings.supplies_items, PRICES)
    retry(lambda: investors.open_round(state["eco"], sum(LOANS), 2 * DAY), reopen, crashes)
    for investor, amount in zip((2, 7, 8), LOANS, strict=True):
        market.invest(chain, c, chain.accounts[investor], amount)
    retry(lambda: investors.close_round(state["eco"]), reopen, crashes)
    bidders = market.make_bidders(chain, rng, 4, 5 * 10**16, snipers=1)

    month_start = chain.now()
    store = EmbeddedStore(tmp / "ipfs")
    pictures = images()
    paint_s, chain_s, stockout_events, extended, checks = [], [], 0, 0, []
    for n in range(paintings):
        t0 = time.perf_counter()
        painted = paint_and_publish(state["eco"], store, pictures[n % len(pictures)],
                                    tmp / f"painting-{n:02d}", seed=n)
        t1 = time.perf_counter()
        stockout_events += len(supplies.stockouts(state["eco"]))
        # Some days fewer collectors come, some days none: unsold paintings are re-listed.
        present = rng.sample(bidders, rng.choice((0, 1, 2, 3, 4, 4)))
        outcome = retry(lambda p=painted, who=present: sell(state["eco"], p.token_id, who, rng),
                        reopen, crashes)
        extended += outcome["extended"]
        while relisted := [t for t, h in auctions.listings(state["eco"]).items()
                           if h[-1].state == "open"]:
            for token in relisted:  # re-listed by policy: played to its end as well
                market.run_auction(chain, c, token, rng.sample(bidders, rng.choice((0, 2))),
                                   rng)
            retry(lambda: sell_due(state["eco"]), reopen, crashes)
        retry(lambda: restock(state["eco"]), reopen, crashes)
        report = ledger_report(state["eco"])
        checks.append(report.ledger_wei - chain.balance(state["eco"].wallet))
        chain_s.append(time.perf_counter() - t1)
        paint_s.append(t1 - t0)
        chain.increase_time(4 * 3600)  # the next canvas

    eco = state["eco"]
    report = ledger_report(eco)
    balance = chain.balance(eco.wallet)
    settled = chain.events(c.auction, from_block=c.start_block, names=("AuctionSettled",))
    unsold = chain.events(c.auction, from_block=c.start_block, names=("AuctionUnsold",))
    debt = investors.debt(eco)
    repaid = int(chain.call(c.pool.functions.totalRepaid()))
    out = {
        "benchmark": "economy",
        "chain": "embedded",
        "paintings": paintings,
        "sold": len(settled),
        "unsold_auctions": len(unsold),
        "kept": len(auctions.kept(eco)),
        "auctions_extended_by_late_bids": extended,
        "reconciled": report.ledger_wei == balance and all(d == 0 for d in checks),
        "ledger_minus_chain_wei": report.ledger_wei - balance,
        "max_abs_ledger_minus_chain_wei_after_each_painting": max(abs(d) for d in checks),
        "unattributed_wei": report.unattributed_wei,
        "stockouts": stockout_events,
        "duplicate_orders": duplicate_orders(eco),
        "orders": len([e for e in chain.events(c.shop, from_block=c.start_block,
                                               names=("OrderPlaced",))]),
        "crashes_injected": len(crashes),
        "loans_wei": sum(LOANS),
        "owed_wei": debt.owed_wei,
        "repaid_wei": repaid,
        "repaid_in_full": repaid >= debt.owed_wei > 0,
        "balance_wei": balance,
        "opening_wei": report.opening_wei,
        "totals_by_category_wei": report.totals,
        "sales_wei": sum(e.args["amount"] for e in settled),
        "chain_days": round((chain.now() - month_start) / DAY, 1),
        "median_paint_s": round(statistics.median(paint_s), 3),
        "median_economy_s_per_painting": round(statistics.median(chain_s), 3),
        "wall_s": round(time.perf_counter() - started, 1),
        "machine": machine_info(("web3", "py-evm", "eth-tester", "torch")),
    }
    eco.store.close()
    chain.close()
    return out


def sell_due(eco: Economy) -> None:
    auctions.settle_due(eco)
    auctions.relist_unsold(eco)
    investors.repay_due(eco)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paintings", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gaka-economy-") as tmp:
        print(json.dumps(run(args.paintings, Path(tmp)), indent=2))


if __name__ == "__main__":
    main()
