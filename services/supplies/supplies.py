"""Inventory = starting stock + delivered orders − what each painting used.

Consumption is off chain (recorded once per painting); deliveries are on chain (an order of the
robot's confirmed or released), so a reorg rolls a restock back with its event. A supply at or
below its threshold is ordered through SupplyShop unless an order for it is still open; the
order's intent is stored before it is sent, so a crash never orders twice for one shortage.
A wallet that cannot pay price plus gas orders nothing and says so; the next call after
income arrives orders.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from typing import Any

from services.economy.core import Economy
from services.economy.errors import EconomyError
from vision.plan import Plan

log = logging.getLogger(__name__)

ORDER_GAS = 150_000  # above what SupplyShop.order uses (≈ 100 k), to judge the wallet
OPEN, CLOSED = ("placed", "fulfilled", "disputed"), ("completed", "refunded", "resolved")
SHOP_EVENTS = ("OrderPlaced", "OrderFulfilled", "DeliveryConfirmed", "PaymentReleased",
               "OrderRefunded", "OrderDisputed", "DisputeResolved")


def kind_of(supply: str) -> str:
    """`paint:<name>` → paint; canvas, brush as they are."""
    return supply.split(":", 1)[0]


def consumption_of(plan: Plan, paint_ml_per_mm2: float, brush_life_m: float) -> dict[str, float]:
    """What painting `plan` uses: one canvas, paint per colour (ml, from painted length ×
    brush width), brush wear (brushes, from painted length)."""
    used: dict[str, float] = {"canvas": 1.0}
    length = 0.0
    for stroke in plan.strokes:
        mm = stroke.length_mm()
        length += mm
        name = f"paint:{plan.palette[stroke.color].name}"
        used[name] = used.get(name, 0.0) + mm * stroke.width_mm * paint_ml_per_mm2
    used["brush"] = length / 1000.0 / brush_life_m
    return {k: round(v, 6) for k, v in used.items()}


def consume_painting(eco: Economy, painting_id: str, plan: Plan) -> dict[str, float]:
    """Record what one painting used (once per painting id); returns it."""
    s = eco.settings
    used = consumption_of(plan, s.supplies_paint_ml_per_mm2, s.supplies_brush_life_m)
    eco.store.add_consumption(painting_id, used)
    inventory(eco, sync=False)  # kept for readers in other processes
    return eco.store.consumption()[painting_id]


@dataclass(frozen=True)
class Order:
    """One of the wallet's supply orders, as the chain tells it."""

    order_id: int
    item_id: int
    quantity: int
    amount_wei: int
    status: str
    supply: str | None
    placed_tx: str
    block: int
    deadline: int  # the shop must fulfil by then, else the robot takes its refund

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "amount_wei": str(self.amount_wei)}


def orders(eco: Economy) -> list[Order]:
    """The wallet's orders from stored SupplyShop events, each with the supply it was for."""
    by_tx = {a.tx_hash: a.detail.get("supply") for a in eco.store.actions("order") if a.tx_hash}
    items = {v: k for k, v in eco.settings.supplies_items.items() if k != "paint"}
    out: dict[int, dict[str, Any]] = {}
    status = {"OrderFulfilled": "fulfilled", "DeliveryConfirmed": "completed",
              "PaymentReleased": "completed", "OrderRefunded": "refunded",
              "OrderDisputed": "disputed", "DisputeResolved": "resolved"}
    for e in eco.store.events(SHOP_EVENTS, eco.contracts.shop.address):
        a = e["args"]
        if e["name"] == "OrderPlaced":
            if a["buyer"] == eco.wallet:
                out[a["orderId"]] = {"order_id": a["orderId"], "item_id": a["itemId"],
                                     "quantity": a["quantity"], "amount_wei": a["amount"],
                                     "status": "placed", "placed_tx": e["tx_hash"],
                                     "block": e["block"], "deadline": a["deadline"],
                                     "supply": by_tx.get(e["tx_hash"]) or items.get(a["itemId"])}
        elif a["orderId"] in out:
            out[a["orderId"]]["status"] = status[e["name"]]
    return [Order(**o) for o in out.values()]


def _unit(eco: Economy, supply: str) -> float:
    return eco.settings.supplies_paint_unit_ml if kind_of(supply) == "paint" else 1.0


def inventory(eco: Economy, sync: bool = True) -> dict[str, float]:
    """Stock per supply now: start + deliveries − consumption (negative means a stockout).
    The robot's store keeps the last one computed, with its block (see `kept_inventory`)."""
    if sync:
        eco.sync()
    stock = _stock(eco)
    kept = {"block": eco.synced_block, "stock": stock}
    if not eco.store.readonly and eco.store.get_meta("inventory") != kept:
        with eco.store.tx() as db:
            eco.store.set_meta(db, "inventory", kept)
    return stock


