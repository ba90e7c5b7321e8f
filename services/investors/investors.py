"""Loans come in through InvestorPool rounds; the robot repays a share of each sale's net
proceeds until what it owes (the loans of closed rounds, plus interest) is repaid.

A sale is identified by its settlement transaction, so each is repaid from at most once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.auctions.auctions import listings
from services.economy.core import Economy
from services.economy.errors import EconomyError


@dataclass(frozen=True)
class Debt:
    """What the robot owes its investors now."""

    lent_wei: int  # loans of closed rounds (they share repayments)
    pending_wei: int  # loans of the round still open
    owed_wei: int  # lent plus interest
    repaid_wei: int  # by the robot, all time
    outstanding_wei: int


def debt(eco: Economy) -> Debt:
    """The robot's debt, read from the pool (closed rounds) and its own repayments."""
    pool = eco.contracts.pool.functions
    lent = int(eco.call(pool.totalLent()))
    pending = 0
    open_id = int(eco.call(pool.openRoundId()))
    if open_id:
        _cap, raised, deadline, _ = eco.call(pool.rounds(open_id))
        # A round past its deadline is folded in by the next pool transaction.
        if eco.chain.now() >= int(deadline):
            lent += int(raised)
        else:
            pending = int(raised)
    repaid = sum(e["args"]["amount"] for e in eco.store.events("Repaid", eco.contracts.pool.address)
                 if e["args"]["payer"] == eco.wallet)
    owed = lent * (10_000 + eco.settings.repay_interest_bps) // 10_000
    return Debt(lent, pending, owed, repaid, max(owed - repaid, 0))


def open_round(eco: Economy, cap_wei: int, duration_s: int) -> int:
    """Open a funding round (the robot only); returns its id."""
    pool = eco.contracts.pool
    number = int(eco.call(pool.functions.roundCount())) + 1

    def find(from_block: int, claimed: set[str]) -> str | None:
        for e in eco.chain_events(pool, ("RoundOpened",), from_block):
            if e["args"]["roundId"] == number:
                return e["tx_hash"]
        return None

    eco.once(f"round:{number}", "open_round",
             lambda: eco.transact(pool.functions.openRound(cap_wei, duration_s)), find,
             {"cap_wei": str(cap_wei), "duration_s": duration_s})
    eco.sync()
    return number


def close_round(eco: Economy) -> None:
    """Close the open round early, so its loans share the next repayment."""
    pool = eco.contracts.pool
    open_id = int(eco.call(pool.functions.openRoundId()))
    if not open_id:
        return

    def find(from_block: int, claimed: set[str]) -> str | None:
        for e in eco.chain_events(pool, ("RoundClosed",), from_block):
            if e["args"]["roundId"] == open_id:
                return e["tx_hash"]
        return None

    eco.once(f"close-round:{open_id}", "close_round",
             lambda: eco.transact(pool.functions.closeRound()), find)
    eco.sync()


def repayment_for(net_proceeds: int, share_bps: int, outstanding: int) -> int:
    """The policy: a share of a sale's net proceeds, never more than is still owed."""
    return min(net_proceeds * share_bps // 10_000, outstanding)


def repay_from_sale(eco: Economy, settle_tx: str, net_proceeds: int) -> int:
    """Repay from one sale (its settlement transaction) by the policy; returns wei repaid."""
    key = f"repay:{settle_tx}"
    existing = eco.store.action(key)
    if existing is not None and existing.status == "done":
        return int(existing.detail["amount_wei"])
    amount = repayment_for(net_proceeds, eco.settings.repay_share_bps, debt(eco).outstanding_wei)
    if amount <= 0:
        return 0
    balance = eco.chain.balance(eco.wallet)
    if balance < amount:
        raise EconomyError(f"repaying {amount} wei needs more than the wallet's {balance} wei")
    pool = eco.contracts.pool

    def find(from_block: int, claimed: set[str]) -> str | None:
        for e in eco.chain_events(pool, ("Repaid",), from_block):
            if e["args"]["payer"] == eco.wallet and e["tx_hash"] not in claimed:
                return e["tx_hash"]
        return None

    action = eco.once(key, "repay", lambda: eco.transact(pool.functions.repay(), value=amount),
                      find, {"amount_wei": str(amount), "sale_tx": settle_tx})
    eco.sync()
    return int(action.detail["amount_wei"])


def repay_due(eco: Economy) -> int:
    """Repay from every sale not repaid from yet; returns wei repaid now."""
    total = 0
    for history in listings(eco).values():
        for lot in history:
            if lot.state != "sold" or lot.seller != eco.wallet or not lot.closed_tx:
                continue
            action = eco.store.action(f"repay:{lot.closed_tx}")
            # An intent (a crash before or after sending) is resolved by repay_from_sale.
            if action is None or action.status == "intent":
                total += repay_from_sale(eco, lot.closed_tx, lot.highest_bid_wei - lot.fee_wei)
    return total


def investor_status(eco: Economy, sync: bool = True) -> dict[str, Any]:
    """Per investor: lent, withdrawn, claimable now; and the robot's debt."""
    if sync:
        eco.sync()
    pool = eco.contracts.pool
    people: dict[str, dict[str, int]] = {}
    for e in eco.store.events(("Invested", "Withdrawn"), pool.address):
        who = e["args"]["investor"]
        row = people.setdefault(who, {"lent": 0, "withdrawn": 0})
        row["lent" if e["name"] == "Invested" else "withdrawn"] += e["args"]["amount"]
    d = debt(eco)
    return {
        "pool": pool.address, "robot": eco.wallet,
        "lent_wei": str(d.lent_wei), "pending_wei": str(d.pending_wei),
        "owed_wei": str(d.owed_wei), "repaid_wei": str(d.repaid_wei),
        "outstanding_wei": str(d.outstanding_wei),
        "repaid_in_full": d.owed_wei > 0 and d.outstanding_wei == 0,
        "policy": {"share_bps": eco.settings.repay_share_bps,
                   "interest_bps": eco.settings.repay_interest_bps},
        "investors": [{"address": who, "lent_wei": str(row["lent"]),
                       "withdrawn_wei": str(row["withdrawn"]),
                       "claimable_wei": str(eco.call(pool.functions.claimable(who)))}
                      for who, row in sorted(people.items())],
    }
