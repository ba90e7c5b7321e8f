"""Exactly once where the robot cannot see its own action yet: a transaction still in the
node's pool after a receipt timeout, a crash between following a reorg and reopening what it
dropped, a store that follows the chain some blocks behind, repayments sent back to back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.auctions import auctions
from services.chain.backends import ChainSpec, open_chain
from services.chain.compiler import Artifact
from services.chain.errors import ChainError, TransactionTimeout
from services.chain.protocol import SignedTx
from services.investors import investors
from services.ledger.ledger import ledger_report
from services.market import market
from services.supplies import supplies
from tests.rpc_relay import RpcRelay
from tests.services.economy.conftest import PRICES, World, assert_reconciled, build_world
from tests.services.economy.test_policies import _mint, _sell

# One loan of 0.03 ETH at 10 % interest: 0.033 ETH owed. Sales of 0.04 and 0.06 ETH net
# 0.038 and 0.057 ETH after the 5 % fee; half of each is offered to the investors.
LOAN_WEI, INTEREST_BPS, OWED_WEI = 3 * 10**16, 1000, 33 * 10**15
PRICES_WEI = (4 * 10**16, 6 * 10**16)


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

    def killed(self: object, reorg_from: int | None, confirmed_to: int) -> None:
        raise Crash("killed while following the reorg")

    with monkeypatch.context() as patch:
        patch.setattr(type(eco), "_recheck_actions", killed)
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


def _repaid_on_chain(world: World) -> list[int]:
    """The robot's repayments as the node's Repaid events show them."""
    c = world.eco.contracts
    return [e.args["amount"] for e in world.chain.events(c.pool, from_block=c.start_block,
                                                          names=("Repaid",))
            if e.args["payer"] == world.eco.wallet]


def _lend_then_sell_twice(world: World) -> list[int]:
    """A closed round holding one loan, then two sales; the sales' net proceeds."""
    eco, chain, c = world.eco, world.chain, world.eco.contracts
    investors.open_round(eco, 10**18, 86_400)
    market.invest(chain, c, chain.accounts[2], LOAN_WEI)
    investors.close_round(eco)
    nets = [_sell(world, 20 + i, price) for i, price in enumerate(PRICES_WEI)]
    lent = world.chain.events(c.pool, from_block=c.start_block, names=("Invested",))
    assert [e.args["amount"] for e in lent] == [LOAN_WEI]
    # The first sale's share repays part of the debt; the second's would pay it more than once.
    assert nets[0] // 2 < OWED_WEI < nets[0] // 2 + nets[1] // 2
    return nets


@pytest.mark.parametrize("name", ["embedded_world",
                                  pytest.param("hardhat_world", marks=pytest.mark.hardhat)])
