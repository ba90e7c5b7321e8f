"""tokenURI is the CIDv1 an IPFS node gives the metadata file (PaintingNFT)."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from services.chain.errors import ContractReverted
from tests.contracts.conftest import GAS, Suite, reverted_with

# CIDv1 of b"hello world\n" as Kubo prints it (`ipfs add --cid-version 1`).
HELLO_CID = "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"


def ipfs_cid_v1(content: bytes) -> str:
    """Multibase base32 of <version 1><raw 0x55><sha2-256 0x12><32> + digest (single block)."""
    raw = bytes([0x01, 0x55, 0x12, 0x20]) + hashlib.sha256(content).digest()
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


def test_oracle_matches_ipfs_known_vector() -> None:
    assert ipfs_cid_v1(b"hello world\n") == HELLO_CID


@pytest.fixture(scope="module")
def suite(make_suite) -> Suite:
    return make_suite()


@pytest.mark.parametrize("content", [
    b"hello world\n",
    b"",
    json.dumps({"name": "Gaka #1", "image": "ipfs://" + HELLO_CID,
                "description": "robot painting"}).encode(),
    bytes(range(256)) * 64,
])
def test_token_uri_is_the_ipfs_cid_of_the_metadata(suite: Suite, content: bytes) -> None:
    digest = hashlib.sha256(content).digest()
    provenance = hashlib.sha256(b"plan:" + content).digest()
    suite.chain.transact(suite.nft.functions.mint(suite.robot, provenance, digest),
                         sender=suite.robot, gas=GAS)
    token = int.from_bytes(provenance, "big")
    assert suite.chain.call(suite.nft.functions.tokenURI(token)) == f"ipfs://{ipfs_cid_v1(content)}"
    assert suite.chain.call(suite.nft.functions.provenanceOf(token)) == provenance
    assert suite.chain.call(suite.nft.functions.cidDigestOf(token)) == digest


def test_same_stroke_plan_cannot_be_minted_twice(suite: Suite) -> None:
    provenance = hashlib.sha256(b"one plan").digest()
    fn = suite.nft.functions.mint(suite.robot, provenance, hashlib.sha256(b"m").digest())
    suite.chain.transact(fn, sender=suite.robot, gas=GAS)
    with pytest.raises(ContractReverted) as exc:
        suite.chain.transact(fn, sender=suite.robot, gas=GAS)
    assert reverted_with(exc) == "ERC721InvalidSender"


def test_only_the_robot_mints(suite: Suite) -> None:
    stranger = suite.chain.accounts[4]
    fn = suite.nft.functions.mint(stranger, hashlib.sha256(b"x").digest(), b"\x01" * 32)
    with pytest.raises(ContractReverted) as exc:
        suite.chain.transact(fn, sender=stranger, gas=GAS)
    assert reverted_with(exc) == "AccessControlUnauthorizedAccount"
