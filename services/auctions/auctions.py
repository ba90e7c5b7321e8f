"""Auctions on AuctionHouse, derived from its events and acted on exactly once.

Every listing of a token is folded from stored events (created, bids, extensions, the end),
so the status needs no robot action to show a stranger's bid, and a reorg rolls it back with
the events. Actions check the chain before sending: a lot that is open is not opened again, a
lot that is gone is not settled again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from services.chain.errors import ContractReverted
from services.economy.core import Economy
from services.economy.errors import EconomyError

ZERO = "0x0000000000000000000000000000000000000000"
AUCTION_EVENTS = ("AuctionCreated", "AuctionBid", "AuctionExtended", "AuctionSettled",
                  "AuctionUnsold", "AuctionCanceled")


@dataclass
class Listing:
    """One auction of one token."""

    token_id: int
    listing: int
    seller: str
    reserve_wei: int
    end_time: int
    opened_block: int
    opened_tx: str
    state: str = "open"  # open, ended (due to settle), sold, unsold, canceled
    highest_bid_wei: int = 0
    highest_bidder: str | None = None
    bids: list[dict[str, Any]] = field(default_factory=list)
    extensions: int = 0
    fee_wei: int = 0
    closed_tx: str | None = None

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["token_id"] = str(self.token_id)
        for key in ("reserve_wei", "highest_bid_wei", "fee_wei"):
            doc[key] = str(doc[key])
        doc["bids"] = [{**b, "amount_wei": str(b["amount_wei"])} for b in self.bids]
        return doc


def fold_listings(events: list[dict[str, Any]], now: int) -> dict[int, list[Listing]]:
    """Every listing per token, from AuctionHouse events in chain order."""
    out: dict[int, list[Listing]] = {}
    for e in events:
        a, name = e["args"], e["name"]
        if name not in AUCTION_EVENTS:
            continue
        token = a["tokenId"]
        if name == "AuctionCreated":
            listings = out.setdefault(token, [])
            listings.append(Listing(token, len(listings) + 1, a["seller"], a["reservePrice"],
                                    a["endTime"], e["block"], e["tx_hash"]))
            continue
        if token not in out:
            continue
        lot = out[token][-1]
        if name == "AuctionBid":
            lot.highest_bid_wei, lot.highest_bidder = a["amount"], a["bidder"]
            lot.bids.append({"bidder": a["bidder"], "amount_wei": a["amount"],
                             "block": e["block"], "time": e["time"], "tx_hash": e["tx_hash"]})
        elif name == "AuctionExtended":
            lot.end_time = a["endTime"]
            lot.extensions += 1
        else:
            lot.state = {"AuctionSettled": "sold", "AuctionUnsold": "unsold",
                         "AuctionCanceled": "canceled"}[name]
            lot.fee_wei = a.get("fee", 0)
            lot.closed_tx = e["tx_hash"]
    for listings in out.values():
        lot = listings[-1]
        if lot.state == "open" and now >= lot.end_time:
            lot.state = "ended"
    return out


def listings(eco: Economy, sync: bool = True) -> dict[int, list[Listing]]:
    """Listings of the robot's auctions (or of every seller when the wallet is not the robot);
    a running lot's end is the house's (`endTimeOf`), which a pause moves past its events'."""
    if sync:
        eco.sync()
    events = eco.store.events(AUCTION_EVENTS, eco.contracts.auction.address)
    now = eco.chain.now()
    out = fold_listings(events, now)
    for token, history in out.items():
        lot = history[-1]
        if lot.state in ("open", "ended"):
            seller, end_time = _open_lot(eco, token)
            if seller != ZERO and end_time > lot.end_time:
                lot.end_time = end_time
                lot.state = "open" if now < end_time else "ended"
    return out


def _open_lot(eco: Economy, token_id: int) -> tuple[str, int]:
    """Seller and wall-clock end of the open auction (a pause moves the end later)."""
    house = eco.contracts.auction.functions
    seller, *_ = eco.call(house.lots(token_id))
    if seller == ZERO:
        return seller, 0
    try:
        return seller, int(eco.call(house.endTimeOf(token_id)))
    except ContractReverted:
        # Settled between the two reads (anyone may settle, the robot too): no open lot.
        return ZERO, 0


def _history(eco: Economy, token_id: int) -> list[Listing]:
    """A token's listings up to the head: the store's, plus what the node has that is not yet
    `confirmations` deep (the robot's own action of a moment ago, say)."""
    house = eco.contracts.auction
    events = (eco.store.events(AUCTION_EVENTS, house.address)
              + eco.chain_events(house, AUCTION_EVENTS, eco.synced_block + 1))
    return fold_listings(events, eco.chain.now()).get(token_id, [])


