"""Closed loop: look at the canvas after a pass, and paint corrections where it is worst.

After a pass the camera photographs the canvas; the photo is rectified with the
calibration homography and flat-fielded with a photo of the blank canvas, then scored
against the target (vision metrics). Corrective strokes are planned greedily on that
observation: at the worst remaining spot (blurred colour error), candidate strokes of
the nearest paint, along and across the target's local edges, in a few lengths and
widths the brush can make, are rendered as the preview would draw them; the one that
lowers the error most is kept, until `k` strokes or no candidate helps. The
corrections are an ordinary stroke plan, painted by the same arm.

(vision's painter fits a whole painting from a blank canvas; it cannot yet start from
a canvas already painted, so the corrective planner lives here, on vision's plan and
metric types.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from robot.arm import SimulatedArm
from robot.arm_model import ArmConfig
from robot.calibration import CanvasCalibration, canvas_homography, rectify
from robot.camera import CameraModel, flat_field
from robot.errors import CalibrationError
from robot.trajectory import plan_trajectory
from vision.metrics import psnr, ssim
from vision.plan import Plan, Stroke, preview_size, stroke_coverage


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
                     max_width_mm: float, px_per_mm: float) -> Plan:
    """Up to `k` strokes (plan's paints) that lower the error of `observed` vs `target`."""
    work = observed.astype(float)
    tgt = target.astype(float)
    h, w = tgt.shape[:2]
    paints = np.array([p.rgb for p in plan.palette], dtype=float)
    grey = cv2.cvtColor(target, cv2.COLOR_RGB2GRAY).astype(float)
    gx, gy = cv2.Sobel(grey, cv2.CV_64F, 1, 0), cv2.Sobel(grey, cv2.CV_64F, 0, 1)
    win = max(3, int(4 * px_per_mm) | 1)
    jxx, jyy, jxy = (cv2.GaussianBlur(v, (0, 0), win) for v in (gx * gx, gy * gy, gx * gy))
    edge_angle = 0.5 * np.arctan2(2 * jxy, jxx - jyy) + math.pi / 2
    blurred_target = cv2.GaussianBlur(tgt, (0, 0), 2.0 * px_per_mm)
    tried = np.zeros((h, w), dtype=bool)
    strokes: list[Stroke] = []
    widths = [max_width_mm, max_width_mm / 2.0]
    lengths = [8.0, 20.0, 40.0]
    sigma = max(1.0, 3.0 * px_per_mm)
    while len(strokes) < k:
        err = cv2.GaussianBlur(((work - tgt) ** 2).sum(axis=2), (0, 0), sigma)
        err[tried] = 0.0
        y, x = np.unravel_index(int(np.argmax(err)), err.shape)
        if err[y, x] <= 0.0:
            break
        tried[max(0, y - win) : y + win + 1, max(0, x - win) : x + win + 1] = True
        colour = int(np.argmin(((paints - blurred_target[y, x]) ** 2).sum(axis=1)))
        best = _best_candidate(work, tgt, paints[colour], (x + 0.5, y + 0.5),
                               float(edge_angle[y, x]), widths, lengths, px_per_mm)
        if best is None:
            continue
        pts_mm, width_mm = best
        pts_mm = np.clip(pts_mm, 0.0, [plan.canvas.width_mm, plan.canvas.height_mm])
        _paint(work, pts_mm * px_per_mm, width_mm * px_per_mm / 2.0, paints[colour])
        strokes.append(Stroke(colour, width_mm, tuple((float(px), float(py), 1.0)
                                                       for px, py in pts_mm)))
    return plan.with_strokes(strokes)


def _best_candidate(work: np.ndarray, tgt: np.ndarray, colour: np.ndarray,
                    centre_px: tuple[float, float], angle: float, widths: list[float],
                    lengths: list[float], ppm: float) -> tuple[np.ndarray, float] | None:
    """The candidate stroke through `centre_px` that lowers the squared error most."""
    best, gain_best = None, 0.0
    h, w = tgt.shape[:2]
    for a in (angle, angle + math.pi / 4, angle - math.pi / 4, angle + math.pi / 2):
        d = np.array([math.cos(a), math.sin(a)])
        for length in lengths:
            for width in widths:
                c = np.asarray(centre_px) / ppm
                pts = np.stack([c - d * length / 2, c, c + d * length / 2])
                cov, (y0, x0) = stroke_coverage(pts * ppm, np.full(3, width * ppm / 2), h, w)
                if cov.size == 0:
                    continue
                sl = (slice(y0, y0 + cov.shape[0]), slice(x0, x0 + cov.shape[1]))
                before = ((work[sl] - tgt[sl]) ** 2).sum()
                after_img = work[sl] + cov[..., None] * (colour - work[sl])
                gain = before - ((after_img - tgt[sl]) ** 2).sum()
                if gain > gain_best:
                    best, gain_best = (pts, width), gain
    return best


def _paint(img: np.ndarray, pts_px: np.ndarray, radius_px: float, colour: np.ndarray) -> None:
    cov, (y0, x0) = stroke_coverage(pts_px, np.full(len(pts_px), radius_px), *img.shape[:2])
    if cov.size:
        win = img[y0 : y0 + cov.shape[0], x0 : x0 + cov.shape[1]]
        win += cov[..., None] * (colour - win)


def corrective_pass(sim: SimulatedArm, plan: Plan, target_image: np.ndarray, arm: ArmConfig,
                    cal: CanvasCalibration, camera: CameraModel, blank_photo: np.ndarray,
                    k: int) -> tuple[CorrectionReport, Plan]:
    """Photograph, score, plan up to `k` corrections, paint them, photograph, score again."""
    ppm = sim.px_per_mm
    target = target_on_canvas(target_image, plan, ppm)
    seen = observe(sim.capture(camera), blank_photo, cal, ppm)
    true_before = Score.of(sim.canvas_rgb(), target)
    fixes = plan_corrections(seen, target, plan, k, arm.brush.max_width_mm, ppm)
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
