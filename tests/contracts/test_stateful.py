"""Random sequences of bids, withdrawals, time jumps, settlements, orders and repayments, with
the accounting invariants checked after every step.

Runs on revm in-process (tests/contracts/revm.py): the embedded py-evm chain needs ~0.1-0.4 s a
step here (one transaction plus one invariant call), too slow for thousands of steps, and its
wall-clock block times make hypothesis replays diverge. The contracts, the deploy manifest and
the deploy code are the same as on every other chain."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import pytest
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

from services.chain.compiler import Artifact
from services.chain.errors import ContractReverted
from tests.contracts.conftest import deploy_suite, reverted_with
from tests.contracts.revm import RevmChain

MIN_STEPS = 2_000
# Per example caps keep the set of tokens and orders read by every invariant check small.
MAX_OPEN_LOTS, MAX_TOKENS, MAX_ORDERS = 3, 10, 10
FEE_BPS = 250


@dataclass
class Hostiles:
    """Attacker contracts, driven by `controller` through their `execute`."""

    controller: str
    reverting: str
    griefer: str
    rejecting: str
    reentrant: str

    @property
    def all(self) -> set[str]:
        return {self.reverting, self.griefer, self.rejecting, self.reentrant}

    def can_receive_eth(self, account: str) -> bool:
        return account not in (self.reverting, self.griefer)

    def can_receive_nft(self, account: str) -> bool:
        return account not in self.all


@dataclass
class Lot:
    seller: str
    end: int
    bidder: str | None = None
    amount: int = 0  # reserve until the first bid


@dataclass
class Order:
    buyer: str
    shop: str
    amount: int
    deadline: int
    status: str = "placed"


@dataclass
class Books:
    """InvariantLens.Books, field for field."""

    houseBalance: int  # noqa: N815 - mirrors the Solidity struct
    houseBids: int  # noqa: N815
    housePending: int  # noqa: N815
    owners: list[str]
    shopBalance: int  # noqa: N815
    shopEscrowed: int  # noqa: N815
    shopPending: int  # noqa: N815
    poolBalanceScaled: int  # noqa: N815
    poolSharesScaled: int  # noqa: N815


@dataclass
class Counter:
    """Invariant checks and examples run: steps = checks - examples (one check after init)."""

    checks: int = 0
    examples: int = 0

    @property
    def steps(self) -> int:
        return self.checks - self.examples


@dataclass
class Ledger:
    """What the test expects the contracts to hold."""

    lots: dict[int, Lot] = field(default_factory=dict)
    owners: dict[int, str] = field(default_factory=dict)
    house_pending: dict[str, int] = field(default_factory=dict)
    shop_pending: dict[str, int] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    lent: dict[str, int] = field(default_factory=dict)
    owed: dict[str, Fraction] = field(default_factory=dict)  # exact pro-rata share not withdrawn
    pool_balance: int = 0


def deploy_hostiles(chain: RevmChain, artifacts: dict[str, Artifact]) -> Hostiles:
    controller = chain.accounts[5]

    def deploy(name: str, *args: object) -> str:
        return chain.deploy(artifacts[name], *args, sender=controller).address

    return Hostiles(controller, deploy("RevertingBidder"), deploy("GasGriefer", True, 0),
                    deploy("RejectingReceiver"), deploy("ReentrantBidder"))


def make_machine(artifacts: dict[str, Artifact], out_dir: Path,
                 counter: Counter) -> type[RuleBasedStateMachine]:
    class Market(RuleBasedStateMachine):
        @initialize()
        def deploy(self) -> None:
            counter.examples += 1
            self.c = RevmChain()
            self.s = deploy_suite(self.c, artifacts, out_dir / str(counter.examples))
            self.h = h = deploy_hostiles(self.c, artifacts)
            self.eoas = eoas = self.c.accounts[2:5] + self.c.accounts[6:8]
            self.bidders = [*eoas[:2], h.reverting, h.griefer, h.rejecting, h.reentrant]
            self.investors = eoas[:3]
            self.fee_to = eoas[3]
            # Only these ever get a credit (their receive fails) besides the fee recipient.
            self.credit_holders = [h.reverting, h.griefer, self.fee_to]
            self.m = Ledger()
            self.minted = 0
            self.tx(self.s.house.functions.setFee(self.fee_to, FEE_BPS), self.s.deployer)
            # The deploy manifest lists item 1 sold by the deployer; item 2's shop refuses ETH.
            self.tx(self.s.shop.functions.setItem(2, h.reverting, 10**15), self.s.deployer)
            self.items = {1: (self.s.deployer, self.c.call(self.s.shop.functions.items(1))[1]),
                          2: (h.reverting, 10**15)}
            reentrant = self.c.at(artifacts["ReentrantBidder"], h.reentrant)
            withdraw = self.s.house.functions.withdraw()._encode_transaction_data()
            self.tx(reentrant.functions.setReentry(self.s.house.address, withdraw, 0),
                    h.controller)
            self.lens = self.c.deploy(artifacts["InvariantLens"])

        # -- plumbing -------------------------------------------------------------------------
        def tx(self, fn, sender: str, value: int = 0) -> dict:
            return self.c.transact(fn, sender=sender, value=value)

        def as_actor(self, account: str, fn, value: int = 0) -> dict:
            """Send `fn` from `account`, through `execute` when it is an attacker contract."""
            if account not in self.h.all:
                return self.tx(fn, account, value)
            proxy = self.c.at(artifacts["Actor"], account)
            data = fn._encode_transaction_data()
            return self.tx(proxy.functions.execute(fn.address, data), self.h.controller, value)

        def expect_revert(self, fn, sender: str, error: str, value: int = 0) -> None:
            with pytest.raises(ContractReverted) as exc:
                self.tx(fn, sender, value)
            assert reverted_with(exc) == error, exc.value.reason

        def credit(self, book: dict[str, int], account: str, amount: int) -> None:
            book[account] = book.get(account, 0) + amount

        def ended(self, deadline: int) -> bool:
            """Whether the next transaction's block is at or past `deadline`."""
            return self.c.now() + 1 >= deadline

        # -- auctions -------------------------------------------------------------------------
        @rule(reserve=st.integers(1, 10**16), duration=st.integers(120, 4 * 3600))
        def list_painting(self, reserve: int, duration: int) -> None:
            if len(self.m.lots) >= MAX_OPEN_LOTS or len(self.m.owners) >= MAX_TOKENS:
                return
            self.minted += 1
            digest = hashlib.sha256(f"metadata {self.minted}".encode()).digest()
            provenance = hashlib.sha256(digest).digest()
            token = int.from_bytes(provenance, "big")
            robot = self.s.robot
            self.tx(self.s.nft.functions.mint(robot, provenance, digest), robot)
            self.tx(self.s.house.functions.createAuction(token, reserve, duration), robot)
            assert self.c.call(self.s.house.functions.lots(token))[1] == self.c.now() + duration
            self.m.lots[token] = Lot(robot, self.c.now() + duration, amount=reserve)
            self.m.owners[token] = self.s.house.address

        @precondition(lambda self: self.m.lots)
        @rule(data=st.data(), who=st.integers(0, 5),
              extra=st.integers(-10**15, 10**16))
        def bid(self, data: st.DataObject, who: int, extra: int) -> None:
            token = data.draw(st.sampled_from(sorted(self.m.lots)))
            bidder, lot = self.bidders[who], self.m.lots[token]
            minimum = lot.amount if lot.bidder is None else max(
                lot.amount + lot.amount * 500 // 10_000, lot.amount + 1)
            amount = max(minimum + extra, 1)
            fn = self.s.house.functions.bid(token)
            expected = ("AuctionEnded" if self.ended(lot.end) else
                        "AlreadyHighestBidder" if bidder == lot.bidder else
                        "BidTooLow" if amount < minimum else None)
            if expected is not None:
                if bidder not in self.h.all:
                    self.expect_revert(fn, bidder, expected, amount)
                return
            self.as_actor(bidder, fn, amount)
            # A bid inside the time buffer (900 s) pushes the end to now + buffer.
            lot.end = max(lot.end, self.c.now() + 900)
            assert self.c.call(self.s.house.functions.lots(token))[1] == lot.end
            if lot.bidder is not None and not self.h.can_receive_eth(lot.bidder):
                self.credit(self.m.house_pending, lot.bidder, lot.amount)
            lot.bidder, lot.amount = bidder, amount

        @precondition(lambda self: self.m.lots)
        @rule(data=st.data())
        def settle(self, data: st.DataObject) -> None:
            token = data.draw(st.sampled_from(sorted(self.m.lots)))
            lot = self.m.lots[token]
            fn = self.s.house.functions.settle(token)
            if not self.ended(lot.end):
                self.expect_revert(fn, self.eoas[0], "AuctionNotEnded")
                return
            self.tx(fn, self.eoas[0])
            del self.m.lots[token]
            if lot.bidder is None:
                self.m.owners[token] = lot.seller
            elif self.h.can_receive_nft(lot.bidder):
                self.m.owners[token] = lot.bidder
                self.credit(self.m.house_pending, self.fee_to, lot.amount * FEE_BPS // 10_000)
            else:
                self.m.owners[token] = lot.seller
                if not self.h.can_receive_eth(lot.bidder):
                    self.credit(self.m.house_pending, lot.bidder, lot.amount)

        @precondition(lambda self: any(self.m.house_pending.values()))
        @rule(who=st.integers(0, 6))
        def withdraw(self, who: int) -> None:
            account = [*self.bidders, self.fee_to][who]
            owed = self.m.house_pending.get(account, 0)
            if owed == 0:
                if account not in self.h.all:
                    self.expect_revert(self.s.house.functions.withdraw(), account,
                                       "NothingToWithdraw")
                return
            sink = self.eoas[4]
            before = self.c.balance(sink)
            self.as_actor(account, self.s.house.functions.withdrawTo(sink))
            assert self.c.balance(sink) - before == owed
            self.m.house_pending[account] = 0

        @rule(seconds=st.integers(1, 900))
        def short_wait(self, seconds: int) -> None:
            self.c.increase_time(seconds)

        @rule(seconds=st.integers(3600, 16 * 86400))
        def long_wait(self, seconds: int) -> None:
            """Ends auctions and passes order deadlines (14 days)."""
            self.c.increase_time(seconds)

        # -- supplies -------------------------------------------------------------------------
        @rule(item=st.sampled_from([1, 2]), quantity=st.integers(1, 3), who=st.integers(0, 1))
        def order(self, item: int, quantity: int, who: int) -> None:
            if len(self.m.orders) >= MAX_ORDERS:
                return
            shop, price = self.items[item]
            buyer = self.eoas[who]
            self.tx(self.s.shop.functions.order(item, quantity), buyer, price * quantity)
            order_id = len(self.m.orders) + 1
            deadline = self.c.call(self.s.shop.functions.orders(order_id))[3]
            assert deadline == self.c.now() + 14 * 86400
            self.m.orders[order_id] = Order(buyer, shop, price * quantity, deadline)

        def pick_order(self, data: st.DataObject) -> tuple[int, Order] | None:
            if not self.m.orders:
                return None
            order_id = data.draw(st.sampled_from(sorted(self.m.orders)))
            return order_id, self.m.orders[order_id]

        def pay_shop(self, o: Order) -> None:
            o.status = "done"
            if not self.h.can_receive_eth(o.shop):
                self.credit(self.m.shop_pending, o.shop, o.amount)

        @precondition(lambda self: self.m.orders)
        @rule(data=st.data())
        def fulfil(self, data: st.DataObject) -> None:
            picked = self.pick_order(data)
            if picked is None or picked[1].status != "placed":
                return
            order_id, o = picked
            fn = self.s.shop.functions.markFulfilled(order_id)
            if self.ended(o.deadline):
                if o.shop not in self.h.all:
                    self.expect_revert(fn, o.shop, "DeadlinePassed")
                return
            self.as_actor(o.shop, fn)
            o.status, o.deadline = "fulfilled", self.c.now() + 14 * 86400
            assert self.c.call(self.s.shop.functions.orders(order_id))[3] == o.deadline

        @precondition(lambda self: self.m.orders)
        @rule(data=st.data())
        def confirm(self, data: st.DataObject) -> None:
            picked = self.pick_order(data)
            if picked is None:
                return
            order_id, o = picked
            fn = self.s.shop.functions.confirmDelivery(order_id)
            if o.status in ("done", "refunded"):
                self.expect_revert(fn, o.buyer, "InvalidStatus")
                return
            self.tx(fn, o.buyer)
            self.pay_shop(o)

        @precondition(lambda self: self.m.orders)
        @rule(data=st.data())
        def refund_or_release(self, data: st.DataObject) -> None:
            picked = self.pick_order(data)
            if picked is None or picked[1].status not in ("placed", "fulfilled"):
                return
            order_id, o = picked
            fn = (self.s.shop.functions.refund(order_id) if o.status == "placed"
                  else self.s.shop.functions.releasePayment(order_id))
            if not self.ended(o.deadline):
                self.expect_revert(fn, self.eoas[2], "DeadlineNotReached")
                return
            self.tx(fn, self.eoas[2])
            if o.status == "fulfilled":
                self.pay_shop(o)
            else:
                o.status = "refunded"

        # -- investor pool --------------------------------------------------------------------
        @rule(who=st.integers(0, 2), amount=st.integers(1, 10**18))
        def invest(self, who: int, amount: int) -> None:
            investor = self.investors[who]
            self.tx(self.s.pool.functions.invest(), investor, amount)
            self.m.lent[investor] = self.m.lent.get(investor, 0) + amount

        @precondition(lambda self: self.m.lent)
        @rule(amount=st.integers(1, 10**18))
        def repay(self, amount: int) -> None:
            total = sum(self.m.lent.values())
            self.tx(self.s.pool.functions.repay(), self.s.robot, amount)
            self.m.pool_balance += amount
            for investor, lent in self.m.lent.items():
                share = Fraction(amount * lent, total)
                self.m.owed[investor] = self.m.owed.get(investor, Fraction(0)) + share

        @precondition(lambda self: self.m.lent)
        @rule(who=st.integers(0, 2))
        def pool_withdraw(self, who: int) -> None:
            investor = self.investors[who]
            exact = self.m.owed.get(investor, Fraction(0))
            fn = self.s.pool.functions.withdraw()
            if self.c.call(self.s.pool.functions.claimable(investor)) == 0:
                assert exact < 2  # nothing claimable only while less than a wei or two is owed
                self.expect_revert(fn, investor, "NothingToWithdraw")
                return
            before = self.c.balance(investor)
            self.tx(fn, investor)  # revm charges no gas price, so the balance moves exactly
            paid = self.c.balance(investor) - before
            # Pro rata: within a wei of the exact rational share.
            assert abs(paid - exact) <= 1
            self.m.owed[investor] -= paid
            self.m.pool_balance -= paid

        # -- invariants -----------------------------------------------------------------------
        @invariant()
        def books_balance(self) -> None:
            counter.checks += 1
            tokens = sorted(self.m.owners)
            b = Books(*self.c.call(self.lens.functions.books(
                self.s.house.address, self.s.shop.address, self.s.pool.address, tokens,
                self.credit_holders, self.investors)))
            # All ETH in the house is the open auctions' top bids plus credits: none stuck.
            assert b.houseBalance == b.houseBids + b.housePending
            assert b.houseBids == sum(lot.amount for lot in self.m.lots.values() if lot.bidder)
            assert b.housePending == sum(self.m.house_pending.values())
            # Each painting has exactly the owner the rules say: house, winner or robot.
            assert dict(zip(tokens, b.owners, strict=True)) == self.m.owners
            assert b.shopBalance == b.shopEscrowed + b.shopPending
            assert b.shopEscrowed == sum(o.amount for o in self.m.orders.values()
                                         if o.status in ("placed", "fulfilled"))
            assert b.shopPending == sum(self.m.shop_pending.values())
            assert b.poolBalanceScaled == b.poolSharesScaled
            assert b.poolBalanceScaled == self.m.pool_balance * 10**36

    return Market


@pytest.mark.slow
def test_random_market_keeps_every_invariant(artifacts, tmp_path: Path) -> None:
    counter = Counter()
    machine = make_machine(artifacts, tmp_path, counter)
    run_settings = settings(max_examples=25, stateful_step_count=100, deadline=None,
                            database=None, suppress_health_check=list(HealthCheck))
    while counter.steps < MIN_STEPS:
        run_state_machine_as_test(machine, settings=run_settings)
    assert counter.steps >= MIN_STEPS
