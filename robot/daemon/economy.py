"""The market half of a cycle, on the contracts: auctions, sales, repayments, supplies.

Every robot transaction goes through `TxRunner` (journaled, found again by nonce) and first
asks the chain whether its effect is already there. What other accounts do (bids, sales
settled by a bidder, loans) reaches the journal through `sync`, which reads the contracts'
events block range by block range and records each one under a key derived from its log,
in one SQL transaction with the block cursor — so every event counts exactly once.

Wallet categories (as the robot's owner reads them): network_fees, investor_loans,
investor_repayment, auction_fees, sales, consumables. `opening + sum(ledger)` equals the
robot's balance at the cursor block; `reconcile` checks exactly that, to the wei.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

from eth_utils import to_checksum_address
from sqlalchemy import Connection, insert, select, update
from web3.contract import Contract

from robot.daemon.effects import TxRunner, hex_hash
from robot.daemon.journal import Journal, auctions, bids, orders, supplies
from services.chain.compiler import compile_project
from services.chain.errors import ChainError
from services.chain.events import EventDecoder
from services.chain.protocol import Chain, Receipt

CATEGORIES = ("network_fees", "investor_loans", "investor_repayment", "auction_fees", "sales",
              "consumables")
CANVAS_ITEM = 1
ORDER_FULFILLED = 2


def _unset(address: str) -> bool:
    return int(address, 16) == 0


class NotDue(ChainError):
    """The auction has not ended yet."""


@dataclass(frozen=True)
class Contracts:
    """The deployed contracts the robot works with."""

    nft: Contract
    house: Contract
    shop: Contract
    pool: Contract
    deploy_block: int

    @classmethod
    def bind(cls, chain: Chain, record: dict[str, Any]) -> Contracts:
        arts = compile_project()
        at = record["contracts"]
        return cls(*(chain.at(arts[n], at[n]["address"]) for n in
                     ("PaintingNFT", "AuctionHouse", "SupplyShop", "InvestorPool")),
                   deploy_block=min(int(v["block"]) for v in at.values()))


# ---------------------------------------------------------------------- events → journal


def _upsert_auction(conn: Connection, token: str, **values: Any) -> None:
    if conn.execute(update(auctions).where(auctions.c.token_id == token)
                    .values(**values)).rowcount == 0:
        conn.execute(insert(auctions).values(token_id=token, **values))


def apply_events(journal: Journal, conn: Connection, events: list[Any], robot: str) -> None:
    """Fold decoded contract events into the journal (idempotent per log)."""
    robot = to_checksum_address(robot)
    for ev in events:
        a, lg = ev.args, ev.log
        tx = hex_hash(lg.tx_hash)
        key = f"{tx}:{lg.log_index}"
        block = lg.block_number
        if ev.name == "AuctionCreated":
            _upsert_auction(conn, str(a["tokenId"]), end_time=int(a["endTime"]),
                            reserve_wei=str(a["reservePrice"]), highest_wei="0", bidder=None,
                            bids=0, status="open", sale_wei=None, opened_block=block)
        elif ev.name == "AuctionBid":
            token = str(a["tokenId"])
            if conn.execute(select(bids.c.key).where(bids.c.key == key)).first() is None:
                conn.execute(insert(bids).values(key=key, token_id=token, bidder=a["bidder"],
                                                 amount_wei=str(a["amount"]), block=block,
                                                 at=time.time()))
                conn.execute(update(auctions).where(auctions.c.token_id == token).values(
                    highest_wei=str(a["amount"]), bidder=a["bidder"],
                    bids=auctions.c.bids + 1))
        elif ev.name == "AuctionExtended":
            conn.execute(update(auctions).where(auctions.c.token_id == str(a["tokenId"]))
                         .values(end_time=int(a["endTime"])))
        elif ev.name == "AuctionSettled":
            token = str(a["tokenId"])
            amount, fee = int(a["amount"]), int(a["fee"])
            conn.execute(update(auctions).where(auctions.c.token_id == token).values(
                status="sold", sale_wei=str(amount - fee)))
            journal.add_entry(conn, f"sale:{key}", "sales", amount, block, tx, token)
            if fee:
                journal.add_entry(conn, f"auction_fee:{key}", "auction_fees", -fee, block, tx,
                                  token)
        elif ev.name in ("AuctionUnsold", "DeliveryFailed"):
            conn.execute(update(auctions).where(auctions.c.token_id == str(a["tokenId"]))
                         .values(status="unsold", sale_wei="0"))
        elif ev.name == "Invested":
            journal.add_entry(conn, f"loan:{key}", "investor_loans", int(a["amount"]), block,
                              tx, memo=a["investor"])
        elif ev.name == "PaymentDeferred" and a["to"] == robot:
            # The push to the robot failed; the money waits in the contract, not the wallet.
            journal.add_entry(conn, f"deferred:{key}", "sales", -int(a["amount"]), block, tx)
        elif ev.name == "Withdrawal" and a["to"] == robot:
            journal.add_entry(conn, f"withdrawal:{key}", "sales", int(a["amount"]), block, tx)
        elif ev.name == "OrderFulfilled":
            conn.execute(update(orders).where(orders.c.order_id == int(a["orderId"]))
                         .where(orders.c.status == "placed").values(status="fulfilled"))


def sync(journal: Journal, chain: Chain, c: Contracts, robot: str,
         to_block: int | None = None) -> int:
    """Read the contracts' events up to `to_block` (default: head) into the journal."""
    head = chain.block_number() if to_block is None else to_block
    start = int(journal.get("sync_block", c.deploy_block - 1)) + 1
    if head < start:
        return head
    found = []
    for contract in (c.house, c.pool, c.shop):
        found += EventDecoder(contract.abi).decode_all(
            chain.get_logs(start, head, address=contract.address))
    found.sort(key=lambda e: (e.log.block_number, e.log.log_index))
    with journal.tx() as conn:
        apply_events(journal, conn, found, robot)
        journal.put("sync_block", head, conn)
    return head


