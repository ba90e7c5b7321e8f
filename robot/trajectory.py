"""From a stroke plan to a timed trajectory: Cartesian waypoints, poses and joints.

Each stroke becomes: travel (brush lifted), approach (brush down to the depth that gives
the stroke's width at its first point), the stroke (depth following pressure), lift.
Before a stroke the brush is dipped in the pot of the stroke's colour when it holds
another colour (after a wash) or has painted `dip_length_mm` since its last dip.
Every move has a trapezoidal speed profile (cruise speed, acceleration limit); a move
whose joints would outrun their speed limits is slowed down. Joints come from inverse
kinematics at every waypoint, continuous from one waypoint to the next.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from robot.arm_model import ArmConfig
from robot.brush import BrushModel
from robot.calibration import CanvasCalibration
from robot.errors import TrajectoryError
from robot.kinematics import fk, solve_path
from vision.plan import Plan, Stroke, split_strokes


class Motion(IntEnum):
    """What the arm is doing on the way to a waypoint."""

    TRAVEL = 0
    APPROACH = 1
    PAINT = 2
    LIFT = 3
    DIP = 4
    WASH = 5


@dataclass(frozen=True)
class Trajectory:
    """Waypoints k = 0..N-1: time, tip in canvas mm, tool pose (base), joints, and labels.

    `motion[k]`/`feed_mm_s[k]`/`stroke[k]`/`color[k]` describe the move arriving at
    waypoint k (`stroke`: index in the plan as painted, i.e. after wide strokes became
    passes and long ones were split; `color`: its palette index; both -1 off the canvas)."""

    t: np.ndarray
    tip_canvas: np.ndarray
    poses: np.ndarray
    q: np.ndarray
    motion: np.ndarray
    feed_mm_s: np.ndarray
    stroke: np.ndarray
    color: np.ndarray
    pot_rgb: tuple[tuple[int, int, int], ...]
    dips: int
    washes: int

    @property
    def duration_s(self) -> float:
        return float(self.t[-1]) if len(self.t) else 0.0

    def painted_length_mm(self) -> float:
        seg = np.linalg.norm(np.diff(self.tip_canvas[:, :2], axis=0), axis=1)
        return float(seg[self.motion[1:] == Motion.PAINT].sum())


@dataclass
class _Builder:
    """Accumulates moves as (points, motion, speed, stroke, dwell) in canvas mm."""

    spacing: float
    travel_spacing: float
    accel: float
    pos: np.ndarray
    points: list[np.ndarray]
    times: list[np.ndarray]
    motion: list[np.ndarray]
    feed: list[np.ndarray]
    stroke: list[np.ndarray]
    clock: float = 0.0

    def move(self, path: np.ndarray, kind: Motion, speed: float, stroke: int = -1) -> None:
        path = np.vstack([self.pos[None], np.asarray(path, dtype=float)])
        spacing = self.travel_spacing if kind in (Motion.TRAVEL, Motion.DIP, Motion.WASH) \
            else self.spacing
        pts = resample(path, spacing)[1:]
        if not len(pts):
            return
        seg = np.linalg.norm(np.diff(np.vstack([self.pos[None], pts]), axis=0), axis=1)
        s = np.cumsum(seg)
        t = self.clock + trapezoid_times(s, speed, self.accel)
        self._append(pts, t, kind, speed, stroke)

    def dwell(self, seconds: float, kind: Motion) -> None:
        self._append(self.pos[None], np.array([self.clock + seconds]), kind, 0.0, -1)

    def _append(self, pts: np.ndarray, t: np.ndarray, kind: Motion, speed: float,
                stroke: int) -> None:
        self.points.append(pts)
        self.times.append(t)
        self.motion.append(np.full(len(pts), int(kind), dtype=np.int8))
        self.feed.append(np.full(len(pts), speed))
        self.stroke.append(np.full(len(pts), stroke, dtype=np.int32))
        self.pos, self.clock = pts[-1], float(t[-1])


def resample(path: np.ndarray, spacing: float) -> np.ndarray:
    """Insert points so no segment of `path` (k, d) is longer than `spacing`; keeps vertices."""
    out = [path[:1]]
    for a, b in zip(path[:-1], path[1:], strict=True):
        n = max(1, int(np.ceil(np.linalg.norm(b[:3] - a[:3]) / spacing)))
        f = np.arange(1, n + 1)[:, None] / n
        out.append(a + f * (b - a))
    return np.vstack(out)


def trapezoid_times(s: np.ndarray, v_max: float, a_max: float) -> np.ndarray:
    """Times to reach arc lengths `s` (increasing, from rest at 0 to rest at s[-1])."""
    total = float(s[-1]) if len(s) else 0.0
    if total <= 0:
        return np.zeros_like(s)
    ramp = v_max**2 / a_max  # accelerating + braking distance at full speed
    if total < ramp:  # triangle: never reaches v_max
        v_peak = np.sqrt(a_max * total)
        half = total / 2.0
        t_half = v_peak / a_max
        return np.where(s <= half, np.sqrt(2.0 * s / a_max),
                        2 * t_half - np.sqrt(np.maximum(2.0 * (total - s) / a_max, 0.0)))
    d_acc = ramp / 2.0
    t_acc = v_max / a_max
    t_total = 2 * t_acc + (total - ramp) / v_max
    return np.where(s <= d_acc, np.sqrt(2.0 * s / a_max),
                    np.where(s <= total - d_acc, t_acc + (s - d_acc) / v_max,
                             t_total - np.sqrt(np.maximum(2.0 * (total - s) / a_max, 0.0))))


def canvas_poses(tip_canvas: np.ndarray, cal: CanvasCalibration,
                 brush_down: np.ndarray) -> np.ndarray:
    """Tool poses (N, 4, 4) in the base frame for tip positions in canvas mm.

    Positions follow the calibrated canvas; the orientation is the arm's brush-down
    rotation `brush_down` (base frame), which a 4-axis arm can hold whatever the
    canvas' small tilt, and which is within a fraction of a degree of perpendicular."""
    poses = np.zeros((len(tip_canvas), 4, 4))
    poses[:, :3, :3] = brush_down
    poses[:, :3, 3] = cal.to_base(tip_canvas)
    poses[:, 3, 3] = 1.0
    return poses