def open_auction(eco: Economy, token_id: int, reserve_wei: int | None = None) -> Listing:
    """Open an auction of a token the robot holds (reserve and duration from the settings);
    an auction already open for it, or the sale that ended its last one, is returned as is."""
    eco.sync()
    current = _history(eco, token_id)
    seller, _ = _open_lot(eco, token_id)
    if seller != ZERO:
        return current[-1]
    if current and current[-1].state == "sold":
        return current[-1]  # sold already (a rerun after a crash): nothing left to open
    owner = eco.call(eco.contracts.nft.functions.ownerOf(token_id))
    if owner != eco.wallet:
        raise EconomyError(f"token {token_id} belongs to {owner}, not the robot {eco.wallet}")
    reserve = reserve_wei or eco.settings.auction_reserve_wei
    number = len(current) + 1
    auction = eco.contracts.auction
    fn = auction.functions.createAuction(token_id, reserve, eco.settings.auction_duration_s)

    def find(from_block: int, claimed: set[str]) -> str | None:
        for e in eco.chain_events(auction, ("AuctionCreated",), from_block):
            if e["args"]["tokenId"] == token_id and e["tx_hash"] not in claimed:
                return e["tx_hash"]
        return None

    eco.once(f"auction:{token_id}:{number}", "open_auction",
             lambda j: eco.transact(fn, journal=j), find,
             {"token_id": str(token_id), "reserve_wei": str(reserve)})
    eco.sync()
    return _history(eco, token_id)[-1]


def settle(eco: Economy, token_id: int) -> Listing | None:
    """Settle a token's auction once it has ended; None when none is open."""
    eco.sync()
    lots = _history(eco, token_id)
    seller, end_time = _open_lot(eco, token_id)
    if seller == ZERO or not lots:
        return lots[-1] if lots else None
    if eco.chain.now() < end_time:
        raise EconomyError(f"the auction of token {token_id} ends at {end_time}; "
                           f"chain time is {eco.chain.now()}")
    auction = eco.contracts.auction

    def find(from_block: int, claimed: set[str]) -> str | None:
        for e in eco.chain_events(auction, ("AuctionSettled", "AuctionUnsold"), from_block):
            if e["args"]["tokenId"] == token_id:
                return e["tx_hash"]
        return None

    try:
        eco.once(f"settle:{token_id}:{lots[-1].listing}", "settle",
                 lambda j: eco.transact(auction.functions.settle(token_id), journal=j), find,
                 {"token_id": str(token_id)})
    except EconomyError:
        # Anyone may settle: if someone else did it first, the auction is settled all the same.
        if _open_lot(eco, token_id)[0] != ZERO:
            raise
    eco.sync()
    return _history(eco, token_id)[-1]


def settle_due(eco: Economy) -> list[Listing]:
    """Settle every auction of the robot whose end has passed (by the house's clock, so an
    auction a pause moved later is left for later, not in the way of the others)."""
    out = []
    for token, lots in listings(eco).items():
        if lots[-1].state == "ended" and lots[-1].seller == eco.wallet:
            settled = settle(eco, token)
            if settled is not None:
                out.append(settled)
    return out


def relist_reserve(history: list[Listing], base_reserve: int, max_relists: int,
                   discount_bps: int) -> int | None:
    """The policy: an unsold painting is listed again with the reserve cut by a share, at most
    `max_relists` times; None means keep it."""
    if not history or history[-1].state != "unsold":
        return None
    unsold = sum(1 for lot in history if lot.state == "unsold")
    if unsold > max_relists:
        return None
    reserve = base_reserve
    for _ in range(unsold):
        reserve = reserve * (10_000 - discount_bps) // 10_000
    return max(reserve, 1)


def relist_unsold(eco: Economy) -> list[Listing]:
    """Re-list the robot's unsold paintings by the policy in the settings."""
    out = []
    s = eco.settings
    for token, history in listings(eco).items():
        if history[-1].seller != eco.wallet:
            continue
        base = history[0].reserve_wei
        reserve = relist_reserve(history, base, s.auction_relist_max,
                                 s.auction_relist_discount_bps)
        if reserve is not None:
            out.append(open_auction(eco, token, reserve))
    return out


def kept(eco: Economy) -> list[int]:
    """Tokens the policy keeps: unsold more often than it allows re-listings."""
    s = eco.settings
    return [token for token, history in listings(eco, sync=False).items()
            if history[-1].state == "unsold" and history[-1].seller == eco.wallet
            and relist_reserve(history, history[0].reserve_wei, s.auction_relist_max,
                               s.auction_relist_discount_bps) is None]


def auction_status(eco: Economy, token_id: int | None = None) -> dict[str, Any]:
    """Status of one token's auctions or of all, as JSON-ready data."""
    lots = listings(eco)
    if token_id is not None:
        if token_id not in lots:
            raise EconomyError(f"token {token_id} was never auctioned on "
                               f"{eco.contracts.auction.address}; `gaka auction status` "
                               "lists the auctions")
        lots = {token_id: lots[token_id]}
    keep = set(kept(eco))
    tokens = []
    for token, history in lots.items():
        latest = history[-1].to_dict()
        tokens.append({"token_id": str(token), "state": latest["state"],
                       "kept": token in keep, "latest": latest,
                       "listings": [lot.to_dict() for lot in history]})
    return {"auction_house": eco.contracts.auction.address, "chain_time": eco.chain.now(),
            "block": eco.chain.block_number(), "auctions": tokens}
