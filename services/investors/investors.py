"""Loans come in through InvestorPool rounds; the robot repays a share of each sale's net
proceeds until what it owes (the loans of closed rounds, plus interest) is repaid.

A sale is identified by its settlement transaction, so each is repaid from at most once. A
sale repays only loans made before it: it may pay at most what is owed for the loans whose
Invested event precedes its AuctionSettled event on chain (block, then log index) and whose
round shares repayments now (closed, or past its deadline), less everything repaid so far. A
sale made while nothing was owed therefore never pays a later round, however late it is
repaid from; a sale after a loan whose round is still open pays once the round closes.

"Repaid so far" counts every repayment the robot has sent, not only those its store has
confirmed: with `confirmations` above 0 a repayment of a moment ago is on chain (or still in
the node's pool) but not yet in the store, and the pool takes any amount, so two repayments in
quick succession would otherwise both pay what only one was owed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.auctions.auctions import listings
from services.chain.protocol import SignedTx
from services.economy.core import Economy
from services.economy.errors import EconomyError


@dataclass(frozen=True)
class Debt:
    """What the robot owes its investors now."""

    lent_wei: int  # loans of closed rounds (they share repayments)
    pending_wei: int  # loans of the round still open
    owed_wei: int  # lent plus interest
    repaid_wei: int  # sent by the robot, all time, confirmed or not
    unconfirmed_wei: int  # part of it not yet `confirmations` deep, or still in the pool
    outstanding_wei: int


def _open_round(eco: Economy) -> tuple[int, int, bool]:
    """The pool's open round (0 when none), what it raised, and whether it shares repayments
    already: a round past its deadline is folded in by the next pool transaction."""
    pool = eco.contracts.pool.functions
    open_id = int(eco.call(pool.openRoundId()))
    if not open_id:
        return 0, 0, True
    _cap, raised, deadline, _ = eco.call(pool.rounds(open_id))
    return open_id, int(raised), eco.chain.now() >= int(deadline)


def _in_flight(eco: Economy) -> dict[str, int]:
    """Repayments journaled by the robot's unsettled actions that may still be mined: signed,
    their nonce not yet used. Wei by transaction hash."""
    out = {}
    for action in eco.store.actions("repay"):
        signed = action.detail.get("signed")
        if action.status != "intent" or signed is None:
            continue
        tx = SignedTx(**signed)
        # A used nonce: mined (then its event counts) or replaced (then it never will be).
        if eco.chain.nonce(tx.sender) <= tx.nonce:
            out[tx.tx_hash] = int(action.detail["amount_wei"])
    return out


def _repayments(eco: Economy) -> tuple[int, int]:
    """The robot's repayments: (all sent, the unconfirmed part). Confirmed ones are the store's
    Repaid events; unconfirmed ones the node's above the store's depth, plus those in flight."""
    in_flight = _in_flight(eco)  # before reading events: one mined in between shows
    pool = eco.contracts.pool
    confirmed = [e for e in eco.store.events("Repaid", pool.address)
                 if e["args"]["payer"] == eco.wallet]
    shallow = [e for e in eco.chain_events(pool, ("Repaid",), eco.synced_block + 1)
               if e["args"]["payer"] == eco.wallet]
    seen = {e["tx_hash"] for e in confirmed + shallow}
    unconfirmed = (sum(e["args"]["amount"] for e in shallow)
                   + sum(wei for tx, wei in in_flight.items() if tx not in seen))
    return sum(e["args"]["amount"] for e in confirmed) + unconfirmed, unconfirmed


def debt(eco: Economy) -> Debt:
    """The robot's debt, read from the pool (closed rounds) and its own repayments, counting
    those sent but not yet confirmed."""
    lent = int(eco.call(eco.contracts.pool.functions.totalLent()))
    open_id, raised, sharing = _open_round(eco)
    pending = 0
    if open_id and sharing:
        lent += raised
    elif open_id:
        pending = raised
    repaid, unconfirmed = _repayments(eco)
    owed = lent * (10_000 + eco.settings.repay_interest_bps) // 10_000
    return Debt(lent, pending, owed, repaid, unconfirmed, max(owed - repaid, 0))


def open_round(eco: Economy, cap_wei: int, duration_s: int) -> int:
    """Open a funding round (the robot only); returns its id."""
    pool = eco.contracts.pool
    # A round set out to open before a crash keeps its number: the count read now may
    # already include it, and a second round cannot open while it is open.
    pending = [a for a in eco.store.actions("open_round")
               if a.status == "intent" and "round" in a.detail]
    number = (int(pending[0].detail["round"]) if pending
              else int(eco.call(pool.functions.roundCount())) + 1)

    def find(from_block: int, claimed: set[str]) -> str | None:
        for e in eco.chain_events(pool, ("RoundOpened",), from_block):
            if e["args"]["roundId"] == number:
                return e["tx_hash"]
        return None

    eco.once(f"round:{number}", "open_round",
             lambda j: eco.transact(pool.functions.openRound(cap_wei, duration_s), journal=j),
             find,
             {"cap_wei": str(cap_wei), "duration_s": duration_s, "round": number})
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
             lambda j: eco.transact(pool.functions.closeRound(), journal=j), find)
    eco.sync()


def repayment_for(net_proceeds: int, share_bps: int, outstanding: int) -> int:
    """The policy: a share of a sale's net proceeds, never more than is still owed."""
    return min(net_proceeds * share_bps // 10_000, outstanding)


def owed_before(eco: Economy, position: tuple[int, int]) -> int:
    """Owed for the loans made before a chain position (block, log index) whose rounds share
    repayments now, interest included (see the module docstring)."""
    open_id, _raised, sharing = _open_round(eco)
    waiting = open_id if open_id and not sharing else None
    lent = sum(e["args"]["amount"] for e in eco.store.events("Invested", eco.contracts.pool.address)
               if (e["block"], e["log_index"]) < position and e["args"]["roundId"] != waiting)
    return lent * (10_000 + eco.settings.repay_interest_bps) // 10_000


def _sale_position(eco: Economy, settle_tx: str) -> tuple[int, int]:
    for e in eco.store.events("AuctionSettled", eco.contracts.auction.address):
        if e["tx_hash"] == settle_tx:
            return e["block"], e["log_index"]
    raise EconomyError(f"no settlement in transaction {settle_tx} among the events read so far "
                       f"(up to block {eco.synced_block})")


def repay_from_sale(eco: Economy, settle_tx: str, net_proceeds: int) -> int:
    """Repay from one sale (its settlement transaction) by the policy; returns wei repaid."""
    key = f"repay:{settle_tx}"
    pool = eco.contracts.pool

    def find(from_block: int, claimed: set[str]) -> str | None:
        # Only a repayment of the amount this sale set out to pay: the robot's key may also
        # repay by hand, and such a payment must not stand in for the sale's own.
        pending = eco.store.action(key)
        amount = int(pending.detail["amount_wei"]) if pending else None
        for e in eco.chain_events(pool, ("Repaid",), from_block):
            if (e["args"]["payer"] == eco.wallet and e["tx_hash"] not in claimed
                    and e["args"]["amount"] == amount):
                return e["tx_hash"]
        return None

    existing = eco.store.action(key)
    # An intent left by a crash or a timeout is settled before the debt is read: its own
    # repayment, once on chain, would otherwise leave nothing due and the intent unsettled.
    if existing is not None and existing.status == "intent":
        resumed = eco.resume(existing, find)
        if resumed is not None:
            eco.sync()
            return int(resumed.detail["amount_wei"])
    elif existing is not None and existing.status == "done":
        return int(existing.detail["amount_wei"])
    d = debt(eco)
    due = max(owed_before(eco, _sale_position(eco, settle_tx)) - d.repaid_wei, 0)
    amount = repayment_for(net_proceeds, eco.settings.repay_share_bps,
                           min(due, d.outstanding_wei))
    if amount <= 0:
        return 0
    balance = eco.chain.balance(eco.wallet)
    if balance < amount:
        raise EconomyError(f"repaying {amount} wei needs more than the wallet's {balance} wei")
    action = eco.once(key, "repay",
                      lambda j: eco.transact(pool.functions.repay(), value=amount, journal=j),
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
        "unconfirmed_wei": str(d.unconfirmed_wei),
        "outstanding_wei": str(d.outstanding_wei),
        "repaid_in_full": d.owed_wei > 0 and d.outstanding_wei == 0,
        "policy": {"share_bps": eco.settings.repay_share_bps,
                   "interest_bps": eco.settings.repay_interest_bps},
        "investors": [{"address": who, "lent_wei": str(row["lent"]),
                       "withdrawn_wei": str(row["withdrawn"]),
                       "claimable_wei": str(eco.call(pool.functions.claimable(who)))}
                      for who, row in sorted(people.items())],
    }
