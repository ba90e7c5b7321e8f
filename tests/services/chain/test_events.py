"""Following contract events with a confirmation depth, and noticing when the chain reorganises."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.chain.backends import ChainSpec, open_chain
from services.chain.compiler import compile_project
from services.chain.events import EventWatcher
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def counter_artifact():
    return compile_project()["Counter"]


def test_watcher_waits_for_confirmations_and_reads_each_event_once(counter_artifact) -> None:
    chain = open_chain(ChainSpec("revm"))
    counter = chain.deploy(counter_artifact)
    watcher = EventWatcher(chain, counter.address, counter.abi, confirmations=2)
    for n in (1, 2, 3):
        chain.transact(counter.functions.add(n))
    first = watcher.poll()
    # Three events in the last three blocks; two blocks are not yet deep enough.
    assert [e.args["newCount"] for e in first.events] == [1]
    chain.mine(2)
    second = watcher.poll()
    assert [e.args["newCount"] for e in second.events] == [3, 6]
    assert watcher.poll().events == []
    assert first.reorg is None and second.reorg is None


@pytest.fixture(params=["revm", pytest.param("localhost", marks=pytest.mark.hardhat)])
def forkable(request: pytest.FixtureRequest):
    if request.param == "revm":
        return open_chain(ChainSpec("revm"))
    return open_chain(ChainSpec("localhost", rpc_url=request.getfixturevalue("hardhat_node")))


def test_a_reorg_is_reported_and_re_read(forkable, counter_artifact) -> None:
    chain = forkable
    counter = chain.deploy(counter_artifact)
    start = chain.block_number() + 1
    watcher = EventWatcher(chain, counter.address, counter.abi, start_block=start)
    fork = chain.snapshot()
    old = [chain.transact(counter.functions.add(n))["blockNumber"] for n in (1, 2, 3)]
    assert [e.args["newCount"] for e in watcher.poll().events] == [1, 3, 6]

    # Replace those blocks: back to the snapshot, then different transactions and one more block.
    chain.revert(fork)
    new = [chain.transact(counter.functions.add(n))["blockNumber"] for n in (10, 20)]
    chain.mine(2)
    assert new[0] == old[0]
    batch = watcher.poll()
    assert batch.reorg is not None
    assert batch.reorg.from_block == old[0]
    assert batch.reorg.to_block == old[-1]
    # The replaced range is read again from the new chain.
    assert [e.args["newCount"] for e in batch.events] == [10, 30]
    assert [e.block_number for e in batch.events] == new


class _ReorgDuringGetLogs:
    """A chain that replaces its last blocks while a watcher is reading logs."""

    def __init__(self, chain, replace) -> None:
        self._chain, self._replace = chain, replace

    def __getattr__(self, name: str):
        return getattr(self._chain, name)

    def get_logs(self, *args, **kwargs):
        logs = self._chain.get_logs(*args, **kwargs)
        if self._replace is not None:
            self._replace()
            self._replace = None
        return logs


def test_a_reorg_while_logs_are_read_is_not_missed(counter_artifact) -> None:
    chain = open_chain(ChainSpec("revm"))
    counter = chain.deploy(counter_artifact)
    fork = chain.snapshot()
    for n in (1, 2, 3):
        chain.transact(counter.functions.add(n))

    def replace() -> None:
        chain.revert(fork)
        for n in (10, 20):
            chain.transact(counter.functions.add(n))
        chain.mine(1)

    watcher = EventWatcher(_ReorgDuringGetLogs(chain, replace), counter.address, counter.abi,
                           start_block=chain.block_number() - 2)
    seen = []
    for _ in range(3):
        seen += [e.args["newCount"] for e in watcher.poll().events]
    assert seen == [10, 30]


def test_only_the_chain_layer_constructs_an_evm() -> None:
    """pyrevm, eth-tester and py-evm chains are built in services/chain and nowhere else."""
    pattern = re.compile(r"^\s*(import pyrevm|from pyrevm|from eth_tester|import eth_tester)"
                         r"|EthereumTester\(|PyEVMBackend\(|EVM\(spec_id", re.M)
    chain_dir = ROOT / "services" / "chain"
    offenders = []
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).parts
        if parts[0] in (".venv", ".venv-slither", "node_modules", "build") or \
                path.is_relative_to(chain_dir) or path == Path(__file__):
            continue
        if pattern.search(path.read_text()):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