def fit_plan(plan: Plan, canvas_size_mm: tuple[float, float]) -> Plan:
    """Scale a plan uniformly (points and widths) to fit the calibrated canvas."""
    scale = min(canvas_size_mm[0] / plan.canvas.width_mm,
                canvas_size_mm[1] / plan.canvas.height_mm)
    doc = plan.to_dict()
    doc["canvas"] = {"width_mm": plan.canvas.width_mm * scale,
                     "height_mm": plan.canvas.height_mm * scale}
    for s in doc["strokes"]:
        s["width_mm"] *= scale
        s["points"] = [[x * scale, y * scale, p] for x, y, p in s["points"]]
    return Plan.from_dict(doc)


def passes_for_brush(plan: Plan, max_width_mm: float, overlap: float = 0.15) -> Plan:
    """Replace strokes wider than the brush by parallel passes covering the same band.

    A stroke of local half-width R becomes k side-by-side passes of half-width about R/k
    (widened by `overlap` so no seam shows), offset along the local normal. Each pass is
    lengthened or shortened at its ends so together they keep the stroke's round caps.
    Points stay inside the canvas; order is kept (the passes of one stroke are adjacent).
    """
    out: list[Stroke] = []
    w, h = plan.canvas.width_mm, plan.canvas.height_mm
    for s in plan.strokes:
        pts = s.array()
        half = s.width_mm * pts[:, 2] / 2.0
        if 2.0 * half.max() <= max_width_mm + 1e-9:
            out.append(s)
            continue
        k = int(np.ceil(2.0 * half.max() / (max_width_mm / (1.0 + overlap))))
        tangent, miter = _offset_directions(pts[:, :2])
        r_pass = np.minimum(half / k * (1.0 + overlap), max_width_mm / 2.0)
        width = 2.0 * float(r_pass.max())
        pressure = np.clip(r_pass / (width / 2.0), 0.0, 1.0)
        for j in range(k):
            # Outer passes touch the band's edges; the others share the rest evenly.
            off = (half - r_pass) * (2.0 * j / (k - 1) - 1.0)
            xy = pts[:, :2] + miter * off[:, None]
            ends = np.sqrt(np.maximum(half[[0, -1]] ** 2 - off[[0, -1]] ** 2, 0.0)) \
                - r_pass[[0, -1]]
            xy[0] -= tangent[0] * ends[0]
            xy[-1] += tangent[-1] * ends[1]
            xy = np.clip(xy, 0.0, [w, h])
            out.append(Stroke(s.color, width, tuple(zip(xy[:, 0].tolist(), xy[:, 1].tolist(),
                                                        pressure.tolist(), strict=True))))
    return plan.with_strokes(out)