def kept_inventory(eco: Economy) -> tuple[dict[str, float], int] | None:
    """The inventory the robot last computed over this store, and the block it had read by
    then; None before its first. Another process shows the robot's stock with it, computed
    with the robot's configuration rather than its own."""
    kept = eco.store.get_meta("inventory")
    return None if kept is None else (kept["stock"], int(kept["block"]))


def _stock(eco: Economy) -> dict[str, float]:
    s = eco.settings
    stock: dict[str, float] = {k: float(v) for k, v in s.supplies_start.items()}
    for used in eco.store.consumption().values():
        for supply, amount in used.items():
            if supply not in stock:
                stock[supply] = s.supplies_paint_ml_start if kind_of(supply) == "paint" else 0.0
            stock[supply] -= amount
    for order in orders(eco):
        if order.status == "completed" and order.supply:
            stock.setdefault(order.supply, 0.0)
            stock[order.supply] += order.quantity * _unit(eco, order.supply)
    return {k: round(v, 6) for k, v in sorted(stock.items())}


def stockouts(eco: Economy) -> list[str]:
    """Supplies that went below zero: a painting used what the robot did not have."""
    return [k for k, v in inventory(eco, sync=False).items() if v < 0]


@dataclass(frozen=True)
class Reorder:
    """What `reorder_if_needed` did for one supply."""

    supply: str
    status: str  # ordered, open (an order is on its way), insufficient_funds, price_above_cap
    quantity: int
    cost_wei: int
    message: str
    order_tx: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "cost_wei": str(self.cost_wei)}


def _gas_price_ceiling(eco: Economy) -> int:
    """What a transaction may pay per gas now: twice the base fee plus the tip the chain
    layer adds (1 gwei on a node, none on the embedded chain)."""
    base = eco.chain.block().base_fee
    return 2 * base + (0 if eco.chain.network in ("embedded", "revm") else 10**9)


def _shortages(eco: Economy, stock: dict[str, float]) -> list[tuple[str, float]]:
    s = eco.settings
    out = []
    for supply, qty in stock.items():
        kind = kind_of(supply)
        if kind in s.supplies_thresholds and qty <= s.supplies_thresholds[kind]:
            out.append((supply, s.supplies_targets[kind] - qty))
    return out


def _find_order(eco: Economy, item: int, from_block: int, claimed: set[str]) -> str | None:
    for e in eco.chain_events(eco.contracts.shop, ("OrderPlaced",), from_block):
        a = e["args"]
        if a["buyer"] == eco.wallet and a["itemId"] == item and e["tx_hash"] not in claimed:
            return e["tx_hash"]
    return None


def _resolve_intents(eco: Economy) -> None:
    """An order sent before a crash or a receipt timeout is on chain (or in a node's pool) but
    not in the store: settle its journaled transaction or adopt the order found, so its
    supply is known and its shortage counts as ordered."""
    for action in eco.store.actions("order"):
        if action.status != "intent":
            continue
        item = eco.settings.supplies_items[kind_of(action.detail["supply"])]
        eco.resume(action, lambda start, claimed, item=item: _find_order(eco, item, start,
                                                                          claimed))


def _ordered(eco: Economy) -> set[str]:
    """Supplies with an order on its way: open in the store, or mined but not confirmed yet
    (the store follows the chain `confirmations` blocks behind). A done order is on its way
    until the store has it: the sync makes one a reorg dropped an intent again, and a node
    that shows no receipt for it (lagging, pruned) is no reason to order twice."""
    listed = orders(eco)
    out = {o.supply for o in listed if o.status in OPEN and o.supply}
    stored = {o.placed_tx for o in listed}
    for action in eco.store.actions("order"):
        if action.status == "done" and action.tx_hash and action.tx_hash not in stored:
            out.add(action.detail["supply"])
    return out


