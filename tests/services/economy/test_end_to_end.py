"""Acceptance: paint → publish → auction (a late bid extends it) → settle → fee → repayment →
supplies consumed → one reorder → delivery restocks; the ledger equals the chain after every
step. On the embedded chain and store, and against a Hardhat node."""

from __future__ import annotations

import random

import pytest
from skimage import data

from robot.economy_sim import paint_and_publish
from services.auctions import auctions
from services.investors import investors
from services.ipfs.embedded import EmbeddedStore
from services.ledger.ledger import ledger_report
from services.market import market
from services.supplies import supplies
from tests.services.economy.conftest import FEE_BPS, PRICES, World, assert_reconciled

LOAN = 5 * 10**16


def _events(world: World, contract, name: str) -> list:
    return world.chain.events(contract, from_block=world.eco.contracts.start_block,
                              names=(name,))


def run_cycle(world: World) -> None:
    eco, chain, c = world.eco, world.chain, world.eco.contracts
    rng = random.Random(7)
    assert_reconciled(eco)

    # Investors lend through a funding round; the loan reaches the robot's wallet.
    investors.open_round(eco, 10**17, 86_400)
    market.invest(chain, c, chain.accounts[2], LOAN)
    investors.close_round(eco)
    assert ledger_report(eco).totals["investor_loans"] == LOAN
    assert_reconciled(eco)

    # Paint with the simulated arm, pin to the embedded store, mint.
    store = EmbeddedStore(world.tmp / "ipfs")
    painted = paint_and_publish(eco, store, data.chelsea(), world.tmp / "painting", seed=3)
    assert chain.call(c.nft.functions.ownerOf(painted.token_id)) == eco.wallet
    assert_reconciled(eco)
    stock = supplies.inventory(eco)
    assert stock["canvas"] == 1  # two at the start, one painted
    used = {k: v for k, v in stock.items() if k.startswith("paint:")}
    assert used and all(v < eco.settings.supplies_paint_ml_start for v in used.values())

    # Auction: a sniper's last-second bid lands inside the time buffer and extends it.
    lot = auctions.open_auction(eco, painted.token_id)
    assert lot.state == "open" and lot.reserve_wei == eco.settings.auction_reserve_wei
    assert_reconciled(eco)
    bidders = [market.Bidder(chain.accounts[3], 4 * 10**16, "early"),
               market.Bidder(chain.accounts[4], 3 * 10**16, "sniper")]
    bids = market.run_auction(chain, c, painted.token_id, bidders, rng)
    assert any(b.extended for b in bids)
    assert _events(world, c.auction, "AuctionExtended")
    status = auctions.auction_status(eco, painted.token_id)["auctions"][0]["latest"]
    assert status["extensions"] >= 1 and len(status["bids"]) == len(bids)
    assert_reconciled(eco)

    # Settle: the sale and the fee fixed at the opening, as the contract emitted them.
    settled = auctions.settle_due(eco)
    assert [s.state for s in settled] == ["sold"]
    (sale,) = _events(world, c.auction, "AuctionSettled")
    amount = sale.args["amount"]
    assert sale.args["fee"] == amount * FEE_BPS // 10_000
    totals = ledger_report(eco).totals
    assert totals["sale_proceeds"] == amount and totals["auction_fees"] == -sale.args["fee"]
    assert_reconciled(eco)

    # Repay half of the net proceeds (at most the loan); the pool splits it to the investor.
    repaid = investors.repay_due(eco)
    assert repaid == min((amount - sale.args["fee"]) // 2, LOAN) > 0
    assert chain.call(c.pool.functions.totalRepaid()) == repaid
    assert chain.call(c.pool.functions.claimable(chain.accounts[2])) == repaid
    assert investors.repay_due(eco) == 0  # the same sale is never repaid from twice
    assert ledger_report(eco).totals["repayments"] == -repaid
    assert_reconciled(eco)

    # Canvases at the threshold: one order, not two, however often the robot asks.
    first = supplies.reorder_if_needed(eco)
    again = supplies.reorder_if_needed(eco)
    canvas = [r for r in first if r.supply == "canvas"]
    assert [r.status for r in canvas] == ["ordered"] and canvas[0].quantity == 4
    assert [r.status for r in again if r.supply == "canvas"] == ["open"]
    placed = [e for e in _events(world, c.shop, "OrderPlaced") if e.args["itemId"] == 1]
    assert len(placed) == 1 and placed[0].args["amount"] == 4 * PRICES["canvas"]
    assert_reconciled(eco)

    # The shop ships, the robot confirms: the delivery restocks.
    assert market.fulfil_orders(chain, c)
    assert supplies.confirm_deliveries(eco)
    assert supplies.inventory(eco)["canvas"] == 5
    assert len(_events(world, c.shop, "DeliveryConfirmed")) >= 1
    assert all(r.supply != "canvas" for r in supplies.reorder_if_needed(eco))
    assert_reconciled(eco)
    report = ledger_report(eco)
    assert report.totals["supplies"] == -sum(e.args["amount"]
                                             for e in _events(world, c.shop, "OrderPlaced"))


def test_economy_end_to_end_on_the_embedded_chain(embedded_world: World) -> None:
    run_cycle(embedded_world)


@pytest.mark.hardhat
def test_economy_end_to_end_on_a_hardhat_node(hardhat_world: World) -> None:
    run_cycle(hardhat_world)
    # A node charges gas: the ledger saw it, to the wei.
    assert ledger_report(hardhat_world.eco).totals["gas"] < 0
