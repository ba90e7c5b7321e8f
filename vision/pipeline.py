"""From a picture to a scored, ordered stroke plan: the two modes behind `gaka paint`.

`plan_lines` is Gaka-Chu's line art (threshold, thinning, centre-line tracing);
`plan_paint` runs the stroke optimiser. Both fit the image to the canvas aspect, order
the strokes to cut pen-up travel and store their fidelity in `plan.metrics`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np

from vision import metrics
from vision.errors import PaletteError
from vision.painter import PainterConfig, Progress, paint
from vision.plan import (
    Canvas,
    Paint,
    Plan,
    Source,
    Stroke,
    order_strokes,
    pen_up_travel_mm,
    preview_size,
    render_preview,
    split_strokes,
)
from vision.preprocess import (
    denoise,
    fit_to_aspect,
    ink_mask,
    kmeans_palette,
    line_thickness,
    simplify,
    skeleton_polylines,
)

DEFAULT_CANVAS = Canvas(500.0, 400.0)  # Gaka-Chu's canvas
INK = Paint("black", (20, 20, 20))
MAX_POINTS = 200  # points per stroke, as Gaka-Chu sent them to the arm


@dataclass(frozen=True)
class Planned:
    """A plan with the target it was fitted to and the preview resolution of its metrics."""

    plan: Plan
    target: np.ndarray
    px_per_mm: float


def fitted_target(image: np.ndarray, canvas: Canvas, size: int) -> tuple[np.ndarray, float]:
    """The image cropped to the canvas aspect at `size` px on the longer side, and px/mm."""
    ppm = size / max(canvas.width_mm, canvas.height_mm)
    h, w = preview_size(canvas, ppm)
    return fit_to_aspect(image, w, h), ppm


def score(plan: Plan, target: np.ndarray, px_per_mm: float) -> dict[str, float]:
    """PSNR, SSIM and paint coverage of the plan's preview against the fitted target."""
    preview = render_preview(plan, px_per_mm)
    return {
        "psnr_db": round(metrics.psnr(target, preview), 3),
        "ssim": round(metrics.ssim(target, preview), 4),
        "coverage": round(metrics.coverage(preview), 4),
    }


def _finish(
    plan: Plan, target: np.ndarray, ppm: float, extra: dict[str, float | int | str]
) -> Planned:
    before = pen_up_travel_mm(plan)
    ordered = order_strokes(plan)
    after = pen_up_travel_mm(ordered)
    figures = {
        **score(ordered, target, ppm),
        "strokes": len(ordered.strokes),
        "travel_unordered_mm": round(before, 1),
        "travel_mm": round(after, 1),
        "travel_reduction": round(before / after, 2) if after > 0 else 1.0,
        **extra,
    }
    return Planned(replace(ordered, metrics=figures), target, ppm)


def plan_lines(
    image: np.ndarray,
    source: Source,
    canvas: Canvas = DEFAULT_CANVAS,
    size: int = 512,
    ink: Paint = INK,
    threshold: int | None = None,
) -> Planned:
    """Line art: dark shapes become single-pass centre-line strokes of their local width."""
    start = time.perf_counter()
    target, ppm = fitted_target(image, canvas, size)
    mask = ink_mask(denoise(target, 2.0), threshold)
    thickness = line_thickness(mask)
    strokes = []
    for line in skeleton_polylines(mask):
        pts = simplify(line) if len(line) > 2 else np.vstack([line, line])[:2]
        cols = np.clip(pts[:, 0].astype(int), 0, mask.shape[1] - 1)
        rows = np.clip(pts[:, 1].astype(int), 0, mask.shape[0] - 1)
        local = np.maximum(thickness[rows, cols], 1.0)
        # Junctions are thicker than the lines meeting there: size the brush by the
        # median and let pressure taper it below that.
        width = float(np.median(local))
        strokes.append(
            Stroke(
                0,
                width / ppm,
                tuple(
                    (
                        min(x / ppm, canvas.width_mm),
                        min(y / ppm, canvas.height_mm),
                        min(1.0, lw / width),
                    )
                    for (x, y), lw in zip(pts.tolist(), local.tolist(), strict=True)
                ),
            )
        )
    plan = split_strokes(Plan(canvas, (ink,), tuple(strokes), source), max_points=MAX_POINTS)
    extra = {"mode": "lines", "seconds": round(time.perf_counter() - start, 2)}
    return _finish(plan, target, ppm, extra)


def parse_palette(spec: str | None, image: np.ndarray, seed: int = 0) -> np.ndarray | None:
    """`None`/'free' = free colours; an integer k = k-means paints of the image;
    a comma list of hex colours (#rrggbb) = those paints."""
    if spec is None or spec.strip().lower() in ("", "free"):
        return None
    spec = spec.strip()
    if spec.isdigit():
        k = int(spec)
        if not 1 <= k <= 64:
            raise PaletteError(f"palette size must be 1..64, got {k}")
        return kmeans_palette(image, k, seed=seed)
    paints = []
    for item in spec.split(","):
        h = item.strip().lstrip("#")
        if len(h) != 6 or any(c not in "0123456789abcdefABCDEF" for c in h):
            raise PaletteError(f"palette entry {item!r} is not a #rrggbb colour")
        paints.append([int(h[i : i + 2], 16) for i in (0, 2, 4)])
    return np.array(paints, dtype=np.uint8)


def plan_paint(
    image: np.ndarray,
    source: Source,
    canvas: Canvas = DEFAULT_CANVAS,
    config: PainterConfig = PainterConfig(),
    palette: np.ndarray | None = None,
    progress: Progress | None = None,
) -> Planned:
    """Painted strokes fitted by the optimiser; `palette` None means free colours."""
    start = time.perf_counter()
    target, _ = fitted_target(image, canvas, config.size)
    result = paint(target, canvas, config, palette=palette, progress=progress)
    plan = Plan(canvas, result.palette, result.strokes, source)
    extra: dict[str, float | int | str] = {
        "mode": "paint",
        "seconds": round(time.perf_counter() - start, 2),
        "seed": config.seed,
    }
    if result.free_rendered is not None:
        free = metrics.psnr(result.target, result.free_rendered)
        final = metrics.psnr(result.target, result.rendered)
        extra["psnr_free_colour_db"] = round(free, 3)
        extra["palette_loss_db"] = round(free - final, 3) if math.isfinite(free) else 0.0
    return _finish(plan, result.target, result.px_per_mm, extra)
