"""The brush: width from press depth, paint running out, reloads, and imperfections.

A round brush pressed `depth` mm into the canvas leaves a trace `width(depth)` wide,
linear up to `max_width_mm` at `max_depth_mm`. A loaded brush holds `capacity_mm2` of
paint (the area it can cover); painting spends area and, once the load falls below
`fade_fraction` of the capacity, the paint thins (opacity falls to 0 at empty).
Optional jitter wobbles the trace sideways (smooth noise along the path) and varies
each stroke's width, the way a real brush never quite lands where it was sent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from robot.arm_model import BrushSpec
from robot.errors import TrajectoryError
from vision.plan import stroke_coverage

# Contact polylines are rendered in pieces of this many segments, each at its own opacity.
PIECE_SEGMENTS = 8


@dataclass(frozen=True)
class BrushModel:
    """Brush geometry, paint capacity and (optional) perturbations."""

    max_width_mm: float
    max_depth_mm: float
    capacity_mm2: float
    fade_fraction: float
    jitter_mm: float = 0.0
    jitter_length_mm: float = 15.0
    width_noise: float = 0.0

    @classmethod
    def from_spec(cls, spec: BrushSpec) -> BrushModel:
        return cls(spec.max_width_mm, spec.max_depth_mm, spec.capacity_mm2, spec.fade_fraction)

    def perturbed(self, jitter_mm: float, width_noise: float,
                  capacity_scale: float = 1.0) -> BrushModel:
        """The same brush, wobbling by `jitter_mm`, widths varying by `width_noise` (relative)
        and holding `capacity_scale` times the paint."""
        return replace(self, jitter_mm=jitter_mm, width_noise=width_noise,
                       capacity_mm2=self.capacity_mm2 * capacity_scale)

    def width_at_depth(self, depth_mm: np.ndarray) -> np.ndarray:
        """Trace width (mm) for press depths (mm); no contact above the surface."""
        d = np.asarray(depth_mm, dtype=float)
        return self.max_width_mm * np.clip(d / self.max_depth_mm, 0.0, 1.0)

    def depth_for_width(self, width_mm: np.ndarray) -> np.ndarray:
        """Press depth (mm) giving `width_mm`; widths beyond the brush are refused."""
        w = np.asarray(width_mm, dtype=float)
        if (w > self.max_width_mm + 1e-9).any():
            raise TrajectoryError(
                f"the plan asks for a {float(w.max()):.2f} mm wide trace but the brush is at "
                f"most {self.max_width_mm:g} mm wide"
            )
        return self.max_depth_mm * w / self.max_width_mm

    def opacity(self, load_mm2: float) -> float:
        """How opaque the paint is with `load_mm2` left on the brush."""
        fade = self.fade_fraction * self.capacity_mm2
        return float(np.clip(load_mm2 / fade, 0.0, 1.0)) if fade > 0 else 1.0


@dataclass
class BrushState:
    """What is on the brush now: a paint colour (None when clean) and how much is left."""

    rgb: tuple[int, int, int] | None = None
    load_mm2: float = 0.0


def jitter_offsets(arclength_mm: np.ndarray, model: BrushModel,
                   rng: np.random.Generator) -> np.ndarray:
    """Smooth sideways wobble (n, 2) mm along a path: noise knots every `jitter_length_mm`."""
    if model.jitter_mm <= 0 or len(arclength_mm) == 0:
        return np.zeros((len(arclength_mm), 2))
    s = arclength_mm - arclength_mm[0]
    knots = np.arange(0.0, float(s[-1]) + 2 * model.jitter_length_mm, model.jitter_length_mm)
    values = rng.normal(0.0, model.jitter_mm, size=(len(knots), 2))
    return np.stack([np.interp(s, knots, values[:, k]) for k in range(2)], axis=1)


def paint_contact(canvas: np.ndarray, xy_mm: np.ndarray, width_mm: np.ndarray,
                  state: BrushState, model: BrushModel, px_per_mm: float,
                  rng: np.random.Generator) -> None:
    """Paint one continuous contact (brush down → up) onto `canvas` (H, W, 3 float, in place).

    Spends paint from `state` along the way; opacity follows the load piece by piece.
    A clean brush (no colour) leaves nothing."""
    if state.rgb is None or len(xy_mm) == 0:
        return
    xy = np.asarray(xy_mm, dtype=float)
    width = np.asarray(width_mm, dtype=float)
    if len(xy) == 1:
        xy, width = np.repeat(xy, 2, axis=0), np.repeat(width, 2)
    seg = np.hypot(*np.diff(xy, axis=0).T)
    arclen = np.concatenate([[0.0], np.cumsum(seg)])
    xy = xy + jitter_offsets(arclen, model, rng)
    if model.width_noise > 0:
        width = width * max(0.0, 1.0 + rng.normal(0.0, model.width_noise))
    height, wpx = canvas.shape[:2]
    pts = xy * px_per_mm
    rad = width * px_per_mm / 2.0
    reach = float(rad.max()) + 2.0
    x0 = max(0, math.floor(pts[:, 0].min() - reach))
    x1 = min(wpx, math.ceil(pts[:, 0].max() + reach))
    y0 = max(0, math.floor(pts[:, 1].min() - reach))
    y1 = min(height, math.ceil(pts[:, 1].max() + reach))
    # The first touch spends the footprint of the brush, every segment its swept area.
    spend = np.concatenate([[math.pi * width[0] ** 2 / 4.0], seg * 0.5 * (width[:-1] + width[1:])])
    if x1 <= x0 or y1 <= y0:
        state.load_mm2 = max(0.0, state.load_mm2 - float(spend.sum()))
        return
    alpha = np.zeros((y1 - y0, x1 - x0))
    for a in range(0, len(pts) - 1, PIECE_SEGMENTS):
        b = min(a + PIECE_SEGMENTS, len(pts) - 1)
        opacity = model.opacity(state.load_mm2)
        used = float(spend[0 if a == 0 else a + 1 : b + 1].sum())
        state.load_mm2 = max(0.0, state.load_mm2 - used)
        if opacity <= 0:
            continue
        cov, (cy, cx) = stroke_coverage(pts[a : b + 1], rad[a : b + 1], height, wpx)
        if cov.size == 0:
            continue
        win = alpha[cy - y0 : cy - y0 + cov.shape[0], cx - x0 : cx - x0 + cov.shape[1]]
        np.maximum(win, cov * opacity, out=win)
    region = canvas[y0:y1, x0:x1]
    region += alpha[..., None] * (np.asarray(state.rgb, dtype=float) - region)