def reorder_if_needed(eco: Economy) -> list[Reorder]:
    """Order every supply at or below its threshold that has no open order (see module)."""
    _resolve_intents(eco)
    refund_overdue(eco)
    stock = inventory(eco)
    open_for = _ordered(eco)
    shop = eco.contracts.shop
    done: list[Reorder] = []
    for supply, missing in _shortages(eco, stock):
        if supply in open_for:
            done.append(Reorder(supply, "open", 0, 0, "an order is on its way"))
            continue
        item = eco.settings.supplies_items.get(kind_of(supply))
        if item is None:
            raise EconomyError(f"no SupplyShop item configured for {kind_of(supply)}")
        _shop, price, _bond = eco.call(shop.functions.items(item))
        if int(price) == 0:
            raise EconomyError(f"SupplyShop has no item {item} ({supply}) in its catalogue")
        quantity = max(1, math.ceil(missing / _unit(eco, supply)))
        cap = eco.settings.supplies_max_price_wei.get(kind_of(supply))
        if cap is not None and int(price) > cap:
            message = (f"SupplyShop asks {int(price)} wei per {supply}, above the cap of "
                       f"{cap} wei (supplies_max_price_wei); not ordering")
            log.warning(message)
            done.append(Reorder(supply, "price_above_cap", quantity, int(price) * quantity,
                                message))
            continue
        cost = int(price) * quantity
        gas = ORDER_GAS * _gas_price_ceiling(eco)
        balance = eco.chain.balance(eco.wallet)
        if balance < cost + gas:
            message = (f"cannot order {quantity} × {supply}: it costs {cost} wei + up to {gas} "
                       f"wei gas, the wallet holds {balance} wei; ordering once income arrives")
            done.append(Reorder(supply, "insufficient_funds", quantity, cost, message))
            continue
        serial = sum(1 for a in eco.store.actions("order")
                     if a.detail.get("supply") == supply and a.status == "done")
        key = f"order:{supply}:{serial + 1}"

        # The terms in force now (shop, price, bond, windows): if the owner changes them before
        # the order is mined, it reverts instead of binding the robot to other terms.
        terms = eco.call(shop.functions.termsOf(item))
        fn = shop.functions.order(item, quantity, terms)
        action = eco.once(key, "order",
                          lambda j, fn=fn, cost=cost: eco.transact(fn, value=cost, journal=j),
                          lambda start, claimed, item=item: _find_order(eco, item, start, claimed),
                          {"supply": supply, "quantity": quantity, "cost_wei": str(cost)})
        done.append(Reorder(supply, "ordered", quantity, cost, f"ordered {quantity} × {supply}",
                            action.tx_hash))
        open_for.add(supply)
    eco.sync()
    return done


def refund_overdue(eco: Economy) -> list[int]:
    """Take back the payment of every order the shop did not fulfil by its deadline (once
    each), so its shortage can be ordered again; returns the refunded order ids."""
    eco.sync()
    shop = eco.contracts.shop
    now = eco.chain.now()
    refunded = []
    for order in orders(eco):
        if order.status != "placed" or now < order.deadline:
            continue
        oid = order.order_id

        def find(from_block: int, claimed: set[str], oid: int = oid) -> str | None:
            for e in eco.chain_events(shop, ("OrderRefunded",), from_block):
                if e["args"]["orderId"] == oid:
                    return e["tx_hash"]
            return None

        eco.once(f"refund:{oid}", "refund",
                 lambda j, oid=oid: eco.transact(shop.functions.refund(oid), journal=j), find,
                 {"order_id": oid, "supply": order.supply})
        refunded.append(oid)
    if refunded:
        eco.sync()
    return refunded


def confirm_deliveries(eco: Economy) -> list[int]:
    """Confirm every order of the wallet the shop marked fulfilled (the delivery restocks)."""
    eco.sync()
    shop = eco.contracts.shop
    confirmed = []
    for order in orders(eco):
        if order.status != "fulfilled":
            continue
        oid = order.order_id

        def find(from_block: int, claimed: set[str], oid: int = oid) -> str | None:
            for e in eco.chain_events(shop, ("DeliveryConfirmed", "PaymentReleased"), from_block):
                if e["args"]["orderId"] == oid:
                    return e["tx_hash"]
            return None

        eco.once(f"confirm:{oid}", "confirm_delivery",
                 lambda j, oid=oid: eco.transact(shop.functions.confirmDelivery(oid), journal=j),
                 find,
                 {"order_id": oid})
        confirmed.append(oid)
    eco.sync()
    return confirmed


def supplies_status(eco: Economy, sync: bool = True, source: str = "robot") -> dict[str, Any]:
    """Inventory, thresholds and the wallet's orders. `source`: `robot` computes the
    inventory (the robot's own economy), `kept` shows what the robot recorded in this store
    (another process), `none` leaves it out (a machine without the robot's store)."""
    if sync:
        eco.sync()
    s = eco.settings
    stock, block = None, eco.synced_block
    if source == "robot":
        stock = inventory(eco, sync=False)
    elif source == "kept":
        stock, block = kept_inventory(eco) or (None, block)
    return {
        "wallet": eco.wallet, "shop": eco.contracts.shop.address,
        "inventory": stock, "as_of_block": block,
        "paintings_recorded": len(eco.store.consumption()),
        "thresholds": dict(s.supplies_thresholds), "targets": dict(s.supplies_targets),
        "orders": [o.to_dict() for o in orders(eco)],
        "order_supplies_known": source != "none",
    }
