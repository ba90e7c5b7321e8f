"""The jobs behind `gaka robot paint` and `gaka robot calibrate`, as plain functions.

Each takes typed options and returns a JSON-ready record; the CLI only parses and prints.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from robot.arm import SimulatedArm, misplaced
from robot.arm_model import ArmConfig, load_arm
from robot.brush import BrushModel
from robot.calibration import (
    CanvasCalibration,
    TouchPoint,
    calibrate_from_touches,
    detect_canvas_corners,
    load_calibration,
    nominal_calibration,
    save_calibration,
    touch_marks,
)
from robot.camera import CameraModel
from robot.closed_loop import corrective_pass
from robot.errors import ArmConnectionError, CalibrationError, RobotError
from robot.film import FilmRecorder, FilmSpec, read_film_info
from robot.gcode import GCodeArm
from robot.trajectory import Trajectory, fit_plan, plan_trajectory
from vision.metrics import psnr, ssim
from vision.plan import load_plan, render_preview


@dataclass(frozen=True)
class SimWorld:
    """How the simulated canvas is really placed: off the configured pose by up to
    `misplace_mm` (and misplace_mm / 10 degrees), drawn with `seed`."""

    misplace_mm: float = 0.0
    seed: int = 0

    def canvas_pose(self, arm: ArmConfig) -> np.ndarray:
        nominal = arm.workcell.canvas_pose()
        if self.misplace_mm <= 0:
            return nominal
        return misplaced(nominal, self.misplace_mm, self.misplace_mm / 10.0,
                         np.random.default_rng(self.seed))


@dataclass(frozen=True)
class PaintOptions:
    """Everything `gaka robot paint` can be told."""

    plan: Path
    arm: str = "sim"
    config: str = "kuka_kr6_r900"
    port: str | None = None
    calibration: Path | None = None
    video: Path | None = None
    film: FilmSpec = FilmSpec()
    canvas_png: Path | None = None
    px_per_mm: float = 2.0
    fit: bool = False
    jitter_mm: float = 0.0
    width_noise: float = 0.0
    paint_scale: float = 1.0
    target: Path | None = None
    corrections: int = 0
    world: SimWorld = SimWorld()
    resume_line: int = 0
    progress: bool = False  # a bar on stderr over the simulated arm time


def _calibration(opts_path: Path | None, arm: ArmConfig) -> tuple[CanvasCalibration, str]:
    if opts_path is not None:
        return load_calibration(opts_path), str(opts_path)
    return (nominal_calibration(arm.workcell.canvas_pose(), arm.workcell.canvas_size_mm),
            "configured canvas pose (uncalibrated)")


@contextmanager
def _arm_time_bar(traj: Trajectory, opts: PaintOptions) -> Iterator[Callable[[float], None]]:
    """A tqdm bar over the arm time a simulation has covered (silent unless asked)."""
    total = round(traj.duration_s)
    with tqdm(total=total, desc="painting (arm s)", unit="s", disable=not opts.progress,
              leave=False, file=sys.stderr) as bar:
        yield lambda t: bar.update(min(total, round(t)) - bar.n)


def run_paint(opts: PaintOptions) -> dict[str, Any]:
    """Paint a plan with the simulated or the G-code arm; returns the painting's record."""
    if opts.arm not in ("sim", "gcode"):
        raise RobotError(f"--arm must be 'sim' or 'gcode', got {opts.arm!r}")
    arm = load_arm(opts.config)
    plan = load_plan(opts.plan)
    cal, cal_source = _calibration(opts.calibration, arm)
    if opts.fit:
        plan = fit_plan(plan, cal.canvas_size_mm)
    brush = BrushModel.from_spec(arm.brush)
    if opts.jitter_mm or opts.width_noise or opts.paint_scale != 1.0:
        brush = brush.perturbed(opts.jitter_mm, opts.width_noise, opts.paint_scale)
    record: dict[str, Any] = {"arm": opts.arm, "config": arm.name, "plan": str(opts.plan),
                              "strokes": len(plan.strokes), "calibration": cal_source}
    if opts.arm == "gcode":
        _check_gcode_options(opts)
        with GCodeArm(opts.port, arm) as driver:
            traj = plan_trajectory(plan, arm, cal, brush, driver.q)
            report = driver.execute(traj, from_line=opts.resume_line)
        record.update(_run_record(report))
        if opts.resume_line:
            record["resumed_from_line"] = opts.resume_line
        return record
    if opts.resume_line:
        raise RobotError("--resume continues an interrupted G-code run; it needs --arm gcode")
    sim = SimulatedArm(arm, brush, world_canvas=opts.world.canvas_pose(arm),
                       px_per_mm=opts.px_per_mm, seed=opts.world.seed)
    camera = CameraModel()
    blank_photo = sim.capture(camera)
    traj = plan_trajectory(plan, arm, cal, brush, sim.q)
    if opts.video is not None:
        with FilmRecorder(opts.video, opts.film) as film, _arm_time_bar(traj, opts) as bar:
            sim.film = film
            report = sim.execute(traj, bar)
            sim.film = None
        info = read_film_info(opts.video)
        record["film"] = {"path": str(opts.video), "codec": info.codec, "frames": info.frames,
                          "fps": info.fps, "duration_s": info.duration_s,
                          "size": [info.width, info.height], "speedup": opts.film.speedup}
    else:
        with _arm_time_bar(traj, opts) as bar:
            report = sim.execute(traj, bar)
    record.update(_run_record(report))
    painted = sim.canvas_rgb((plan.canvas.width_mm, plan.canvas.height_mm))
    preview = render_preview(plan, opts.px_per_mm)
    record["ssim_vs_preview"] = ssim(preview, painted)
    record["psnr_db_vs_preview"] = psnr(preview, painted)
    if opts.corrections > 0:
        if opts.target is None:
            raise RobotError("--corrections needs --target (the image the plan was made from)")
        image = cv2.imread(str(opts.target), cv2.IMREAD_COLOR)
        if image is None:
            raise RobotError(f"cannot read target image {opts.target}")
        if cal.camera_corners_px is None:
            cal = cal.with_camera(detect_canvas_corners(blank_photo))
        report_fix, _ = corrective_pass(sim, plan, image[..., ::-1], arm, cal, camera,
                                        blank_photo, opts.corrections)
        record["closed_loop"] = report_fix.to_dict()
    if opts.canvas_png is not None:
        opts.canvas_png.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(opts.canvas_png), sim.canvas_rgb()[..., ::-1])
        record["canvas_png"] = str(opts.canvas_png)
    return record


