"""The daemon's market lane over a store that reads `confirmations` blocks behind the head:
a sale settled a moment ago repays its investors, an unsold painting is listed again."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from robot.daemon.effects import TxRunner
from robot.daemon.journal import Journal
from robot.daemon.machine import Daemon
from services.auctions import auctions
from services.investors import investors
from services.market import market
from tests.services.economy.conftest import World
from tests.services.economy.test_policies import _mint


def _daemon(world: World, tmp: Path, token: int) -> tuple[Daemon, int]:
    """A daemon (no studio) with one cycle whose painting is on auction."""
    journal = Journal(tmp / "journal.db")
    runner = TxRunner(journal, world.chain, world.eco.wallet, threading.RLock())
    daemon = Daemon(journal, world.eco, None, runner, None, tmp)  # type: ignore[arg-type]
    with journal.tx() as conn:
        cycle = journal.new_cycle(tmp / "cycles", conn)
    journal.set_cycle(cycle, state="on_auction", token_id=str(token))
    return daemon, cycle


def _cycle_state(daemon: Daemon, cycle: int) -> str:
    return next(r["state"] for r in daemon.journal.all_cycles() if r["id"] == cycle)


@pytest.mark.parametrize("bid", [True, False])
def test_with_confirmations_the_market_lane_repays_a_sale_and_relists_an_unsold_painting(
        embedded_world: World, tmp_path: Path, bid: bool) -> None:
    world = embedded_world
    world.settings = world.settings.model_copy(update={"confirmations": 2})
    eco = world.reopen()
    chain, c = world.chain, eco.contracts
    investors.open_round(eco, 10**18, 86_400)
    market.invest(chain, c, chain.accounts[2], 10**17)
    investors.close_round(eco)
    token = _mint(world, 50)
    auctions.open_auction(eco, token)
    price = 4 * 10**16
    if bid:
        chain.transact(c.auction.functions.bid(token), sender=chain.accounts[3], value=price)
    chain.increase_time(world.settings.auction_duration_s + 1)
    chain.mine(2)  # the auction (and the bid) are in the store; it has ended
    daemon, cycle = _daemon(world, tmp_path, token)
    try:
        daemon.market_tick()  # settles; the store does not show the settlement yet
        for _ in range(3):
            chain.mine(2)
            daemon.market_tick()
        repaid = [e.args["amount"] for e in
                  chain.events(c.pool, from_block=c.start_block, names=("Repaid",))]
        created = chain.events(c.auction, from_block=c.start_block, names=("AuctionCreated",))
        if bid:
            net = price - price * 500 // 10_000
            assert repaid == [net // 2]
            assert _cycle_state(daemon, cycle) == "done"
            assert len(created) == 1
        else:
            assert repaid == []
            assert len(created) == 2  # listed again at a lower reserve
            assert _cycle_state(daemon, cycle) == "on_auction"
    finally:
        daemon.journal.close()
