"""Robot arm benchmark: prints one JSON document.

- IK solves per second on the KR6 R900-class arm: the analytic solver (all 8 branches,
  batched) against damped least squares (warm-started from a nearby joint state, as
  along a path, and cold from the arm's home with random restarts), the ratio measured
  side by side; DLS on the 4-axis desktop arm too.
- A 400-stroke painting (made by vision's painter from skimage's astronaut): wall time
  to plan the trajectory (IK at every waypoint) and to simulate it, with and without
  filming (1280x720 at 30 fps, 10x time-lapse), against the time the real arm would
  need at its configured speeds (target: simulation < 10 %); and how far the painted
  canvas is from the plan's preview (PSNR/SSIM) with the bristle brush, whose rasteriser
  is not the preview's, and with its smooth variant (geometry and paint load only).
- Closed loop: SSIM/PSNR before and after one pass of 20 corrective strokes (planned by
  vision's painter from the photographed canvas) with a perturbing bristle brush, on
  astronaut, coffee and chelsea; goal: a gain of >= 1 dB or >= 0.03 SSIM on each.

Medians of repeated runs.

    .venv/bin/python benchmarks/arm.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from skimage import data

from gaka.machine import machine_info, median_time
from robot.arm import SimulatedArm
from robot.arm_model import load_arm
from robot.brush import BrushModel
from robot.calibration import nominal_calibration
from robot.closed_loop import perturbed_rehearsal
from robot.film import FilmRecorder, FilmSpec, read_film_info
from robot.kinematics import fk, ik_analytic_candidates, ik_dls
from robot.trajectory import plan_trajectory
from vision.metrics import psnr, ssim
from vision.painter import PainterConfig, paint
from vision.plan import Canvas, Plan, Source, render_preview

PAINTS = np.array([[20, 20, 20], [240, 240, 240], [200, 40, 40], [40, 60, 180],
                   [220, 180, 60], [120, 80, 50], [90, 150, 90], [200, 150, 130]], np.uint8)


def ik_rates(n: int, repeats: int) -> dict[str, Any]:
    kuka = load_arm("kuka_kr6_r900").chain
    rng = np.random.default_rng(0)
    q = rng.uniform(kuka.lower, kuka.upper, size=(n, 6))
    poses = fk(kuka, q)
    near = q + rng.normal(0.0, 0.02, q.shape)  # the previous waypoint's joints
    t_an, cands = median_time(lambda: ik_analytic_candidates(kuka, poses, q_ref=q), repeats)
    t_warm, warm = median_time(lambda: ik_dls(kuka, poses, near, max_iter=100), repeats)
    home = np.tile(load_arm("kuka_kr6_r900").home, (n, 1))
    t_cold, cold = median_time(lambda: ik_dls(kuka, poses, home, max_iter=600, restarts=60),
                                repeats)
    scara_arm = load_arm("desktop_scara4")
    sq = rng.uniform(scara_arm.chain.lower, scara_arm.chain.upper, size=(n, 4))
    s_poses = fk(scara_arm.chain, sq)
    s_near = sq + rng.normal(0.0, 0.02, sq.shape)
    t_scara, s_warm = median_time(lambda: ik_dls(scara_arm.chain, s_poses, s_near), repeats)
    analytic = n / t_an
    return {
        "poses": n,
        "analytic_6axis_solves_per_s": analytic,
        "analytic_branches_found_per_pose": float((~np.isnan(cands).any(-1)).sum(1).mean()),
        "dls_6axis_warm_solves_per_s": n / t_warm,
        "dls_6axis_warm_converged": float(warm.converged.mean()),
        "dls_6axis_cold_solves_per_s": n / t_cold,
        "dls_6axis_cold_converged": float(cold.converged.mean()),
        "dls_4axis_warm_solves_per_s": n / t_scara,
        "dls_4axis_warm_converged": float(s_warm.converged.mean()),
        "ratio_analytic_over_dls_warm": analytic / (n / t_warm),
        "ratio_analytic_over_dls_cold": analytic / (n / t_cold),
    }


def _painter_plan(image: np.ndarray, strokes: int, size: int, iterations: int) -> Plan:
    res = paint(cv2.resize(image, (500, 400), interpolation=cv2.INTER_AREA), Canvas(500, 400),
                PainterConfig(strokes=strokes, size=size, stage_iterations=iterations,
                              final_iterations=iterations // 2,
                              palette_iterations=iterations // 2), palette=PAINTS)
    return Plan(Canvas(500, 400), res.palette, res.strokes, Source("0" * 64, *image.shape[:2]))


def painting(strokes: int, repeats: int) -> dict[str, Any]:
    arm = load_arm("kuka_kr6_r900")
    plan = _painter_plan(data.astronaut(), strokes, 128, 20)
    cal = nominal_calibration(arm.workcell.canvas_pose(), arm.workcell.canvas_size_mm)
    brush = BrushModel.from_spec(arm.brush)
    t_traj, traj = median_time(lambda: plan_trajectory(plan, arm, cal, brush, arm.home), repeats)

    def simulate() -> SimulatedArm:
        sim = SimulatedArm(arm, brush, px_per_mm=2.0)
        sim.execute(traj)
        return sim

    t_sim, sim = median_time(simulate, repeats)
    smooth = SimulatedArm(arm, brush.smooth(), px_per_mm=2.0)
    smooth.execute(traj)
    preview = render_preview(plan, 2.0)
    spec = FilmSpec(1280, 720, 30.0, speedup=10.0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "film.mp4"

        def filmed() -> int:
            with FilmRecorder(path, spec) as film:
                return SimulatedArm(arm, brush, px_per_mm=2.0, film=film).execute(traj).frames

        t_film, frames = median_time(filmed, max(1, repeats - 1))
        info = read_film_info(path)
    real = traj.duration_s
    return {
        "strokes_in_plan": len(plan.strokes),
        "waypoints": len(traj.t),
        "dips": traj.dips,
        "washes": traj.washes,
        "real_arm_time_s": real,
        "trajectory_planning_s": t_traj,
        "simulation_s": t_sim,
        "simulation_with_film_s": t_film,
        "film": {"codec": info.codec, "size": [info.width, info.height], "fps": info.fps,
                 "frames": info.frames,
                 "written_frames": frames, "speedup": spec.speedup},
        "ratio_sim_over_real": (t_traj + t_sim) / real,
        "ratio_sim_with_film_over_real": (t_traj + t_film) / real,
        "target_ratio": 0.10,
        "canvas_vs_preview": {
            "bristle_brush": {"psnr_db": psnr(preview, sim.canvas_rgb()),
                              "ssim": ssim(preview, sim.canvas_rgb())},
            "smooth_brush": {"psnr_db": psnr(preview, smooth.canvas_rgb()),
                             "ssim": ssim(preview, smooth.canvas_rgb())},
        },
    }


def closed_loop(strokes: int, k: int) -> dict[str, Any]:
    arm = load_arm("kuka_kr6_r900")
    out = {}
    for name in ("astronaut", "coffee", "chelsea"):
        image = getattr(data, name)()
        plan = _painter_plan(image, strokes, 64, 15)
        report, _ = perturbed_rehearsal(plan, image, arm, k)
        gain_db = report.true_after.psnr_db - report.true_before.psnr_db
        gain_ssim = report.true_after.ssim - report.true_before.ssim
        out[name] = {**report.to_dict(), "true_gain": {
            "psnr_db": gain_db, "ssim": gain_ssim,
            "goal_met": bool(gain_db >= 1.0 or gain_ssim >= 0.03)}}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller measurements")
    args = parser.parse_args()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    quick = args.quick
    doc = {
        "benchmark": "robot arm",
        "machine": machine_info(("numpy", "scipy", "opencv-python-headless", "scikit-image",
                                 "torch")),
        "ik": ik_rates(2000 if quick else 10_000, 3 if quick else 5),
        "painting": painting(100 if quick else 400, 1 if quick else 3),
        "closed_loop": closed_loop(40 if quick else 60, 20),
    }
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