def _check_gcode_options(opts: PaintOptions) -> None:
    """Refuse what only the simulation can do, rather than ignore it on a real arm."""
    if opts.port is None:
        raise ArmConnectionError("--arm gcode needs --port (the arm's serial port)")
    sim_only = {"--video": opts.video is not None, "--canvas": opts.canvas_png is not None,
                "--corrections": opts.corrections > 0, "--target": opts.target is not None,
                "--jitter-mm": opts.jitter_mm != 0.0, "--width-noise": opts.width_noise != 0.0,
                "--paint-scale": opts.paint_scale != 1.0,
                "--misplace-mm": opts.world.misplace_mm != 0.0}
    given = [name for name, on in sim_only.items() if on]
    if given:
        raise RobotError(f"{', '.join(given)} only work with --arm sim (a G-code arm has no "
                         "camera and no simulated world)")


def _run_record(report: Any) -> dict[str, Any]:
    return {"driver": report.arm, "arm_time_s": report.duration_s,
            "waypoints": report.waypoints, "dips": report.dips, "washes": report.washes,
            "wall_s": report.wall_s}


# ---------------------------------------------------------------- calibration


@dataclass(frozen=True)
class CalibrateOptions:
    """Everything `gaka robot calibrate` can be told."""

    out: Path
    config: str = "kuka_kr6_r900"
    arm: str | None = None
    points_file: Path | None = None
    points: tuple[str, ...] = ()
    marks: tuple[int, int] = (4, 3)
    camera_image: Path | None = None
    max_plane_rms_mm: float = 0.5
    world: SimWorld = SimWorld()


