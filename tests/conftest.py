"""Shared fixtures: project paths, a Hardhat node on loopback, a JSON-RPC relay in front of it,
embedded chains."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gaka.net import free_port  # noqa: F401  (the tests import it from here)
from services.chain.hardhat import HARDHAT_CLI, start_hardhat_node  # noqa: F401
from services.chain.hardhat import hardhat_node as running_hardhat_node
from services.ipfs.jsnode import JsIpfsNode
from tests.rpc_relay import RpcRelay  # noqa: F401  (the tests import it from here)

ROOT = Path(__file__).resolve().parents[1]
GAKA = Path(sys.executable).with_name("gaka")


@pytest.fixture(scope="session")
def hardhat_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a Hardhat node started for this test session on 127.0.0.1."""
    with running_hardhat_node(tmp_path_factory.mktemp("hardhat") / "node.log") as url:
        yield url


@pytest.fixture(scope="session")
def jsipfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JsIpfsNode]:
    """A js-ipfs node started for this test session on 127.0.0.1 (stopped by PID)."""
    node = JsIpfsNode(tmp_path_factory.mktemp("jsipfs"), free_port())
    node.start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def gaka_env(tmp_path: Path) -> dict[str, str]:
    """Environment for running the `gaka` console script against a private data dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAKA_")}
    env.update({
        "GAKA_DATA_DIR": str(tmp_path / "data"),
        "GAKA_DEPLOYMENTS_DIR": str(tmp_path / "deployments"),
        "GAKA_CONFIG": os.devnull,
    })
    return env


# The longest files, longest first. `make test` hands out whole files to two workers in
# collection order (and each worker takes two files ahead), so these start at once on
# different workers instead of queueing behind each other at the end.
LONGEST_FIRST = (
    "tests/robot/daemon/test_crash.py",
    "tests/robot/daemon/test_faults.py",
    "tests/robot/test_cli.py",
    "tests/robot/daemon/test_dashboard.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest files first, then the other slow tests, then the rest."""
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::")[0]
        if path in LONGEST_FIRST:
            return LONGEST_FIRST.index(path)
        return len(LONGEST_FIRST) + (item.get_closest_marker("slow") is None)

    items.sort(key=rank)
