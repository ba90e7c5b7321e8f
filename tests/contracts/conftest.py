"""Embedded-chain fixtures for the contract tests: one chain per module, the real deploy path."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path

import pytest
from web3.contract import Contract

from services.chain.backends import ChainSpec, open_chain
from services.chain.compiler import Artifact, compile_project
from services.chain.deploy import deploy
from services.chain.errors import ContractReverted
from services.chain.protocol import Chain

GAS = 1_000_000  # explicit limit: skips a gas estimate per transaction (twice as fast)


@dataclass
class Suite:
    """The four contracts as `gaka chain deploy` leaves them, plus who is who."""

    chain: Chain
    artifacts: dict[str, Artifact]
    nft: Contract
    house: Contract
    shop: Contract
    pool: Contract
    deployer: str
    robot: str


@pytest.fixture(scope="module")
def artifacts() -> dict[str, Artifact]:
    return compile_project()


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    chain = open_chain(ChainSpec("embedded", data_dir=tmp_path_factory.mktemp("chain")))
    yield chain
    chain.close()


def deploy_suite(chain: Chain, artifacts: dict[str, Artifact], out_dir: Path) -> Suite:
    """Deploys contracts/deploy.json with the code `gaka chain deploy` runs."""
    record = deploy(chain, chain.network, out_dir)
    at = {name: chain.at(artifacts[name], entry["address"])
          for name, entry in record["contracts"].items()}
    return Suite(chain, artifacts, at["PaintingNFT"], at["AuctionHouse"], at["SupplyShop"],
                 at["InvestorPool"], record["deployer"], record["robot"])


@pytest.fixture(scope="module")
def make_suite(chain: Chain, artifacts: dict[str, Artifact],
               tmp_path_factory: pytest.TempPathFactory) -> Callable[[], Suite]:
    """Deploys a fresh set of contracts on the module's embedded chain on each call."""
    out = tmp_path_factory.mktemp("deployments")
    serial = count()
    return lambda: deploy_suite(chain, artifacts, out / str(next(serial)))


def reverted_with(exc: pytest.ExceptionInfo[ContractReverted]) -> str:
    """Name of the custom error (or the message) a call reverted with."""
    return exc.value.reason.split("(")[0]
