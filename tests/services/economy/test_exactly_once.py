"""Exactly once where the robot cannot see its own action yet: a transaction still in the
node's pool after a receipt timeout, a crash between following a reorg and reopening what it
dropped, a store that follows the chain some blocks behind."""

from __future__ import annotations

import pytest

from services.auctions import auctions
from services.chain.compiler import Artifact
from services.chain.errors import TransactionTimeout
from services.investors import investors
from services.ledger.ledger import ledger_report
from services.supplies import supplies
from tests.services.economy.conftest import PRICES, World, assert_reconciled
from tests.services.economy.test_policies import _mint


class Crash(Exception):
    """The robot killed at a chosen point."""


def _canvas_orders(world: World) -> list[int]:
    """Amounts of the robot's canvas orders, read from the node (not from the store)."""
    c = world.eco.contracts
    return [e.args["amount"] for e in world.chain.events(c.shop, from_block=c.start_block,
                                                         names=("OrderPlaced",))
            if e.args["itemId"] == world.settings.supplies_items["canvas"]]


@pytest.mark.hardhat
def test_a_pending_order_is_resent_not_ordered_again_after_a_restart(
        hardhat_world: World) -> None:
    world = hardhat_world
    chain = world.chain
    _mint(world, 3)
    chain.spec.receipt_timeout_s = 1.0
    chain._local("evm_setAutomine", [False])
    try:
        with pytest.raises(TransactionTimeout):
            supplies.reorder_if_needed(world.eco)  # broadcast, left in the pool
        eco = world.reopen()
        chain._nonces.clear()  # a new process knows no nonces
        with pytest.raises(TransactionTimeout):
            supplies.reorder_if_needed(eco)  # the same bytes again, still unmined
    finally:
        chain._local("evm_setAutomine", [True])
    chain._local("evm_mine", [])
    assert len(_canvas_orders(world)) == 1
    again = [r for r in supplies.reorder_if_needed(world.eco) if r.supply == "canvas"]
    assert [r.status for r in again] == ["open"]
    (action,) = world.eco.store.actions("order")[:1]
    assert action.status == "done" and action.tx_hash == action.detail["signed"]["tx_hash"]
    assert len(_canvas_orders(world)) == 1


