"""The market lane of the daemon on the economy services.

Auctions, repayments and supplies are the economy's (services/auctions, investors,
supplies, ledger): each action there is done once across crashes by `Economy.once`
(intent written before the send; a rerun looks for the effect on chain from the intent's
block before sending again). This module only decides *when* to call them, plays the
outside world on dev chains (collectors bidding in real time, a shop that ships, two
investors) and builds the read-only views the API serves.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

from services.auctions import auctions
from services.chain.errors import ChainError, ContractReverted
from services.economy.core import Economy
from services.investors import investors
from services.ledger.ledger import ledger_report
from services.market import market
from services.supplies import supplies

DEV_NETWORKS = ("embedded", "localhost")
# The simulated shop's catalogue and the auction house fee on dev chains.
SIM_PRICES = {"canvas": 75 * 10**14, "brush": 10**15, "paint": 2 * 10**15}
SIM_FEE_BPS = 500
SIM_LOAN_WEI = 10**18
FINAL = ("sold", "canceled")


def catch_up_clock(eco: Economy) -> None:
    """A local chain makes blocks only on demand, so its clock lags the wall clock: mine an
    empty block when an auction has ended by the wall clock but not yet in chain time."""
    if eco.chain.network not in DEV_NETWORKS:
        return
    now = time.time()
    for history in auctions.listings(eco, sync=False).values():
        lot = history[-1]
        if lot.state == "open" and lot.end_time <= now and eco.chain.now() < lot.end_time:
            eco.chain.mine(1)
            return


def token_state(eco: Economy, token: int) -> str | None:
    """State of a token's latest listing: open, ended, sold, unsold, canceled (or None)."""
    history = auctions.listings(eco, sync=False).get(token)
    return history[-1].state if history else None


def settle_token(eco: Economy, token: int) -> str:
    """Settle, then re-list by the policy if unsold; returns the token's state afterwards.

    The sale or the unsold end is taken from the store, which holds only blocks
    `confirmations` deep: until the settlement is that deep the state stays "ended" and the
    caller asks again later (repaying needs the sale in the store). A re-listing is reported
    as soon as it is sent."""
    auctions.settle(eco, token)
    state = token_state(eco, token) or "unknown"
    if state == "unsold":
        relisted = [lot for lot in auctions.relist_unsold(eco) if lot.token_id == token]
        state = relisted[-1].state if relisted else state
    return state


def repay_token(eco: Economy, token: int) -> int:
    """Repay investors from this token's sale (once per sale)."""
    lot = auctions.listings(eco, sync=False)[token][-1]
    if lot.state != "sold" or lot.closed_tx is None:
        return 0
    return investors.repay_from_sale(eco, lot.closed_tx, lot.highest_bid_wei - lot.fee_wei)


def restock(eco: Economy) -> dict[str, Any]:
    """Reorder what runs low; confirm what the shop delivered."""
    ordered = supplies.reorder_if_needed(eco)
    confirmed = supplies.confirm_deliveries(eco)
    return {"reorders": [r.to_dict() for r in ordered], "confirmed": confirmed}


def canvases(eco: Economy) -> float:
    return supplies.inventory(eco, sync=False).get("canvas", 0.0)


def views(eco: Economy) -> dict[str, Any]:
    """What the API serves, built in one go (the API never touches the chain itself)."""
    report = ledger_report(eco, sync=False)
    lots = auctions.listings(eco, sync=False)
    return {
        "wallet": report.to_dict(with_entries=False),
        "ledger": [e for e in report.to_dict(with_entries=True)["entries"]],
        "auctions": [lot.to_dict() for history in lots.values() for lot in history],
        "supplies": supplies.supplies_status(eco),
        "investors": investors.investor_status(eco, sync=False),
    }


@dataclass
class SimMarket:
    """The outside world on a dev chain, where the daemon holds every dev account's key:
    collectors (accounts 2-7) bid on open auctions in real time, the deployer is the shop
    and ships orders, two investors (8, 9) lend once."""

    eco: Economy
    bid_chance: float = 0.4
    rng: random.Random = field(default_factory=lambda: random.Random(0))

    def seed(self, time_buffer_s: int, supplies_items: dict[str, int]) -> None:
        eco, chain = self.eco, self.eco.chain
        market.setup_local_market(chain, eco.contracts, SIM_FEE_BPS, time_buffer_s,
                                  supplies_items, SIM_PRICES)
        if int(eco.call(eco.contracts.pool.functions.totalLent())) == 0:
            if not int(eco.call(eco.contracts.pool.functions.openRoundId())):
                investors.open_round(eco, 2 * SIM_LOAN_WEI, 365 * 86_400)
            for investor in chain.accounts[8:10]:
                try:
                    market.invest(chain, eco.contracts, investor, SIM_LOAN_WEI)
                except ContractReverted:
                    continue  # the round is full: the loans went in before a restart
            investors.close_round(eco)

    def tick(self) -> None:
        """Maybe bid on each open auction; ship each placed order."""
        eco, chain = self.eco, self.eco.chain
        house = eco.contracts.auction.functions
        now = time.time()
        for token, history in auctions.listings(eco, sync=False).items():
            lot = history[-1]
            if lot.state != "open" or lot.end_time - now < 2 or \
                    self.rng.random() > self.bid_chance:
                continue
            top = chain.call(house.highestBid(token))[0]
            bidder = self.rng.choice([a for a in chain.accounts[2:8] if a != top])
            amount = int(chain.call(house.minimumBid(token)))
            amount += amount * self.rng.randint(0, 20) // 100
            try:
                chain.transact(house.bid(token), sender=bidder, value=amount)
            except ChainError:
                continue  # ended or outbid meanwhile: a real collector shrugs too
        market.fulfil_orders(chain, eco.contracts)
