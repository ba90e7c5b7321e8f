"""Policies and exactly-once: re-listing, a poor wallet, a crash between sending and recording,
consumption per plan, the simulated market's refusal of real networks."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from services.auctions import auctions
from services.chain.backends import ChainSpec, open_chain
from services.investors.investors import repayment_for
from services.ledger.ledger import ledger_report
from services.market import market
from services.supplies import supplies
from tests.services.economy.conftest import PRICES, World, assert_reconciled, build_world
from vision.plan import Canvas, Paint, Plan, Source, Stroke

PALETTE = (Paint("black", (20, 20, 20)), Paint("red", (200, 30, 30)))


def _plan(tag: int) -> Plan:
    """Two straight strokes: 100 mm × 8 mm black, 50 mm × 4 mm red."""
    return Plan(Canvas(500, 400), PALETTE,
                (Stroke(0, 8.0, ((10, 10 + tag, 1), (110, 10 + tag, 1))),
                 Stroke(1, 4.0, ((10, 50, 1), (10, 100, 1)))),
                Source(f"{tag:064x}", 10, 10))


def _mint(world: World, tag: int) -> int:
    eco = world.eco
    token = 10**20 + tag
    world.chain.transact(eco.contracts.nft.functions.mint(
        eco.wallet, token.to_bytes(32, "big"), (tag + 1).to_bytes(32, "big")), sender=eco.wallet)
    supplies.consume_painting(eco, str(token), _plan(tag))
    return token


def test_consumption_follows_the_plan() -> None:
    used = supplies.consumption_of(_plan(0), paint_ml_per_mm2=0.001, brush_life_m=0.3)
    # 100 mm × 8 mm = 800 mm² of black, 50 mm × 4 mm = 200 mm² of red; 150 mm of 300 mm.
    assert used == {"canvas": 1.0, "paint:black": 0.8, "paint:red": 0.2, "brush": 0.5}


def test_policy_arithmetic() -> None:
    assert auctions.relist_reserve([], 100, 2, 2000) is None
    assert repayment_for(1000, 5000, 10_000) == 500
    assert repayment_for(1000, 5000, 300) == 300


def test_an_unsold_painting_is_relisted_by_policy_then_kept(embedded_world: World) -> None:
    world = embedded_world
    world.settings = world.settings.model_copy(update={"auction_relist_max": 1,
                                                       "auction_relist_discount_bps": 2500})
    eco = world.reopen()
    token = _mint(world, 1)
    first = auctions.open_auction(eco, token)
    world.chain.increase_time(eco.settings.auction_duration_s + 1)
    assert [lot.state for lot in auctions.settle_due(eco)] == ["unsold"]
    (second,) = auctions.relist_unsold(eco)
    assert second.listing == 2 and second.reserve_wei == first.reserve_wei * 3 // 4
    world.chain.increase_time(eco.settings.auction_duration_s + 1)
    assert [lot.state for lot in auctions.settle_due(eco)] == ["unsold"]
    assert auctions.relist_unsold(eco) == []
    assert auctions.kept(eco) == [token]
    c = eco.contracts
    created = world.chain.events(c.auction, from_block=c.start_block, names=("AuctionCreated",))
    assert [e.args["reservePrice"] for e in created] == [first.reserve_wei, second.reserve_wei]
    assert world.chain.call(c.nft.functions.ownerOf(token)) == eco.wallet
    status = auctions.auction_status(eco, token)["auctions"][0]
    assert status["kept"] and len(status["listings"]) == 2
    assert_reconciled(eco)


def test_a_poor_wallet_orders_nothing_then_orders_after_the_next_sale(
        embedded_world: World) -> None:
    world = embedded_world
    # Restock to 20: an order of 19 canvases costs 0.1425 ETH. The robot keeps 0.08 ETH, enough
    # for gas (the embedded chain wants 30 M gas × 2 gwei on hand to estimate) but not the order.
    world.settings = world.settings.model_copy(
        update={"supplies_targets": {"canvas": 20, "brush": 3, "paint": 250.0}})
    eco = world.reopen()
    chain, c = world.chain, eco.contracts
    keep = 8 * 10**16
    chain.send_eth(chain.accounts[9], chain.balance(eco.wallet) - keep, sender=eco.wallet)
    token = _mint(world, 2)
    result = [r for r in supplies.reorder_if_needed(eco) if r.supply == "canvas"]
    assert [r.status for r in result] == ["insufficient_funds"]
    assert "wallet holds" in result[0].message and "once income arrives" in result[0].message
    assert chain.events(c.shop, from_block=c.start_block, names=("OrderPlaced",)) == []
    assert_reconciled(eco)

    auctions.open_auction(eco, token, reserve_wei=2 * 10**17)
    market.run_auction(chain, c, token, [market.Bidder(chain.accounts[3], 3 * 10**17, "early")],
                       random.Random(1))
    assert [lot.state for lot in auctions.settle_due(eco)] == ["sold"]
    result = [r for r in supplies.reorder_if_needed(eco) if r.supply == "canvas"]
    assert [r.status for r in result] == ["ordered"]
    placed = chain.events(c.shop, from_block=c.start_block, names=("OrderPlaced",))
    assert [(e.args["itemId"], e.args["amount"]) for e in placed] == [(1, 19 * PRICES["canvas"])]
    assert_reconciled(eco)


class Crash(Exception):
    pass


def test_a_crash_after_sending_an_order_never_orders_twice(embedded_world: World) -> None:
    world = embedded_world
    c = world.eco.contracts

    def crash(point: str, key: str) -> None:
        if point == "sent" and key.startswith("order:canvas"):
            raise Crash(key)

    eco = world.reopen(hook=crash)
    _mint(world, 3)
    with pytest.raises(Crash):
        supplies.reorder_if_needed(eco)
    (intent,) = [a for a in eco.store.actions("order") if a.detail["supply"] == "canvas"]
    assert intent.status == "intent"  # the order was mined, its outcome never written

    eco = world.reopen()  # the robot restarts
    supplies.reorder_if_needed(eco)
    supplies.reorder_if_needed(eco)
    placed = world.chain.events(c.shop, from_block=c.start_block, names=("OrderPlaced",))
    assert len([e for e in placed if e.args["itemId"] == 1]) == 1
    (done,) = [a for a in eco.store.actions("order") if a.detail["supply"] == "canvas"]
    assert done.status == "done" and done.tx_hash == "0x" + placed[0].log.tx_hash.hex()
    assert_reconciled(eco)


def test_the_market_refuses_a_real_network(hardhat_node: str) -> None:
    # A node that is not Hardhat's dev chain id is not a local dev chain.
    chain = open_chain(ChainSpec("sepolia", rpc_url=hardhat_node))
    with pytest.raises(market.MarketRefused, match="only runs on"):
        market.require_local(chain)


def test_the_ledger_reconciles_on_the_revm_chain(tmp_path: Path) -> None:
    world = build_world(open_chain(ChainSpec("revm")), tmp_path, "revm")
    eco, chain, c = world.eco, world.chain, world.eco.contracts
    token = _mint(world, 8)
    auctions.open_auction(eco, token)
    chain.transact(c.auction.functions.bid(token), sender=chain.accounts[3], value=3 * 10**16)
    chain.increase_time(world.settings.auction_duration_s + 1)
    assert [lot.state for lot in auctions.settle_due(eco)] == ["sold"]
    totals = ledger_report(eco).totals
    assert totals["sale_proceeds"] == 3 * 10**16
    assert totals["auction_fees"] == -3 * 10**16 * 500 // 10_000
    assert_reconciled(eco)


def _sell(world: World, tag: int, price: int) -> int:
    """Mint, auction and sell one painting to account 3; returns its net proceeds."""
    eco, chain = world.eco, world.chain
    token = _mint(world, tag)
    auctions.open_auction(eco, token)
    chain.transact(eco.contracts.auction.functions.bid(token), sender=chain.accounts[3],
                   value=price)
    chain.increase_time(world.settings.auction_duration_s + 1)
    assert [lot.state for lot in auctions.settle_due(eco)] == ["sold"]
    return price - price * 500 // 10_000


def test_only_sales_after_a_loan_repay_it(embedded_world: World) -> None:
    from services.investors import investors

    world = embedded_world
    eco, chain, c = world.eco, world.chain, world.eco.contracts
    _sell(world, 5, 4 * 10**16)
    assert investors.repay_due(eco) == 0  # nothing owed yet
    investors.open_round(eco, 10**18, 86_400)
    market.invest(chain, c, chain.accounts[2], 10**17)
    after_loan = _sell(world, 6, 6 * 10**16)
    assert investors.repay_due(eco) == 0  # the round is open: its loans share nothing yet
    investors.close_round(eco)
    # The first sale came before the loan: only the second repays it.
    assert investors.repay_due(eco) == after_loan // 2
    assert investors.repay_due(eco) == 0
    repaid = chain.events(c.pool, from_block=c.start_block, names=("Repaid",))
    assert [e.args["amount"] for e in repaid] == [after_loan // 2]
    assert_reconciled(eco)


def test_open_auction_returns_the_new_listing_before_it_is_confirmed(
        embedded_world: World) -> None:
    world = embedded_world
    world.settings = world.settings.model_copy(update={"confirmations": 2})
    eco = world.reopen()
    token = _mint(world, 7)
    lot = auctions.open_auction(eco, token)
    assert (lot.token_id, lot.listing, lot.state, lot.reserve_wei, lot.seller) == (
        token, 1, "open", world.settings.auction_reserve_wei, eco.wallet)
    assert auctions.open_auction(eco, token).opened_tx == lot.opened_tx
    c = eco.contracts
    created = world.chain.events(c.auction, from_block=c.start_block, names=("AuctionCreated",))
    assert ["0x" + e.log.tx_hash.hex() for e in created] == [lot.opened_tx]
    assert token not in auctions.listings(eco)  # the store still reads 2 blocks behind
    world.chain.mine(2)
    assert auctions.listings(eco)[token][-1].opened_tx == lot.opened_tx


@pytest.mark.parametrize("point", ["intent", "sent"])
def test_a_crash_around_a_repayment_repays_exactly_once(embedded_world: World,
                                                        point: str) -> None:
    from services.investors import investors

    world = embedded_world
    chain, c = world.chain, world.eco.contracts
    investors.open_round(world.eco, 10**18, 86_400)
    market.invest(chain, c, chain.accounts[2], 10**17)
    investors.close_round(world.eco)
    token = _mint(world, 4)
    auctions.open_auction(world.eco, token)
    chain.transact(c.auction.functions.bid(token), sender=chain.accounts[3], value=4 * 10**16)
    chain.increase_time(world.settings.auction_duration_s + 1)
    auctions.settle_due(world.eco)

    def crash(at: str, key: str) -> None:
        if at == point and key.startswith("repay:"):
            raise Crash(key)

    eco = world.reopen(hook=crash)
    with pytest.raises(Crash):
        investors.repay_due(eco)
    eco = world.reopen()
    investors.repay_due(eco)
    investors.repay_due(eco)
    repaid = chain.events(c.pool, from_block=c.start_block, names=("Repaid",))
    net = 4 * 10**16 - 4 * 10**16 * 500 // 10_000
    assert [e.args["amount"] for e in repaid] == [net // 2]
    assert_reconciled(eco)


def test_plain_transfers_are_royalties_from_known_payers_else_other(
        embedded_world: World) -> None:
    world = embedded_world
    chain = world.chain
    marketplace, friend = chain.accounts[8], chain.accounts[9]
    world.settings = world.settings.model_copy(update={"ledger_royalty_payers": [marketplace]})
    eco = world.reopen()
    chain.send_eth(eco.wallet, 12345, sender=marketplace)
    chain.send_eth(eco.wallet, 678, sender=friend)
    chain.send_eth(friend, 9, sender=eco.wallet)
    totals = ledger_report(eco).totals
    assert totals["royalties"] == 12345 and totals["other"] == 678 - 9
    assert_reconciled(eco)


def test_settle_due_skips_an_auction_a_pause_moved_later_and_settles_the_next(
        embedded_world: World) -> None:
    world = embedded_world
    eco, chain, c = world.eco, world.chain, world.eco.contracts
    paused_lot, due_lot = _mint(world, 60), _mint(world, 61)
    auctions.open_auction(eco, paused_lot)  # listed first, so settle_due meets it first
    chain.transact(c.auction.functions.pause(), sender=chain.accounts[0])
    chain.increase_time(86_400)
    chain.transact(c.auction.functions.unpause(), sender=chain.accounts[0])
    chain.transact(c.auction.functions.createAuction(due_lot, 10**16, 600), sender=eco.wallet)
    chain.transact(c.auction.functions.bid(due_lot), sender=chain.accounts[3], value=10**16)
    chain.increase_time(601)
    # The paused lot's events say it ended a day ago; the house says it runs for ~50 min more.
    assert chain.now() < chain.call(c.auction.functions.endTimeOf(paused_lot))
    assert [(lot.token_id, lot.state) for lot in auctions.settle_due(eco)] == [(due_lot, "sold")]
    settled = chain.events(c.auction, from_block=c.start_block, names=("AuctionSettled",))
    assert [e.args["tokenId"] for e in settled] == [due_lot]
    assert auctions.listings(eco)[paused_lot][-1].state == "open"
