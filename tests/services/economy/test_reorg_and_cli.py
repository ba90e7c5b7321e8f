"""Against a Hardhat node: a reorg rolls the ledger and auctions back and re-applies them; a
stranger's bid shows in `gaka auction status`; every economy command works from a second
process while the robot acts, and its --json validates against the published schema."""

from __future__ import annotations

import json
import os
import random
import subprocess
import threading
from pathlib import Path
from typing import Any

import cv2
import jsonschema
import pytest

from services.auctions import auctions
from services.auctions.auctions import ZERO
from services.chain.backends import ChainSpec, open_chain
from services.economy.core import open_economy
from services.economy.schemas import SCHEMAS, load_schema
from services.economy.store import Store
from services.investors import investors
from services.ledger.ledger import ledger_report
from services.market import market
from services.supplies import supplies
from tests.conftest import GAKA, RpcRelay
from tests.services.economy.conftest import World, assert_reconciled

pytestmark = pytest.mark.hardhat


def _mint(world: World, tag: int) -> int:
    eco = world.eco
    token = 10**30 + tag
    world.chain.transact(eco.contracts.nft.functions.mint(
        eco.wallet, token.to_bytes(32, "big"), (tag + 7).to_bytes(32, "big")), sender=eco.wallet)
    return token


def test_a_reorg_rolls_ledger_and_auction_back_and_re_applies_them(hardhat_world: World) -> None:
    world = hardhat_world
    eco, chain, c = world.eco, world.chain, world.eco.contracts
    a, b = chain.accounts[5], chain.accounts[6]
    token = _mint(world, 1)
    auctions.open_auction(eco, token)
    fork = chain.snapshot()

    chain.transact(c.auction.functions.bid(token), sender=a, value=2 * 10**16)
    chain.increase_time(eco.settings.auction_duration_s + 1)
    assert [lot.highest_bidder for lot in auctions.settle_due(eco)] == [a]
    assert ledger_report(eco).totals["sale_proceeds"] == 2 * 10**16
    assert_reconciled(eco)

    # Back to the fork; another bidder, other blocks, and a longer chain than before.
    chain.revert(fork)
    chain.transact(c.auction.functions.bid(token), sender=b, value=5 * 10**16)
    chain.mine(4)
    report = eco.sync()
    assert report.reorg is not None
    lot = auctions.listings(eco, sync=False)[token][-1]
    assert (lot.state, lot.highest_bidder, lot.highest_bid_wei) == ("open", b, 5 * 10**16)
    assert ledger_report(eco).totals["sale_proceeds"] == 0
    assert_reconciled(eco)
    settle = eco.store.action(f"settle:{token}:1")
    assert settle is not None and settle.status == "intent"  # its transaction left the chain

    chain.increase_time(eco.settings.auction_duration_s + 1)
    assert [lot.highest_bidder for lot in auctions.settle_due(eco)] == [b]
    assert chain.call(c.nft.functions.ownerOf(token)) == b
    assert ledger_report(eco).totals["sale_proceeds"] == 5 * 10**16
    assert_reconciled(eco)


def test_a_reorg_shallower_than_the_confirmations_re_sends_the_dropped_action(
        hardhat_world: World) -> None:
    world = hardhat_world
    world.settings = world.settings.model_copy(update={"confirmations": 3})
    eco = world.reopen()
    chain = world.chain
    token = _mint(world, 4)
    fork = chain.snapshot()
    auctions.open_auction(eco, token)
    key = f"auction:{token}:1"
    sent = eco.store.action(key)
    assert sent is not None and sent.status == "done"

    # The auction's block is dropped before the robot reads it: the watcher, three blocks
    # behind the head, never sees a reorg of the blocks it read.
    chain.revert(fork)
    chain.mine(5)
    assert eco.sync().reorg is None
    again = eco.store.action(key)
    assert again is not None and again.status == "intent"
    assert chain.call(eco.contracts.auction.functions.lots(token))[0] == ZERO

    # The next call sends the same signed transaction again; the auction opens exactly once.
    lot = auctions.open_auction(eco, token)
    assert (lot.listing, lot.seller, lot.state) == (1, eco.wallet, "open")
    done = eco.store.action(key)
    assert done is not None and done.status == "done" and done.tx_hash == sent.tx_hash
    chain.mine(5)
    eco.sync()
    assert not eco.store.unconfirmed_actions()
    assert [lot.listing for lot in auctions.listings(eco)[token]] == [1]