def test_back_to_back_repayments_below_the_confirmation_depth_repay_exactly_what_is_owed(
        name: str, request: pytest.FixtureRequest) -> None:
    world: World = request.getfixturevalue(name)
    world.settings = world.settings.model_copy(
        update={"confirmations": 2, "repay_interest_bps": INTEREST_BPS})
    eco = world.reopen()
    nets = _lend_then_sell_twice(world)
    world.chain.mine(2)  # both sales confirmed into the store
    # One call repays from both sales: the second is computed while the first is unconfirmed.
    assert investors.repay_due(eco) == OWED_WEI
    world.chain.mine(3)
    assert investors.repay_due(eco) == 0
    assert _repaid_on_chain(world) == [nets[0] // 2, OWED_WEI - nets[0] // 2]
    assert world.chain.call(eco.contracts.pool.functions.totalRepaid()) == OWED_WEI
    assert investors.debt(eco).outstanding_wei == 0
    assert_reconciled(eco)


@pytest.mark.hardhat
def test_a_repayment_still_in_the_pool_counts_against_the_next_one(
        hardhat_world: World) -> None:
    world = hardhat_world
    world.settings = world.settings.model_copy(update={"repay_interest_bps": INTEREST_BPS})
    eco = world.reopen()
    chain = world.chain
    nets = _lend_then_sell_twice(world)
    sales = [lots[-1] for lots in auctions.listings(eco).values() if lots[-1].state == "sold"]
    chain.spec.receipt_timeout_s = 1.0
    chain._local("evm_setAutomine", [False])
    try:
        for lot, net in zip(sales, nets, strict=True):  # as the daemon repays token by token
            with pytest.raises(TransactionTimeout):
                investors.repay_from_sale(eco, lot.closed_tx, net)
    finally:
        chain._local("evm_setAutomine", [True])
    chain._local("evm_mine", [])
    assert _repaid_on_chain(world) == [nets[0] // 2, OWED_WEI - nets[0] // 2]
    assert investors.repay_due(eco) == OWED_WEI  # both settled from their journals
    assert investors.repay_due(eco) == 0
    assert sum(_repaid_on_chain(world)) == OWED_WEI
    assert_reconciled(eco)


def test_a_repayment_intent_never_claims_another_repayments_transaction(
        embedded_world: World) -> None:
    world = embedded_world
    chain, c = world.chain, world.eco.contracts
    investors.open_round(world.eco, 10**18, 86_400)
    market.invest(chain, c, chain.accounts[2], 10**17)  # enough for both shares
    investors.close_round(world.eco)
    nets = [_sell(world, 30 + i, price) for i, price in enumerate(PRICES_WEI)]
    first, second = [lots[-1].closed_tx
                     for lots in auctions.listings(world.eco).values() if lots[-1].state == "sold"]

    def crash_at(point: str, settle_tx: str):
        def hook(at: str, key: str) -> None:
            if at == point and key == f"repay:{settle_tx}":
                raise Crash(key)
        return hook

    with pytest.raises(Crash):  # the first: an intent, nothing signed
        investors.repay_from_sale(world.reopen(hook=crash_at("intent", first)), first, nets[0])
    with pytest.raises(Crash):  # the second: mined, its outcome not yet written
        investors.repay_from_sale(world.reopen(hook=crash_at("sent", second)), second, nets[1])
    eco = world.reopen()
    investors.repay_due(eco)
    assert sorted(_repaid_on_chain(world)) == sorted(net // 2 for net in nets)
    done = [a.tx_hash for a in eco.store.actions("repay") if a.status == "done"]
    assert len(done) == len(set(done)) == 2
    assert_reconciled(eco)


def test_a_repayment_by_hand_does_not_stand_in_for_a_sales_own(embedded_world: World) -> None:
    world = embedded_world
    chain, c = world.chain, world.eco.contracts
    investors.open_round(world.eco, 10**18, 86_400)
    market.invest(chain, c, chain.accounts[2], 10**17)
    investors.close_round(world.eco)
    net = _sell(world, 40, PRICES_WEI[0])
    (sale,) = [lots[-1].closed_tx
               for lots in auctions.listings(world.eco).values() if lots[-1].state == "sold"]

    def crash(at: str, key: str) -> None:
        if at == "intent":
            raise Crash(key)

    with pytest.raises(Crash):  # an intent, nothing signed
        investors.repay_from_sale(world.reopen(hook=crash), sale, net)
    by_hand = 12_345
    manual = chain.transact(c.pool.functions.repay(), sender=world.eco.wallet, value=by_hand)
    eco = world.reopen()
    investors.repay_due(eco)
    assert _repaid_on_chain(world) == [by_hand, net // 2]
    action = eco.store.action(f"repay:{sale}")
    assert action is not None and action.status == "done"
    assert action.tx_hash != "0x" + bytes(manual["transactionHash"]).hex().removeprefix("0x")
    assert_reconciled(eco)


@pytest.fixture
def relayed_world(tmp_path: Path, hardhat_node: str) -> Iterator[tuple[World, RpcRelay]]:
    """A Hardhat world reached through a relay, with three confirmations."""
    relay = RpcRelay(hardhat_node)
    chain = open_chain(ChainSpec("localhost", rpc_url=relay.url))
    world = build_world(chain, tmp_path, "localhost", localhost_rpc_url=relay.url,
                        confirmations=3)
    try:
        yield world, relay
    finally:
        world.eco.store.close()
        chain.close()
        relay.close()


@pytest.mark.hardhat
def test_a_receipt_a_lagging_node_does_not_show_is_not_a_reason_to_pay_again(
        relayed_world: tuple[World, RpcRelay]) -> None:
    world, relay = relayed_world
    eco = world.eco
    _mint(world, 3)
    supplies.reorder_if_needed(eco)
    (order,) = [a for a in eco.store.actions("order") if a.status == "done"]
    relay.hidden_receipts.add(order.tx_hash.lower())
    eco.sync()
    supplies.reorder_if_needed(eco)
    assert eco.store.action(order.key).status == "done"
    assert len(_canvas_orders(world)) == 1
    relay.hidden_receipts.clear()
    world.chain.mine(5)
    eco.sync()
    assert not eco.store.unconfirmed_actions()
    assert len(_canvas_orders(world)) == 1


@pytest.mark.hardhat
def test_a_transaction_a_shallow_reorg_mined_again_into_a_revert_is_done_again(
        relayed_world: tuple[World, RpcRelay]) -> None:
    world, _relay = relayed_world
    eco, chain, c = world.eco, world.chain, world.eco.contracts
    _mint(world, 3)
    fork = chain.snapshot()
    supplies.reorder_if_needed(eco)
    (order,) = [a for a in eco.store.actions("order") if a.status == "done"]
    # The reorg drops the order; on the new branch the shop withdrew the item, and the same
    # signed transaction, broadcast again, is mined and reverts.
    chain.revert(fork)
    chain.transact(c.shop.functions.removeItem(world.settings.supplies_items["canvas"]),
                   sender=c.deployer)
    signed = SignedTx(**order.detail["signed"])
    with pytest.raises(ChainError, match="reverted"):  # Hardhat mines it, then says so
        chain._local("eth_sendRawTransaction", [signed.raw_tx])
    receipt = chain.receipt(bytes.fromhex(signed.tx_hash[2:]))
    assert receipt is not None and receipt["status"] == 0
    eco.sync()
    again = eco.store.action(order.key)
    assert again is not None and again.status == "intent" and again.tx_hash is None
    assert len(_canvas_orders(world)) == 0
