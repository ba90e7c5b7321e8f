"""The same Chain behaviour on revm, the embedded EVM, a Hardhat node and a keystore-signed RPC URL:
one parametrised set of scenarios, plus a check that all backends observe identical results."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from eth_account import Account

from services.chain.backends import Chain, ChainSpec, open_chain
from services.chain.compiler import compile_project
from services.chain.errors import ChainError, ContractReverted, RPCUnavailable
from services.chain.events import EventDecoder, receipt_events
from services.chain.keystore import create_keystore, load_signer
from tests.conftest import ROOT, RpcRelay


@pytest.fixture(scope="module")
def counter_artifact():
    return compile_project()["Counter"]


@pytest.fixture
def revm() -> Chain:
    return open_chain(ChainSpec("revm"))


@pytest.fixture
def localhost(hardhat_node: str) -> Chain:
    return open_chain(ChainSpec("localhost", rpc_url=hardhat_node))


@pytest.fixture(scope="module")
def keystore_signer(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("ks") / "robot.json"
    create_keystore(path, "correct horse")
    return load_signer(path, "correct horse")


@pytest.fixture
def remote(hardhat_node: str, keystore_signer) -> Chain:
    """The Hardhat node treated as a remote network: only the keystore account signs."""
    funder = open_chain(ChainSpec("localhost", rpc_url=hardhat_node))
    if funder.balance(keystore_signer.address) < 10**18:
        funder.send_eth(keystore_signer.address, 10 * 10**18)
    return open_chain(ChainSpec("rpc", rpc_url=hardhat_node, signer=keystore_signer))


@pytest.fixture(params=["revm", "embedded", "localhost", "remote"])
def chain(request: pytest.FixtureRequest) -> Chain:
    return request.getfixturevalue(request.param)


@pytest.fixture(params=["revm", "embedded", "localhost"])
def local(request: pytest.FixtureRequest) -> Chain:
    """Chains that can move time and take snapshots."""
    return request.getfixturevalue(request.param)


def test_deploy_transact_call(chain: Chain, counter_artifact) -> None:
    counter = chain.deploy(counter_artifact)
    receipt = chain.transact(counter.functions.add(7))
    assert receipt["status"] == 1
    (event,) = receipt_events(counter.abi, receipt)
    assert event.name == "Counted"
    assert event.args == {"by": chain.accounts[0], "newCount": 7}
    assert event.log.tx_hash == receipt["transactionHash"]
    assert chain.receipt(receipt["transactionHash"])["blockNumber"] == receipt["blockNumber"]
    assert chain.call(counter.functions.count()) == 7


def test_revert_is_one_exception_everywhere(chain: Chain, counter_artifact) -> None:
    counter = chain.deploy(counter_artifact)
    with pytest.raises(ContractReverted) as custom:
        chain.transact(counter.functions.add(2_000_000))
    assert custom.value.reason == "TooLarge(2000000, 1000000)"
    with pytest.raises(ContractReverted) as text:
        chain.call(counter.functions.fail())
    assert text.value.reason == "Counter: failed on purpose"
    # With a fixed gas limit the revert happens on chain and is found by replay.
    with pytest.raises(ContractReverted) as mined:
        chain.transact(counter.functions.add(2_000_000), gas=100_000)
    assert mined.value.reason == "TooLarge(2000000, 1000000)"
    assert mined.value.tx_hash
    # The failed transaction consumed its nonce; the next one must still go through.
    assert chain.transact(counter.functions.add(1))["status"] == 1


def test_remote_signer_is_only_the_keystore(remote: Chain, keystore_signer) -> None:
    assert remote.accounts == [keystore_signer.address]


def test_time_moves_on_local_chains(local: Chain) -> None:
    before, height = local.now(), local.block_number()
    local.increase_time(3600)
    assert local.now() >= before + 3600
    assert local.block_number() == height + 1


def test_time_cannot_move_on_a_remote_network(remote: Chain) -> None:
    from services.chain.errors import ChainError

    with pytest.raises(ChainError, match="only available on local chains"):
        remote.increase_time(60)


def test_events_and_logs_by_block_range(chain: Chain, counter_artifact) -> None:
    counter = chain.deploy(counter_artifact)
    blocks = [chain.transact(counter.functions.add(n))["blockNumber"] for n in (1, 2, 3)]
    events = chain.events(counter, blocks[0], blocks[-1])
    assert [e.args["newCount"] for e in events] == [1, 3, 6]
    assert [e.block_number for e in events] == blocks
    assert [e.args["newCount"] for e in chain.events(counter, blocks[1], blocks[1])] == [3]
    topic0 = EventDecoder(counter.abi).topic("Counted")
    by_me = b"\x00" * 12 + bytes.fromhex(chain.accounts[0][2:])
    assert len(chain.get_logs(blocks[0], blocks[-1], counter.address, [topic0, by_me])) == 3
    assert chain.get_logs(blocks[0], blocks[-1], counter.address, [topic0, b"\x01" * 32]) == []
    assert chain.get_logs(blocks[0], blocks[-1], chain.accounts[0]) == []


def test_balances_move_by_exactly_the_value_sent(chain: Chain) -> None:
    fresh = Account.create().address
    receipt = chain.send_eth(fresh, 12345)
    assert chain.balance(fresh) == 12345
    assert receipt["gasUsed"] == 21_000
    assert chain.get_code(fresh) == b""


def test_blocks_list_their_transactions_and_past_balances_stay_readable(
        chain: Chain, counter_artifact) -> None:
    fresh = Account.create().address
    before = chain.block_number()
    paid = chain.send_eth(fresh, 1000)
    counter = chain.deploy(counter_artifact)
    called = chain.transact(counter.functions.add(5))
    topped = chain.send_eth(fresh, 234)
    block = chain.block(paid["blockNumber"])
    assert (block.number, block.hash) == (paid["blockNumber"], paid["blockHash"])
    assert [(t.sender, t.to, t.value) for t in block.transactions
            if t.tx_hash == paid["transactionHash"]] == [(chain.accounts[0], fresh, 1000)]
    assert [(t.to, t.value) for t in chain.block(called["blockNumber"]).transactions
            if t.tx_hash == called["transactionHash"]] == [(counter.address, 0)]
    assert chain.block(topped["blockNumber"]).timestamp >= block.timestamp > 0
    latest = chain.block()
    assert latest.number == chain.block_number() and latest.base_fee >= 0
    assert chain.balance(fresh, before) == 0
    assert chain.balance(fresh, paid["blockNumber"]) == 1000
    assert chain.balance(fresh, topped["blockNumber"] - 1) == 1000
    assert chain.balance(fresh, topped["blockNumber"]) == 1234 == chain.balance(fresh)
    with pytest.raises(ChainError, match="does not exist"):
        chain.block(chain.block_number() + 1000)


def test_snapshot_and_revert(local: Chain, counter_artifact) -> None:
    counter = local.deploy(counter_artifact)
    local.transact(counter.functions.add(1))
    height, nonce = local.block_number(), local.nonce(local.accounts[0])
    snap = local.snapshot()
    receipt = local.transact(counter.functions.add(5))
    local.increase_time(100)
    assert local.call(counter.functions.count()) == 6
    local.revert(snap)
    assert local.call(counter.functions.count()) == 1
    assert local.block_number() == height
    assert local.nonce(local.accounts[0]) == nonce
    assert local.receipt(receipt["transactionHash"]) is None
    assert local.events(counter, height + 1) == []
    # The chain goes on from the snapshot: the reverted nonce is reused.
    local.transact(counter.functions.add(2))
    assert local.call(counter.functions.count()) == 3


def _observe(chain: Chain, counter_artifact) -> dict:
    """What a user of the chain sees, minus what legitimately differs (addresses, hashes)."""
    counter = chain.deploy(counter_artifact)
    first = chain.transact(counter.functions.add(7))
    second = chain.transact(counter.functions.add(8))
    reasons = []
    for fn in (counter.functions.add(2_000_000), counter.functions.fail()):
        with pytest.raises(ContractReverted) as err:
            chain.transact(fn)
        reasons.append((err.value.reason, err.value.data))
    # Calldata-heavy, work-light: priced by Prague's calldata floor (EIP-7623).
    heavy = chain.raw_transact(Account.create().address, b"\x01" * 1000)
    return {
        "heavy_calldata_gas": heavy["gasUsed"],
        "deploy_gas": counter.deploy_receipt["gasUsed"],
        "gas": [first["gasUsed"], second["gasUsed"]],
        "events": [(e.name, e.args["newCount"]) for e in chain.events(counter)],
        "count": chain.call(counter.functions.count()),
        "limit": chain.call(counter.functions.LIMIT()),
        "code": chain.get_code(counter.address),
        "reverts": reasons,
    }


def test_every_backend_observes_the_same(revm: Chain, embedded: Chain, localhost: Chain,
                                         counter_artifact) -> None:
    seen = {c.network: _observe(c, counter_artifact) for c in (revm, embedded, localhost)}
    assert seen["revm"] == seen["embedded"] == seen["localhost"]
    # An independent check of the gas: first write of a slot, then a rewrite of it; and
    # 21,000 + 10 x (4 tokens x 1,000 non-zero bytes) for the calldata floor.
    assert seen["revm"]["gas"] == [45_085, 27_985]
    assert seen["revm"]["heavy_calldata_gas"] == 61_000


def test_a_gas_limit_that_is_too_low_fails_on_chain(local: Chain, counter_artifact) -> None:
    counter = local.deploy(counter_artifact)
    nonce = local.nonce(local.accounts[0])
    with pytest.raises(ContractReverted) as err:
        local.transact(counter.functions.add(1), gas=25_000)
    assert err.value.tx_hash  # mined, and its nonce used
    assert local.nonce(local.accounts[0]) == nonce + 1
    assert local.call(counter.functions.count()) == 0


@pytest.mark.timeout(60)
def test_dead_rpc_url_names_the_url() -> None:
    url = "http://127.0.0.1:9"  # discard port: nothing listens on loopback
    with pytest.raises(RPCUnavailable) as err:
        open_chain(ChainSpec("rpc", rpc_url=url, signer=Account.create(), rpc_timeout_s=2))
    assert url in str(err.value)


_WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from services.chain.backends import ChainSpec, open_chain
    from services.chain.compiler import compile_project

    chain = open_chain(ChainSpec("embedded", data_dir=Path(sys.argv[1])))
    counter = chain.deploy(compile_project()["Counter"])
    print("address", counter.address, flush=True)
    while True:
        chain.transact(counter.functions.add(1))
        print("count", chain.call(counter.functions.count()), flush=True)
""")


