"""The robot's cycle against a simulated world: plan → paint with the simulated arm →
publish (pin + mint) → auction to simulated bidders → settle → repay → supplies.

For tests and benchmarks on local dev chains; the daemon drives the same service calls.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from robot.jobs import PaintOptions, run_paint
from services.auctions import auctions
from services.economy.core import Economy
from services.investors import investors
from services.ipfs.store import ContentStore
from services.market import market
from services.nft.publish import load_folder, publish
from services.supplies import supplies
from vision.painter import PainterConfig
from vision.pipeline import plan_paint
from vision.plan import Canvas, Plan, Source, save_plan

PALETTE = np.array([[20, 20, 20], [200, 40, 40], [40, 90, 200], [230, 200, 60]], dtype=np.uint8)


@dataclass(frozen=True)
class Painted:
    """A painted, published painting."""

    folder: Path
    plan: Plan
    token_id: int


def paint_and_publish(eco: Economy, store: ContentStore, image: np.ndarray, folder: Path,
                      seed: int, strokes: int = 12, size: int = 24) -> Painted:
    """Plan `image` (small), paint it with the simulated arm, pin and mint it; consume its
    supplies (once per plan)."""
    folder.mkdir(parents=True, exist_ok=True)
    source = Source(hashlib.sha256(image.tobytes() + seed.to_bytes(4, "big")).hexdigest(),
                    image.shape[1], image.shape[0])
    planned = plan_paint(image, source, Canvas(500.0, 400.0),
                         PainterConfig(strokes=strokes, size=size, seed=seed, stages=2,
                                       stage_iterations=8, final_iterations=4,
                                       palette_iterations=4), PALETTE)
    save_plan(planned.plan, folder / "plan.json")
    record = run_paint(PaintOptions(plan=folder / "plan.json", canvas_png=folder / "canvas.png",
                                    px_per_mm=0.25))
    (folder / "paint.json").write_text(json.dumps(record, indent=2) + "\n")
    published = publish(load_folder(folder), store, eco.chain, eco.contracts.nft, eco.wallet,
                        deploy_block=eco.contracts.start_block)
    token = int(published.token_id)
    supplies.consume_painting(eco, published.provenance, planned.plan)
    return Painted(folder, planned.plan, token)


def sell(eco: Economy, token_id: int, bidders: list[market.Bidder],
         rng: random.Random) -> dict[str, Any]:
    """Open the auction, let the simulated bidders play it out, settle, repay by policy."""
    lot = auctions.open_auction(eco, token_id)
    bids = market.run_auction(eco.chain, eco.contracts, token_id, bidders, rng) \
        if lot.state == "open" else []
    settled = auctions.settle_due(eco)
    relisted = auctions.relist_unsold(eco)
    repaid = investors.repay_due(eco)
    return {"bids": len(bids), "extended": any(b.extended for b in bids),
            "settled": [lot.state for lot in settled], "relisted": len(relisted),
            "repaid_wei": repaid}


def restock(eco: Economy) -> dict[str, Any]:
    """Reorder what runs low, let the simulated shop ship, confirm deliveries."""
    ordered = supplies.reorder_if_needed(eco)
    shipped = market.fulfil_orders(eco.chain, eco.contracts)
    confirmed = supplies.confirm_deliveries(eco)
    return {"reorders": [r.to_dict() for r in ordered], "shipped": shipped,
            "confirmed": confirmed}
