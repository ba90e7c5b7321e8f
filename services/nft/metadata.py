"""ERC-721 metadata of a painting, and the identifiers that tie it to the chain.

The token id is the provenance hash: sha2-256 of the plan's canonical JSON, the very bytes
pinned as the plan, so anyone can fetch the plan and check it. The metadata JSON is pinned
as one raw-leaf CIDv1 block; PaintingNFT stores its sha2-256 digest and rebuilds
`ipfs://bafkrei…` from it on-chain.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from services.ipfs.cid import CID, RAW
from services.ipfs.dag import CHUNK_SIZE
from services.nft.errors import PublishError
from vision.plan import Plan


def canonical_plan(plan: Plan) -> bytes:
    """The plan's bytes as pinned and hashed: its compact, stable JSON."""
    return plan.to_json().encode()


def provenance_hash(plan: Plan) -> bytes:
    """32-byte provenance hash of a plan (the token id, big-endian)."""
    return hashlib.sha256(canonical_plan(plan)).digest()


@dataclass(frozen=True)
class Painting:
    """What the metadata says about one painting."""

    plan: Plan
    image_cid: str
    plan_cid: str
    film_cid: str | None = None
    painting_seconds: float | None = None
    arm: str | None = None

    @property
    def provenance(self) -> bytes:
        return provenance_hash(self.plan)


def build_metadata(p: Painting) -> dict[str, Any]:
    """The ERC-721 metadata JSON document (OpenSea-style attributes)."""
    plan = p.plan
    token = "0x" + p.provenance.hex()
    canvas = f"{plan.canvas.width_mm:g}x{plan.canvas.height_mm:g}"
    attributes: list[dict[str, Any]] = [
        {"trait_type": "strokes", "value": len(plan.strokes), "display_type": "number"},
        {"trait_type": "paints", "value": len(plan.palette), "display_type": "number"},
    ]
    if p.painting_seconds is not None:
        attributes.append({"trait_type": "painting seconds",
                           "value": round(p.painting_seconds, 3), "display_type": "number"})
    if p.arm is not None:
        attributes.append({"trait_type": "arm", "value": p.arm})
    attributes.append({"trait_type": "canvas mm", "value": canvas})
    seed = plan.metrics.get("seed")
    if seed is not None:
        attributes.append({"trait_type": "seed", "value": seed})
    attributes.append({"trait_type": "provenance hash", "value": token})
    doc: dict[str, Any] = {
        "name": f"Gaka painting {token[:10]}",
        "description": (f"Painted by a robot arm in {_count(len(plan.strokes), 'stroke')} of "
                        f"{_count(len(plan.palette), 'paint')} on a {canvas} mm canvas. The "
                        "token id is the sha2-256 of the stroke plan, pinned at `plan`."),
        "image": f"ipfs://{p.image_cid}",
    }
    if p.film_cid is not None:
        doc["animation_url"] = f"ipfs://{p.film_cid}"
    doc["attributes"] = attributes
    doc["plan"] = f"ipfs://{p.plan_cid}"
    return doc


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def metadata_bytes(doc: dict[str, Any]) -> bytes:
    """Stable encoding (sorted keys, compact, UTF-8): the same painting, the same CID."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def metadata_cid(blob: bytes) -> CID:
    """The raw-leaf CIDv1 the contract can rebuild: one block, so at most one chunk."""
    if len(blob) > CHUNK_SIZE:
        raise PublishError(f"metadata is {len(blob)} bytes; it must fit one IPFS block "
                           f"({CHUNK_SIZE} bytes) for the on-chain tokenURI")
    return CID.for_block(blob, 1, RAW)
