"""Arm drivers behind one interface, and the simulated arm.

`Arm` is what the robot talks to: `home()`, `execute(trajectory)`, `close()`, and the
joint state `q`. `SimulatedArm` executes the joint trajectory in time, finds the brush
tip by forward kinematics, and lets the brush model paint on a virtual canvas lying
where the canvas *really* is (which the calibration only estimates). Paint is loaded
when the tip is really in a pot, washed out in the water jar: the simulation trusts
geometry, not the trajectory's labels. Frames go to a filming sink.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from robot.arm_model import ArmConfig, transform
from robot.brush import BrushModel, BrushState, paint_contact
from robot.camera import CameraModel
from robot.film import FilmRecorder
from robot.kinematics import check_joint_limits, fk, solve_ik
from robot.trajectory import Trajectory

# A tip this close outside the canvas still counts as on it (plans paint up to the edge).
EDGE_TOLERANCE_MM = 0.5
# Labels of simulation samples.
_FREE, _CONTACT, _WASH, _POT0 = 0, 1, 2, 10


@dataclass(frozen=True)
class RunReport:
    """How a trajectory went: arm time, what was done, and the wall time it took."""

    arm: str
    duration_s: float
    waypoints: int
    dips: int
    washes: int
    frames: int
    wall_s: float


class Arm(Protocol):
    """What every arm driver offers."""

    name: str
    q: np.ndarray

    def home(self) -> None: ...

    def execute(self, trajectory: Trajectory) -> RunReport: ...

    def close(self) -> None: ...


def misplaced(pose: np.ndarray, shift_mm: float, tilt_deg: float,
              rng: np.random.Generator) -> np.ndarray:
    """A canvas pose off from `pose` by up to `shift_mm` and `tilt_deg` (a canvas put down by
    hand is never exactly where the config says)."""
    rpy = np.radians(rng.uniform(-tilt_deg, tilt_deg, size=3))
    return pose @ transform(rng.uniform(-shift_mm, shift_mm, size=3) * [1, 1, 0.3], rpy)


class SimulatedArm:
    """The arm in simulation: kinematics, brush physics, a virtual canvas, a film sink."""

    def __init__(self, arm: ArmConfig, brush: BrushModel | None = None, *,
                 world_canvas: np.ndarray | None = None, px_per_mm: float = 2.0,
                 film: FilmRecorder | None = None, sample_dt: float = 0.02, seed: int = 0,
                 touch_noise_mm: float = 0.05) -> None:
        self.name = f"sim:{arm.name}"
        self.config = arm
        self.brush = brush if brush is not None else BrushModel.from_spec(arm.brush)
        self.world_canvas = (arm.workcell.canvas_pose() if world_canvas is None
                             else np.asarray(world_canvas, dtype=float))
        self.canvas_size_mm = arm.workcell.canvas_size_mm
        self.px_per_mm = px_per_mm
        w, h = self.canvas_size_mm
        self.canvas = np.full((max(1, round(h * px_per_mm)), max(1, round(w * px_per_mm)), 3),
                              255.0)
        self.film = film
        self.sample_dt = sample_dt
        self.touch_noise_mm = touch_noise_mm
        self.rng = np.random.default_rng(seed)
        self.state = BrushState()
        self.q = arm.home.copy()

    # -------------------------------------------------------------- driver interface

    def home(self) -> None:
        self.q = self.config.home.copy()

    def close(self) -> None:
        """Nothing to release: the film belongs to whoever opened it."""

    def canvas_rgb(self, size_mm: tuple[float, float] | None = None) -> np.ndarray:
        """The virtual canvas as (H, W, 3) uint8 RGB; with `size_mm`, only that much of it
        from the top-left corner (where a smaller plan was painted)."""
        if size_mm is None:
            return _to_u8(self.canvas)
        h, w = round(size_mm[1] * self.px_per_mm), round(size_mm[0] * self.px_per_mm)
        return _to_u8(self.canvas[:h, :w])

    def capture(self, camera: CameraModel) -> np.ndarray:
        """A photo of the canvas through `camera`."""
        return camera.capture(self.canvas_rgb(), self.canvas_size_mm, self.rng)

    def touch(self, canvas_xy: tuple[float, float]) -> np.ndarray:
        """Jog the brush onto a mark of the real canvas until it touches (as an operator does
        with a teach pendant); returns the tip in base mm as the arm reads it.

        The reading carries the operator's aim error in the plane and the contact
        sensor's noise along the normal (`touch_noise_mm` each)."""
        local = np.array([canvas_xy[0], canvas_xy[1], 0.0])
        local += self.rng.normal(0.0, self.touch_noise_mm, size=3)
        pose = np.eye(4)
        pose[:3, :3] = self.config.workcell.canvas_pose()[:3, :3]  # the arm's brush-down
        pose[:3, 3] = self.world_canvas[:3, :3] @ local + self.world_canvas[:3, 3]
        self.q = solve_ik(self.config.chain, pose, self.q)
        return fk(self.config.chain, self.q)[:3, 3]

    def execute(self, trajectory: Trajectory,
                progress: Callable[[float], None] | None = None) -> RunReport:
        """Run the joint trajectory: sample it in time, paint where the brush touches.

        `progress(t)` is told the arm time (s) simulated so far, as it grows."""
        began = time.perf_counter()
        check_joint_limits(self.config.chain, trajectory.q)
        t_s, q_s = self._samples(trajectory)
        tips = np.empty((len(t_s), 3))
        for a in range(0, len(q_s), 50_000):
            tips[a : a + 50_000] = fk(self.config.chain, q_s[a : a + 50_000])[:, :3, 3]
        local = (tips - self.world_canvas[:3, 3]) @ self.world_canvas[:3, :3]
        labels = self._labels(local)
        frames = _FrameClock(self.film, t_s, local[:, :2], self.px_per_mm, self.canvas)
        cuts = np.flatnonzero(np.diff(labels)) + 1
        for a, b in zip(np.concatenate([[0], cuts]), np.concatenate([cuts, [len(labels)]]),
                        strict=True):
            frames.until(t_s[a], self.state)
            label = labels[a]
            if label == _CONTACT:
                self._contact(t_s[a:b], local[a:b], frames)
            elif label == _WASH:
                self.state = BrushState()
            elif label >= _POT0:
                pot = label - _POT0
                if pot < len(trajectory.pot_rgb):
                    self.state = BrushState(trajectory.pot_rgb[pot], self.brush.capacity_mm2)
            if progress is not None:
                progress(float(t_s[b - 1]))
        frames.until(t_s[-1] + 1e-9, self.state)
        self.q = trajectory.q[-1].copy()
        return RunReport(arm=self.name, duration_s=trajectory.duration_s,
                         waypoints=len(trajectory.t), dips=trajectory.dips,
                         washes=trajectory.washes, frames=frames.count,
                         wall_s=time.perf_counter() - began)

    # -------------------------------------------------------------- internals

    def _contact(self, times: np.ndarray, local: np.ndarray, frames: _FrameClock) -> None:
        """Paint one brush-down run; film frames falling inside it show its prefix."""
        seed = int(self.rng.integers(2**62))
        xy, width = local[:, :2], self.brush.width_at_depth(local[:, 2])
        margin = float(width.max()) / 2 + 4 * self.brush.jitter_mm + 2 / self.px_per_mm
        h, w = self.canvas.shape[:2]
        x0 = int(np.clip(np.floor((xy[:, 0].min() - margin) * self.px_per_mm), 0, w))
        x1 = int(np.clip(np.ceil((xy[:, 0].max() + margin) * self.px_per_mm), 0, w))
        y0 = int(np.clip(np.floor((xy[:, 1].min() - margin) * self.px_per_mm), 0, h))
        y1 = int(np.clip(np.ceil((xy[:, 1].max() + margin) * self.px_per_mm), 0, h))
        box = (slice(y0, y1), slice(x0, x1))
        origin = np.array([x0, y0]) / self.px_per_mm

        def prefix(k: int) -> np.ndarray:
            sub = self.canvas[box].copy()
            paint_contact(sub, xy[:k] - origin, width[:k], BrushState(self.state.rgb,
                          self.state.load_mm2), self.brush, self.px_per_mm,
                          np.random.default_rng(seed), times[:k])
            return sub

        frames.during(times, box, prefix, self.state)
        paint_contact(self.canvas, xy, width, self.state, self.brush, self.px_per_mm,
                      np.random.default_rng(seed), times)
        frames.refresh(box)

    def _samples(self, traj: Trajectory) -> tuple[np.ndarray, np.ndarray]:
        """Joint states at the waypoints and every `sample_dt` between them (joint-linear)."""
        t = np.concatenate([[0.0], traj.t])
        q = np.vstack([self.q[None], traj.q])
        grid = np.arange(0.0, t[-1], self.sample_dt)
        t_s = np.union1d(grid, t)
        # Waypoints sharing a time (dwell ends, zero-length moves) keep their last state.
        keep = np.concatenate([t[1:] != t[:-1], [True]])
        q_s = np.stack([np.interp(t_s, t[keep], q[keep, j]) for j in range(q.shape[1])], 1)
        return t_s, q_s

    def _labels(self, local: np.ndarray) -> np.ndarray:
        cell = self.config.workcell
        w, h = self.canvas_size_mm
        labels = np.full(len(local), _FREE, dtype=np.int32)
        edge = EDGE_TOLERANCE_MM
        on = (local[:, 2] > 0) & (local[:, 0] >= -edge) & (local[:, 0] <= w + edge) \
            & (local[:, 1] >= -edge) & (local[:, 1] <= h + edge)
        labels[on] = _CONTACT
        surface = -(cell.pot_rim_mm - cell.pot_dip_mm / 2.0)
        wet = local[:, 2] > surface
        for i, xy in enumerate(cell.pots_xy):
            inside = wet & (np.hypot(*(local[:, :2] - xy).T) < cell.pot_radius_mm)
            labels[inside] = _POT0 + i
        labels[wet & (np.hypot(*(local[:, :2] - cell.wash_xy).T) < cell.pot_radius_mm)] = _WASH
        return labels


