"""The stroke plan: the contract between vision and the robot.

A plan is in canvas millimetres, origin at the canvas' top-left corner, y down::

    {"canvas": {"width_mm": 500, "height_mm": 400},
     "palette": [{"name": "black", "rgb": [20, 20, 20]}, ...],
     "strokes": [{"color": 0, "width_mm": 8.0, "points": [[x, y, pressure], ...]}, ...],
     "source": {"sha256": "...", "width_px": 512, "height_px": 512},
     "metrics": {"psnr_db": 24.1, "ssim": 0.78, "strokes": 200}}

Strokes are painted in list order, each an opaque polyline of paint ``palette[color]``
over what is already there. The brush's width at a point is ``width_mm * pressure``
and the ends are round. `render_preview` is the reference rendering of that meaning:
the painter optimises against the same geometry, and the robot simulator can compare
its result with it.

Public API: the dataclasses (`Canvas`, `Paint`, `Stroke`, `Source`, `Plan`), `PlanError`,
`load_plan` / `save_plan` (JSON), `render_preview`, `pen_up_travel_mm`, `order_strokes`,
`split_strokes`, `stroke_conflicts`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from vision.errors import PlanError

Point = tuple[float, float, float]
MetricValue = float | int | str | bool

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Points may sit this far (mm) outside the canvas: float noise from mm conversions.
_EDGE_TOLERANCE_MM = 1e-6



def _finite(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PlanError(f"{where}: expected a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise PlanError(f"{where}: expected a finite number, got {value}")
    return float(value)


def _integer(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PlanError(f"{where}: expected an integer, got {value!r}")
    return value


@dataclass(frozen=True)
class Canvas:
    """Canvas size in millimetres."""

    width_mm: float
    height_mm: float

    def __post_init__(self) -> None:
        for name in ("width_mm", "height_mm"):
            if _finite(getattr(self, name), f"canvas.{name}") <= 0:
                raise PlanError(f"canvas.{name}: must be > 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class Paint:
    """One paint of the palette: a name and its sRGB colour (0..255 each)."""

    name: str
    rgb: tuple[int, int, int]

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise PlanError(f"palette: paint name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.rgb, Sequence) or len(self.rgb) != 3:
            raise PlanError(f"palette[{self.name}].rgb: expected 3 integers, got {self.rgb!r}")
        for c in self.rgb:
            if _integer(c, f"palette[{self.name}].rgb") not in range(256):
                raise PlanError(f"palette[{self.name}].rgb: {c} outside 0..255")
        object.__setattr__(self, "rgb", tuple(self.rgb))


@dataclass(frozen=True)
class Stroke:
    """One brush stroke: palette index, full brush width (mm) and >= 2 points (x, y, pressure)."""

    color: int
    width_mm: float
    points: tuple[Point, ...]

    def __post_init__(self) -> None:
        _integer(self.color, "stroke.color")
        if _finite(self.width_mm, "stroke.width_mm") <= 0:
            raise PlanError(f"stroke.width_mm: must be > 0, got {self.width_mm}")
        if not isinstance(self.points, Sequence) or len(self.points) < 2:
            raise PlanError("stroke.points: needs at least 2 points (repeat a point for a dab)")
        pts = []
        for i, p in enumerate(self.points):
            if not isinstance(p, Sequence) or len(p) != 3:
                raise PlanError(f"stroke.points[{i}]: expected [x_mm, y_mm, pressure], got {p!r}")
            x, y, pr = (_finite(v, f"stroke.points[{i}]") for v in p)
            if not 0.0 <= pr <= 1.0:
                raise PlanError(f"stroke.points[{i}]: pressure {pr} outside [0, 1]")
            pts.append((x, y, pr))
        object.__setattr__(self, "points", tuple(pts))

    def array(self) -> np.ndarray:
        """Points as a float (n, 3) array of x_mm, y_mm, pressure."""
        return np.asarray(self.points, dtype=np.float64)

    def length_mm(self) -> float:
        """Length of the polyline in mm."""
        xy = self.array()[:, :2]
        return float(np.hypot(*np.diff(xy, axis=0).T).sum())

    def reversed(self) -> Stroke:
        """The same stroke painted in the opposite direction (same paint coverage)."""
        return replace(self, points=self.points[::-1])


@dataclass(frozen=True)
class Source:
    """Which image the plan was made from: sha256 of its file bytes (or raw pixels) and size."""

    sha256: str
    width_px: int
    height_px: int

    def __post_init__(self) -> None:
        if not isinstance(self.sha256, str) or not _SHA256.match(self.sha256):
            raise PlanError(f"source.sha256: expected 64 lowercase hex digits, got {self.sha256!r}")
        for name in ("width_px", "height_px"):
            if _integer(getattr(self, name), f"source.{name}") <= 0:
                raise PlanError(f"source.{name}: must be > 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class Plan:
    """A complete, validated stroke plan; constructing one checks every cross-reference."""

    canvas: Canvas
    palette: tuple[Paint, ...]
    strokes: tuple[Stroke, ...]
    source: Source
    metrics: Mapping[str, MetricValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "palette", tuple(self.palette))
        object.__setattr__(self, "strokes", tuple(self.strokes))
        object.__setattr__(self, "metrics", dict(self.metrics))
        if not self.palette:
            raise PlanError("palette: needs at least one paint")
        names = [p.name for p in self.palette]
        if len(set(names)) != len(names):
            raise PlanError(f"palette: paint names must be unique, got {names}")
        w, h = self.canvas.width_mm, self.canvas.height_mm
        tol = _EDGE_TOLERANCE_MM
        for i, s in enumerate(self.strokes):
            if not 0 <= s.color < len(self.palette):
                raise PlanError(
                    f"strokes[{i}].color: index {s.color} outside palette of {len(self.palette)}"
                )
            for j, (x, y, _) in enumerate(s.points):
                if not (-tol <= x <= w + tol and -tol <= y <= h + tol):
                    raise PlanError(
                        f"strokes[{i}].points[{j}]: ({x:g}, {y:g}) mm lies outside the "
                        f"{w:g} x {h:g} mm canvas"
                    )
        for key, value in self.metrics.items():
            if not isinstance(key, str):
                raise PlanError(f"metrics: keys must be strings, got {key!r}")
            if not isinstance(value, int | float | str | bool) or (
                isinstance(value, float) and not math.isfinite(value)
            ):
                raise PlanError(f"metrics.{key}: expected a finite number or a string")

    def with_strokes(self, strokes: Sequence[Stroke]) -> Plan:
        """The same plan with another stroke list."""
        return replace(self, strokes=tuple(strokes))

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready document."""
        return {
            "canvas": {"width_mm": self.canvas.width_mm, "height_mm": self.canvas.height_mm},
            "palette": [{"name": p.name, "rgb": list(p.rgb)} for p in self.palette],
            "strokes": [
                {"color": s.color, "width_mm": s.width_mm, "points": [list(p) for p in s.points]}
                for s in self.strokes
            ],
            "source": {
                "sha256": self.source.sha256,
                "width_px": self.source.width_px,
                "height_px": self.source.height_px,
            },
            "metrics": dict(self.metrics),
        }

    @classmethod
    def from_dict(cls, doc: Any) -> Plan:
        """Parse and validate a JSON document; raises `PlanError` naming the bad field."""
        doc = _mapping(doc, "plan", ("canvas", "palette", "strokes", "source"))
        canvas = _mapping(doc["canvas"], "canvas", ("width_mm", "height_mm"))
        source = _mapping(doc["source"], "source", ("sha256", "width_px", "height_px"))
        palette = []
        for i, p in enumerate(_list(doc["palette"], "palette")):
            p = _mapping(p, f"palette[{i}]", ("name", "rgb"))
            palette.append(Paint(p["name"], _list(p["rgb"], f"palette[{i}].rgb")))
        strokes = []
        for i, s in enumerate(_list(doc["strokes"], "strokes")):
            s = _mapping(s, f"strokes[{i}]", ("color", "width_mm", "points"))
            try:
                strokes.append(
                    Stroke(s["color"], s["width_mm"], _list(s["points"], f"strokes[{i}].points"))
                )
            except PlanError as exc:
                raise PlanError(f"strokes[{i}]: {exc}") from None
        metrics = doc.get("metrics", {})
        if not isinstance(metrics, Mapping):
            raise PlanError("metrics: expected an object")
        return cls(
            canvas=Canvas(canvas["width_mm"], canvas["height_mm"]),
            palette=tuple(palette),
            strokes=tuple(strokes),
            source=Source(source["sha256"], source["width_px"], source["height_px"]),
            metrics=metrics,
        )

    def to_json(self) -> str:
        """Compact, stable JSON text."""
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Plan:
        """Parse JSON text; malformed JSON is a `PlanError` too."""
        try:
            doc = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise PlanError(f"plan is not valid JSON: {exc}") from None
        return cls.from_dict(doc)