def balance_at(chain: Chain, address: str, block: int) -> int:
    w3 = getattr(chain, "w3", None)
    if w3 is None:
        return chain.balance(address)
    return int(w3.eth.get_balance(to_checksum_address(address), block))


def reconcile(journal: Journal, chain: Chain, c: Contracts, robot: str) -> dict[str, Any]:
    """Sync to the head, then compare opening + ledger with the wallet, to the wei.
    Call it holding the transaction lock, so no robot transaction is in flight."""
    block = sync(journal, chain, c, robot)
    opening = journal.get("opening")
    total = sum(int(e["amount_wei"]) for e in journal.entries() if e["block"] <= block)
    expected = int(opening["balance_wei"]) + total
    actual = balance_at(chain, robot, block)
    return {"block": block, "expected_wei": str(expected), "balance_wei": str(actual),
            "difference_wei": str(actual - expected), "ok": actual == expected}


def totals(journal: Journal) -> dict[str, int]:
    out = dict.fromkeys(CATEGORIES, 0)
    for e in journal.entries():
        out[e["category"]] = out.get(e["category"], 0) + int(e["amount_wei"])
    return out


# ---------------------------------------------------------------------- robot actions


def open_auction(runner: TxRunner, c: Contracts, token: int, cycle_id: int, reserve_wei: int,
                 duration_s: int) -> dict[str, Any]:
    chain = runner.chain

    def send() -> Receipt | None:
        if not _unset(chain.call(c.house.functions.lots(token))[0]):
            return None  # already on auction (our earlier attempt landed)
        return chain.transact(c.house.functions.createAuction(token, reserve_wei, duration_s),
                              sender=runner.sender)

    def done(conn: Connection, receipt: Receipt | None) -> dict[str, Any]:
        return {"token_id": str(token)}

    return runner.run(f"auction:{token}", "auction", cycle_id, send, done)


