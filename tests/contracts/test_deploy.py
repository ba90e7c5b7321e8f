"""`gaka chain deploy` deploys the four contracts and wires the roles."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest
from eth_utils import keccak

from services.chain.backends import Chain, ChainSpec, open_chain
from services.chain.compiler import compile_project
from tests.conftest import GAKA, ROOT

NAMES = ("PaintingNFT", "AuctionHouse", "SupplyShop", "InvestorPool")


def gaka_deploy(env: dict[str, str], *args: str) -> dict:
    out = subprocess.run([str(GAKA), "chain", "deploy", *args], env=env, cwd=ROOT, text=True,
                         capture_output=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def check_wiring_and_sell(chain: Chain, record: dict) -> None:
    """Roles as the manifest says, then a real mint -> auction -> bid -> settle with them."""
    artifacts = compile_project()
    nft, house, shop, pool = (chain.at(artifacts[n], record["contracts"][n]["address"])
                              for n in NAMES)
    robot, deployer = record["robot"], record["deployer"]
    assert chain.call(nft.functions.hasRole(keccak(text="MINTER_ROLE"), robot))
    assert chain.call(nft.functions.isApprovedForAll(robot, house.address))
    assert chain.call(house.functions.nft()) == nft.address
    assert chain.call(house.functions.robot()) == robot
    assert chain.call(house.functions.owner()) == deployer
    assert chain.call(pool.functions.robot()) == robot
    assert chain.call(shop.functions.items(1))[0] == deployer

    provenance = hashlib.sha256(f"plan {chain.network}".encode()).digest()
    token = int.from_bytes(provenance, "big")
    bidder = chain.accounts[3]
    chain.transact(nft.functions.mint(robot, provenance, hashlib.sha256(b"meta").digest()),
                   sender=robot)
    chain.transact(house.functions.createAuction(token, 10**15, 60), sender=robot)
    chain.transact(house.functions.bid(token), sender=bidder, value=10**15)
    chain.increase_time(901)  # the bid came inside the 900 s buffer and extended the end
    before = chain.balance(robot)
    chain.transact(house.functions.settle(token), sender=chain.accounts[4])
    assert chain.call(nft.functions.ownerOf(token)) == bidder
    assert chain.balance(robot) - before == 10**15


def test_deploy_embedded_wires_roles(gaka_env: dict[str, str]) -> None:
    record = gaka_deploy(gaka_env)
    assert set(NAMES) <= set(record["contracts"])
    assert "Counter" not in record["contracts"]
    chain = open_chain(ChainSpec("embedded", data_dir=Path(gaka_env["GAKA_DATA_DIR"])))
    try:
        check_wiring_and_sell(chain, record)
    finally:
        chain.close()


@pytest.mark.hardhat
def test_deploy_localhost_wires_roles(gaka_env: dict[str, str], hardhat_node: str) -> None:
    record = gaka_deploy({**gaka_env, "GAKA_LOCALHOST_RPC_URL": hardhat_node},
                         "--network", "localhost")
    check_wiring_and_sell(open_chain(ChainSpec("localhost", rpc_url=hardhat_node)), record)
