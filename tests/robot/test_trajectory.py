"""Plan → trajectory: dips, washes, depths, speed and acceleration limits, IK, errors."""

from __future__ import annotations

import numpy as np
import pytest

from robot.arm_model import load_arm
from robot.brush import BrushModel
from robot.calibration import nominal_calibration
from robot.errors import TrajectoryError, UnreachableError
from robot.kinematics import fk, pose_error
from robot.trajectory import Motion, passes_for_brush, plan_trajectory, trapezoid_times
from vision.metrics import ssim
from vision.plan import Canvas, Plan, Source, Stroke, render_preview

from .conftest import PALETTE, random_plan


@pytest.fixture(scope="module")
def kuka():
    arm = load_arm("kuka_kr6_r900")
    cal = nominal_calibration(arm.workcell.canvas_pose(), arm.workcell.canvas_size_mm)
    return arm, cal, BrushModel.from_spec(arm.brush)


def _plan(strokes):
    return Plan(Canvas(500.0, 400.0), PALETTE, tuple(strokes), Source("0" * 64, 8, 8))


def _line(color, y, length, width=8.0, x0=50.0):
    return Stroke(color, width, ((x0, y, 1.0), (x0 + length, y, 1.0)))


def test_dips_and_washes_follow_colour_and_painted_length(kuka):
    arm, cal, brush = kuka
    dip = arm.workcell.dip_length_mm  # 400 mm
    strokes = [_line(0, 50, 300), _line(0, 80, 300), _line(1, 110, 100), _line(1, 140, 100),
               _line(0, 170, 900 - 450, x0=20)]
    traj = plan_trajectory(_plan(strokes), arm, cal, brush, arm.home)
    # black: dip; 300 + 300 > 400: dip again; red: wash + dip; red again: no dip;
    # black 450 mm: wash + dip, split at 400 mm -> one more dip; final wash.
    assert traj.dips == 5
    assert traj.washes == 3
    assert dip == 400.0
    # Every stroke is painted with the paint of the pot the brush last visited.
    pots = arm.workcell.pots_xy
    last_pot = None
    for k in range(len(traj.t)):
        if traj.motion[k] == Motion.DIP:
            hit = np.flatnonzero(np.hypot(*(pots - traj.tip_canvas[k, :2]).T) < 1e-6)
            if len(hit):
                last_pot = int(hit[0])
        if traj.motion[k] == Motion.PAINT:
            assert last_pot == traj.color[k]
    assert set(traj.color[traj.motion == Motion.PAINT]) == {0, 1}


def test_depth_follows_pressure_and_lifts_between_strokes(kuka):
    arm, cal, brush = kuka
    stroke = Stroke(2, 20.0, ((100, 100, 0.2), (200, 100, 0.6), (300, 150, 1.0)))
    traj = plan_trajectory(_plan([stroke]), arm, cal, brush, arm.home)
    paint = traj.tip_canvas[(traj.motion == Motion.PAINT) | (traj.motion == Motion.APPROACH)]
    for x, y, p in stroke.points:
        at = paint[np.hypot(paint[:, 0] - x, paint[:, 1] - y) < 1e-9]
        assert len(at) and at[-1, 2] == pytest.approx(brush.depth_for_width(20.0 * p))
    travel = traj.tip_canvas[traj.motion == Motion.TRAVEL]
    assert (travel[:, 2] <= -arm.motion.lift_mm + 1e-9).all()  # brush up while travelling


def test_speeds_accelerations_and_joint_speeds_are_within_limits(kuka):
    arm, cal, brush = kuka
    traj = plan_trajectory(random_plan((500, 400), 12, 20.0, seed=5), arm, cal, brush, arm.home)
    dt = np.diff(traj.t)
    step = np.linalg.norm(np.diff(traj.tip_canvas, axis=0), axis=1)
    moving = dt > 0
    speed = step[moving] / dt[moving]
    cruise = traj.feed_mm_s[1:][moving]
    assert (speed <= cruise * (1 + 1e-6) + 1e-9).all()
    assert speed.max() > 0.9 * arm.motion.travel_speed  # long travels do reach full speed
    # A trapezoid: from rest, v² grows by at most 2·a·ds.
    s = np.linspace(0, 300, 151)[1:]
    t = trapezoid_times(s, 80.0, 1000.0)
    v = np.diff(np.concatenate([[0], s])) / np.diff(np.concatenate([[0], t]))
    assert v.max() <= 80.0 + 1e-9 and v[0] < 80.0 and v[-1] < 80.0
    qdot = np.abs(np.diff(traj.q, axis=0))[moving] / dt[moving, None]
    assert (qdot <= arm.chain.max_speed * (1 + 1e-6)).all()
    # IK at every waypoint reaches the planned pose.
    dp, da = pose_error(fk(arm.chain, traj.q), traj.poses)
    assert dp.max() < 0.01 and np.degrees(da.max()) < 0.01


def test_wide_strokes_become_parallel_passes_covering_the_same_band():
    plan = random_plan((500, 400), 30, 60.0, seed=2)
    passes = passes_for_brush(plan, 24.0)
    assert len(passes.strokes) > len(plan.strokes)
    assert max(s.width_mm * max(p[2] for p in s.points) for s in passes.strokes) <= 24.0 + 1e-9
    assert ssim(render_preview(plan, 1.0), render_preview(passes, 1.0)) > 0.9


def test_plans_the_workcell_cannot_paint_are_refused(kuka):
    arm, cal, brush = kuka
    big = Plan(Canvas(800.0, 400.0), PALETTE, (_line(0, 50, 100),), Source("0" * 64, 8, 8))
    with pytest.raises(TrajectoryError, match="larger than the calibrated canvas"):
        plan_trajectory(big, arm, cal, brush, arm.home)
    from vision.plan import Paint

    many = Plan(Canvas(500.0, 400.0), tuple(Paint(f"p{i}", (i, i, i)) for i in range(9)),
                (_line(8, 50, 100),), Source("0" * 64, 8, 8))
    with pytest.raises(TrajectoryError, match="9 paints but the workcell has 8 pots"):
        plan_trajectory(many, arm, cal, brush, arm.home)
    far = cal.base_from_canvas.copy()
    far[:3, 3] += [600.0, 0.0, 0.0]
    moved = nominal_calibration(far, cal.canvas_size_mm)
    with pytest.raises(UnreachableError, match="outside the arm's workspace"):
        plan_trajectory(_plan([_line(0, 50, 100)]), arm, moved, brush, arm.home)
