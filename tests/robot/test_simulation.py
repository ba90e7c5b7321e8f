"""Simulated painting: trajectory → IK → FK → the bristle brush paints close to the plan's
preview but not as its disc rasteriser would (texture, ragged edges, paint load); the film
reads back; paint runs out; calibration matters."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch
from skimage import data

from robot.arm import SimulatedArm, misplaced
from robot.arm_model import load_arm
from robot.brush import BrushModel
from robot.calibration import TouchPoint, calibrate_from_touches, nominal_calibration, touch_marks
from robot.errors import FilmError
from robot.film import FilmRecorder, FilmSpec, read_film_info
from robot.trajectory import fit_plan, plan_trajectory
from vision.metrics import ssim
from vision.painter import PainterConfig, paint
from vision.plan import Canvas, Plan, Source, Stroke, render_preview

from .conftest import PALETTE, random_plan

PAINTS = np.array([[20, 20, 20], [240, 240, 240], [200, 40, 40], [40, 60, 180],
                   [220, 180, 60], [120, 80, 50], [90, 150, 90], [200, 150, 130]], np.uint8)


@pytest.fixture(scope="module")
def astronaut_plan():
    """A benchmark plan made by the vision painter (small settings to keep tests quick)."""
    torch.set_num_threads(1)
    image = cv2.resize(data.astronaut(), (500, 400), interpolation=cv2.INTER_AREA)
    res = paint(image, Canvas(500, 400), PainterConfig(strokes=60, size=64, stage_iterations=15,
                                                       final_iterations=8, palette_iterations=8),
                palette=PAINTS)
    return Plan(Canvas(500, 400), res.palette, res.strokes, Source("0" * 64, 512, 512))


def _nominal(arm):
    return nominal_calibration(arm.workcell.canvas_pose(), arm.workcell.canvas_size_mm)


def test_simulated_painting_reproduces_the_preview_and_films_it(astronaut_plan, tmp_path):
    arm = load_arm("kuka_kr6_r900")
    brush = BrushModel.from_spec(arm.brush)
    traj = plan_trajectory(astronaut_plan, arm, _nominal(arm), brush, arm.home)
    spec = FilmSpec(width=160, height=120, fps=10.0, speedup=50.0)
    with FilmRecorder(tmp_path / "film.mp4", spec) as film:
        sim = SimulatedArm(arm, brush, px_per_mm=1.0, film=film)
        report = sim.execute(traj)
    score = ssim(render_preview(astronaut_plan, 1.0), sim.canvas_rgb())
    assert 0.75 <= score < 0.97, score  # close, but a bristle brush is not the preview's disc
    info = read_film_info(tmp_path / "film.mp4")
    expected = math.floor(traj.duration_s / (spec.speedup / spec.fps)) + 1
    assert info.frames == report.frames == expected
    assert (info.width, info.height) == (160, 120) and info.fps == pytest.approx(10.0)
    assert info.codec == film.codec == "h264"  # read back from the file by decoding it
    assert info.duration_s == pytest.approx(traj.duration_s / spec.speedup, abs=1 / spec.fps)
    assert report.duration_s == traj.duration_s > 0


def test_desktop_arm_paints_a_fitted_plan():
    arm = load_arm("desktop_scara4")
    plan = fit_plan(random_plan((500, 400), 15, 30.0, seed=4), arm.workcell.canvas_size_mm)
    brush = BrushModel.from_spec(arm.brush).smooth()
    traj = plan_trajectory(plan, arm, _nominal(arm), brush, arm.home)
    sim = SimulatedArm(arm, brush, px_per_mm=2.0)
    sim.execute(traj)
    painted = sim.canvas_rgb((plan.canvas.width_mm, plan.canvas.height_mm))
    assert ssim(render_preview(plan, 2.0), painted) >= 0.9


def test_paint_runs_out_along_a_stroke_and_comes_back_after_a_dip():
    arm = load_arm("kuka_kr6_r900")
    thin = BrushModel.from_spec(arm.brush).perturbed(0.0, 0.0, capacity_scale=0.15)
    stroke = Stroke(0, 16.0, tuple((x, 200.0, 1.0) for x in np.linspace(40, 390, 8)))
    plan = Plan(Canvas(500, 400), PALETTE, (stroke, stroke), Source("0" * 64, 8, 8))
    traj = plan_trajectory(plan.with_strokes([stroke]), arm, _nominal(arm), thin, arm.home)
    sim = SimulatedArm(arm, thin, px_per_mm=1.0)
    sim.execute(traj)
    row = sim.canvas_rgb()[200, :, 0].astype(float)
    head, tail = row[50:100].mean(), row[330:380].mean()
    assert head < 40 and tail > head + 100  # opaque black first, thin at the end
    preview = render_preview(plan.with_strokes([stroke]), 1.0)[200, :, 0].astype(float)
    assert preview[50:100].mean() == preview[330:380].mean()  # the preview knows no load
    # A fresh dip loads the brush again: the next stroke starts dark.
    lower = Stroke(0, 16.0, tuple((x, 300.0, 1.0) for x in np.linspace(40, 390, 8)))
    sim.execute(plan_trajectory(plan.with_strokes([lower]), arm, _nominal(arm), thin, sim.q))
    assert sim.canvas_rgb()[300, 50:100, 0].mean() < 40


def test_jitter_moves_the_trace():
    arm = load_arm("kuka_kr6_r900")
    plan = random_plan((500, 400), 20, 12.0, seed=8)
    scores = []
    for jitter in (0.0, 3.0):
        brush = BrushModel.from_spec(arm.brush).smooth().perturbed(jitter, 0.0)
        sim = SimulatedArm(arm, brush, px_per_mm=1.0, seed=2)
        sim.execute(plan_trajectory(plan, arm, _nominal(arm), brush, arm.home))
        scores.append(ssim(render_preview(plan, 1.0), sim.canvas_rgb()))
    assert scores[0] > 0.97 > scores[1]


def test_a_misplaced_canvas_needs_its_calibration():
    arm = load_arm("kuka_kr6_r900")
    world = misplaced(arm.workcell.canvas_pose(), 4.0, 0.8, np.random.default_rng(11))
    plan = random_plan((500, 400), 20, 16.0, seed=9)
    brush = BrushModel.from_spec(arm.brush).smooth()
    probe = SimulatedArm(arm, world_canvas=world, seed=5)
    touches = [TouchPoint(tuple(m), tuple(probe.touch(m)))
               for m in touch_marks(arm.workcell.canvas_size_mm)]
    scores = {}
    for name, cal in (("nominal", _nominal(arm)),
                      ("touched", calibrate_from_touches(touches, arm.workcell.canvas_size_mm))):
        sim = SimulatedArm(arm, brush, world_canvas=world, px_per_mm=1.0)
        sim.execute(plan_trajectory(plan, arm, cal, brush, arm.home))
        scores[name] = ssim(render_preview(plan, 1.0), sim.canvas_rgb())
    assert scores["touched"] >= 0.95 > scores["nominal"]


def test_film_errors_are_clear(tmp_path):
    with pytest.raises(FilmError, match="positive size"):
        FilmRecorder(tmp_path / "a.mp4", FilmSpec(0, 120, 10.0)).start()
    with pytest.raises(FilmError, match="not recording"):
        FilmRecorder(tmp_path / "b.mp4", FilmSpec(160, 120, 10.0)).write(
            np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(FilmError, match="cannot open video"):
        read_film_info(tmp_path / "missing.mp4")


def test_the_bristle_brush_is_not_the_preview_rasteriser():
    """One loaded stroke: the preview is an even disc trace; the brush leaves texture inside
    and ragged edges, and its smooth variant (same geometry) does neither."""
    arm = load_arm("kuka_kr6_r900")
    stroke = Stroke(0, 20.0, tuple((x, 200.0 + 30 * math.sin(x / 60), 1.0)
                                   for x in np.linspace(40, 300, 12)))
    plan = Plan(Canvas(500, 400), PALETTE, (stroke,), Source("0" * 64, 8, 8))
    preview = render_preview(plan, 2.0)[..., 0].astype(float)
    canvases = {}
    for name, brush in (("bristle", BrushModel.from_spec(arm.brush)),
                        ("smooth", BrushModel.from_spec(arm.brush).smooth())):
        sim = SimulatedArm(arm, brush, px_per_mm=2.0)
        sim.execute(plan_trajectory(plan, arm, _nominal(arm), brush, arm.home))
        canvases[name] = sim.canvas_rgb()[..., 0].astype(float)
    core = cv2.erode((preview < 40).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    assert core.sum() > 2000 and preview[core].std() == 0.0
    assert canvases["bristle"][core].std() > 1.5  # grain and strands inside the trace
    assert canvases["smooth"][core].std() < 0.5
    edge = cv2.dilate((preview < 128).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    edge &= ~cv2.erode((preview < 128).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    ragged = ((canvases["bristle"] < 128) != (preview < 128)) & edge
    straight = ((canvases["smooth"] < 128) != (preview < 128)) & edge
    assert ragged.sum() > 3 * max(1, straight.sum())