def _offset_directions(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit tangents at polyline points, and miter vectors: moving a point by o times its
    miter keeps both neighbouring segments o away (bends capped at 4x)."""
    seg = np.diff(xy, axis=0)
    norm = np.linalg.norm(seg, axis=1)
    good = norm > 1e-9
    if not good.any():  # a dab: any direction will do
        seg, norm, good = np.tile([1.0, 0.0], (max(1, len(seg)), 1)), np.ones(max(1, len(seg))), \
            np.ones(max(1, len(seg)), dtype=bool)
    # Zero-length segments borrow the direction of the last (or first) real one.
    idx = np.maximum.accumulate(np.where(good, np.arange(len(seg)), -1))
    idx = np.where(idx < 0, int(np.argmax(good)), idx)
    seg = seg[idx] / norm[idx, None]
    before = np.vstack([seg[:1], seg])
    after = np.vstack([seg, seg[-1:]])
    tangent = before + after
    tangent /= np.maximum(np.linalg.norm(tangent, axis=1, keepdims=True), 1e-12)
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
    side = np.column_stack([-after[:, 1], after[:, 0]])
    cos_half = np.clip(np.sum(normal * side, axis=1), 0.25, 1.0)
    return tangent, normal / cos_half[:, None]


def plan_trajectory(plan: Plan, arm: ArmConfig, cal: CanvasCalibration, brush: BrushModel,
                    q_start: np.ndarray) -> Trajectory:
    """Turn `plan` into a timed, IK-solved trajectory for `arm` on the calibrated canvas."""
    w, h = cal.canvas_size_mm
    if plan.canvas.width_mm > w + 1e-6 or plan.canvas.height_mm > h + 1e-6:
        raise TrajectoryError(
            f"the plan's canvas ({plan.canvas.width_mm:g} x {plan.canvas.height_mm:g} mm) is "
            f"larger than the calibrated canvas ({w:g} x {h:g} mm); scale it to fit (--fit)"
        )
    cell = arm.workcell
    if len(plan.palette) > len(cell.pots_xy):
        raise TrajectoryError(f"the plan uses {len(plan.palette)} paints but the workcell has "
                              f"{len(cell.pots_xy)} pots")
    m = arm.motion
    plan = split_strokes(passes_for_brush(plan, brush.max_width_mm),
                         max_length_mm=cell.dip_length_mm)
    start_tip = cal.to_canvas(fk(arm.chain, q_start)[:3, 3])
    b = _Builder(m.waypoint_spacing_mm, m.travel_spacing_mm, m.accel, start_tip, [], [], [], [],
                 [])
    canvas_up = -m.lift_mm
    pot_up = -(cell.pot_rim_mm + m.lift_mm)
    pot_down = -(cell.pot_rim_mm - cell.pot_dip_mm)
    loaded: int | None = None
    painted = 0.0
    dips = washes = 0

    def visit(xy: np.ndarray, kind: Motion, dwell: float) -> None:
        b.move(np.array([[*b.pos[:2], pot_up]]), Motion.LIFT, m.approach_speed)
        b.move(np.array([[*xy, pot_up]]), kind, m.travel_speed)
        b.move(np.array([[*xy, pot_down]]), kind, m.approach_speed)
        b.dwell(dwell, kind)
        b.move(np.array([[*xy, pot_up]]), kind, m.approach_speed)

    for i, stroke in enumerate(plan.strokes):
        length = stroke.length_mm()
        if loaded != stroke.color or painted + length > cell.dip_length_mm + 1e-9:
            if loaded is not None and loaded != stroke.color:
                visit(cell.wash_xy, Motion.WASH, cell.wash_dwell_s)
                washes += 1
            visit(cell.pots_xy[stroke.color], Motion.DIP, cell.dip_dwell_s)
            dips += 1
            loaded, painted = stroke.color, 0.0
        pts = stroke.array()
        depth = brush.depth_for_width(stroke.width_mm * pts[:, 2])
        path = np.column_stack([pts[:, :2], depth])
        if b.pos[2] > canvas_up:
            b.move(np.array([[*b.pos[:2], canvas_up]]), Motion.LIFT, m.approach_speed)
        b.move(np.array([[*path[0, :2], min(b.pos[2], canvas_up)]]), Motion.TRAVEL,
               m.travel_speed)
        b.move(np.array([[*path[0, :2], canvas_up]]), Motion.APPROACH, m.approach_speed)
        b.move(path[:1], Motion.APPROACH, m.approach_speed, i)
        b.move(path[1:], Motion.PAINT, m.paint_speed, i)
        b.move(np.array([[*path[-1, :2], canvas_up]]), Motion.LIFT, m.approach_speed)
        painted += length
    if loaded is not None:
        visit(cell.wash_xy, Motion.WASH, cell.wash_dwell_s)
        washes += 1
    if not b.points:
        raise TrajectoryError("the plan has no strokes: nothing to paint")
    tips = np.vstack(b.points)
    t = np.concatenate(b.times)
    motion = np.concatenate(b.motion)
    poses = canvas_poses(tips, cal, cell.canvas_pose()[:3, :3])
    q = solve_path(arm.chain, poses, q_start, max_step=m.max_joint_step)
    t = _respect_joint_speeds(t, np.vstack([q_start[None], q]), arm, motion)
    stroke = np.concatenate(b.stroke)
    colors = np.array([s.color for s in plan.strokes] + [-1])
    return Trajectory(t=t, tip_canvas=tips, poses=poses, q=q, motion=motion,
                      feed_mm_s=np.concatenate(b.feed), stroke=stroke, color=colors[stroke],
                      pot_rgb=tuple(p.rgb for p in plan.palette), dips=dips, washes=washes)


def _respect_joint_speeds(t: np.ndarray, q_with_start: np.ndarray, arm: ArmConfig,
                          motion: np.ndarray) -> np.ndarray:
    """Stretch each move (a run of equal `motion`) whose joints would exceed their speeds."""
    dt = np.diff(np.concatenate([[0.0], t]))
    dq = np.abs(np.diff(q_with_start, axis=0))
    need = np.max(dq / arm.chain.max_speed, axis=1)  # seconds each step needs at full speed
    ratio = np.where(dt > 0, need / np.maximum(dt, 1e-12), np.where(need > 0, np.inf, 0.0))
    run = np.concatenate([[0], np.cumsum(motion[1:] != motion[:-1])])
    factor = np.ones(run[-1] + 1)
    np.maximum.at(factor, run, ratio)
    factor = np.where(np.isfinite(factor), factor, 1.0)
    stretched = dt * np.maximum(factor[run], 1.0)
    stretched = np.where((dt == 0) & (need > 0), need, stretched)
    return np.cumsum(stretched)
