"""Gas of every contract operation on revm, the embedded chain and a Hardhat node; one JSON.

Execution gas = receipt gasUsed - 21,000 (calldata included), median over ROUNDS rounds, with
ratios to the targets, to the published figures (Nouns, ERC721A, OZ Enumerable) and to a
straightforward OpenZeppelin NFT (contracts/test/BaselineNFT.sol) measured in the same run.
"before" is the same cycle on the contracts of git revision --before (default: the last
revision before the security fixes), compiled and run on revm in the same run, so the cost of
each protection is a measured ratio.
Run: .venv/bin/python benchmarks/gas.py [--before REV]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gaka.machine import machine_info  # noqa: E402
from services.chain.backends import Chain, ChainSpec, open_chain  # noqa: E402
from services.chain.compiler import Artifact, compile_project  # noqa: E402
from services.chain.deploy import deploy  # noqa: E402
from services.chain.events import receipt_events  # noqa: E402
from services.chain.hardhat import hardhat_node  # noqa: E402

ROUNDS = 5
BASE = 21_000
BEFORE_REV = "945019a"  # the contracts before the security fixes (cancel, pause, rounds, ...)
TARGETS = {"mint": 80_000, "first_bid": 35_000, "outbid": 45_000, "settle": 60_000}
REFERENCES = {  # execution gas of Nouns, ERC721A and OZ ERC721Enumerable, as published
    "mint": {"ERC721A (one token)": 76_690, "OZ ERC721Enumerable": 154_814},
    "first_bid": {"Nouns V2 createBid (one bid)": 34_919},
    "outbid": {"Nouns V2 second bid (two bids 93,402 - one bid 34,919)": 93_402 - 34_919},
}


def cid_v1_raw(content: bytes) -> tuple[str, bytes]:
    """CIDv1 (raw codec, sha2-256, base32) of a single-block file, as IPFS prints it."""
    digest = hashlib.sha256(content).digest()
    b32 = base64.b32encode(bytes([0x01, 0x55, 0x12, 0x20]) + digest).decode()
    return "b" + b32.lower().rstrip("="), digest


def metadata(n: int) -> bytes:
    """A realistic painting metadata JSON (name, description, image, animation_url, plan)."""
    def link(kind: str) -> str:
        return "ipfs://" + cid_v1_raw(f"painting {n} {kind}".encode())[0]

    return json.dumps({
        "name": f"Gaka painting #{n}",
        "description": "Painted by a robot arm from a camera capture; stroke plan attached.",
        "image": link("png"), "animation_url": link("mp4"),
        "properties": {"plan": link("plan.json"), "strokes": 200 + n},
    }, sort_keys=True).encode()


def execution_gas(receipt: dict[str, Any]) -> int:
    return int(receipt["gasUsed"]) - BASE


@dataclass
class Suite:
    """The four contracts of one revision, deployed and wired, and what deploying them cost."""

    artifacts: dict[str, Artifact]
    contracts: dict[str, Any]
    robot: str
    deploy_gas: dict[str, int]


def current_suite(chain: Chain, out_dir: Path | None) -> Suite:
    """This tree's contracts, deployed by the code `gaka chain deploy` runs."""
    artifacts = compile_project()
    record = deploy(chain, chain.network, out_dir)
    contracts = {n: chain.at(artifacts[n], e["address"]) for n, e in record["contracts"].items()}
    return Suite(artifacts, contracts, record["robot"],
                 {n: int(e["gas_used"]) - BASE for n, e in record["contracts"].items()})