def _mapping(value: Any, where: str, required: Sequence[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PlanError(f"{where}: expected an object, got {type(value).__name__}")
    missing = [k for k in required if k not in value]
    if missing:
        raise PlanError(f"{where}: missing field(s) {', '.join(missing)}")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise PlanError(f"{where}: expected a list, got {type(value).__name__}")
    return value


def save_plan(plan: Plan, path: str | Path) -> None:
    """Write the plan as JSON; a file that cannot be written is a `PlanError`."""
    try:
        Path(path).write_text(plan.to_json() + "\n", encoding="utf-8")
    except OSError as exc:
        raise PlanError(f"cannot write plan {path}: {exc.strerror or exc}") from None


def load_plan(path: str | Path) -> Plan:
    """Read and validate a plan file; a missing or unreadable file is a `PlanError`."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise PlanError(f"cannot read plan {path}: {exc.strerror or exc}") from None
    return Plan.from_json(data)


# ---------------------------------------------------------------- rendering


def preview_size(canvas: Canvas, px_per_mm: float) -> tuple[int, int]:
    """(height_px, width_px) of a preview of `canvas` at `px_per_mm`."""
    return max(1, round(canvas.height_mm * px_per_mm)), max(1, round(canvas.width_mm * px_per_mm))


def stroke_coverage(
    points_px: np.ndarray, radius_px: np.ndarray, height: int, width: int
) -> tuple[np.ndarray, tuple[int, int]]:
    """Anti-aliased coverage (0..1) of one round-capped polyline, in its bounding window.

    `points_px` are (n, 2) x, y pixel coordinates (pixel centres at +0.5) and `radius_px`
    the (n,) brush radius at each point; the radius varies linearly along a segment.
    Coverage at a pixel is clip(r - d + 0.5, 0, 1) with d the distance to the segment.
    Returns the coverage window and its (row, col) offset in the image.
    """
    reach = float(radius_px.max()) + 1.0
    x0 = max(0, math.floor(points_px[:, 0].min() - reach))
    x1 = min(width, math.ceil(points_px[:, 0].max() + reach))
    y0 = max(0, math.floor(points_px[:, 1].min() - reach))
    y1 = min(height, math.ceil(points_px[:, 1].max() + reach))
    if x1 <= x0 or y1 <= y0:
        return np.zeros((0, 0)), (0, 0)
    px = np.arange(x0, x1) + 0.5
    py = np.arange(y0, y1) + 0.5
    cov = np.zeros((y1 - y0, x1 - x0))
    a, b = points_px[:-1], points_px[1:]
    ra, rb = radius_px[:-1], radius_px[1:]
    # Chunk the segments so long line-art strokes stay within memory.
    step = max(1, 2_000_000 // cov.size)
    for k in range(0, len(a), step):
        ax, ay = a[k : k + step, 0, None, None], a[k : k + step, 1, None, None]
        dx = (b[k : k + step, 0] - a[k : k + step, 0])[:, None, None]
        dy = (b[k : k + step, 1] - a[k : k + step, 1])[:, None, None]
        len2 = np.maximum(dx * dx + dy * dy, 1e-12)
        rx, ry = px[None, None, :] - ax, py[None, :, None] - ay
        t = np.clip((rx * dx + ry * dy) / len2, 0.0, 1.0)
        d = np.hypot(rx - t * dx, ry - t * dy)
        r = ra[k : k + step, None, None] + t * (rb - ra)[k : k + step, None, None]
        np.maximum(cov, np.clip(r - d + 0.5, 0.0, 1.0).max(axis=0), out=cov)
    return cov, (y0, x0)


def render_preview(plan: Plan, px_per_mm: float) -> np.ndarray:
    """Render the plan on a white canvas: (H, W, 3) uint8 RGB, strokes composited in order."""
    if not (math.isfinite(px_per_mm) and px_per_mm > 0):
        raise PlanError(f"px_per_mm must be > 0, got {px_per_mm}")
    height, width = preview_size(plan.canvas, px_per_mm)
    img = np.full((height, width, 3), 255.0)
    colours = np.asarray([p.rgb for p in plan.palette], dtype=np.float64)
    for s in plan.strokes:
        pts = s.array()
        cov, (y0, x0) = stroke_coverage(
            pts[:, :2] * px_per_mm, pts[:, 2] * s.width_mm * px_per_mm / 2.0, height, width
        )
        if cov.size == 0:
            continue
        win = img[y0 : y0 + cov.shape[0], x0 : x0 + cov.shape[1]]
        win += cov[..., None] * (colours[s.color] - win)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- ordering


def pen_up_travel_mm(plan: Plan) -> float:
    """Total brush-up travel between consecutive strokes (end of one to start of the next)."""
    if len(plan.strokes) < 2:
        return 0.0
    ends = np.array([s.points[-1][:2] for s in plan.strokes[:-1]])
    starts = np.array([s.points[0][:2] for s in plan.strokes[1:]])
    return float(np.hypot(*(starts - ends).T).sum())


def stroke_conflicts(plan: Plan, margin_mm: float | None = None) -> sparse.csr_matrix:
    """Which stroke pairs must keep their relative order: overlapping, different paints.

    Overlap is tested conservatively on a grid of cells of about 1/256 of the longer canvas
    side: two strokes conflict when any cell lies within brush radius + `margin_mm` of both.
    `margin_mm` (default: 1/200 of the longer side) covers anti-aliased edges of previews.
    Returns a symmetric boolean (n, n) sparse matrix.
    """
    n = len(plan.strokes)
    side = max(plan.canvas.width_mm, plan.canvas.height_mm)
    margin = side / 200.0 if margin_mm is None else margin_mm
    cell = side / 256.0
    gh, gw = math.ceil(plan.canvas.height_mm / cell) + 1, math.ceil(plan.canvas.width_mm / cell) + 1
    rows, cols = [], []
    for i, s in enumerate(plan.strokes):
        pts = s.array()
        # A cell counts if its centre is within radius + margin + half a cell diagonal.
        radius = pts[:, 2] * s.width_mm / 2.0 + margin + cell * 0.7072
        cov, (y0, x0) = stroke_coverage(pts[:, :2] / cell, radius / cell + 0.5, gh, gw)
        ys, xs = np.nonzero(cov >= 1.0)
        rows.append(np.full(ys.size, i))
        cols.append((ys + y0) * gw + xs + x0)
    if n == 0:
        return sparse.csr_matrix((0, 0), dtype=bool)
    occupancy = sparse.csr_matrix(
        (
            np.ones(sum(r.size for r in rows), dtype=np.int32),
            (np.concatenate(rows), np.concatenate(cols)),
        ),
        shape=(n, gh * gw),
    )
    overlap = (occupancy @ occupancy.T).tocoo()
    colours = np.array([s.color for s in plan.strokes])
    keep = (overlap.row != overlap.col) & (colours[overlap.row] != colours[overlap.col])
    return sparse.csr_matrix(
        (np.ones(int(keep.sum()), dtype=bool), (overlap.row[keep], overlap.col[keep])),
        shape=(n, n),
    )


def order_strokes(
    plan: Plan,
    start_mm: tuple[float, float] = (0.0, 0.0),
    margin_mm: float | None = None,
    passes: int = 8,
    restarts: int | None = None,
) -> Plan:
    """Reorder (and reverse) strokes to cut pen-up travel without changing the painting.

    Strokes of different paints that overlap (`stroke_conflicts`) keep their relative
    order; everything else may move. Greedy nearest neighbour from `start_mm` over the
    strokes whose predecessors are painted, choosing each stroke's direction, then up to
    `passes` rounds of 2-opt segment reversals and single-stroke relocations (or-opt,
    direction chosen afresh) that keep every conflicting pair in order. `restarts` - 1
    more runs start from randomised greedy tours (a fixed seed: same plan, same order);
    the shortest wins. By default 8 runs, fewer for plans beyond 200 strokes.
    """
    n = len(plan.strokes)
    if n < 2:
        return plan
    conflicts = stroke_conflicts(plan, margin_mm).tocsr()
    ends = np.array([[s.points[0][:2], s.points[-1][:2]] for s in plan.strokes])  # (n, 2, 2)
    start = np.asarray(start_mm, dtype=np.float64)
    best: list[tuple[int, bool]] = []
    best_travel = math.inf
    runs = max(1, min(8, 1600 // n)) if restarts is None else max(1, restarts)
    for attempt in range(runs):
        rng = np.random.default_rng(attempt) if attempt else None
        seq = _greedy(ends, conflicts, start, rng)
        for _ in range(passes):
            before = _travel(seq, ends)
            seq = _relocate(_two_opt(seq, ends, conflicts, 1), ends, conflicts)
            if _travel(seq, ends) > before - 1e-9:
                break
        if _travel(seq, ends) < best_travel - 1e-9:
            best, best_travel = seq, _travel(seq, ends)
    return plan.with_strokes(
        [plan.strokes[i].reversed() if flip else plan.strokes[i] for i, flip in best]
    )


def _greedy(
    ends: np.ndarray,
    conflicts: sparse.csr_matrix,
    start: np.ndarray,
    rng: np.random.Generator | None,
) -> list[tuple[int, bool]]:
    """Nearest available stroke end next; with `rng`, one of the three nearest at random."""
    n = len(ends)
    coo = conflicts.tocoo()
    fwd = coo.col > coo.row
    preds = np.bincount(coo.col[fwd], minlength=n)
    later = np.split(
        coo.col[fwd][np.argsort(coo.row[fwd], kind="stable")],
        np.cumsum(np.bincount(coo.row[fwd], minlength=n))[:-1],
    )
    ready = preds == 0
    done = np.zeros(n, dtype=bool)
    pos = start
    seq: list[tuple[int, bool]] = []
    for _ in range(n):
        cand = np.flatnonzero(ready & ~done)
        d = np.hypot(*(ends[cand] - pos).transpose(2, 0, 1)).T.ravel()  # start, end per stroke
        if rng is None:
            flat = int(np.argmin(d))
        else:
            near = np.argsort(d, kind="stable")[:3]
            flat = int(near[rng.integers(len(near))])
        i, flip = int(cand[flat // 2]), bool(flat % 2)
        seq.append((i, flip))
        done[i] = True
        pos = ends[i, 0 if flip else 1]
        for j in later[i]:
            preds[j] -= 1
            if preds[j] == 0:
                ready[j] = True
    return seq


def _two_opt(
    seq: list[tuple[int, bool]], ends: np.ndarray, conflicts: sparse.csr_matrix, passes: int
) -> list[tuple[int, bool]]:
    """2-opt on an open path of reversible strokes; reversals never swap conflicting strokes."""
    n = len(seq)
    ids = np.array([s for s, _ in seq])
    flips = np.array([f for _, f in seq], dtype=np.int64)
    for _ in range(passes):
        improved = False
        reach = _reach(ids, conflicts)
        for i in range(1, n - 1):
            if reach[i] <= i:
                continue
            first = ends[ids, flips]  # where each stroke starts when painted
            last = ends[ids, 1 - flips]
            k = np.arange(i + 1, reach[i] + 1)  # candidate: reverse positions i..k
            nxt = np.minimum(k + 1, n - 1)
            tail = k + 1 < n
            old = np.hypot(*(first[i] - last[i - 1])) + np.where(
                tail, np.hypot(*(first[nxt] - last[k]).T), 0.0
            )
            new = np.hypot(*(last[k] - last[i - 1]).T) + np.where(
                tail, np.hypot(*(first[nxt] - first[i]).T), 0.0
            )
            gain = old - new
            best = int(np.argmax(gain))
            if gain[best] > 1e-9:
                kk = int(k[best])
                ids[i : kk + 1] = ids[i : kk + 1][::-1].copy()
                flips[i : kk + 1] = 1 - flips[i : kk + 1][::-1]
                reach = _reach(ids, conflicts)
                improved = True
        if not improved:
            break
    return [(int(s), bool(f)) for s, f in zip(ids, flips, strict=True)]


def _travel(seq: list[tuple[int, bool]], ends: np.ndarray) -> float:
    ids = np.array([i for i, _ in seq])
    flips = np.array([f for _, f in seq], dtype=np.int64)
    first, last = ends[ids, flips], ends[ids, 1 - flips]
    return float(np.hypot(*(first[1:] - last[:-1]).T).sum())


def _dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.hypot(*(a - b).T)


def _relocate(
    seq: list[tuple[int, bool]], ends: np.ndarray, conflicts: sparse.csr_matrix
) -> list[tuple[int, bool]]:
    """Move single strokes to the cheapest gap between their conflicting neighbours."""
    ids = [i for i, _ in seq]
    flips = [int(f) for _, f in seq]
    n = len(ids)
    for stroke in range(n):
        pos = np.empty(n, dtype=np.int64)
        pos[np.array(ids)] = np.arange(n)
        p = int(pos[stroke])
        idx = np.array(ids)
        fl = np.array(flips, dtype=np.int64)
        first, last = ends[idx, fl], ends[idx, 1 - fl]
        removed = 0.0
        if p > 0:
            removed += float(_dist(last[p - 1 : p], first[p : p + 1])[0])
        if p < n - 1:
            removed += float(_dist(last[p : p + 1], first[p + 1 : p + 2])[0])
        if 0 < p < n - 1:
            removed -= float(_dist(last[p - 1 : p], first[p + 1 : p + 2])[0])
        # The sequence without the stroke; a gap g lies between rest[g - 1] and rest[g].
        keep = np.arange(n) != p
        r_first, r_last = first[keep], last[keep]
        row = conflicts.indices[conflicts.indptr[stroke] : conflicts.indptr[stroke + 1]]
        others = pos[row]
        lo = int(others[others < p].max()) + 1 if (others < p).any() else 0
        hi = int(others[others > p].min()) - 1 if (others > p).any() else n - 1
        gaps = np.arange(lo, hi + 1)  # gap g = insert before rest[g]
        best_cost, best = np.inf, None
        for flip in (0, 1):
            s_first, s_last = ends[stroke, flip], ends[stroke, 1 - flip]
            cost = np.zeros(len(gaps))
            has_prev, has_next = gaps > 0, gaps < n - 1
            prev = np.clip(gaps - 1, 0, n - 2)
            nxt = np.clip(gaps, 0, n - 2)
            cost += np.where(has_prev, _dist(r_last[prev], s_first[None]), 0.0)
            cost += np.where(has_next, _dist(r_first[nxt], s_last[None]), 0.0)
            cost -= np.where(has_prev & has_next, _dist(r_last[prev], r_first[nxt]), 0.0)
            k = int(np.argmin(cost))
            if cost[k] < best_cost:
                best_cost, best = float(cost[k]), (int(gaps[k]), flip)
        if best is not None and best_cost < removed - 1e-9:
            gap, flip = best
            del ids[p], flips[p]
            ids.insert(gap, stroke)
            flips.insert(gap, flip)
    return [(i, bool(f)) for i, f in zip(ids, flips, strict=True)]


def _reach(ids: np.ndarray, conflicts: sparse.csr_matrix) -> np.ndarray:
    """reach[i]: the largest k such that the strokes at positions i..k hold no conflicting pair."""
    n = len(ids)
    by_pos = conflicts[ids][:, ids].tocoo()
    fwd = by_pos.col > by_pos.row
    nxt = np.full(n, n, dtype=np.int64)  # first later position conflicting with position i
    np.minimum.at(nxt, by_pos.row[fwd], by_pos.col[fwd])
    return np.minimum.accumulate((nxt - 1)[::-1])[::-1]


# ---------------------------------------------------------------- splitting


def split_strokes(
    plan: Plan, max_length_mm: float | None = None, max_points: int | None = None
) -> Plan:
    """Split strokes longer than `max_length_mm` or with more than `max_points` points.

    Pieces are consecutive, share their joining point (pressure interpolated there) and
    keep colour and width, so the painting is unchanged (up to anti-aliasing where pieces
    join); a robot can reload paint between
    pieces.
    """
    if max_length_mm is not None and not max_length_mm > 0:
        raise PlanError(f"max_length_mm must be > 0, got {max_length_mm}")
    if max_points is not None and max_points < 2:
        raise PlanError(f"max_points must be >= 2, got {max_points}")
    out: list[Stroke] = []
    for s in plan.strokes:
        pieces = [s.array()]
        if max_length_mm is not None:
            pieces = [q for p in pieces for q in _split_by_length(p, max_length_mm)]
        if max_points is not None:
            step = max_points - 1
            pieces = [
                p[j : j + max_points] for p in pieces for j in range(0, max(len(p) - 1, 1), step)
            ]
        out.extend(
            replace(s, points=tuple(tuple(float(v) for v in row) for row in p)) for p in pieces
        )
    return plan.with_strokes(out)


def _split_by_length(pts: np.ndarray, max_len: float) -> list[np.ndarray]:
    seg = np.hypot(*np.diff(pts[:, :2], axis=0).T)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    total = float(cum[-1])
    if total <= max_len:
        return [pts]
    pieces = math.ceil(total / max_len - 1e-9)
    cuts = np.linspace(0.0, total, pieces + 1)
    out = []
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        inner = pts[(cum > a) & (cum < b)]
        ends = [np.array([np.interp(c, cum, pts[:, j]) for j in range(3)]) for c in (a, b)]
        out.append(np.vstack([ends[0], inner, ends[1]]))
    return out
