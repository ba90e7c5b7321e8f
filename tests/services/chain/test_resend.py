"""A lost or failed eth_sendRawTransaction (request or answer) is retried without ever paying
twice."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.chain.backends import ChainSpec, open_chain
from services.chain.compiler import compile_project
from services.chain.errors import RPCUnavailable
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


def test_a_node_that_cannot_say_whether_it_holds_the_resend_is_unavailable(
        hardhat_node: str) -> None:
    """The answer to a send is lost and the resend is refused as "nonce too low"; the node
    then cannot look the transaction up. That is the chain layer's RPCUnavailable (the caller
    retries later from its journal), not a rejection nor a raw web3 error, and the
    transaction ran once."""
    direct = open_chain(ChainSpec("localhost", rpc_url=hardhat_node))
    counter = direct.deploy(compile_project()["Counter"])
    relay = RpcRelay(hardhat_node, "lose_answer")
    relay.failing_lookups = True
    try:
        flaky = open_chain(ChainSpec("localhost", rpc_url=relay.url, retries=2))
        sender = flaky.accounts[2]
        nonce_before = direct.w3.eth.get_transaction_count(sender)
        with pytest.raises(RPCUnavailable, match="cannot tell whether it holds"):
            flaky.transact(flaky.w3.eth.contract(address=counter.address, abi=counter.abi)
                           .functions.add(5), sender=sender)
    finally:
        relay.close()
    assert relay.sends == 2
    assert direct.call(counter.functions.count()) == 5
    assert direct.w3.eth.get_transaction_count(sender) == nonce_before + 1
