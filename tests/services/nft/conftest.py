"""A painted plan's folder (really painted and filmed by the simulated arm), chains with the
project's contracts deployed, and a cuttable HTTP relay in front of a JSON-RPC node."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from web3.contract import Contract

from robot.film import FilmSpec
from robot.jobs import PaintOptions, run_paint
from services.chain.backends import ChainSpec, open_chain
from services.chain.compiler import compile_project
from services.chain.deploy import deploy
from services.chain.protocol import Chain
from tests.robot.conftest import random_plan
from tests.rpc_relay import RpcRelay
from vision.plan import save_plan


@pytest.fixture(scope="session")
def painted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """plan.json, canvas.png, film.mp4 (H.264) and paint.json, as `gaka robot paint` writes."""
    root = tmp_path_factory.mktemp("painted")
    plan = replace(random_plan((500, 400), 6, 20.0, seed=3), metrics={"seed": 3})
    save_plan(plan, root / "plan.json")
    record = run_paint(PaintOptions(plan=root / "plan.json", video=root / "film.mp4",
                                    film=FilmSpec(160, 120, 10.0, 60.0),
                                    canvas_png=root / "canvas.png", px_per_mm=0.5))
    (root / "paint.json").write_text(json.dumps(record))
    return root


@pytest.fixture
def folder(painted: Path, tmp_path: Path) -> Path:
    """A private copy of the painted folder (publish writes its journal there)."""
    return Path(shutil.copytree(painted, tmp_path / "painting"))


@dataclass
class Deployed:
    chain: Chain
    nft: Contract
    robot: str
    block: int
    record: dict


def deploy_nft(chain: Chain, out: Path) -> Deployed:
    record = deploy(chain, chain.network, out)
    entry = record["contracts"]["PaintingNFT"]
    nft = chain.at(compile_project()["PaintingNFT"], entry["address"])
    return Deployed(chain, nft, record["robot"], entry["block"], record)


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Deployed]:
    chain = open_chain(ChainSpec("embedded", data_dir=tmp_path / "data"))
    try:
        yield deploy_nft(chain, tmp_path / "deployments")
    finally:
        chain.close()


@pytest.fixture
def relay(hardhat_node: str) -> Iterator[RpcRelay]:
    r = RpcRelay(hardhat_node)
    try:
        yield r
    finally:
        r.close()
