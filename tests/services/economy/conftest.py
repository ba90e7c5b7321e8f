"""Economy fixtures: a freshly deployed project on an embedded chain or a Hardhat node, the
robot's economy over it, the simulated market set up by the deployer."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gaka.config import Settings
from services.chain.backends import ChainSpec, open_chain
from services.chain.deploy import deploy
from services.chain.protocol import Chain
from services.economy.core import Economy, open_economy
from services.ledger.ledger import ledger_report
from services.market import market

PRICES = {"canvas": 75 * 10**14, "brush": 10**15, "paint": 2 * 10**15}
FEE_BPS = 500
BUFFER_S = 300


@dataclass
class World:
    chain: Chain
    record: dict[str, Any]
    settings: Settings
    eco: Economy
    tmp: Path

    def reopen(self, **kw: Any) -> Economy:
        """The robot after a restart: a new Economy over the same store file."""
        self.eco.store.close()
        self.eco = open_economy(self.chain, self.record, self.settings, **kw)
        return self.eco


def make_settings(tmp: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp / "data", "deployments_dir": tmp / "deployments",
        "auction_duration_s": 3600, "auction_time_buffer_s": BUFFER_S,
        "auction_reserve_wei": 10**16, "repay_share_bps": 5000,
        "supplies_start": {"canvas": 2, "brush": 2}}
    values.update(overrides)
    return Settings(**values)


def build_world(chain: Chain, tmp: Path, name: str, **overrides: Any) -> World:
    settings = make_settings(tmp, **overrides)
    record = deploy(chain, name, settings.deployments_dir)
    eco = open_economy(chain, record, settings)
    market.setup_local_market(chain, eco.contracts, FEE_BPS, BUFFER_S,
                              settings.supplies_items, PRICES)
    return World(chain, record, settings, eco, tmp)


def assert_reconciled(eco: Economy) -> None:
    """The ledger equals the node's balance of the wallet, to the wei, with nothing unknown."""
    report = ledger_report(eco)
    assert report.ledger_wei == eco.chain.balance(eco.wallet), report.to_dict(False)
    assert report.unattributed_wei == 0


@pytest.fixture
def embedded_world(tmp_path: Path) -> Iterator[World]:
    chain = open_chain(ChainSpec("embedded", data_dir=tmp_path / "chain"))
    world = build_world(chain, tmp_path, "embedded")
    try:
        yield world
    finally:
        world.eco.store.close()
        chain.close()


@pytest.fixture
def hardhat_world(tmp_path: Path, hardhat_node: str) -> Iterator[World]:
    chain = open_chain(ChainSpec("localhost", rpc_url=hardhat_node))
    world = build_world(chain, tmp_path, "localhost", localhost_rpc_url=hardhat_node)
    try:
        yield world
    finally:
        world.eco.store.close()
        chain.close()
