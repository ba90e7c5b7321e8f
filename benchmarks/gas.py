"""Gas of every contract operation on the embedded chain and on a Hardhat node; one JSON.

Execution gas = receipt gasUsed - 21,000 (calldata included), median over ROUNDS rounds, with
ratios to the project's gas targets, to the published figures (Nouns, ERC721A, OZ Enumerable) and to
a straightforward OpenZeppelin NFT (contracts/test/BaselineNFT.sol) measured in the same run.
Run: .venv/bin/python benchmarks/gas.py
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gaka.machine import machine_info  # noqa: E402
from services.chain.backends import Chain, ChainSpec, open_chain  # noqa: E402
from services.chain.compiler import compile_project  # noqa: E402
from services.chain.deploy import deploy  # noqa: E402

ROUNDS = 5
BASE = 21_000
TARGETS = {"mint": 80_000, "first_bid": 35_000, "outbid": 45_000, "settle": 60_000}
REFERENCES = {  # execution gas, as published by each project
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


def measure(chain: Chain, out_dir: Path) -> dict[str, Any]:
    """Runs ROUNDS painting cycles and one supplies/investor cycle per round; gas per op."""
    artifacts = compile_project()
    record = deploy(chain, chain.network, out_dir)
    at = {n: chain.at(artifacts[n], e["address"]) for n, e in record["contracts"].items()}
    nft, house, shop, pool = (at[n] for n in
                              ("PaintingNFT", "AuctionHouse", "SupplyShop", "InvestorPool"))
    robot = record["robot"]
    alice, bob, carol = chain.accounts[2:5]
    baseline = chain.deploy(artifacts["BaselineNFT"])
    gas: dict[str, list[int]] = {"deploy_" + n: [int(e["gas_used"]) - BASE]
                                 for n, e in record["contracts"].items()}
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
        receipt = chain.transact(shop.functions.order(1, 1), sender=robot, value=price)
        gas.setdefault("order", []).append(execution_gas(receipt))
        (placed,) = shop.events.OrderPlaced().process_receipt(receipt)
        run("confirm", shop.functions.confirmDelivery(placed.args.orderId), robot)
        run("invest", pool.functions.invest(), alice, 10**18)
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_hardhat(log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cli = ROOT / "node_modules" / "hardhat" / "internal" / "cli" / "cli.js"
    proc = subprocess.Popen(["node", str(cli), "node", "--hostname", "127.0.0.1", "--port",
                             str(port)], cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"hardhat node exited with {proc.returncode}; see {log}")
        try:
            requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId",
                                     "params": []}, timeout=1).raise_for_status()
            return proc, url
        except requests.RequestException:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"hardhat node did not answer on {url}")


def machine() -> dict[str, Any]:
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    hardhat = json.loads((ROOT / "node_modules/hardhat/package.json").read_text())["version"]
    compiler = json.loads((ROOT / "contracts/compiler.json").read_text())
    return {**machine_info(("web3", "py-evm", "eth-tester")), "node": node,
            "hardhat": hardhat, "solc": compiler["version"], "solc_settings": compiler["settings"]}


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="gaka-gas-") as tmp:
        tmp_path = Path(tmp)
        chain = open_chain(ChainSpec("embedded", data_dir=tmp_path / "embedded"))
        try:
            embedded = measure(chain, tmp_path / "deploy-embedded")
        finally:
            chain.close()
        proc, url = start_hardhat(tmp_path / "hardhat.log")
        try:
            hardhat = measure(open_chain(ChainSpec("localhost", rpc_url=url)),
                              tmp_path / "deploy-hardhat")
        finally:
            proc.terminate()
            proc.wait(10)
    disagree = {op: {"embedded": v, "hardhat": hardhat["gas"][op]}
                for op, v in embedded["gas"].items() if hardhat["gas"][op] != v}
    print(json.dumps({
        "benchmark": "contract gas (execution gas = gasUsed - 21,000)",
        "rounds": ROUNDS,
        "embedded": summarize(embedded["gas"]),
        "hardhat": summarize(hardhat["gas"]),
        "backends_agree": not disagree,
        "disagreements": disagree,
        "token_uris_match_ipfs_cids": embedded["token_uris_match_ipfs_cids"]
        and hardhat["token_uris_match_ipfs_cids"],
        "machine": machine(),
    }, indent=2))


if __name__ == "__main__":
    main()
