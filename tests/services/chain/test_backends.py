"""The same Chain behaviour on the embedded EVM, a Hardhat node, and a keystore-signed RPC URL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account

from services.chain.backends import Chain, ChainSpec, open_chain
from services.chain.compiler import compile_project
from services.chain.errors import ContractReverted, RPCUnavailable
from services.chain.keystore import create_keystore, load_signer
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def counter_artifact():
    return compile_project()["Counter"]


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Chain]:
    chain = open_chain(ChainSpec("embedded", data_dir=tmp_path))
    yield chain
    chain.close()


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


@pytest.fixture(params=["embedded", "localhost", "remote"])
def chain(request: pytest.FixtureRequest) -> Chain:
    return request.getfixturevalue(request.param)


def test_deploy_transact_call(chain: Chain, counter_artifact) -> None:
    counter = chain.deploy(counter_artifact)
    receipt = chain.transact(counter.functions.add(7))
    assert receipt["status"] == 1
    (event,) = counter.events.Counted().process_receipt(receipt)
    assert event["args"]["newCount"] == 7
    assert event["args"]["by"] == chain.accounts[0]
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


def test_time_moves_on_local_chains(embedded: Chain, localhost: Chain) -> None:
    for chain in (embedded, localhost):
        before = chain.now()
        chain.increase_time(3600)
        assert chain.now() >= before + 3600


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
