"""Publish a painted plan: pin image, film, plan and metadata, then mint it exactly once.

The chain is the source of truth: the token id is the plan's provenance hash, so before
minting we ask PaintingNFT whether that token exists. A rerun after any crash therefore
re-pins (idempotent: same bytes, same CIDs) and mints only if no mint landed; a mint that
loses a race reverts on-chain and is reported as already minted. `publish.json` in the
folder records the outcome (and the mint transaction) for the next run and for people.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
from web3.contract import Contract

from services.chain.errors import ContractReverted
from services.chain.protocol import Chain
from services.ipfs.cid import CID, RAW
from services.ipfs.store import ContentStore
from services.nft.errors import PublishError
from services.nft.metadata import (
    Painting,
    build_metadata,
    canonical_plan,
    metadata_bytes,
    metadata_cid,
    provenance_hash,
)
from vision.plan import Plan, PlanError, load_plan

IMAGES = ("canvas.png", "painting.png", "preview.png")
FILMS = ("film.mp4", "painting.mp4")
RECORD = "paint.json"
JOURNAL = "publish.json"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class PaintingFolder:
    """A painted plan's folder: plan.json, the painting's PNG, its film and paint record."""

    root: Path
    plan: Plan
    image: Path
    film: Path | None
    record: dict[str, Any]


def _first(root: Path, names: tuple[str, ...]) -> Path | None:
    return next((root / n for n in names if (root / n).is_file()), None)


def _check_image(path: Path) -> None:
    """Refuse a painting file that does not decode as a PNG: it would become the token's image."""
    data = path.read_bytes()
    if not data.startswith(PNG_SIGNATURE) or cv2.imdecode(np.frombuffer(data, np.uint8),
                                                          cv2.IMREAD_UNCHANGED) is None:
        raise PublishError(f"{path} is not a PNG image; repaint or remove it")


def _check_film(path: Path) -> None:
    """Refuse a film without a decodable video frame: it would become the token's animation."""
    try:
        with av.open(str(path)) as container:
            next(container.decode(video=0))
    except (av.FFmpegError, OSError, IndexError, StopIteration):
        raise PublishError(f"{path} is not a playable video; repaint or remove it") from None