def settle(runner: TxRunner, c: Contracts, token: int, cycle_id: int) -> dict[str, Any]:
    chain = runner.chain

    def send() -> Receipt | None:
        lot = chain.call(c.house.functions.lots(token))
        if _unset(lot[0]):
            return None  # settled already (by us or by anyone)
        end = int(lot[1])
        if chain.now() < end and time.time() >= end and chain.network in ("embedded",
                                                                          "localhost"):
            chain.mine(1)  # a local chain makes blocks on demand: bring its clock to now
        if chain.now() < end:
            raise NotDue(f"auction of {token} ends at {end}")
        return chain.transact(c.house.functions.settle(token), sender=runner.sender)

    def done(conn: Connection, receipt: Receipt | None) -> dict[str, Any]:
        return {"token_id": str(token)}

    return runner.run(f"settle:{token}", "settle", cycle_id, send, done)


def repay(runner: TxRunner, journal: Journal, c: Contracts, token: str, cycle_id: int,
          share: float) -> dict[str, Any]:
    """Pay investors `share` of a sale, capped by what is still owed to them."""
    key = f"repay:{token}"
    planned = journal.get(f"plan:{key}")
    if planned is None:
        sale = journal.rows(auctions, auctions.c.token_id == token)
        net = int(sale[0]["sale_wei"] or 0) if sale else 0
        t = totals(journal)
        owed = t["investor_loans"] + t["investor_repayment"]
        planned = max(0, min(owed, int(net * share)))
        journal.put(f"plan:{key}", planned)
    if planned == 0:
        return {"repaid_wei": "0"}
    chain = runner.chain

    def send() -> Receipt | None:
        return chain.transact(c.pool.functions.repay(), sender=runner.sender, value=planned)

    def done(conn: Connection, receipt: Receipt | None) -> dict[str, Any]:
        if receipt is not None and receipt["status"] == 1:
            journal.add_entry(conn, f"repayment:{token}", "investor_repayment", -planned,
                              int(receipt["blockNumber"]), hex_hash(receipt["transactionHash"]),
                              token)
        return {"repaid_wei": str(planned)}

    return runner.run(key, "repay", cycle_id, send, done)


def consume_canvas(journal: Journal, conn: Connection, cycle_id: int) -> None:
    """Take a canvas from stock; when stock plus what is on order falls to the threshold,
    plan one order to refill — in the same SQL transaction, so each shortage is planned once."""
    row = conn.execute(select(supplies).where(supplies.c.name == "canvas")).mappings().one()
    stock = row["stock"] - 1
    on_order = row["on_order"]
    if stock + on_order <= row["threshold"]:
        qty = row["refill_to"] - stock - on_order
        conn.execute(insert(orders).values(key=f"order:canvas:cycle-{cycle_id}", supply="canvas",
                                           quantity=qty, status="planned", amount_wei="0",
                                           cycle_id=cycle_id))
        on_order += qty
    conn.execute(update(supplies).where(supplies.c.name == "canvas")
                 .values(stock=stock, on_order=on_order))


def place_orders(runner: TxRunner, journal: Journal, c: Contracts) -> int:
    """Send every planned supply order; returns how many were placed now."""
    chain = runner.chain
    placed = 0
    for row in journal.rows(orders, orders.c.status == "planned", order=orders.c.key):
        item = chain.call(c.shop.functions.items(CANVAS_ITEM))
        amount = int(item[1]) * row["quantity"]

        def send(qty: int = row["quantity"], amount: int = amount) -> Receipt:
            return chain.transact(c.shop.functions.order(CANVAS_ITEM, qty),
                                  sender=runner.sender, value=amount)

        def done(conn: Connection, receipt: Receipt | None, key: str = row["key"],
                 amount: int = amount) -> dict[str, Any]:
            if receipt is None or receipt["status"] != 1:
                return {}
            ev = EventDecoder(c.shop.abi).decode_all(receipt["logs"], ("OrderPlaced",))[0]
            value = int(ev.args["amount"])
            journal.add_entry(conn, f"consumables:{key}", "consumables", -value,
                              int(receipt["blockNumber"]),
                              hex_hash(receipt["transactionHash"]))
            conn.execute(update(orders).where(orders.c.key == key).values(
                status="placed", order_id=int(ev.args["orderId"]), amount_wei=str(value)))
            return {"order_id": int(ev.args["orderId"]), "amount_wei": str(value)}

        runner.run(row["key"], "order", row["cycle_id"], send, done)
        placed += 1
    return placed