def test_embedded_chain_survives_sigkill(tmp_path: Path, counter_artifact) -> None:
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    address, last = None, 0
    try:
        for line in proc.stdout:
            word, value = line.split()
            if word == "address":
                address = value
            else:
                last = int(value)
            if last >= 12:
                break
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert address is not None and last >= 12

    chain = open_chain(ChainSpec("embedded", data_dir=tmp_path))
    try:
        counter = chain.at(counter_artifact, address)
        count = chain.call(counter.functions.count())
        # Every confirmed transaction is there; at most one more landed before the kill.
        assert last <= count <= last + 1
        chain.transact(counter.functions.add(1))
        assert chain.call(counter.functions.count()) == count + 1
        assert chain.balance(chain.accounts[0]) > 0
    finally:
        chain.close()


def test_embedded_chain_is_locked_to_one_process(tmp_path: Path) -> None:
    first = open_chain(ChainSpec("embedded", data_dir=tmp_path))
    try:
        with pytest.raises(Exception, match="in use by another process"):
            open_chain(ChainSpec("embedded", data_dir=tmp_path))
    finally:
        first.close()


def test_transaction_beyond_the_block_gas_limit_is_a_chain_error(embedded: Chain) -> None:
    from services.chain.errors import ChainError

    # 40M gas of zero bytes of calldata alone cannot fit a 30M-gas block.
    with pytest.raises(ChainError, match="gas estimation failed|rejected"):
        embedded._send({"to": embedded.accounts[1], "data": b"\x01" * 2_600_000, "value": 0},
                       None, None)


