"""Stroke painter benchmark: prints one JSON document.

On scikit-image's astronaut, coffee and chelsea (centre-cropped squares) at each size
and stroke count: PSNR, SSIM and seconds (median of --repeats runs) of the torch
optimiser (`vision.painter.paint`, full colour) and of a greedy random-search baseline
(`vision.painter.greedy_paint`) measured in the same run, with their ratio; the dB lost
when the palette is limited to 8 k-means paints; and the pen-up travel of the optimiser's
plan before and after `vision.plan.order_strokes` (ratio must be >= 3 on every image).
PSNR/SSIM are measured on `render_preview` of the plan, i.e. what the robot is told.

    .venv/bin/python benchmarks/painter.py            # 128 and 256 px, 50..400 strokes, 3 runs
    .venv/bin/python benchmarks/painter.py --quick    # 128 px, 200 strokes, 1 run
    .venv/bin/python benchmarks/painter.py --sizes 128 --strokes 200 400 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import cv2
import numpy as np
from skimage import data

from gaka.machine import machine_info, median_time
from vision.metrics import psnr, ssim
from vision.painter import PainterConfig, PaintResult, greedy_paint, paint
from vision.plan import (
    Canvas,
    Plan,
    Source,
    order_strokes,
    pen_up_travel_mm,
    render_preview,
)
from vision.preprocess import kmeans_palette

IMAGES = ("astronaut", "coffee", "chelsea")
CANVAS = Canvas(400.0, 400.0)
TARGETS = {(128, 200): (26.0, 30.0), (128, 400): (29.0, 90.0)}  # (dB, s): the painter's goals


def centre_square(name: str, size: int) -> np.ndarray:
    img = getattr(data, name)()
    h, w = img.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    return cv2.resize(img[y : y + s, x : x + s], (size, size), interpolation=cv2.INTER_AREA)


def _plan(res: PaintResult) -> Plan:
    return Plan(CANVAS, res.palette, res.strokes, Source("0" * 64, *res.target.shape[1::-1]))


def _scores(res: PaintResult) -> tuple[float, float]:
    preview = render_preview(_plan(res), res.px_per_mm)
    return psnr(res.target, preview), ssim(res.target, preview)


def run_case(name: str, size: int, strokes: int, repeats: int) -> dict[str, Any]:
    target = centre_square(name, size)
    config = PainterConfig(strokes=strokes, size=size)
    opt_s, opt = median_time(lambda: paint(target, CANVAS, config), repeats)
    base_s, base = median_time(lambda: greedy_paint(target, CANVAS, config), repeats)
    opt_psnr, opt_ssim = _scores(opt)
    base_psnr, base_ssim = _scores(base)
    plan = _plan(opt)
    before = pen_up_travel_mm(plan)
    after = pen_up_travel_mm(order_strokes(plan))
    row: dict[str, Any] = {
        "image": name,
        "size": size,
        "strokes": strokes,
        "optimiser": {
            "psnr_db": round(opt_psnr, 2),
            "ssim": round(opt_ssim, 4),
            "seconds": round(opt_s, 2),
        },
        "greedy": {
            "psnr_db": round(base_psnr, 2),
            "ssim": round(base_ssim, 4),
            "seconds": round(base_s, 2),
        },
        "gain_db_vs_greedy": round(opt_psnr - base_psnr, 2),
        "travel": {
            "unordered_mm": round(before, 1),
            "ordered_mm": round(after, 1),
            "reduction": round(before / after, 2) if after else None,
        },
    }
    goal = TARGETS.get((size, strokes))
    if goal:
        row["target"] = {
            "psnr_db": goal[0],
            "seconds": goal[1],
            "met": bool(opt_psnr >= goal[0] and opt_s <= goal[1]),
        }
    return row


def palette_loss(name: str, size: int, strokes: int) -> dict[str, Any]:
    target = centre_square(name, size)
    paints = kmeans_palette(target, 8, seed=0)
    res = paint(target, CANVAS, PainterConfig(strokes=strokes, size=size), palette=paints)
    plan = _plan(res)
    free = psnr(res.target, res.free_rendered)
    final = psnr(res.target, render_preview(plan, res.px_per_mm))
    before, after = pen_up_travel_mm(plan), pen_up_travel_mm(order_strokes(plan))
    return {
        "image": name,
        "size": size,
        "strokes": strokes,
        "paints": 8,
        "psnr_free_db": round(free, 2),
        "psnr_palette_db": round(final, 2),
        "loss_db": round(free - final, 2),
        "travel_reduction": round(before / after, 2) if after else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="128 px, 200 strokes, 1 run")
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--strokes", type=int, nargs="+", default=[50, 100, 200, 400])
    parser.add_argument("--images", nargs="+", default=list(IMAGES), choices=IMAGES)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--palette-strokes",
        type=int,
        default=200,
        help="stroke count of the 8-paint palette runs (at the smallest size)",
    )
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.strokes, args.repeats = [128], [200], 1
    machine_at_start = machine_info(("torch", "numpy", "scipy", "scikit-image",
                                     "opencv-python-headless"))
    started = time.perf_counter()
    runs = [
        run_case(name, size, n, args.repeats)
        for size in args.sizes
        for n in args.strokes
        for name in args.images
    ]
    palettes = [palette_loss(name, min(args.sizes), args.palette_strokes) for name in args.images]
    reductions = [r["travel"]["reduction"] for r in runs] + [
        p["travel_reduction"] for p in palettes
    ]
    print(
        json.dumps(
            {
                "benchmark": "painter",
                "machine": {
                    **machine_at_start,
                    "torch_threads": 1,
                },
                "settings": {
                    "canvas_mm": [CANVAS.width_mm, CANVAS.height_mm],
                    "repeats": args.repeats,
                    "config": PainterConfig().__dict__,
                },
                "runs": runs,
                "palette8": palettes,
                "summary": {
                    "min_travel_reduction": min(x for x in reductions if x is not None),
                    "travel_reduction_ge_3_everywhere": all(
                        x is not None and x >= 3 for x in reductions
                    ),
                    "targets_met": {
                        f"{r['image']}@{r['size']}px/{r['strokes']}": r["target"]["met"]
                        for r in runs
                        if "target" in r
                    },
                    "mean_gain_db_vs_greedy": round(
                        statistics.mean(r["gain_db_vs_greedy"] for r in runs), 2
                    ),
                },
                "total_seconds": round(time.perf_counter() - started, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