def confirm_deliveries(runner: TxRunner, journal: Journal, c: Contracts) -> int:
    """Confirm orders the shop marked fulfilled: the canvases arrived, stock goes up."""
    chain = runner.chain
    confirmed = 0
    for row in journal.rows(orders, orders.c.status.in_(("placed", "fulfilled"))):
        status = int(chain.call(c.shop.functions.orders(row["order_id"]))[4])
        if status != ORDER_FULFILLED:
            continue

        def send(order_id: int = row["order_id"]) -> Receipt | None:
            if int(chain.call(c.shop.functions.orders(order_id))[4]) != ORDER_FULFILLED:
                return None  # confirmed already
            return chain.transact(c.shop.functions.confirmDelivery(order_id),
                                  sender=runner.sender)

        def done(conn: Connection, receipt: Receipt | None, key: str = row["key"],
                 qty: int = row["quantity"]) -> dict[str, Any]:
            conn.execute(update(orders).where(orders.c.key == key).values(status="delivered"))
            conn.execute(update(supplies).where(supplies.c.name == "canvas").values(
                stock=supplies.c.stock + qty, on_order=supplies.c.on_order - qty))
            return {"delivered": qty}

        runner.run(f"deliver:{row['order_id']}", "deliver", row["cycle_id"], send, done)
        confirmed += 1
    return confirmed


# ---------------------------------------------------------------------- simulated market


@dataclass
class SimMarket:
    """Other people on a local chain: collectors who bid, a shop that ships, investors.

    Only on dev chains, where the daemon holds every dev account's key. Accounts: 0 is
    the deployer and the shop, 1 the robot, 2-7 collectors, 8-9 investors."""

    chain: Chain
    contracts: Contracts
    bid_chance: float = 0.5
    rng: random.Random = field(default_factory=lambda: random.Random(0))

    @property
    def collectors(self) -> list[str]:
        return self.chain.accounts[2:8]

    def seed(self, journal: Journal, time_buffer_s: int) -> None:
        """Once per chain: two investors lend, the auction time buffer suits short auctions."""
        c = self.contracts
        if journal.get("sim_seeded"):
            return
        if int(self.chain.call(c.pool.functions.totalLent())) == 0:
            for investor in self.chain.accounts[8:10]:
                self.chain.transact(c.pool.functions.invest(), sender=investor, value=10**18)
        cfg = self.chain.call(c.house.functions.config())
        if int(cfg[3]) != time_buffer_s:
            self.chain.transact(c.house.functions.setAuctionParams(int(cfg[2]), time_buffer_s),
                                sender=self.chain.accounts[0])
        journal.put("sim_seeded", True)

    def tick(self, journal: Journal) -> None:
        """Maybe bid on each open auction; ship each order placed."""
        c = self.contracts
        now = time.time()
        for row in journal.rows(auctions, auctions.c.status == "open"):
            if row["end_time"] - now < 3 or self.rng.random() > self.bid_chance:
                continue
            token = int(row["token_id"])
            lot = self.chain.call(c.house.functions.lots(token))
            if _unset(lot[0]) or self.chain.now() >= int(lot[1]) - 2:
                continue
            top = self.chain.call(c.house.functions.highestBid(token))[0]
            bidder = self.rng.choice([a for a in self.collectors if a != top])
            amount = int(self.chain.call(c.house.functions.minimumBid(token)))
            amount += amount * self.rng.randint(0, 20) // 100
            try:
                self.chain.transact(c.house.functions.bid(token), sender=bidder, value=amount)
            except ChainError:
                continue  # outbid or ended meanwhile: a real collector shrugs too
        for row in journal.rows(orders, orders.c.status == "placed"):
            order = self.chain.call(c.shop.functions.orders(row["order_id"]))
            if int(order[4]) == 1:
                self.chain.transact(c.shop.functions.markFulfilled(row["order_id"]),
                                    sender=self.chain.accounts[0])
