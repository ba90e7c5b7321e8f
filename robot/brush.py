"""The brush: a bristle model of what the arm leaves on the canvas, not the preview's disc.

A round brush pressed `depth` mm into the canvas leaves a trace `width(depth)` wide
(linear up to `max_width_mm` at `max_depth_mm`), a little narrower the faster it moves
(`speed_narrowing` at `ref_speed_mm_s`). The trace is made of `bristles` strands across
its width; each strand carries its own share of paint (spread `bristle_spread`), so as
the load falls the driest strands stop marking first and the trace turns streaky. A
loaded brush holds `capacity_mm2` of paint (the area it can cover); painting spends area
along the path and, below `fade_fraction` of the capacity, the paint thins towards
nothing at empty. Dipping in a pot refills it. The trace's edges are ragged (the strands
splay by up to `edge_roughness` of the half width) and the paint lies unevenly (a grain
of `grain` relative strength). Optional jitter wobbles the trace sideways and varies each
stroke's width, the way a real brush never quite lands where it was sent.

This rasteriser is the robot's own: it shares no code with the plan's preview, so
comparing a simulated canvas with the preview measures painting, not just geometry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from robot.arm_model import BrushSpec
from robot.errors import TrajectoryError

# Contact paths are rasterised in pieces of this many segments, each in its own box.
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
    bristles: int = 24
    bristle_spread: float = 0.25  # relative spread of the strands' paint shares
    edge_roughness: float = 0.08  # share of the half width the edges wander by
    grain: float = 0.06  # relative unevenness of the paint film
    speed_narrowing: float = 0.1  # the trace is this much narrower at ref_speed_mm_s
    ref_speed_mm_s: float = 80.0

    @classmethod
    def from_spec(cls, spec: BrushSpec) -> BrushModel:
        return cls(spec.max_width_mm, spec.max_depth_mm, spec.capacity_mm2, spec.fade_fraction)

    def perturbed(self, jitter_mm: float, width_noise: float,
                  capacity_scale: float = 1.0) -> BrushModel:
        """The same brush, wobbling by `jitter_mm`, widths varying by `width_noise` (relative)
        and holding `capacity_scale` times the paint."""
        return replace(self, jitter_mm=jitter_mm, width_noise=width_noise,
                       capacity_mm2=self.capacity_mm2 * capacity_scale)

    def smooth(self) -> BrushModel:
        """The same brush without texture (one even strand, straight edges, no grain, no
        speed narrowing): what is left are geometry and paint load."""
        return replace(self, bristle_spread=0.0, edge_roughness=0.0, grain=0.0,
                       speed_narrowing=0.0)

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
                  rng: np.random.Generator, times_s: np.ndarray | None = None) -> None:
    """Paint one continuous contact (brush down → up) onto `canvas` (H, W, 3 float, in place).

    `width_mm` is the press-depth width at each point; `times_s` (when given) the time
    the brush passed there, from which its speed narrows the trace. Spends paint from
    `state` along the way. A clean brush (no colour) leaves nothing."""
    if state.rgb is None or len(xy_mm) == 0:
        return
    xy = np.asarray(xy_mm, dtype=float)
    width = np.asarray(width_mm, dtype=float)
    if len(xy) == 1:
        xy, width = np.repeat(xy, 2, axis=0), np.repeat(width, 2)
        times_s = None if times_s is None else np.repeat(np.asarray(times_s, dtype=float), 2)
    seg = np.hypot(*np.diff(xy, axis=0).T)
    arclen = np.concatenate([[0.0], np.cumsum(seg)])
    xy = xy + jitter_offsets(arclen, model, rng)
    if model.width_noise > 0:
        width = width * max(0.0, 1.0 + rng.normal(0.0, model.width_noise))
    width = width * _speed_factor(arclen, times_s, model)
    # The first touch spends the footprint of the brush, every segment its swept area.
    spend = np.concatenate([[math.pi * width[0] ** 2 / 4.0], seg * 0.5 * (width[:-1] + width[1:])])
    load = np.maximum(0.0, state.load_mm2 - np.cumsum(spend))  # paint left at each point
    start_load = state.load_mm2
    state.load_mm2 = float(load[-1])
    strands = _Strands.draw(model, rng, arclen[-1])
    alpha = _contact_alpha(canvas.shape[:2], xy * px_per_mm, width * px_per_mm / 2.0,
                           arclen, load, start_load, strands, model, px_per_mm)
    if alpha is None:
        return
    (y0, y1, x0, x1), a = alpha
    region = canvas[y0:y1, x0:x1]
    region += a[..., None] * (np.asarray(state.rgb, dtype=float) - region)


def _speed_factor(arclen: np.ndarray, times_s: np.ndarray | None, model: BrushModel) -> np.ndarray:
    """Width factor from the brush's speed along the path (1 where it stands still)."""
    if times_s is None or len(arclen) < 2:
        return np.ones(len(arclen))
    speed = np.gradient(arclen, np.asarray(times_s, dtype=float) + 1e-9 * np.arange(len(arclen)))
    ratio = np.clip(np.abs(speed) / model.ref_speed_mm_s, 0.0, 2.0)
    return 1.0 - model.speed_narrowing * ratio