def load_folder(root: Path) -> PaintingFolder:
    """Find the parts of a painting in `root` (see IMAGES, FILMS, RECORD)."""
    if not root.is_dir():
        raise PublishError(f"{root} is not a folder")
    try:
        plan = load_plan(root / "plan.json")
    except (PlanError, OSError) as exc:
        raise PublishError(f"{root}: no usable plan.json ({exc})") from None
    image = _first(root, IMAGES)
    if image is None:
        raise PublishError(f"{root}: no painting image (one of {', '.join(IMAGES)})")
    record: dict[str, Any] = {}
    if (root / RECORD).is_file():
        try:
            record = json.loads((root / RECORD).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise PublishError(f"{root / RECORD} is not valid JSON: {exc}") from None
    film = _first(root, FILMS)
    if film is None and isinstance(record.get("film"), dict):
        path = Path(record["film"].get("path", ""))
        film = path if path.is_file() else None
    _check_image(image)
    if film is not None:
        _check_film(film)
    return PaintingFolder(root, plan, image, film, record)


@dataclass(frozen=True)
class Published:
    """What `gaka publish` prints."""

    token_id: str
    provenance: str
    cids: dict[str, str]
    token_uri: str
    tx_hash: str | None
    minted_now: bool
    network: str
    contract: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Step = Callable[[str], None]


def _minted_digest(chain: Chain, nft: Contract, token: int) -> bytes | None:
    """The metadata digest stored for `token`, or None when it was never minted."""
    try:
        return bytes(chain.call(nft.functions.cidDigestOf(token)))
    except ContractReverted as exc:
        if exc.reason.startswith("ERC721NonexistentToken"):
            return None
        raise


def _mint_tx(chain: Chain, nft: Contract, token: int, from_block: int) -> str | None:
    for event in chain.events(nft, from_block=from_block, names=("PaintingMinted",)):
        if event.args["tokenId"] == token:
            return "0x" + bytes(event.log.tx_hash).hex()
    return None


def _hex(tx_hash: Any) -> str:
    return "0x" + bytes(tx_hash).hex().removeprefix("0x")


def _write_journal(root: Path, doc: dict[str, Any]) -> None:
    tmp = root / f".{JOURNAL}.tmp"
    tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    tmp.replace(root / JOURNAL)


def pin_painting(folder: PaintingFolder, store: ContentStore,
                 on_step: Step | None = None) -> tuple[dict[str, str], bytes]:
    """Pin image, film, plan and metadata (CIDv1); returns the CIDs and the metadata bytes."""
    step = on_step or (lambda _name: None)
    cids = {"image": str(store.add(folder.image, cid_version=1))}
    step("image")
    if folder.film is not None:
        cids["film"] = str(store.add(folder.film, cid_version=1))
        step("film")
    cids["plan"] = str(store.add(canonical_plan(folder.plan), cid_version=1))
    step("plan")
    painting = Painting(folder.plan, cids["image"], cids["plan"], cids.get("film"),
                        folder.record.get("arm_time_s"), folder.record.get("config"))
    blob = metadata_bytes(build_metadata(painting))
    expected = metadata_cid(blob)
    got = store.add(blob, cid_version=1)
    if got != expected:
        raise PublishError(f"{store.where} stored the metadata as {got}, expected {expected}")
    cids["metadata"] = str(got)
    step("metadata")
    return cids, blob


def publish(folder: PaintingFolder, store: ContentStore, chain: Chain, nft: Contract,
            robot: str, deploy_block: int = 0, on_step: Step | None = None) -> Published:
    """Pin everything, then mint to `robot` unless the plan's token already exists."""
    step = on_step or (lambda _name: None)
    provenance = provenance_hash(folder.plan)
    token = int.from_bytes(provenance, "big")
    cids, blob = pin_painting(folder, store, step)
    digest = metadata_cid(blob).digest
    journal: dict[str, Any] = {"provenance": "0x" + provenance.hex(), "cids": cids,
                               "network": chain.network, "contract": nft.address,
                               "status": "pinned"}
    previous = _read_journal(folder.root)
    _write_journal(folder.root, {**previous, **journal})

    tx_hash, minted_now = None, False
    onchain = _minted_digest(chain, nft, token)
    if onchain is None:
        waiting = chain.pending_nonce(robot) - chain.nonce(robot)
        if waiting > 0:
            # One of them may be this painting's mint, sent by a run that was cut off.
            raise PublishError(
                f"the robot {robot} has {waiting} transaction(s) not yet mined on "
                f"{chain.network}; rerun `gaka publish` once they are")
        try:
            receipt = chain.transact(nft.functions.mint(robot, provenance, digest), sender=robot)
            tx_hash, minted_now = _hex(receipt["transactionHash"]), True
        except ContractReverted:
            onchain = _minted_digest(chain, nft, token)
            if onchain is None:
                raise
        step("minted")
    if not minted_now:
        same = previous.get("contract") == nft.address and previous.get("network") == \
            chain.network
        tx_hash = (previous.get("tx_hash") if same else None) or \
            _mint_tx(chain, nft, token, deploy_block)
        if onchain is not None and onchain != digest:
            # Minted earlier from other bytes (e.g. a re-encoded film): the chain's URI wins.
            cids["metadata_on_chain"] = str(CID(1, RAW, onchain))
    token_uri = chain.call(nft.functions.tokenURI(token))
    _write_journal(folder.root, {**journal, "status": "minted", "token_id": str(token),
                                 "token_uri": token_uri, "tx_hash": tx_hash, "cids": cids})
    return Published(str(token), "0x" + provenance.hex(), cids, token_uri, tx_hash, minted_now,
                     chain.network, nft.address)


def _read_journal(root: Path) -> dict[str, Any]:
    try:
        doc = json.loads((root / JOURNAL).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}
