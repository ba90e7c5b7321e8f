"""`gaka publish`: pin, mint once, resolve tokenURI back to the exact files; and its faults."""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from robot.film import read_film_info
from services.chain.backends import ChainSpec, open_chain
from services.chain.compiler import compile_project
from services.chain.errors import RPCUnavailable
from services.ipfs.cid import CID, RAW
from services.ipfs.embedded import EmbeddedStore
from services.ipfs.errors import NodeUnavailable
from services.ipfs.node import NodeStore
from services.nft.errors import PublishError
from services.nft.publish import load_folder, publish
from tests.conftest import GAKA, ROOT
from tests.services.nft.conftest import Deployed, deploy_nft


def check_resolves(deployed: Deployed, token: int, read: Callable[[str], bytes], folder: Path,
                   tmp: Path) -> dict:
    """tokenURI → metadata → image / animation_url / plan are exactly the folder's files."""
    chain, nft = deployed.chain, deployed.nft
    assert chain.call(nft.functions.ownerOf(token)) == deployed.robot
    uri = chain.call(nft.functions.tokenURI(token))
    assert uri.startswith("ipfs://bafkrei")
    blob = read(uri.removeprefix("ipfs://"))
    assert CID.parse(uri[7:]) == CID.for_block(blob, 1, RAW)  # one raw block, as on-chain
    meta = json.loads(blob)
    assert read(meta["image"].removeprefix("ipfs://")) == (folder / "canvas.png").read_bytes()
    film = read(meta["animation_url"].removeprefix("ipfs://"))
    assert film == (folder / "film.mp4").read_bytes()
    (tmp / "fetched.mp4").write_bytes(film)
    assert read_film_info(tmp / "fetched.mp4").codec == "h264"
    plan = read(meta["plan"].removeprefix("ipfs://"))
    assert int.from_bytes(hashlib.sha256(plan).digest(), "big") == token
    attrs = {a["trait_type"]: a["value"] for a in meta["attributes"]}
    record = json.loads((folder / "paint.json").read_text())
    assert attrs["strokes"] == 6 and attrs["paints"] == len(json.loads(plan)["palette"])
    assert attrs["painting seconds"] == pytest.approx(record["arm_time_s"], abs=1e-3)
    assert attrs["arm"] == "kuka_kr6_r900" and attrs["canvas mm"] == "500x400"
    assert attrs["seed"] == 3 and attrs["provenance hash"] == f"0x{token:064x}"
    return meta


def minted_count(deployed: Deployed, token: int) -> int:
    events = deployed.chain.events(deployed.nft, from_block=deployed.block,
                                   names=("PaintingMinted",))
    return sum(1 for e in events if e.args["tokenId"] == token)


def test_cli_publish_on_the_embedded_chain_and_store(folder, gaka_env, tmp_path):
    def gaka(*args: str) -> dict:
        out = subprocess.run([str(GAKA), *args], env=gaka_env, cwd=ROOT, text=True,
                             capture_output=True, timeout=300)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    gaka("chain", "deploy")
    first = gaka("publish", str(folder))
    second = gaka("publish", str(folder))
    assert first["minted_now"] is True and second["minted_now"] is False
    assert first["tx_hash"] == second["tx_hash"] and first["cids"] == second["cids"]
    assert first["token_uri"] == f"ipfs://{first['cids']['metadata']}"
    token = int(first["token_id"])
    store = EmbeddedStore(Path(gaka_env["GAKA_DATA_DIR"]) / "ipfs")
    chain = open_chain(ChainSpec("embedded", data_dir=Path(gaka_env["GAKA_DATA_DIR"])))
    try:
        record = json.loads((Path(gaka_env["GAKA_DEPLOYMENTS_DIR"]) / "embedded.json").read_text())
        deployed = deploy_nft(chain, Path(gaka_env["GAKA_DEPLOYMENTS_DIR"]))
        assert deployed.nft.address == record["contracts"]["PaintingNFT"]["address"]
        check_resolves(deployed, token, store.cat, folder, tmp_path)
        assert minted_count(deployed, token) == 1
        assert chain.call(deployed.nft.functions.balanceOf(deployed.robot)) == 1
    finally:
        chain.close()
    assert {str(c) for c in store.pins()} == set(first["cids"].values())
    assert json.loads((folder / "publish.json").read_text())["tx_hash"] == first["tx_hash"]


@pytest.mark.hardhat
@pytest.mark.ipfs_node
def test_publish_on_hardhat_and_js_ipfs(folder, hardhat_node, jsipfs, tmp_path):
    chain = open_chain(ChainSpec("localhost", rpc_url=hardhat_node))
    deployed = deploy_nft(chain, tmp_path / "deployments")
    node = NodeStore(jsipfs.api)
    done = publish(load_folder(folder), node, chain, deployed.nft, deployed.robot,
                   deployed.block)
    token = int(done.token_id)
    # Resolve through the node's own `cat`, not through our DAG reader.
    check_resolves(deployed, token, lambda cid: node._client.cat(cid), folder, tmp_path)
    again = publish(load_folder(folder), node, chain, deployed.nft, deployed.robot,
                    deployed.block)
    assert done.minted_now and not again.minted_now and again.tx_hash == done.tx_hash
    assert minted_count(deployed, token) == 1


