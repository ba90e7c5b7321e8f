"""Closed loop: with a perturbing brush, one corrective pass raises SSIM on every
benchmark image (as the camera sees it, and on the true simulated canvas)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from skimage import data

from robot.arm import SimulatedArm
from robot.arm_model import load_arm
from robot.brush import BrushModel
from robot.calibration import detect_canvas_corners, nominal_calibration
from robot.camera import CameraModel
from robot.closed_loop import corrective_pass
from robot.trajectory import plan_trajectory
from vision.painter import PainterConfig, paint
from vision.plan import Canvas, Plan, Source

PAINTS = np.array([[20, 20, 20], [240, 240, 240], [200, 40, 40], [40, 60, 180],
                   [220, 180, 60], [120, 80, 50], [90, 150, 90], [200, 150, 130]], np.uint8)


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea"])
def test_one_corrective_pass_raises_ssim(name):
    torch.set_num_threads(1)
    image = getattr(data, name)()
    res = paint(cv2.resize(image, (500, 400), interpolation=cv2.INTER_AREA), Canvas(500, 400),
                PainterConfig(strokes=50, size=64, stage_iterations=15, final_iterations=8,
                              palette_iterations=8), palette=PAINTS)
    plan = Plan(Canvas(500, 400), res.palette, res.strokes, Source("0" * 64, 64, 64))
    arm = load_arm("kuka_kr6_r900")
    brush = BrushModel.from_spec(arm.brush).perturbed(jitter_mm=1.5, width_noise=0.15,
                                                      capacity_scale=0.5)
    camera = CameraModel(width=640, height=480, focal_px=660.0)
    sim = SimulatedArm(arm, brush, px_per_mm=1.0, seed=1)
    blank = sim.capture(camera)
    cal = nominal_calibration(arm.workcell.canvas_pose(), arm.workcell.canvas_size_mm)
    cal = cal.with_camera(detect_canvas_corners(blank))
    sim.execute(plan_trajectory(plan, arm, cal, brush, arm.home))
    report, fixes = corrective_pass(sim, plan, image, arm, cal, camera, blank, k=20)
    assert 0 < report.strokes == len(fixes.strokes) <= 20
    assert {s.color for s in fixes.strokes} <= set(range(len(plan.palette)))
    assert report.observed_after.ssim > report.observed_before.ssim
    assert report.true_after.ssim > report.true_before.ssim
    assert report.true_after.psnr_db > report.true_before.psnr_db
    record = report.to_dict()
    assert record["true"]["after"]["ssim"] == report.true_after.ssim