def _env(world: World) -> dict[str, str]:
    return {"GAKA_DATA_DIR": str(world.settings.data_dir),
            "GAKA_DEPLOYMENTS_DIR": str(world.settings.deployments_dir),
            "GAKA_LOCALHOST_RPC_URL": world.settings.localhost_rpc_url,
            "GAKA_CONFIG": os.devnull, "PATH": "/usr/bin:/bin"}


def _gaka(world: World, *args: str, env: dict[str, str] | None = None,
          where: tuple[str, ...] = ("--network", "localhost")) -> dict[str, Any]:
    out = subprocess.run([str(GAKA), *args, *where, "--json"], env=_env(world) | (env or {}),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _valid(command: str, doc: dict[str, Any]) -> dict[str, Any]:
    jsonschema.validate(doc, load_schema(command),
                        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    return doc


def test_schemas_are_valid_and_reject_wrong_documents() -> None:
    for name in SCHEMAS:
        jsonschema.Draft202012Validator.check_schema(load_schema(name))
    with pytest.raises(jsonschema.ValidationError):
        _valid("investors", {"pool": "0x0"})
    with pytest.raises(jsonschema.ValidationError):
        _valid("auction settle", {"settled": [{"token_id": 1}]})


def test_a_strangers_bid_shows_in_auction_status(hardhat_world: World) -> None:
    world = hardhat_world
    eco, chain = world.eco, world.chain
    token = _mint(world, 2)
    auctions.open_auction(eco, token)
    stranger = chain.accounts[7]
    chain.transact(eco.contracts.auction.functions.bid(token), sender=stranger, value=3 * 10**16)
    doc = _valid("auction status", _gaka(world, "auction", "status", str(token)))
    (entry,) = doc["auctions"]
    assert entry["latest"]["highest_bidder"] == stranger
    assert entry["latest"]["highest_bid_wei"] == str(3 * 10**16)
    assert entry["state"] == "open"
    unknown = subprocess.run([str(GAKA), "auction", "settle", "424242", "--network", "localhost"],
                             env=_env(world), capture_output=True, text=True, timeout=300)
    assert unknown.returncode == 1 and unknown.stdout == ""
    assert unknown.stderr.startswith("error: token 424242 was never auctioned on")


def _robot_acts(world: World, stop: threading.Event, errors: list[BaseException]) -> None:
    chain = world.chain
    rng = random.Random(3)
    try:
        # The robot's own connection to its store, in its own thread.
        eco = open_economy(chain, world.record, world.settings)
        c = eco.contracts
        investors.open_round(eco, 10**18, 86_400)
        market.invest(chain, c, chain.accounts[2], 10**17)
        investors.close_round(eco)
        tag = 10
        while not stop.is_set():
            tag += 1
            token = 10**30 + tag
            chain.transact(c.nft.functions.mint(eco.wallet, token.to_bytes(32, "big"),
                                                tag.to_bytes(32, "big")), sender=eco.wallet)
            supplies.consume_painting(eco, str(token), _plan_stub())
            auctions.open_auction(eco, token)
            chain.transact(c.auction.functions.bid(token), sender=chain.accounts[3 + tag % 4],
                           value=2 * 10**16 + rng.randint(0, 10**16))
            chain.increase_time(eco.settings.auction_duration_s + 1)
            auctions.settle_due(eco)
            investors.repay_due(eco)
            supplies.reorder_if_needed(eco)
            market.fulfil_orders(chain, c)
            supplies.confirm_deliveries(eco)
            stop.wait(1.0)  # a painting takes a while; the commands meanwhile read the chain
    except BaseException as exc:  # noqa: BLE001 - reported by the test thread
        errors.append(exc)


def _plan_stub():
    from tests.services.economy.test_policies import _plan

    return _plan(0)


def test_every_command_from_a_second_process_while_the_robot_acts(hardhat_world: World,
                                                                  tmp_path: Path) -> None:
    world = hardhat_world
    stop, errors = threading.Event(), []
    robot = threading.Thread(target=_robot_acts, args=(world, stop, errors))
    robot.start()
    try:
        first = _valid("wallet", _gaka(world, "wallet", "--plot", str(tmp_path / "w.png")))
        _valid("auction status", _gaka(world, "auction", "status"))
        _valid("auction settle", _gaka(world, "auction", "settle"))
        supplies_doc = _valid("supplies", _gaka(world, "supplies"))
        _valid("investors", _gaka(world, "investors"))
        last = _valid("wallet", _gaka(world, "wallet"))
    finally:
        stop.set()
        robot.join(120)
    assert not errors, errors
    for wallet in (first, last):
        assert wallet["reconciled"] and wallet["ledger_minus_chain_wei"] == "0"
    assert last["block"] > first["block"]  # the robot acted meanwhile
    print(f"robot reached block {last['block']}")
    assert supplies_doc["inventory"] is not None and supplies_doc["paintings_recorded"] >= 1
    image = cv2.imread(str(tmp_path / "w.png"))
    assert image is not None and image.shape[0] > 100
    # Another robot's view: a bidder's wallet, its bids and refunds, reconciled all the same.
    other = _valid("wallet", _gaka(world, "wallet", "--address", world.chain.accounts[4]))
    assert other["reconciled"] and other["wallet"] == world.chain.accounts[4]
    final = ledger_report(world.eco)
    assert final.reconciled and final.totals["sale_proceeds"] > 0


def test_gaka_supplies_shows_the_stock_the_robot_keeps(hardhat_world: World) -> None:
    world = hardhat_world
    # Black runs low after one painting (60.1 − 0.16 ml ≤ 60): paint is ordered and delivered.
    world.settings = world.settings.model_copy(update={"supplies_paint_ml_start": 60.1})
    eco = world.reopen()
    token = _mint(world, 3)
    supplies.consume_painting(eco, str(token), _plan_stub())
    supplies.reorder_if_needed(eco)
    market.fulfil_orders(world.chain, eco.contracts)
    supplies.confirm_deliveries(eco)
    kept = supplies.inventory(eco)
    assert kept["paint:black"] > 200  # 59.94 ml + 4 items of 50 ml
    # The command runs with the default config, not the robot's: the stock is the robot's.
    doc = _valid("supplies", _gaka(world, "supplies"))
    assert doc["inventory"] == kept
    assert doc["paintings_recorded"] == 1 and doc["order_supplies_known"]
    assert {o["supply"] for o in doc["orders"]} == {"canvas", "paint:black"}
    assert doc["as_of_block"] == eco.store.get_meta("cursor")["next"] - 1


def test_logs_are_read_in_chunks_and_a_restart_rescans_nothing(hardhat_world: World,
                                                               hardhat_node: str,
                                                               tmp_path: Path) -> None:
    world = hardhat_world
    eco, chain = world.eco, world.chain
    token = _mint(world, 4)
    auctions.open_auction(eco, token)
    chain.mine(80)
    stranger = chain.accounts[7]
    chain.transact(eco.contracts.auction.functions.bid(token), sender=stranger, value=3 * 10**16)
    chain.mine(40)
    relay = RpcRelay(hardhat_node, max_log_blocks=25)
    try:
        # In process, steps of 40 blocks: each request refused by the relay, then halved.
        capped = open_chain(ChainSpec("localhost", rpc_url=relay.url))
        settings = world.settings.model_copy(update={"log_chunk_blocks": 40})
        view = open_economy(capped, world.record, settings, Store(tmp_path / "v.sqlite"))
        report = view.sync()
        assert report.to_block - report.from_block > 120  # in four steps or more
        assert relay.refused >= 1 and max(b - a + 1 for a, b in relay.log_ranges) <= 25
        assert min(a for a, _ in relay.log_ranges) == eco.contracts.start_block
        assert auctions.listings(view, sync=False)[token][-1].highest_bidder == stranger
        assert_reconciled(view)
        view.store.close()
        relay.log_ranges[:] = []
        chain.mine(3)
        view = open_economy(capped, world.record, settings, Store(tmp_path / "v.sqlite"))
        assert view.sync().from_block == report.to_block + 1
        assert relay.log_ranges and min(a for a, _ in relay.log_ranges) > report.to_block
        view.store.close()

        # The CLI keeps its view on disk: a second run reads only the blocks since the first.
        relay.refused, relay.log_ranges[:] = 0, []
        where = ("--rpc-url", relay.url, "--deployment",
                 str(world.settings.deployments_dir / "localhost.json"))
        chunk = {"GAKA_LOG_CHUNK_BLOCKS": "10"}
        first = _gaka(world, "auction", "status", str(token), env=chunk, where=where)
        assert first["auctions"][0]["latest"]["highest_bidder"] == stranger
        assert relay.refused == 0 and max(b - a + 1 for a, b in relay.log_ranges) <= 10
        assert min(a for a, _ in relay.log_ranges) == eco.contracts.start_block
        relay.log_ranges[:] = []
        chain.mine(2)
        again = _gaka(world, "auction", "status", str(token), env=chunk, where=where)
        assert again["auctions"] == first["auctions"]
        assert relay.log_ranges and min(a for a, _ in relay.log_ranges) == first["block"] + 1
    finally:
        relay.close()
