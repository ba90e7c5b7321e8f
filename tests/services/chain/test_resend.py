"""A lost or failed eth_sendRawTransaction (request or answer) is retried without ever paying
twice."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.chain.backends import ChainSpec, open_chain
from services.chain.compiler import compile_project
from tests.rpc_relay import RpcRelay


@pytest.fixture(params=["lose_send", "lose_answer", "fail_send", "fail_after_send"])
def lossy(hardhat_node: str, request: pytest.FixtureRequest) -> Iterator[RpcRelay]:
    proxy = RpcRelay(hardhat_node, request.param)
    try:
        yield proxy
    finally:
        proxy.close()


def test_lost_send_answer_does_not_double_send(hardhat_node: str, lossy: RpcRelay) -> None:
    direct = open_chain(ChainSpec("localhost", rpc_url=hardhat_node))
    counter = direct.deploy(compile_project()["Counter"])

    flaky = open_chain(ChainSpec("localhost", rpc_url=lossy.url))
    sender = flaky.accounts[2]
    nonce_before = direct.w3.eth.get_transaction_count(sender)
    receipt = flaky.transact(flaky.w3.eth.contract(address=counter.address, abi=counter.abi)
                             .functions.add(5), sender=sender)

    assert lossy.dropped == 1
    # Both are sent again, byte for byte: a lost request (or one the node failed without
    # taking it) is then simply taken, a lost answer (or an error answered after the node took
    # it) is refused as known (nonce too low) and recognised as the transaction already mined.
    assert lossy.sends == 2
    assert receipt["status"] == 1
    assert direct.call(counter.functions.count()) == 5  # executed exactly once
    assert direct.w3.eth.get_transaction_count(sender) == nonce_before + 1
