"""Random sequences of everything the four contracts allow, played by honest and hostile actors,
with every invariant checked after every step.

Hostile actors: bidders that refuse ETH, burn gas, refuse ERC-721 tokens, re-enter, or accept
their win only when they like (ConditionalBidder); an owner that changes fees, auction terms,
the catalogue and the windows while auctions and orders run (also right before an order is
mined), and pauses the house (auctions resume with the time they had left); buyers that dispute;
investors that lend just before a repayment or name a round that is not the open one; ETH forced
into every contract with
SELFDESTRUCT. Invariants: ETH is conserved across all accounts and contracts; each contract
holds exactly what it owes plus forced ETH (nothing stuck); every token has exactly one owner,
the one the rules say; each investor's share is its exact pro-rata share within 1 wei; every
order ends paid or refunded (driven to its end when an example finishes).

Runs on the in-process revm chain of services.chain: the contracts, the deploy manifest and the
deploy code are the same as on every other chain, and the test controls the clock, so hypothesis
can replay an example exactly."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import pytest
from eth_abi import encode
from eth_utils import keccak
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from services.chain.backends import ChainSpec, open_chain
from services.chain.compiler import Artifact
from services.chain.errors import ContractReverted
from services.chain.protocol import Chain
from tests.contracts.conftest import deploy_suite, reverted_with

MIN_STEPS = 2_000
# Per example caps keep the set of tokens and orders read by every invariant check small.
MAX_OPEN_LOTS, MAX_TOKENS, MAX_ORDERS = 3, 8, 10
SCALE = 10**36
DAY = 86_400
MAX_PAUSE = 3 * DAY  # AuctionHouse.MAX_PAUSE
# SupplyShop.Status
PLACED, FULFILLED, COMPLETED, REFUNDED, DISPUTED, RESOLVED = 1, 2, 3, 4, 5, 6


@dataclass
class Hostiles:
    """Attacker contracts, driven by `controller` through their `execute`."""

    controller: str
    reverting: str
    griefer: str
    rejecting: str
    reentrant: str
    conditional: str

    @property
    def all(self) -> set[str]:
        return {self.reverting, self.griefer, self.rejecting, self.reentrant, self.conditional}

    def can_receive_eth(self, account: str) -> bool:
        return account not in (self.reverting, self.griefer)


@dataclass
class Lot:
    seller: str
    end: int  # on the auction clock
    min_raise_bps: int
    time_buffer: int
    fee_bps: int
    fee_to: str
    bidder: str | None = None
    amount: int = 0  # reserve until the first bid


@dataclass
class Order:
    buyer: str
    shop: str
    amount: int
    bond: int
    deadline: int
    confirm_window: int
    arbitration_window: int
    status: int = PLACED


@dataclass
class Round:
    id: int
    cap: int
    deadline: int
    raised: int = 0


@dataclass
class PauseModel:
    """The auction house's pause: start of the current one (0: none), seconds paused before it,
    end of the last one."""

    at: int = 0
    paused_for: int = 0
    resumed: int = 0

    def fold(self, t: int) -> None:
        """A pause past MAX_PAUSE ended by itself at its expiry."""
        if self.at and t >= self.at + MAX_PAUSE:
            self.paused_for += MAX_PAUSE
            self.at, self.resumed = 0, self.at + MAX_PAUSE

    def paused(self, t: int) -> bool:
        return bool(self.at) and t < self.at + MAX_PAUSE

    def clock(self, t: int) -> int:
        """The auction clock at wall time t: time not spent paused."""
        return t - self.paused_for - (min(t - self.at, MAX_PAUSE) if self.at else 0)


@dataclass
class Ledger:
    """What the test expects the contracts to hold."""

    lots: dict[int, Lot] = field(default_factory=dict)
    owners: dict[int, str] = field(default_factory=dict)
    sealed: set[int] = field(default_factory=set)  # sold, then came back: metadata frozen
    house_pending: dict[str, int] = field(default_factory=dict)
    shop_pending: dict[str, int] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    lent: dict[str, int] = field(default_factory=dict)  # in closed rounds
    pending: dict[str, int] = field(default_factory=dict)  # in the round not closed yet
    owed: dict[str, Fraction] = field(default_factory=dict)  # exact share not withdrawn
    round: Round | None = None
    rounds: int = 0  # rounds opened so far
    forced: dict[str, int] = field(default_factory=dict)  # ETH forced into each contract


@dataclass
class Counter:
    """Invariant checks and examples run: steps = checks - examples (one check after init)."""

    checks: int = 0
    examples: int = 0

    @property
    def steps(self) -> int:
        return self.checks - self.examples


def deploy_hostiles(chain: Chain, artifacts: dict[str, Artifact]) -> Hostiles:
    controller = chain.accounts[5]

    def deploy(name: str, *args: object) -> str:
        return chain.deploy(artifacts[name], *args, sender=controller).address

    return Hostiles(controller, deploy("RevertingBidder"), deploy("GasGriefer", True, 0),
                    deploy("RejectingReceiver"), deploy("ReentrantBidder"),
                    deploy("ConditionalBidder"))


def make_machine(artifacts: dict[str, Artifact],
                 counter: Counter) -> type[RuleBasedStateMachine]:
    class Market(RuleBasedStateMachine):
        @initialize()
        def deploy(self) -> None:
            counter.examples += 1
            self.c = open_chain(ChainSpec(network="revm"))
            # An in-memory chain keeps no deployment record.
            self.s = deploy_suite(self.c, artifacts, None)
            self.h = h = deploy_hostiles(self.c, artifacts)
            accounts = self.c.accounts
            self.owner = self.arbiter = self.s.deployer
            self.robot = self.s.robot
            self.eoas = eoas = accounts[2:5] + accounts[6:8]
            self.sink = accounts[8]
            self.shop_eoa = accounts[9]
            self.bidders = [*eoas[:2], h.reverting, h.griefer, h.rejecting, h.reentrant,
                            h.conditional]
            self.investors = eoas[:3]
            self.buyers = [self.robot, eoas[0]]
            self.fee_recipients = [eoas[3], h.griefer]
            self.fee_to = eoas[3]
            self.m = Ledger()
            self.pause = PauseModel()
            self.minted = 0
            self.house_terms = (500, 900, 0)  # raise bps, buffer s, fee bps: deploy.json
            self.windows = (14 * DAY, 14 * DAY, 30 * DAY)
            self.items = {1: (self.s.deployer, 7_500_000_000_000_000, 0)}
            self.set_item(2, h.reverting, 10**15, 10**14)
            self.set_item(3, self.shop_eoa, 2 * 10**15, 10**16)
            reentrant = self.c.at(artifacts["ReentrantBidder"], h.reentrant)
            withdraw = self.s.house.functions.withdraw()._encode_transaction_data()
            self.tx(reentrant.functions.setReentry(self.s.house.address, withdraw, 0),
                    h.controller)
            self.lens = self.c.deploy(artifacts["InvariantLens"])
            self.contracts = {"house": self.s.house.address, "shop": self.s.shop.address,
                              "pool": self.s.pool.address, "nft": self.s.nft.address}
            self.everyone = sorted({*accounts, *h.all, *self.contracts.values()})
            self.eth_total = sum(self.c.balance(a) for a in self.everyone)
            self.repays = 0

        def teardown(self) -> None:
            """Ends every auction and order and empties every credit: nothing may stay."""
            if not hasattr(self, "m"):
                return
            self.c.increase_time(200 * DAY)
            for token in sorted(self.m.lots):
                self.settle_lot(token)
            for order_id, o in sorted(self.m.orders.items()):
                if o.status in (PLACED, DISPUTED):
                    self.tx(self.s.shop.functions.refund(order_id), self.eoas[2])
                    self.refund_order(o)
                elif o.status == FULFILLED:
                    self.tx(self.s.shop.functions.releasePayment(order_id), self.eoas[2])
                    self.pay_shop(o, o.amount + o.bond)
            statuses = self.read_books()["orderStatuses"]
            assert set(statuses) <= {COMPLETED, REFUNDED, RESOLVED}, statuses
            for account in sorted(self.m.house_pending):
                self.withdraw_credit(self.s.house, self.m.house_pending, account)
            for account in sorted(self.m.shop_pending):
                self.withdraw_credit(self.s.shop, self.m.shop_pending, account)
            for investor in self.investors:
                if self.c.call(self.s.pool.functions.claimable(investor)):
                    self.pool_withdraw_of(investor)
            self.check_books()
            forced = self.m.forced
            assert self.c.balance(self.s.house.address) == forced.get("house", 0)
            assert self.c.balance(self.s.shop.address) == forced.get("shop", 0)
            assert self.c.balance(self.s.nft.address) == forced.get("nft", 0)
            # What stays in the pool is forced ETH plus sub-wei remainders (< 1 wei each).
            left = self.c.balance(self.s.pool.address) - forced.get("pool", 0)
            assert 0 <= left <= len(self.investors)

        # -- plumbing -------------------------------------------------------------------------
        def tx(self, fn: Any, sender: str, value: int = 0) -> dict:
            return self.c.transact(fn, sender=sender, value=value)

        def as_actor(self, account: str, fn: Any, value: int = 0) -> dict:
            """Send `fn` from `account`, through `execute` when it is an attacker contract;
            reverts decode against `fn`'s contract either way."""
            if account not in self.h.all:
                return self.tx(fn, account, value)
            proxy = self.c.at(artifacts["Actor"], account)
            data = proxy.functions.execute(fn.address, fn._encode_transaction_data())
            return self.c.raw_transact(account, bytes.fromhex(data._encode_transaction_data()[2:]),
                                       self.h.controller, value, fn.contract_abi)

        def expect_revert(self, fn: Any, sender: str, error: str, value: int = 0) -> None:
            with pytest.raises(ContractReverted) as exc:
                self.as_actor(sender, fn, value)
            assert reverted_with(exc) == error, exc.value.reason

        def credit(self, book: dict[str, int], account: str, amount: int) -> None:
            book[account] = book.get(account, 0) + amount

        def pay(self, book: dict[str, int], account: str, amount: int) -> None:
            """A capped push: accounts that refuse ETH are credited instead."""
            if amount and not self.h.can_receive_eth(account):
                self.credit(book, account, amount)

        def next_time(self) -> int:
            """Block time of the next transaction."""
            return self.c.now() + 1

        def ended(self, deadline: int) -> bool:
            return self.next_time() >= deadline

        def lot_ended(self, lot: Lot) -> bool:
            return self.pause.clock(self.next_time()) >= lot.end

        @property
        def paused(self) -> bool:
            """Whether the next transaction meets a pause (the model's view; the contract's
            `paused()` is checked against it)."""
            return self.pause.paused(self.next_time())

        def set_item(self, item: int, shop: str, price: int, bond: int) -> None:
            self.tx(self.s.shop.functions.setItem(item, shop, price, bond), self.owner)
            self.items[item] = (shop, price, bond)

        def withdraw_credit(self, contract: Any, book: dict[str, int], account: str) -> None:
            owed = book.get(account, 0)
            if owed == 0:
                return
            before = self.c.balance(self.sink)
            self.as_actor(account, contract.functions.withdrawTo(self.sink))
            assert self.c.balance(self.sink) - before == owed
            book[account] = 0

        # -- auctions -------------------------------------------------------------------------
        @rule(reserve=st.integers(1, 10**16), duration=st.integers(120, 4 * 3600),
              fresh=st.booleans(), data=st.data())
        def list_painting(self, reserve: int, duration: int, fresh: bool,
                          data: st.DataObject) -> None:
            held = sorted(t for t, o in self.m.owners.items() if o == self.robot)
            if len(self.m.lots) >= MAX_OPEN_LOTS:
                return
            if fresh or not held:
                if len(self.m.owners) >= MAX_TOKENS:
                    return
                self.minted += 1
                digest = hashlib.sha256(f"metadata {self.minted}".encode()).digest()
                provenance = hashlib.sha256(digest).digest()
                token = int.from_bytes(provenance, "big")
                self.tx(self.s.nft.functions.mint(self.robot, provenance, digest), self.robot)
                self.m.owners[token] = self.robot
            else:
                token = data.draw(st.sampled_from(held))
            fn = self.s.house.functions.createAuction(token, reserve, duration)
            if self.paused:
                self.expect_revert(fn, self.robot, "EnforcedPause")
                return
            self.tx(fn, self.robot)
            raise_bps, buffer, fee_bps = self.house_terms
            lot = Lot(self.robot, self.pause.clock(self.c.now()) + duration, raise_bps, buffer,
                      fee_bps, self.fee_to, amount=reserve)
            on_chain = self.c.call(self.s.house.functions.lots(token))
            assert tuple(on_chain) == (self.robot, lot.end, raise_bps, buffer, fee_bps)
            self.m.lots[token] = lot
            self.m.owners[token] = self.s.house.address

        @precondition(lambda self: self.m.lots)
        @rule(data=st.data(), who=st.integers(0, 6), extra=st.integers(-10**15, 10**16))
        def bid(self, data: st.DataObject, who: int, extra: int) -> None:
            token = data.draw(st.sampled_from(sorted(self.m.lots)))
            bidder, lot = self.bidders[who], self.m.lots[token]
            minimum = lot.amount if lot.bidder is None else max(
                lot.amount + lot.amount * lot.min_raise_bps // 10_000, lot.amount + 1)
            amount = max(minimum + extra, 1)
            fn = self.s.house.functions.bid(token)
            expected = ("EnforcedPause" if self.paused else
                        "AuctionEnded" if self.lot_ended(lot) else
                        "AlreadyHighestBidder" if bidder == lot.bidder else
                        "BidTooLow" if amount < minimum else None)
            if expected is not None:
                self.expect_revert(fn, bidder, expected, amount)
                return
            self.as_actor(bidder, fn, amount)
            # A bid inside the time buffer pushes the end to now + buffer.
            lot.end = max(lot.end, self.pause.clock(self.c.now()) + lot.time_buffer)
            assert self.c.call(self.s.house.functions.lots(token))[1] == lot.end
            if lot.bidder is not None:
                self.pay(self.m.house_pending, lot.bidder, lot.amount)
            lot.bidder, lot.amount = bidder, amount

        def settle_lot(self, token: int) -> None:
            lot = self.m.lots.pop(token)
            self.tx(self.s.house.functions.settle(token), self.eoas[0])
            if lot.bidder is None:
                self.m.owners[token] = lot.seller
                return
            # The sale stands whatever the winner's code does.
            self.m.owners[token] = lot.bidder
            fee = lot.amount * lot.fee_bps // 10_000
            if fee:  # to the recipient of the listing, whatever the owner set since
                self.credit(self.m.house_pending, lot.fee_to, fee)

        @precondition(lambda self: self.m.lots)
        @rule(data=st.data())
        def settle(self, data: st.DataObject) -> None:
            token = data.draw(st.sampled_from(sorted(self.m.lots)))
            if not self.lot_ended(self.m.lots[token]):
                self.expect_revert(self.s.house.functions.settle(token), self.eoas[0],
                                   "AuctionNotEnded")
                return
            self.settle_lot(token)

        @precondition(lambda self: self.m.lots)
        @rule(data=st.data())
        def cancel(self, data: st.DataObject) -> None:
            token = data.draw(st.sampled_from(sorted(self.m.lots)))
            lot = self.m.lots[token]
            fn = self.s.house.functions.cancelAuction(token)
            if lot.bidder is not None:
                self.expect_revert(fn, self.robot, "AuctionHasBids")
                return
            self.tx(fn, self.robot)
            del self.m.lots[token]
            self.m.owners[token] = self.robot

        @rule(accepting=st.booleans())
        def conditional_winner_changes_its_mind(self, accepting: bool) -> None:
            proxy = self.c.at(artifacts["ConditionalBidder"], self.h.conditional)
            self.tx(proxy.functions.setAccepting(accepting), self.h.controller)

        @precondition(lambda self: any(o in self.eoas for o in self.m.owners.values()))
        @rule(data=st.data())
        def buyer_gives_painting_back(self, data: st.DataObject) -> None:
            token = data.draw(st.sampled_from(sorted(
                t for t, o in self.m.owners.items() if o in self.eoas)))
            holder = self.m.owners[token]
            self.tx(self.s.nft.functions.transferFrom(holder, self.robot, token), holder)
            self.m.owners[token] = self.robot
            self.m.sealed.add(token)

        @precondition(lambda self: self.m.owners)
        @rule(data=st.data())
        def robot_edits_metadata(self, data: st.DataObject) -> None:
            token = data.draw(st.sampled_from(sorted(self.m.owners)))
            fn = self.s.nft.functions.updateMetadata(token, hashlib.sha256(
                f"edit {self.c.now()}".encode()).digest())
            if self.m.owners[token] != self.robot:
                self.expect_revert(fn, self.robot, "NotTokenHolder")
            elif token in self.m.sealed:
                self.expect_revert(fn, self.robot, "MetadataFrozen")
            else:
                self.tx(fn, self.robot)

        @precondition(lambda self: any(self.m.house_pending.values())
                      or any(self.m.shop_pending.values()))
        @rule(data=st.data())
        def withdraw(self, data: st.DataObject) -> None:
            house = data.draw(st.booleans())
            contract, book = ((self.s.house, self.m.house_pending) if house
                              else (self.s.shop, self.m.shop_pending))
            account = data.draw(st.sampled_from(sorted(book)) if book
                                else st.sampled_from(self.eoas))
            if book.get(account, 0) == 0:
                self.expect_revert(contract.functions.withdrawTo(self.sink), account,
                                   "NothingToWithdraw")
                return
            self.withdraw_credit(contract, book, account)

        # -- the owner changes terms under running auctions and orders ------------------------
        @rule(raise_bps=st.integers(1, 2_000), buffer=st.integers(1, 1_800))
        def owner_sets_auction_params(self, raise_bps: int, buffer: int) -> None:
            self.tx(self.s.house.functions.setAuctionParams(raise_bps, buffer), self.owner)
            self.house_terms = (raise_bps, buffer, self.house_terms[2])

        @rule(fee_bps=st.integers(0, 1_000), who=st.integers(0, 1))
        def owner_sets_fee(self, fee_bps: int, who: int) -> None:
            self.fee_to = self.fee_recipients[who]
            self.tx(self.s.house.functions.setFee(self.fee_to, fee_bps), self.owner)
            self.house_terms = (*self.house_terms[:2], fee_bps)

        @rule(pause=st.booleans())
        def owner_pauses(self, pause: bool) -> None:
            fn = self.s.house.functions.pause() if pause else self.s.house.functions.unpause()
            t = self.next_time()
            self.pause.fold(t)
            p = self.pause
            if pause and p.at:
                self.expect_revert(fn, self.owner, "EnforcedPause")
            elif pause and p.resumed and t < p.resumed + MAX_PAUSE:
                self.expect_revert(fn, self.owner, "PauseTooSoon")
            elif not pause and not p.at:
                self.expect_revert(fn, self.owner, "ExpectedPause")
            elif pause:
                self.tx(fn, self.owner)
                p.at = self.c.now()
            else:
                self.tx(fn, self.owner)
                p.paused_for += self.c.now() - p.at
                p.at, p.resumed = 0, self.c.now()

        @invariant()
        def pause_as_modelled(self) -> None:
            now = self.c.now()
            assert self.c.call(self.s.house.functions.paused()) == self.pause.paused(now)
            assert self.c.call(self.s.house.functions.auctionClock()) == self.pause.clock(now)

        @rule(item=st.sampled_from([1, 2, 3]), price=st.integers(1, 10**16),
              bond=st.integers(0, 10**16), shop=st.integers(0, 3))
        def owner_changes_item(self, item: int, price: int, bond: int, shop: int) -> None:
            shops = [self.s.deployer, self.h.reverting, self.shop_eoa, self.h.griefer]
            self.set_item(item, shops[shop], price, bond)

        @rule(fulfil=st.integers(60, 30 * DAY), confirm=st.integers(60, 30 * DAY),
              arbitration=st.integers(60, 30 * DAY))
        def owner_sets_windows(self, fulfil: int, confirm: int, arbitration: int) -> None:
            self.tx(self.s.shop.functions.setWindows(fulfil, confirm, arbitration), self.owner)
            self.windows = (fulfil, confirm, arbitration)

        # -- time -----------------------------------------------------------------------------
        @rule(seconds=st.integers(1, 900))
        def short_wait(self, seconds: int) -> None:
            self.c.increase_time(seconds)

        @rule(seconds=st.integers(3600, 16 * DAY))
        def long_wait(self, seconds: int) -> None:
            """Ends auctions, rounds and order windows."""
            self.c.increase_time(seconds)

        # -- supplies -------------------------------------------------------------------------
        @rule(item=st.sampled_from([1, 2, 3]), quantity=st.integers(1, 3), who=st.integers(0, 1))
        def order(self, item: int, quantity: int, who: int) -> None:
            if len(self.m.orders) >= MAX_ORDERS:
                return
            shop, price, bond = self.items[item]
            buyer = self.buyers[who]
            self.tx(self.s.shop.functions.order(item, quantity, self.terms(item)), buyer,
                    price * quantity)
            order_id = len(self.m.orders) + 1
            fulfil, confirm, arbitration = self.windows
            o = Order(buyer, shop, price * quantity, bond, self.c.now() + fulfil, confirm,
                      arbitration)
            on_chain = self.c.call(self.s.shop.functions.orders(order_id))
            assert tuple(on_chain) == (buyer, o.amount, shop, o.deadline, PLACED, confirm, bond,
                                       arbitration)
            self.m.orders[order_id] = o

        def terms(self, item: int) -> bytes:
            """SupplyShop.termsOf computed from the model (an independent encoding)."""
            shop, price, bond = self.items[item]
            return keccak(encode(["address", "uint96", "uint96", "uint32", "uint32", "uint32"],
                                 [shop, price, bond, *self.windows]))

        @rule(item=st.sampled_from([1, 2, 3]), fulfil=st.integers(60, 30 * DAY))
        def owner_front_runs_order(self, item: int, fulfil: int) -> None:
            """The robot read the terms; the owner changes the windows before its order is
            mined: the order reverts instead of binding the robot to other terms."""
            read = self.terms(item)
            assert self.c.call(self.s.shop.functions.termsOf(item)) == read
            self.owner_sets_windows(fulfil, self.windows[1], self.windows[2])
            if self.terms(item) == read:
                return
            _shop, price, _bond = self.items[item]
            self.expect_revert(self.s.shop.functions.order(item, 1, read), self.robot,
                               "TermsChanged", price)

        def pick_order(self, data: st.DataObject, *statuses: int) -> tuple[int, Order] | None:
            ids = sorted(i for i, o in self.m.orders.items() if o.status in statuses)
            if not ids:
                return None
            order_id = data.draw(st.sampled_from(ids))
            return order_id, self.m.orders[order_id]

        def pay_shop(self, o: Order, amount: int) -> None:
            o.status = COMPLETED
            self.pay(self.m.shop_pending, o.shop, amount)

        def refund_order(self, o: Order) -> None:
            if o.status == DISPUTED:
                self.pay(self.m.shop_pending, o.shop, o.bond)
            o.status = REFUNDED

        @precondition(lambda self: self.m.orders)
        @rule(data=st.data())
        def shop_fulfils(self, data: st.DataObject) -> None:
            picked = self.pick_order(data, PLACED)
            if picked is None:
                return
            order_id, o = picked
            fn = self.s.shop.functions.markFulfilled(order_id, hashlib.sha256(
                f"parcel {order_id}".encode()).digest())
            if self.ended(o.deadline):
                self.expect_revert(fn, o.shop, "DeadlinePassed", o.bond)
                return
            self.as_actor(o.shop, fn, o.bond)
            o.status, o.deadline = FULFILLED, self.c.now() + o.confirm_window
            assert self.c.call(self.s.shop.functions.orders(order_id))[3] == o.deadline

        @precondition(lambda self: self.m.orders)
        @rule(data=st.data())
        def buyer_confirms(self, data: st.DataObject) -> None:
            picked = self.pick_order(data, PLACED, FULFILLED, COMPLETED, DISPUTED)
            if picked is None:
                return
            order_id, o = picked
            fn = self.s.shop.functions.confirmDelivery(order_id)
            if o.status in (COMPLETED, DISPUTED):
                self.expect_revert(fn, o.buyer, "InvalidStatus")
                return
            bond = o.bond if o.status == FULFILLED else 0
            self.tx(fn, o.buyer)
            self.pay_shop(o, o.amount + bond)

        @precondition(lambda self: self.m.orders)
        @rule(data=st.data())
        def buyer_disputes(self, data: st.DataObject) -> None:
            picked = self.pick_order(data, FULFILLED)
            if picked is None:
                return
            order_id, o = picked
            fn = self.s.shop.functions.dispute(order_id, hashlib.sha256(b"torn").digest())
            if self.ended(o.deadline):
                self.expect_revert(fn, o.buyer, "DeadlinePassed")
                return
            self.tx(fn, o.buyer)
            o.status, o.deadline = DISPUTED, self.c.now() + o.arbitration_window

        @precondition(lambda self: self.m.orders)
        @rule(data=st.data(), quarters=st.integers(0, 4))
        def arbiter_rules(self, data: st.DataObject, quarters: int) -> None:
            picked = self.pick_order(data, DISPUTED)
            if picked is None:
                return
            order_id, o = picked
            refund = o.amount * quarters // 4
            fn = self.s.shop.functions.resolveDispute(order_id, refund)
            if self.ended(o.deadline):
                self.expect_revert(fn, self.arbiter, "DeadlinePassed")
                return
            self.tx(fn, self.arbiter)
            o.status = RESOLVED
            self.pay(self.m.shop_pending, o.shop, o.amount - refund + (0 if refund else o.bond))

        @precondition(lambda self: self.m.orders)
        @rule(data=st.data())
        def anyone_refunds_or_releases(self, data: st.DataObject) -> None:
            picked = self.pick_order(data, PLACED, FULFILLED, DISPUTED)
            if picked is None:
                return
            order_id, o = picked
            fn = (self.s.shop.functions.releasePayment(order_id) if o.status == FULFILLED
                  else self.s.shop.functions.refund(order_id))
            if not self.ended(o.deadline):
                self.expect_revert(fn, self.eoas[2], "DeadlineNotReached")
                return
            self.tx(fn, self.eoas[2])
            if o.status == FULFILLED:
                self.pay_shop(o, o.amount + o.bond)
            else:
                self.refund_order(o)

        # -- investor pool --------------------------------------------------------------------
        def close_round(self) -> None:
            for investor, amount in self.m.pending.items():
                self.m.lent[investor] = self.m.lent.get(investor, 0) + amount
            self.m.pending.clear()
            self.m.round = None

        def fold(self) -> None:
            """The contract folds a round past its deadline into the loans before anything."""
            if self.m.round is not None and self.ended(self.m.round.deadline):
                self.close_round()

        @rule(cap=st.integers(1, 3 * 10**18), duration=st.integers(60, 10 * DAY))
        def robot_opens_round(self, cap: int, duration: int) -> None:
            self.fold()
            fn = self.s.pool.functions.openRound(cap, duration)
            if self.m.round is not None:
                self.expect_revert(fn, self.robot, "RoundStillOpen")
                return
            self.tx(fn, self.robot)
            self.m.rounds += 1
            self.m.round = Round(self.m.rounds, cap, self.c.now() + duration)

        @precondition(lambda self: self.m.round is not None)
        @rule(by_owner=st.booleans())
        def round_closed_early(self, by_owner: bool) -> None:
            """The robot, or the owner (replacing a compromised robot key), closes the round."""
            closer = self.owner if by_owner else self.robot
            self.fold()
            if self.m.round is None:
                self.expect_revert(self.s.pool.functions.closeRound(), closer, "NoOpenRound")
                return
            self.tx(self.s.pool.functions.closeRound(), closer)
            self.close_round()

        def invest_as(self, investor: str, amount: int, stale: bool = False) -> bool:
            """Lends in the open round (`stale`: names the round before it, as a loan signed
            before the robot switched rounds would)."""
            self.fold()
            r = self.m.round
            named = max(self.m.rounds - 1, 0) if stale else self.m.rounds
            fn = self.s.pool.functions.invest(named)
            if r is None or stale or amount > r.cap - r.raised:
                self.expect_revert(fn, investor, "NoOpenRound" if r is None
                                   else "WrongRound" if stale else "RoundCapExceeded", amount)
                return False
            self.tx(fn, investor, amount)
            r.raised += amount
            self.m.pending[investor] = self.m.pending.get(investor, 0) + amount
            return True

        def repay_of(self, amount: int) -> None:
            self.fold()
            fn = self.s.pool.functions.repay()
            total = sum(self.m.lent.values())
            if total == 0:
                self.expect_revert(fn, self.robot, "NoInvestors", amount)
                return
            self.tx(fn, self.robot, amount)
            self.repays += 1
            for investor, lent in self.m.lent.items():
                share = Fraction(amount * lent, total)
                self.m.owed[investor] = self.m.owed.get(investor, Fraction(0)) + share

        @rule(who=st.integers(0, 2), amount=st.integers(1, 10**18), stale=st.booleans())
        def invest(self, who: int, amount: int, stale: bool) -> None:
            self.invest_as(self.investors[who], amount, stale)

        @rule(amount=st.integers(1, 10**18))
        def repay(self, amount: int) -> None:
            self.repay_of(amount)

        @rule(who=st.integers(0, 2), amount=st.integers(1, 10**18),
              repayment=st.integers(1, 10**18))
        def investor_front_runs_repayment(self, who: int, amount: int, repayment: int) -> None:
            """Lends right before the robot's repayment lands; must get none of it."""
            investor = self.investors[who]
            self.fold()
            before = self.c.call(self.s.pool.functions.claimableScaled(investor))
            lent_before = self.m.lent.get(investor, 0)
            if not self.invest_as(investor, amount):
                return
            its_round, total = self.m.round, sum(self.m.lent.values())
            self.repay_of(repayment)
            if self.m.round is not its_round:
                return  # the round reached its deadline first: a repayment after it, shared
            after = self.c.call(self.s.pool.functions.claimableScaled(investor))
            # Only what it had lent in closed rounds earns: its exact share of that, within a
            # wei (the carried remainder of earlier divisions may add a sliver).
            earned = Fraction(after - before, SCALE)
            assert abs(earned - Fraction(repayment * lent_before, total or 1)) < 1

        def pool_withdraw_of(self, investor: str) -> None:
            self.fold()
            exact = self.m.owed.get(investor, Fraction(0))
            fn = self.s.pool.functions.withdraw()
            claimable = self.c.call(self.s.pool.functions.claimable(investor))
            if claimable == 0:
                assert exact < 2  # nothing claimable only while under 2 wei are owed
                self.expect_revert(fn, investor, "NothingToWithdraw")
                return
            before = self.c.balance(investor)
            self.tx(fn, investor)  # revm charges no gas price, so the balance moves exactly
            # Whole wei go out; the sub-wei rest stays credited (checked by the invariant).
            assert self.c.balance(investor) - before == claimable
            self.m.owed[investor] = exact - claimable

        @rule(who=st.integers(0, 2))
        def pool_withdraw(self, who: int) -> None:
            self.pool_withdraw_of(self.investors[who])

        # -- forced ETH -----------------------------------------------------------------------
        @rule(into=st.sampled_from(["house", "shop", "pool", "nft"]),
              amount=st.integers(1, 10**17))
        def force_eth(self, into: str, amount: int) -> None:
            self.c.deploy(artifacts["ForcedEther"], self.contracts[into],
                          sender=self.eoas[4], value=amount)
            self.m.forced[into] = self.m.forced.get(into, 0) + amount

        # -- invariants -----------------------------------------------------------------------
        def read_books(self) -> dict[str, Any]:
            tokens = sorted(self.m.owners)
            out = self.c.call(self.lens.functions.books(
                self.s.house.address, self.s.shop.address, self.s.pool.address, tokens,
                self.everyone, self.investors))
            names = ("houseBalance", "houseBids", "housePending", "owners", "tokensHeld",
                     "shopBalance", "shopEscrowed", "shopPending", "orderStatuses",
                     "poolBalanceScaled", "poolSharesScaled", "investorShares", "ethTotal")
            return dict(zip(names, out, strict=True))

        def check_books(self) -> None:
            b = self.read_books()
            forced, m = self.m.forced, self.m
            # ETH is conserved across every account and contract.
            assert b["ethTotal"] == self.eth_total
            # Each contract holds what it owes plus forced ETH, nothing more: none stuck.
            assert b["houseBalance"] == b["houseBids"] + b["housePending"] + forced.get("house", 0)
            assert b["houseBids"] == sum(lot.amount for lot in m.lots.values() if lot.bidder)
            assert b["housePending"] == sum(m.house_pending.values())
            assert b["shopBalance"] == (b["shopEscrowed"] + b["shopPending"]
                                        + forced.get("shop", 0))
            assert b["shopEscrowed"] == sum(
                o.amount + (o.bond if o.status in (FULFILLED, DISPUTED) else 0)
                for o in m.orders.values() if o.status in (PLACED, FULFILLED, DISPUTED))
            assert b["shopPending"] == sum(m.shop_pending.values())
            assert list(b["orderStatuses"]) == [m.orders[i].status for i in sorted(m.orders)]
            assert b["poolBalanceScaled"] == b["poolSharesScaled"] + forced.get("pool", 0) * SCALE
            assert self.c.balance(self.s.nft.address) == forced.get("nft", 0)
            # Every investor holds its exact pro-rata share within 1 wei of rounding.
            for investor, scaled in zip(self.investors, b["investorShares"], strict=True):
                assert abs(m.owed.get(investor, Fraction(0)) - Fraction(scaled, SCALE)) < 1
            # Every token has exactly one owner, the one the rules say.
            tokens = sorted(m.owners)
            assert dict(zip(tokens, b["owners"], strict=True)) == m.owners
            assert b["tokensHeld"] == len(tokens)

        @invariant()
        def books_balance(self) -> None:
            counter.checks += 1
            self.check_books()

    return Market


@pytest.mark.slow
def test_hostile_market_keeps_every_invariant(artifacts) -> None:
    counter = Counter()
    machine = make_machine(artifacts, counter)
    run_settings = settings(max_examples=25, stateful_step_count=100, deadline=None,
                            database=None, suppress_health_check=list(HealthCheck))
    while counter.steps < MIN_STEPS:
        run_state_machine_as_test(machine, settings=run_settings)
    assert counter.steps >= MIN_STEPS