def test_a_crash_before_reopening_reorged_actions_reopens_them_after_restart(
        embedded_world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world = embedded_world
    eco, chain, c = world.eco, world.chain, world.eco.contracts
    token = _mint(world, 1)
    auctions.open_auction(eco, token)
    fork = chain.snapshot()
    chain.transact(c.auction.functions.bid(token), sender=chain.accounts[5], value=2 * 10**16)
    chain.increase_time(eco.settings.auction_duration_s + 1)
    auctions.settle_due(eco)
    chain.revert(fork)  # the settlement leaves the chain
    chain.transact(c.auction.functions.bid(token), sender=chain.accounts[6], value=5 * 10**16)
    chain.mine(4)

    def killed(self: object, from_block: int) -> None:
        raise Crash("killed while following the reorg")

    with monkeypatch.context() as patch:
        patch.setattr(type(eco), "_reopen_reorged_actions", killed)
        with pytest.raises(Crash):
            eco.sync()
    eco = world.reopen()
    chain.increase_time(eco.settings.auction_duration_s + 1)
    auctions.settle_due(eco)
    seller, *_ = chain.call(c.auction.functions.lots(token))
    assert int(seller, 16) == 0, "the lot was never settled"


def test_with_confirmations_an_unconfirmed_order_is_not_ordered_again(
        embedded_world: World) -> None:
    world = embedded_world
    world.settings = world.settings.model_copy(update={"confirmations": 2})
    eco = world.reopen()
    _mint(world, 3)
    world.chain.mine(3)
    first = [r.status for r in supplies.reorder_if_needed(eco) if r.supply == "canvas"]
    second = [r.status for r in supplies.reorder_if_needed(eco) if r.supply == "canvas"]
    assert (first, second) == (["ordered"], ["open"])
    world.chain.mine(3)  # the order is confirmed into the store: still one, still open
    third = [r.status for r in supplies.reorder_if_needed(eco) if r.supply == "canvas"]
    assert third == ["open"]
    assert len(_canvas_orders(world)) == 1


def test_wei_that_arrive_without_a_known_cause_are_not_reconciled(
        embedded_world: World) -> None:
    world = embedded_world
    eco, chain = world.eco, world.chain
    assert ledger_report(eco).reconciled
    # A contract whose creation self-destructs to the wallet: the wei arrive in no
    # transaction of the wallet's and no event of the economy's contracts.
    init = "0x73" + eco.wallet[2:].lower() + "ff"
    gift = Artifact("Gift", "", [], init, "0x", "", "")
    chain.deploy(gift, sender=chain.accounts[7], value=12345)
    report = ledger_report(eco)
    assert report.ledger_wei == report.chain_wei == chain.balance(eco.wallet)
    assert report.unattributed_wei == 12345
    assert not report.reconciled and report.to_dict(False)["reconciled"] is False


@pytest.mark.parametrize("point", ["intent", "sent"])
def test_a_crash_while_opening_a_round_opens_it_once(embedded_world: World, point: str) -> None:
    world = embedded_world

    def crash(at: str, key: str) -> None:
        if at == point:
            raise Crash(key)

    with pytest.raises(Crash):
        investors.open_round(world.reopen(hook=crash), 10**18, 86_400)
    eco = world.reopen()
    assert investors.open_round(eco, 10**18, 86_400) == 1
    pool = eco.contracts.pool
    opened = world.chain.events(pool, from_block=eco.contracts.start_block,
                                names=("RoundOpened",))
    assert [e.args["roundId"] for e in opened] == [1]
    assert int(world.chain.call(pool.functions.openRoundId())) == 1


def test_an_order_never_fulfilled_is_refunded_once_and_ordered_again(
        embedded_world: World) -> None:
    world = embedded_world
    _mint(world, 3)
    assert _canvas_statuses(supplies.reorder_if_needed(world.eco)) == ["ordered"]
    (first,) = supplies.orders(world.eco)[:1]
    world.chain.increase_time(first.deadline - world.chain.now() + 1)

    def crash(at: str, key: str) -> None:
        if at == "sent" and key.startswith("refund:"):
            raise Crash(key)

    with pytest.raises(Crash):  # refunded on chain, not yet recorded
        supplies.reorder_if_needed(world.reopen(hook=crash))
    eco = world.reopen()
    assert _canvas_statuses(supplies.reorder_if_needed(eco)) == ["ordered"]
    assert _canvas_statuses(supplies.reorder_if_needed(eco)) == ["open"]
    c = eco.contracts
    refunds = world.chain.events(c.shop, from_block=c.start_block, names=("OrderRefunded",))
    assert [e.args["orderId"] for e in refunds] == [first.order_id]
    assert len(_canvas_orders(world)) == 2
    assert [o.status for o in supplies.orders(eco) if o.supply == "canvas"] == [
        "refunded", "placed"]
    assert_reconciled(eco)


def test_a_price_above_the_cap_is_refused(embedded_world: World) -> None:
    world = embedded_world
    world.settings = world.settings.model_copy(
        update={"supplies_max_price_wei": {"canvas": PRICES["canvas"] - 1}})
    eco = world.reopen()
    _mint(world, 3)
    (canvas,) = [r for r in supplies.reorder_if_needed(eco) if r.supply == "canvas"]
    assert canvas.status == "price_above_cap"
    assert f"asks {PRICES['canvas']} wei" in canvas.message
    assert f"cap of {PRICES['canvas'] - 1} wei" in canvas.message
    assert _canvas_orders(world) == []


def _canvas_statuses(done: list[supplies.Reorder]) -> list[str]:
    return [r.status for r in done if r.supply == "canvas"]