def test_deploy_with_a_record_on_every_local_backend(local: Chain, tmp_path: Path) -> None:
    from services.chain.deploy import deploy

    record = deploy(local, local.network, tmp_path)
    assert record["contracts"] and record["redeployed"] == sorted(record["contracts"])
    for entry in record["contracts"].values():
        assert local.get_code(entry["address"])


def test_logs_come_in_chunks_that_a_capped_node_accepts(hardhat_node: str,
                                                         counter_artifact) -> None:
    direct = open_chain(ChainSpec("localhost", rpc_url=hardhat_node))
    counter = direct.deploy(counter_artifact)
    first = direct.transact(counter.functions.add(1))["blockNumber"]
    direct.mine(60)
    direct.transact(counter.functions.add(2))
    direct.mine(30)
    last = direct.transact(counter.functions.add(3))["blockNumber"]
    expected = direct.get_logs(first, last, counter.address)
    assert len(expected) == 3
    relay = RpcRelay(hardhat_node, max_log_blocks=25)
    try:
        # The default chunk is above the cap: refused, then split until the node accepts.
        capped = open_chain(ChainSpec("localhost", rpc_url=relay.url))
        assert capped.get_logs(first, last, counter.address) == expected
        assert relay.refused >= 1
        assert max(b - a + 1 for a, b in relay.log_ranges) <= 25
        served = sorted(relay.log_ranges)
        assert served[0][0] == first and served[-1][1] == last
        assert all(b + 1 == c for (_, b), (c, _) in zip(served, served[1:], strict=False))
        # The accepted size is remembered: no refusal the second time.
        relay.refused, relay.log_ranges[:] = 0, []
        assert capped.get_logs(first, last, counter.address) == expected
        assert relay.refused == 0
        sized = open_chain(ChainSpec("localhost", rpc_url=relay.url, log_chunk_blocks=10))
        relay.log_ranges[:] = []
        assert sized.get_logs(first, last, counter.address) == expected
        assert relay.refused == 0 and max(b - a + 1 for a, b in relay.log_ranges) <= 10
        relay.max_log_blocks = 0  # not even one block: the node's refusal is the error
        with pytest.raises(ChainError, match="exceeds max block range"):
            sized.get_logs(first, first, counter.address)
    finally:
        relay.close()


def test_the_chain_id_is_asked_once(hardhat_node: str, counter_artifact) -> None:
    """A node's chain id never changes: calls, estimates and sends do not ask it again (web3's
    validation would otherwise ask before each of them, through a possibly flaky network)."""
    relay = RpcRelay(hardhat_node)
    try:
        chain = open_chain(ChainSpec("localhost", rpc_url=relay.url))
        counter = chain.deploy(counter_artifact)
        for n in (1, 2):
            chain.transact(counter.functions.add(n))
        assert chain.call(counter.functions.count()) == 3
        assert relay.methods["eth_sendRawTransaction"] == 3
        assert relay.methods["eth_chainId"] == 1
    finally:
        relay.close()
