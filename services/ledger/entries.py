"""Ledger entries from chain facts: pure functions over transactions and decoded events.

A wallet's balance moves in three ways: its own transactions (gas, and the value it sends),
plain transfers to it (value of someone else's transaction), and payments contracts push to it
(seen through the events of the contracts that pay). Each becomes one signed entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

GAS = "gas"
SALES = "sale_proceeds"
FEES = "auction_fees"
ROYALTIES = "royalties"
SUPPLIES = "supplies"
LOANS = "investor_loans"
REPAYMENTS = "repayments"
OTHER = "other"
OPENING = "opening"
CATEGORIES = (GAS, SALES, FEES, ROYALTIES, SUPPLIES, LOANS, REPAYMENTS, OTHER)


@dataclass(frozen=True)
class Entry:
    """Wei into (+) or out of (-) the wallet."""

    block: int
    time: int
    tx_hash: str
    category: str
    amount: int
    memo: str


@dataclass(frozen=True)
class WalletTx:
    """A transaction sent by or to the wallet, with its receipt's facts."""

    tx_hash: str
    block: int
    time: int
    sender: str
    to: str | None
    value: int
    gas_fee: int
    ok: bool
    event_names: tuple[str, ...]


@dataclass(frozen=True)
class Roles:
    """The economy's contracts, to tell payments apart by who pays."""

    auction: str
    shop: str
    pool: str


@dataclass
class Context:
    """What earlier events say that later ones need: sellers, top bids, buyers, the robot."""

    seller: dict[int, str] = field(default_factory=dict)
    top: dict[int, tuple[str, int]] = field(default_factory=dict)
    buyer: dict[int, str] = field(default_factory=dict)
    pool_robot: str | None = None


def tx_entries(wallet: str, tx: WalletTx, roles: Roles, royalty_payers: set[str]) -> list[Entry]:
    """Gas and value of one transaction, seen from `wallet`."""
    out = []
    if tx.sender == wallet:
        if tx.gas_fee:
            out.append(Entry(tx.block, tx.time, tx.tx_hash, GAS, -tx.gas_fee, "network fee"))
        if tx.ok and tx.value:
            if tx.to == roles.pool and "Repaid" in tx.event_names:
                category, memo = REPAYMENTS, "repayment to investors"
            elif tx.to == roles.shop and "OrderPlaced" in tx.event_names:
                category, memo = SUPPLIES, "supply order (escrowed)"
            else:
                category, memo = OTHER, f"sent to {tx.to}"
            out.append(Entry(tx.block, tx.time, tx.tx_hash, category, -tx.value, memo))
    elif tx.to == wallet and tx.ok and tx.value:
        category = ROYALTIES if tx.sender in royalty_payers else OTHER
        out.append(Entry(tx.block, tx.time, tx.tx_hash, category, tx.value,
                         f"received from {tx.sender}"))
    return out


def event_entries(wallet: str, event: dict[str, Any], roles: Roles, ctx: Context) -> list[Entry]:
    """Payments a contract pushed to `wallet` in one event (and the context it updates)."""
    a, name, where = event["args"], event["name"], event["address"]
    out: list[tuple[str, int, str]] = []
    if where == roles.auction:
        if name == "AuctionCreated":
            ctx.seller[a["tokenId"]] = a["seller"]
            ctx.top.pop(a["tokenId"], None)
        elif name == "AuctionBid":
            previous = ctx.top.get(a["tokenId"])
            if previous is not None and previous[0] == wallet:
                out.append((OTHER, previous[1], f"outbid on token {a['tokenId']}: refund"))
            ctx.top[a["tokenId"]] = (a["bidder"], a["amount"])
        elif name == "AuctionSettled" and ctx.seller.get(a["tokenId"]) == wallet:
            out.append((SALES, a["amount"], f"sale of token {a['tokenId']}"))
            if a["fee"]:
                out.append((FEES, -a["fee"], f"auction fee on token {a['tokenId']}"))
    if where == roles.pool:
        if name == "RobotUpdated":
            ctx.pool_robot = a["robot"]
        elif name == "Invested" and ctx.pool_robot == wallet:
            out.append((LOANS, a["amount"], f"loan from {a['investor']}"))
        elif name == "Withdrawn" and a["to"] == wallet:
            out.append((OTHER, a["amount"], "investor share withdrawn"))
    if where == roles.shop:
        if name == "OrderPlaced":
            ctx.buyer[a["orderId"]] = a["buyer"]
        elif name == "OrderRefunded" and a["buyer"] == wallet:
            out.append((SUPPLIES, a["amount"], f"order {a['orderId']} refunded"))
        elif name == "DisputeResolved" and ctx.buyer.get(a["orderId"]) == wallet \
                and a["toBuyer"]:
            out.append((SUPPLIES, a["toBuyer"], f"order {a['orderId']} dispute refund"))
    if where in (roles.auction, roles.shop):
        category = SALES if where == roles.auction else SUPPLIES
        if name == "PaymentDeferred" and a["to"] == wallet:
            out.append((category, -a["amount"], "push failed: credited for withdrawal"))
        elif name == "Withdrawal" and a["to"] == wallet:
            out.append((category, a["amount"], "withdrawn credit"))
    return [Entry(event["block"], event["time"], event["tx_hash"], c, amount, memo)
            for c, amount, memo in out]
