"""Closed loop: with a perturbing brush, one corrective pass raises SSIM on every
benchmark image (as the camera sees it, and on the true simulated canvas)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from skimage import data

from robot.arm_model import load_arm
from robot.closed_loop import perturbed_rehearsal
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
    report, fixes = perturbed_rehearsal(plan, image, load_arm("kuka_kr6_r900"), k=20)
    assert 0 < report.strokes == len(fixes.strokes) <= 20
    assert {s.color for s in fixes.strokes} <= set(range(len(plan.palette)))
    assert report.observed_after.ssim > report.observed_before.ssim
    assert report.true_after.ssim > report.true_before.ssim
    assert report.true_after.psnr_db > report.true_before.psnr_db
    record = report.to_dict()
    assert record["true"]["after"]["ssim"] == report.true_after.ssim