class _FrameClock:
    """Emits film frames at the film's times (arm time x speedup), canvas as it is then.

    Keeps a uint8 mirror of the canvas, refreshed where a contact painted."""

    def __init__(self, film: FilmRecorder | None, t_s: np.ndarray, tip_xy: np.ndarray,
                 px_per_mm: float, canvas: np.ndarray) -> None:
        self.film = film
        self.t_s, self.tip_xy, self.px_per_mm = t_s, tip_xy, px_per_mm
        self.canvas = canvas
        self.mirror = _to_u8(canvas) if film is not None else None
        self.step = film.spec.speedup / film.spec.fps if film is not None else math.inf
        self.next = 0.0
        self.count = 0

    def until(self, t: float, state: BrushState) -> None:
        """Write every frame due before time t."""
        while self.film is not None and self.next < t:
            self._emit(self.mirror, state)

    def during(self, times: np.ndarray, box: tuple[slice, slice],
               prefix: Callable[[int], np.ndarray], state: BrushState) -> None:
        """Frames due while a contact is being painted show the part painted so far."""
        while self.film is not None and self.next < times[-1]:
            k = max(1, int(np.searchsorted(times, self.next, side="right")))
            frame = self.mirror.copy()
            frame[box] = _to_u8(prefix(k))
            self._emit(frame, state)

    def refresh(self, box: tuple[slice, slice]) -> None:
        if self.mirror is not None:
            self.mirror[box] = _to_u8(self.canvas[box])

    def _emit(self, image: np.ndarray, state: BrushState) -> None:
        assert self.film is not None
        frame = image.copy()
        x = np.interp(self.next, self.t_s, self.tip_xy[:, 0]) * self.px_per_mm
        y = np.interp(self.next, self.t_s, self.tip_xy[:, 1]) * self.px_per_mm
        colour = state.rgb if state.rgb is not None else (200, 200, 200)
        radius = max(3, round(3 * self.px_per_mm))
        cv2.circle(frame, (round(x), round(y)), radius, tuple(int(c) for c in colour), -1)
        cv2.circle(frame, (round(x), round(y)), radius, (255, 0, 0), 1)
        self.film.write(frame)
        self.count += 1
        self.next = self.count * self.step


def _to_u8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)