@dataclass(frozen=True)
class _Strands:
    """Per-contact randomness: each strand's paint share, and the edges' wander along s."""

    share: np.ndarray  # (bristles,) relative paint share of each strand
    knots_mm: np.ndarray
    edge: np.ndarray  # (knots, 2): left/right edge offsets, share of the half width

    @classmethod
    def draw(cls, model: BrushModel, rng: np.random.Generator, length_mm: float) -> _Strands:
        share = np.clip(1.0 + rng.normal(0.0, model.bristle_spread, model.bristles), 0.5, 1.5)
        knots = np.arange(0.0, length_mm + 6.0, 3.0)
        edge = rng.normal(0.0, model.edge_roughness, size=(len(knots), 2))
        return cls(share, knots, edge)


def _contact_alpha(shape: tuple[int, int], pts: np.ndarray, half: np.ndarray,
                   arclen: np.ndarray, load: np.ndarray, start_load: float, strands: _Strands,
                   model: BrushModel, px_per_mm: float,
                   ) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
    """Opacity of one contact in its bounding box: strands across, load along, ragged edges.

    The path is rasterised in pieces of `PIECE_SEGMENTS` segments, each in its own small
    box; where pieces overlap the stronger opacity wins."""
    box = _box(shape, pts, float(half.max()) * (1.0 + 4 * model.edge_roughness) + 2.0)
    if box is None:
        return None
    y0, y1, x0, x1 = box
    alpha = np.zeros((y1 - y0, x1 - x0))
    fade = model.fade_fraction * model.capacity_mm2
    for a in range(0, max(1, len(pts) - 1), PIECE_SEGMENTS):
        b = min(a + PIECE_SEGMENTS, len(pts) - 1) + 1
        piece = _box(shape, pts[a:b], float(half[a:b].max()) * (1 + 4 * model.edge_roughness) + 2)
        if piece is None:
            continue
        py0, py1, px0, px1 = piece
        field = _nearest(pts[a:b], half[a:b], arclen[a:b], px0, px1, py0, py1)
        beyond, u, along = field
        side = np.where(u >= 0, 0, 1)
        wander = np.where(side == 0, np.interp(along, strands.knots_mm, strands.edge[:, 0]),
                          np.interp(along, strands.knots_mm, strands.edge[:, 1]))
        half_px = np.interp(along, arclen, half)
        # `beyond` is the distance past the half width, in half widths; the edge lies at
        # `wander` (ragged), anti-aliased over a pixel.
        inside = np.clip(half_px * (wander - beyond) + 0.5, 0.0, 1.0)
        strand = np.clip(((np.clip(u, -1, 1) + 1.0) / 2.0 * model.bristles).astype(int), 0,
                         model.bristles - 1)
        if fade > 0:
            wet = np.clip(np.interp(along, arclen, load) * strands.share[strand] / fade, 0, 1)
        else:
            wet = np.ones_like(along) if start_load > 0 else np.zeros_like(along)
        grain = 1.0 - model.grain * _grain((py0, px0), along.shape, px_per_mm)
        win = alpha[py0 - y0 : py1 - y0, px0 - x0 : px1 - x0]
        np.maximum(win, inside * wet * grain, out=win)
    return box, alpha


def _box(shape: tuple[int, int], pts: np.ndarray, reach: float) -> tuple[int, int, int, int] | None:
    height, width = shape
    x0 = max(0, math.floor(pts[:, 0].min() - reach))
    x1 = min(width, math.ceil(pts[:, 0].max() + reach))
    y0 = max(0, math.floor(pts[:, 1].min() - reach))
    y1 = min(height, math.ceil(pts[:, 1].max() + reach))
    return None if x1 <= x0 or y1 <= y0 else (y0, y1, x0, x1)


def _nearest(pts: np.ndarray, half: np.ndarray, arclen: np.ndarray, x0: int, x1: int, y0: int,
             y1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pixel of the box: distance past the path's local half width (in half widths),
    signed offset across the path (in half widths) and arclength (mm) of the nearest point,
    "nearest" being the segment whose edge is closest."""
    px = np.arange(x0, x1) + 0.5
    py = np.arange(y0, y1) + 0.5
    a, b = pts[:-1], pts[1:]
    ax, ay = a[:, 0, None, None], a[:, 1, None, None]
    dx, dy = (b[:, 0] - a[:, 0])[:, None, None], (b[:, 1] - a[:, 1])[:, None, None]
    len2 = np.maximum(dx * dx + dy * dy, 1e-12)
    rx, ry = px[None, None, :] - ax, py[None, :, None] - ay
    t = np.clip((rx * dx + ry * dy) / len2, 0.0, 1.0)
    ex, ey = rx - t * dx, ry - t * dy
    r = np.maximum(half[:-1, None, None] + t * (half[1:] - half[:-1])[:, None, None], 1e-6)
    gap = np.hypot(ex, ey) - r
    i = np.argmin(gap, axis=0)[None]
    pick = np.take_along_axis
    r_i = pick(r, i, 0)[0]
    cross = (dx * ey - dy * ex) / np.sqrt(len2)  # signed distance across the segment
    along = arclen[:-1, None, None] + t * (arclen[1:] - arclen[:-1])[:, None, None]
    return pick(gap, i, 0)[0] / r_i, pick(cross, i, 0)[0] / r_i, pick(along, i, 0)[0]


def _grain(origin: tuple[int, int], shape: tuple[int, int], px_per_mm: float) -> np.ndarray:
    """A fixed paint-film texture (0..1) tied to canvas position, about 1 mm in scale."""
    y = (np.arange(shape[0]) + origin[0])[:, None] / px_per_mm
    x = (np.arange(shape[1]) + origin[1])[None, :] / px_per_mm
    v = np.sin(x * 5.1 + np.sin(y * 1.7) * 2.0) * np.sin(y * 4.3 + np.sin(x * 2.3) * 2.0)
    return 0.5 + 0.5 * v