@pytest.mark.ipfs_node
def test_node_down_during_upload_mints_nothing_then_rerun_completes(folder, embedded,
                                                                     jsipfs):
    node = NodeStore(jsipfs.api, timeout_s=5, retries=2)
    steps: list[str] = []

    def kill_after_image(step: str) -> None:
        steps.append(step)
        if step == "image":
            jsipfs.stop()

    try:
        with pytest.raises(NodeUnavailable, match=f"IPFS node at {jsipfs.api}"):
            publish(load_folder(folder), node, embedded.chain, embedded.nft, embedded.robot,
                    embedded.block, on_step=kill_after_image)
    finally:
        jsipfs.start()
    assert steps == ["image"]
    token = int.from_bytes(hashlib.sha256(load_folder(folder).plan.to_json().encode())
                           .digest(), "big")
    assert minted_count(embedded, token) == 0
    done = publish(load_folder(folder), node, embedded.chain, embedded.nft, embedded.robot,
                   embedded.block)
    assert done.minted_now and minted_count(embedded, token) == 1


@pytest.mark.hardhat
@pytest.mark.parametrize("cut", ["before_send", "after_send"])
def test_rpc_failure_between_pin_and_mint_then_exactly_one_mint(folder, relay, hardhat_node,
                                                                 tmp_path, cut):
    """The RPC link dies after pinning: before the mint is sent, or after the node got it but
    before we heard back. Either way a rerun ends with exactly one mint."""
    direct = open_chain(ChainSpec("localhost", rpc_url=hardhat_node))
    deployed = deploy_nft(direct, tmp_path / "deployments")
    via = open_chain(ChainSpec("localhost", rpc_url=relay.url, rpc_timeout_s=5, retries=2))
    nft = via.at(compile_project()["PaintingNFT"], deployed.nft.address)
    store = EmbeddedStore(tmp_path / "ipfs")
    nonce = direct.nonce(deployed.robot)

    def cut_link(step: str) -> None:
        if step == "metadata":
            relay.mode = "down" if cut == "before_send" else "lose_answer_then_down"

    with pytest.raises(RPCUnavailable, match=relay.url):
        publish(load_folder(folder), store, via, nft, deployed.robot, deployed.block,
                on_step=cut_link)
    token = int(json.loads((folder / "publish.json").read_text())["provenance"], 16)
    assert minted_count(deployed, token) == (0 if cut == "before_send" else 1)
    relay.mode = "up"
    done = publish(load_folder(folder), store, via, nft, deployed.robot, deployed.block)
    assert done.minted_now == (cut == "before_send")
    assert minted_count(deployed, token) == 1
    assert direct.nonce(deployed.robot) == nonce + 1  # one transaction from the robot, ever
    assert done.tx_hash is not None
    check_resolves(deployed, token, store.cat, folder, tmp_path)


def test_crash_between_pin_and_mint_resumes(folder, embedded):
    def crash(step: str) -> None:
        if step == "metadata":
            raise KeyboardInterrupt  # the process dies here

    store = EmbeddedStore(folder.parent / "ipfs")
    with pytest.raises(KeyboardInterrupt):
        publish(load_folder(folder), store, embedded.chain, embedded.nft, embedded.robot,
                embedded.block, on_step=crash)
    assert not (folder / "publish.json").exists()  # it died before recording anything
    token = int.from_bytes(hashlib.sha256(load_folder(folder).plan.to_json().encode())
                           .digest(), "big")
    assert minted_count(embedded, token) == 0
    done = publish(load_folder(folder), store, embedded.chain, embedded.nft, embedded.robot,
                   embedded.block)
    assert done.minted_now and int(done.token_id) == token
    assert minted_count(embedded, token) == 1


@pytest.mark.hardhat
def test_publish_waits_while_a_robot_transaction_is_unmined(folder, hardhat_node, tmp_path):
    chain = open_chain(ChainSpec("localhost", rpc_url=hardhat_node))
    deployed = deploy_nft(chain, tmp_path / "deployments")
    store = EmbeddedStore(tmp_path / "ipfs")
    w3 = chain.w3
    w3.provider.make_request("evm_setAutomine", [False])
    try:
        # What a cut-off run leaves behind: a transaction of the robot's in the node's pool.
        w3.eth.send_transaction({"from": deployed.robot, "to": deployed.robot, "value": 1})
        with pytest.raises(PublishError, match="not yet mined"):
            publish(load_folder(folder), store, chain, deployed.nft, deployed.robot,
                    deployed.block)
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
        w3.provider.make_request("evm_mine", [])
    done = publish(load_folder(folder), store, chain, deployed.nft, deployed.robot,
                   deployed.block)
    assert done.minted_now and minted_count(deployed, int(done.token_id)) == 1


@pytest.mark.parametrize(("name", "bad", "said"), [
    ("canvas.png", b"garbage\n", "is not a PNG image"),
    ("canvas.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "is not a PNG image"),  # header only
    ("film.mp4", b"garbage\n", "is not a playable video"),
])
def test_broken_image_or_film_pins_and_mints_nothing(folder, embedded, name, bad, said):
    (folder / name).write_bytes(bad)
    store = EmbeddedStore(folder.parent / "ipfs")
    with pytest.raises(PublishError, match=f"{name} {said}; repaint or remove it"):
        publish(load_folder(folder), store, embedded.chain, embedded.nft, embedded.robot,
                deploy_block=embedded.block)
    assert not list(store.pins())
    assert embedded.chain.events(embedded.nft, from_block=embedded.block,
                                 names=("PaintingMinted",)) == []
    assert not (folder / "publish.json").exists()


def test_cli_refuses_a_painting_that_is_not_an_image(folder, gaka_env):
    (folder / "canvas.png").write_bytes(b"garbage\n")
    out = subprocess.run([str(GAKA), "publish", str(folder)], env=gaka_env, cwd=ROOT, text=True,
                         capture_output=True, timeout=120)
    assert out.returncode != 0 and out.stdout == ""
    assert out.stderr.splitlines() == [f"error: {folder / 'canvas.png'} is not a PNG image; "
                                       "repaint or remove it"]