def read_touch_points(path: Path) -> list[TouchPoint]:
    """Touch points from JSON ([{"canvas_mm": [u, v], "base_mm": [x, y, z]}, ...]) or CSV
    (rows u, v, x, y, z; a header row is skipped)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CalibrationError(f"cannot read touch points {path}: {exc.strerror or exc}") from None
    if path.suffix.lower() == ".json":
        try:
            doc = json.loads(text)
            return [TouchPoint(tuple(map(float, p["canvas_mm"])), tuple(map(float, p["base_mm"])))
                    for p in doc]
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise CalibrationError(f"{path}: expected a JSON list of "
                                   f'{{"canvas_mm": [u, v], "base_mm": [x, y, z]}}: {exc}') \
                from None
    rows = [r for r in csv.reader(text.splitlines()) if r and not r[0].strip().startswith("#")]
    out = []
    for i, row in enumerate(rows):
        try:
            out.append(parse_touch_point(",".join(row)))
        except CalibrationError:
            if i == 0:
                continue  # header
            raise
    return out


def parse_touch_point(text: str) -> TouchPoint:
    """"u,v,x,y,z" (canvas mm, then base mm) to a touch point."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 5 or not all(math.isfinite(v) for v in values):
        raise CalibrationError(f"a touch point is 'u,v,x,y,z' (5 numbers), got {text!r}")
    return TouchPoint((values[0], values[1]), (values[2], values[3], values[4]))


def run_calibrate(opts: CalibrateOptions) -> dict[str, Any]:
    """Record a calibration from given points or a simulated touch sequence; save it."""
    arm = load_arm(opts.config)
    size = arm.workcell.canvas_size_mm
    touches: list[TouchPoint] = []
    if opts.points_file is not None:
        touches += read_touch_points(opts.points_file)
    touches += [parse_touch_point(p) for p in opts.points]
    corners = None
    if opts.arm == "sim":
        sim = SimulatedArm(arm, world_canvas=opts.world.canvas_pose(arm), seed=opts.world.seed)
        touches += [TouchPoint((float(u), float(v)), tuple(float(c) for c in sim.touch((u, v))))
                    for u, v in touch_marks(size, *opts.marks)]
        if opts.camera_image is None:
            corners = detect_canvas_corners(sim.capture(CameraModel()))
    elif opts.arm is not None:
        raise RobotError(f"--arm for calibration must be 'sim' (or give --points), "
                         f"got {opts.arm!r}")
    if not touches:
        raise CalibrationError("no touch points: give --points FILE, --point u,v,x,y,z or "
                               "--arm sim")
    cal = calibrate_from_touches(touches, size, max_plane_rms_mm=opts.max_plane_rms_mm)
    if opts.camera_image is not None:
        image = cv2.imread(str(opts.camera_image), cv2.IMREAD_COLOR)
        if image is None:
            raise CalibrationError(f"cannot read camera image {opts.camera_image}")
        corners = detect_canvas_corners(image[..., ::-1])
    if corners is not None:
        cal = cal.with_camera(corners)
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    save_calibration(cal, opts.out)
    return {"calibration": str(opts.out), "config": arm.name, "touches": len(touches),
            "plane_rms_mm": cal.plane_rms_mm, "plane_max_mm": cal.plane_max_mm,
            "inplane_rms_mm": cal.inplane_rms_mm,
            "canvas_origin_mm": cal.base_from_canvas[:3, 3].tolist(),
            "canvas_normal": cal.base_from_canvas[:3, 2].tolist(),
            "camera_corners_px": None if corners is None else np.asarray(corners).tolist()}