def before_suite(chain: Chain, rev: str, work: Path) -> Suite:
    """The contracts of git revision `rev`, wired by hand as its deploy manifest did (the
    arguments of that manifest, which the current deploy code no longer reads)."""
    tree = work / "before"
    tree.mkdir()
    archive = subprocess.run(["git", "archive", rev, "contracts"], cwd=ROOT, check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    (tree / "node_modules").symlink_to(ROOT / "node_modules")  # where solc looks for imports
    artifacts = compile_project(tree / "contracts", work / "before-build")
    deployer, robot = chain.accounts[:2]
    nft = chain.deploy(artifacts["PaintingNFT"], deployer, robot, 500, sender=deployer)
    house = chain.deploy(artifacts["AuctionHouse"], nft.address, deployer, robot, 500, 900,
                         sender=deployer)
    shop = chain.deploy(artifacts["SupplyShop"], deployer, 14 * 86400, 14 * 86400,
                        sender=deployer)
    pool = chain.deploy(artifacts["InvestorPool"], deployer, robot, sender=deployer)
    minter = chain.call(nft.functions.MINTER_ROLE())
    chain.transact(nft.functions.grantRole(minter, robot), sender=deployer)
    chain.transact(nft.functions.setApprovalForAll(house.address, True), sender=robot)
    chain.transact(shop.functions.setItem(1, deployer, 7_500_000_000_000_000), sender=deployer)
    contracts = {"PaintingNFT": nft, "AuctionHouse": house, "SupplyShop": shop,
                 "InvestorPool": pool}
    return Suite(artifacts, contracts, robot,
                 {n: int(c.deploy_receipt["gasUsed"]) - BASE for n, c in contracts.items()})


def measure(chain: Chain, suite: Suite) -> dict[str, Any]:
    """Runs ROUNDS painting cycles and one supplies/investor cycle per round; gas per op."""
    nft, house, shop, pool = (suite.contracts[n] for n in
                              ("PaintingNFT", "AuctionHouse", "SupplyShop", "InvestorPool"))
    robot = suite.robot
    alice, bob, carol = chain.accounts[2:5]
    baseline = chain.deploy(suite.artifacts["BaselineNFT"])
    gas: dict[str, list[int]] = {"deploy_" + n: [g] for n, g in suite.deploy_gas.items()}
    # Funding rounds: loans share repayments once their round has closed.
    rounds = any(item.get("name") == "openRound" for item in pool.abi)
    has_terms = any(item.get("name") == "termsOf" for item in shop.abi)
    has_round_id = any(item.get("name") == "invest" and item["inputs"] for item in pool.abi)
    uris_match = True

    def run(op: str, fn: Any, sender: str, value: int = 0) -> None:
        gas.setdefault(op, []).append(execution_gas(chain.transact(fn, sender=sender,
                                                                   value=value)))

    price = chain.call(shop.functions.items(1))[1]
    for n in range(1, ROUNDS + 1):
        cid, digest = cid_v1_raw(metadata(n))
        provenance = hashlib.sha256(f"stroke plan {n}".encode()).digest()
        token = int.from_bytes(provenance, "big")
        run("mint", nft.functions.mint(robot, provenance, digest), robot)
        uris_match &= chain.call(nft.functions.tokenURI(token)) == f"ipfs://{cid}"
        run("baseline_mint_oz_enumerable_uri_storage",
            baseline.functions.mint(robot, f"ipfs://{cid}", provenance), robot)
        run("create_auction", house.functions.createAuction(token, 10**16, 3600), robot)
        run("first_bid", house.functions.bid(token), alice, 10**16)
        run("outbid", house.functions.bid(token), bob, 2 * 10**16)
        chain.increase_time(3601)
        run("settle", house.functions.settle(token), carol)
        # Before the terms hash, order took (item, quantity) and invest() no round id.
        terms = [chain.call(shop.functions.termsOf(1))] if has_terms else []
        receipt = chain.transact(shop.functions.order(1, 1, *terms), sender=robot, value=price)
        gas.setdefault("order", []).append(execution_gas(receipt))
        (placed,) = receipt_events(shop.abi, receipt, ("OrderPlaced",))
        run("confirm", shop.functions.confirmDelivery(placed.args["orderId"]), robot)
        if rounds:
            run("open_round", pool.functions.openRound(10**18, 86400), robot)
        named = [chain.call(pool.functions.openRoundId())] if has_round_id else []
        run("invest", pool.functions.invest(*named), alice, 10**18)
        if rounds:
            run("close_round", pool.functions.closeRound(), robot)
        run("repay", pool.functions.repay(), robot, 10**17)
        run("withdraw", pool.functions.withdraw(), alice)
    return {"gas": gas, "token_uris_match_ipfs_cids": uris_match}


def summarize(gas: dict[str, list[int]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for op, values in gas.items():
        entry: dict[str, Any] = {"median": int(statistics.median(values)), "min": min(values),
                                 "max": max(values), "runs": values}
        if op in TARGETS:
            entry["target"] = TARGETS[op]
            entry["ratio_to_target"] = round(entry["median"] / TARGETS[op], 3)
            entry["max_within_target"] = entry["max"] <= TARGETS[op]
        if op in REFERENCES:
            entry["ratio_to_reference"] = {k: round(entry["median"] / v, 3)
                                           for k, v in REFERENCES[op].items()}
        out[op] = entry
    out["mint"]["ratio_to_baseline_measured"] = round(
        out["mint"]["median"] / out["baseline_mint_oz_enumerable_uri_storage"]["median"], 3)
    return out


def before_after(before: dict[str, list[int]], after: dict[str, list[int]]) -> dict[str, Any]:
    """Median gas of each operation both revisions have, and after / before."""
    out = {}
    for op in after:
        if op in before:
            b, a = int(statistics.median(before[op])), int(statistics.median(after[op]))
            out[op] = {"before": b, "after": a, "ratio": round(a / b, 3)}
    return out


def machine() -> dict[str, Any]:
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    hardhat = json.loads((ROOT / "node_modules/hardhat/package.json").read_text())["version"]
    compiler = json.loads((ROOT / "contracts/compiler.json").read_text())
    return {**machine_info(("web3", "py-evm", "eth-tester")), "node": node,
            "hardhat": hardhat, "solc": compiler["version"], "solc_settings": compiler["settings"]}


def measure_current(chain: Chain, out_dir: Path | None) -> dict[str, Any]:
    return measure(chain, current_suite(chain, out_dir))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=BEFORE_REV,
                        help="git revision whose contracts are the 'before' figures")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gaka-gas-") as tmp:
        tmp_path = Path(tmp)
        before_chain = open_chain(ChainSpec("revm"))
        before = measure(before_chain, before_suite(before_chain, args.before, tmp_path))
        revm = measure_current(open_chain(ChainSpec("revm")), None)  # in memory: no record
        chain = open_chain(ChainSpec("embedded", data_dir=tmp_path / "embedded"))
        try:
            embedded = measure_current(chain, tmp_path / "deploy-embedded")
        finally:
            chain.close()
        with hardhat_node(tmp_path / "hardhat.log") as url:
            hardhat = measure_current(open_chain(ChainSpec("localhost", rpc_url=url)),
                                      tmp_path / "deploy-hardhat")
    disagree = {op: {"revm": revm["gas"][op], "embedded": v, "hardhat": hardhat["gas"][op]}
                for op, v in embedded["gas"].items()
                if not hardhat["gas"][op] == revm["gas"][op] == v}
    print(json.dumps({
        "benchmark": "contract gas (execution gas = gasUsed - 21,000)",
        "rounds": ROUNDS,
        "before_revision": args.before,
        "before_after_revm": before_after(before["gas"], revm["gas"]),
        "before_revm": summarize(before["gas"]),
        "revm": summarize(revm["gas"]),
        "embedded": summarize(embedded["gas"]),
        "hardhat": summarize(hardhat["gas"]),
        "backends_agree": not disagree,
        "disagreements": disagree,
        "token_uris_match_ipfs_cids": all(r["token_uris_match_ipfs_cids"]
                                          for r in (before, revm, embedded, hardhat)),
        "machine": machine(),
    }, indent=2))


if __name__ == "__main__":
    main()
