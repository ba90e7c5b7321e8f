"""Closed loop: look at the canvas after a pass, and paint corrections where it is worst.

After a pass the camera photographs the canvas; the photo is rectified with the
calibration homography and flat-fielded with a photo of the blank canvas, then scored
against the target (vision metrics). The corrections are planned by vision's painter,
starting from that observation instead of a blank canvas: `k` strokes of the plan's
paints, placed where the observed canvas is furthest from the target and optimised on
top of it. They are an ordinary stroke plan, painted by the same arm (and, in
simulation, the same bristle brush).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from robot.arm import SimulatedArm
from robot.arm_model import ArmConfig
from robot.calibration import CanvasCalibration, canvas_homography, rectify
from robot.camera import CameraModel, flat_field
from robot.errors import CalibrationError
from robot.trajectory import plan_trajectory
from vision.metrics import psnr, ssim
from vision.painter import PainterConfig, paint
from vision.plan import Plan, preview_size

# Corrections are small and few: two stages of fine strokes, a short joint refinement.
CORRECTION_CONFIG = PainterConfig(size=128, stages=2, stage_iterations=40, final_iterations=40,
                                  rounds=2, palette_iterations=20, coarsest=0.15, finest=0.05)


@dataclass(frozen=True)
class Score:
    """SSIM and PSNR (dB) of an image against the target."""

    ssim: float
    psnr_db: float

    @classmethod
    def of(cls, image: np.ndarray, target: np.ndarray) -> Score:
        return cls(ssim=ssim(target, image), psnr_db=psnr(target, image))


@dataclass(frozen=True)
class CorrectionReport:
    """Scores before and after one corrective pass: as the camera saw it, and (in
    simulation only) the true canvas."""

    strokes: int
    observed_before: Score
    observed_after: Score
    true_before: Score | None
    true_after: Score | None

    def to_dict(self) -> dict[str, object]:
        def score(s: Score | None) -> dict[str, float] | None:
            return None if s is None else {"ssim": s.ssim, "psnr_db": s.psnr_db}

        return {"corrective_strokes": self.strokes,
                "observed": {"before": score(self.observed_before),
                             "after": score(self.observed_after)},
                "true": {"before": score(self.true_before), "after": score(self.true_after)}}


def target_on_canvas(image: np.ndarray, plan: Plan, px_per_mm: float) -> np.ndarray:
    """The target image resized to the canvas at `px_per_mm` (RGB uint8)."""
    h, w = preview_size(plan.canvas, px_per_mm)
    interp = cv2.INTER_AREA if image.shape[0] >= h else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(image, dtype=np.uint8), (w, h), interpolation=interp)


def observe(photo: np.ndarray, blank_photo: np.ndarray, cal: CanvasCalibration,
            px_per_mm: float) -> np.ndarray:
    """Rectify a camera photo onto the canvas and even out the light."""
    if cal.camera_corners_px is None:
        raise CalibrationError("the calibration has no camera corners: calibrate the camera")
    hom = canvas_homography(cal.camera_corners_px, cal.canvas_size_mm, px_per_mm)
    return flat_field(rectify(photo, hom, cal.canvas_size_mm, px_per_mm),
                      rectify(blank_photo, hom, cal.canvas_size_mm, px_per_mm))


def plan_corrections(observed: np.ndarray, target: np.ndarray, plan: Plan, k: int,
                     seed: int = 0) -> Plan:
    """Up to `k` strokes of the plan's paints that bring `observed` closer to `target`.

    Both images are (H, W, 3) uint8 at the canvas' aspect; the painter works at
    `CORRECTION_CONFIG.size` px on the longer side."""
    paints = np.array([p.rgb for p in plan.palette], dtype=np.uint8)
    config = replace(CORRECTION_CONFIG, strokes=k, seed=seed)
    result = paint(target, plan.canvas, config, palette=paints, start=observed)
    # The painter numbers paints by first appearance of each colour: map back by colour.
    index = {}
    for i, p in enumerate(plan.palette):
        index.setdefault(p.rgb, i)
    return plan.with_strokes([replace(s, color=index[result.palette[s.color].rgb])
                              for s in result.strokes])


def corrective_pass(sim: SimulatedArm, plan: Plan, target_image: np.ndarray, arm: ArmConfig,
                    cal: CanvasCalibration, camera: CameraModel, blank_photo: np.ndarray,
                    k: int) -> tuple[CorrectionReport, Plan]:
    """Photograph, score, plan up to `k` corrections, paint them, photograph, score again."""
    ppm = sim.px_per_mm
    target = target_on_canvas(target_image, plan, ppm)
    seen = observe(sim.capture(camera), blank_photo, cal, ppm)
    true_before = Score.of(sim.canvas_rgb(), target)
    fixes = plan_corrections(seen, target, plan, k)
    if fixes.strokes:
        sim.execute(plan_trajectory(fixes, arm, cal, sim.brush, sim.q))
    seen_after = observe(sim.capture(camera), blank_photo, cal, ppm)
    report = CorrectionReport(
        strokes=len(fixes.strokes),
        observed_before=Score.of(seen, target),
        observed_after=Score.of(seen_after, target),
        true_before=true_before,
        true_after=Score.of(sim.canvas_rgb(), target),
    )
    return report, fixes


def perturbed_rehearsal(plan: Plan, target_image: np.ndarray, arm: ArmConfig, k: int,
                        jitter_mm: float = 1.5, width_noise: float = 0.15,
                        capacity_scale: float = 0.5, seed: int = 1
                        ) -> tuple[CorrectionReport, Plan]:
    """Paint `plan` in simulation with a brush that misbehaves (jitter, width noise, less
    paint per dip), calibrated from a photo of the blank canvas, then make one corrective
    pass of up to `k` strokes: what the closed loop can win back from a sloppy arm."""
    from robot.brush import BrushModel
    from robot.calibration import detect_canvas_corners, nominal_calibration

    brush = BrushModel.from_spec(arm.brush).perturbed(jitter_mm=jitter_mm,
                                                      width_noise=width_noise,
                                                      capacity_scale=capacity_scale)
    camera = CameraModel(width=640, height=480, focal_px=660.0)
    sim = SimulatedArm(arm, brush, px_per_mm=1.0, seed=seed)
    blank = sim.capture(camera)
    cal = nominal_calibration(arm.workcell.canvas_pose(), arm.workcell.canvas_size_mm)
    cal = cal.with_camera(detect_canvas_corners(blank))
    sim.execute(plan_trajectory(plan, arm, cal, brush, arm.home))
    return corrective_pass(sim, plan, target_image, arm, cal, camera, blank, k)
