"""Simulated bidders and a simulated supply shop, so the economy runs without humans.

Only on chains whose keys are public dev keys (embedded, revm, a local Hardhat node): the
bidders are funded dev accounts and the shop is the deployer, which owns the catalogue.
Bidders hold private valuations; "early" bidders bid at random times, "snipers" wait for
the last seconds, inside the time buffer, so their bids extend the auction, and whoever is
outbid may answer before the new end.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from services.chain.backends import HARDHAT_CHAIN_ID
from services.chain.errors import ContractReverted
from services.chain.events import EventDecoder
from services.chain.protocol import Chain
from services.economy.core import Contracts
from services.economy.errors import EconomyError

LOCAL = ("embedded", "revm", "localhost")
FIRST_BIDDER = 3  # dev accounts: 0 deployer (and shop), 1 robot, 2 investor


class MarketRefused(EconomyError):
    """The simulated market runs on local dev chains only."""


def require_local(chain: Chain) -> None:
    """Refuse any chain that is not a local dev chain."""
    if chain.network not in LOCAL or (chain.network == "localhost"
                                      and chain.chain_id != HARDHAT_CHAIN_ID):
        raise MarketRefused(f"the simulated market only runs on {', '.join(LOCAL)} dev chains, "
                            f"not {chain.network} (chain id {chain.chain_id})")


@dataclass(frozen=True)
class Bidder:
    """A simulated collector: a funded dev account and what a painting is worth to it."""

    address: str
    valuation_wei: int
    style: str  # early | sniper


def make_bidders(chain: Chain, rng: random.Random, count: int, mean_wei: int,
                 snipers: int = 1) -> list[Bidder]:
    """`count` bidders from the dev accounts, valuations log-normal around `mean_wei`."""
    require_local(chain)
    accounts = chain.accounts[FIRST_BIDDER:FIRST_BIDDER + count]
    if len(accounts) < count:
        raise MarketRefused(f"only {len(accounts)} dev accounts are free for bidders")
    return [Bidder(a, int(mean_wei * rng.lognormvariate(0, 0.35)),
                   "sniper" if i < snipers else "early") for i, a in enumerate(accounts)]


@dataclass(frozen=True)
class BidPlaced:
    bidder: str
    amount_wei: int
    time: int
    extended: bool


def run_auction(chain: Chain, contracts: Contracts, token_id: int, bidders: list[Bidder],
                rng: random.Random) -> list[BidPlaced]:
    """Play an open auction to its end in chain time; returns the bids placed."""
    require_local(chain)
    house = contracts.auction
    seller, end, _raise, buffer, _fee = chain.call(house.functions.lots(token_id))
    if int(seller, 16) == 0:
        raise EconomyError(f"no open auction for token {token_id}")
    start = chain.now()
    plan: list[tuple[int, Bidder]] = []
    for b in bidders:
        if b.style == "early":
            plan.append((start + rng.randint(1, max(1, int((end - start) * 0.8))), b))
        else:
            plan.append((int(end) - rng.randint(1, max(1, int(buffer) // 3)), b))
    placed: list[BidPlaced] = []
    while plan:
        plan.sort(key=lambda p: p[0])
        at, bidder = plan.pop(0)
        if at > chain.now():
            chain.increase_time(at - chain.now())
        _s, end, *_ = chain.call(house.functions.lots(token_id))
        if chain.now() >= int(end):
            break
        top_bidder, _top = chain.call(house.functions.highestBid(token_id))
        if top_bidder == bidder.address:
            continue
        minimum = int(chain.call(house.functions.minimumBid(token_id)))
        if minimum > bidder.valuation_wei:
            continue
        # Collectors jump: the minimum plus up to a quarter more, never above their valuation.
        amount = min(bidder.valuation_wei, minimum + minimum * rng.randint(0, 25) // 100)
        try:
            receipt = chain.transact(house.functions.bid(token_id), sender=bidder.address,
                                     value=amount)
        except ContractReverted:
            continue
        extended = any(len(lg.topics) and lg.topics[0] == _topic(house, "AuctionExtended")
                       for lg in receipt["logs"])
        placed.append(BidPlaced(bidder.address, amount, chain.now(), extended))
        if previous := (top_bidder if int(top_bidder, 16) else None):
            # The outbid collector may answer before the (possibly new) end.
            loser = next((b for b in bidders if b.address == previous), None)
            _s, new_end, *_ = chain.call(house.functions.lots(token_id))
            if loser is not None and int(new_end) - chain.now() > 1:
                plan.append((int(new_end) - rng.randint(1, int(new_end) - chain.now() - 1),
                             loser))
    _s, end, *_ = chain.call(house.functions.lots(token_id))
    if chain.now() < int(end):
        chain.increase_time(int(end) - chain.now())
    return placed


def _topic(contract: Any, name: str) -> bytes:
    return EventDecoder(contract.abi).topic(name)


def setup_local_market(chain: Chain, contracts: Contracts, fee_bps: int, time_buffer_s: int,
                       items: dict[str, int], prices: dict[str, int]) -> None:
    """As the deployer (the owner on dev chains): the auction fee and time buffer, and the
    supply catalogue (the deployer is the shop)."""
    require_local(chain)
    house = contracts.auction.functions
    owner = contracts.deployer
    _recipient, fee, min_raise, buffer = chain.call(house.config())
    if int(fee) != fee_bps:
        chain.transact(house.setFee(owner, fee_bps), sender=owner)
    if int(buffer) != time_buffer_s:
        chain.transact(house.setAuctionParams(int(min_raise), time_buffer_s), sender=owner)
    for kind, item in items.items():
        shop_addr, price, _bond = chain.call(contracts.shop.functions.items(item))
        if int(price) != prices[kind] or shop_addr != owner:
            chain.transact(contracts.shop.functions.setItem(item, owner, prices[kind], 0),
                           sender=owner)


def fulfil_orders(chain: Chain, contracts: Contracts) -> list[int]:
    """The simulated shop ships every placed order it is the shop of."""
    require_local(chain)
    shop = contracts.shop
    done = []
    for e in chain.events(shop, from_block=contracts.start_block, names=("OrderPlaced",)):
        oid = e.args["orderId"]
        o = chain.call(shop.functions.orders(oid))
        if int(o[4]) == 1 and o[2] == contracts.deployer:  # Status.Placed
            chain.transact(shop.functions.markFulfilled(oid, oid.to_bytes(32, "big")),
                           sender=contracts.deployer, value=int(o[6]))
            done.append(oid)
    return done


def invest(chain: Chain, contracts: Contracts, investor: str, amount_wei: int) -> None:
    """A dev account lends to the robot in the round open now, named so that the loan reverts
    rather than land in another round."""
    require_local(chain)
    round_id = int(chain.call(contracts.pool.functions.openRoundId()))
    chain.transact(contracts.pool.functions.invest(round_id), sender=investor, value=amount_wei)
