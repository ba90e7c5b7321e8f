"""The studio half of a cycle: capture a picture, plan strokes, paint them while filming.

Each step writes its result into the cycle's folder under a temporary name and renames it
when complete, so after a crash a step either left its whole output or none and is simply
run again. Painting goes in chunks of strokes; between chunks the daemon may be told to
stop, and then the brush is lifted (each chunk ends above the canvas), the film is closed
and the number of strokes done is reported.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from gaka.files import atomic_write
from robot.arm import SimulatedArm
from robot.arm_model import load_arm
from robot.brush import BrushModel
from robot.calibration import nominal_calibration
from robot.errors import RobotError
from robot.film import FilmRecorder, FilmSpec, read_film_info
from robot.gcode import GCodeArm
from robot.trajectory import fit_plan, plan_trajectory
from vision.capture import open_source
from vision.plan import Plan, Source, load_plan
from vision.preprocess import kmeans_palette

# Pictures the simulated camera photographs, in turn (they ship with scikit-image).
SIM_SUBJECTS = ("chelsea", "coffee", "astronaut", "rocket", "camera")

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class StudioConfig:
    """How the studio captures, plans and paints."""

    camera: str = "sim"  # "sim" or a vision.capture source ("camera:0", a folder, a file)
    arm: str = "sim"  # "sim" or "gcode"
    arm_port: str | None = None
    arm_config: str = "kuka_kr6_r900"
    strokes: int = 40
    paints: int = 6
    plan_size: int = 48
    iterations: int = 12
    chunk_strokes: int = 8
    film: FilmSpec = FilmSpec(320, 240, 15.0, 60.0)
    px_per_mm: float = 1.0


class Stopped(RobotError):
    """Painting parked between strokes because the daemon is stopping."""


def _png(image_rgb: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(image_rgb[..., ::-1]))
    if not ok:
        raise RobotError("cannot encode PNG")
    return buf.tobytes()


def sim_photo(cycle_id: int) -> np.ndarray:
    """The simulated camera's picture for a cycle: a bundled subject with the sensor noise of
    that shot (seeded by the cycle), so no two cycles see identical pixels."""
    import skimage.data

    subject = getattr(skimage.data, SIM_SUBJECTS[(cycle_id - 1) % len(SIM_SUBJECTS)])()
    if subject.ndim == 2:
        subject = np.stack([subject] * 3, axis=-1)
    rng = np.random.default_rng(cycle_id)
    noisy = subject.astype(float) + rng.normal(0.0, 2.0, size=subject.shape)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def capture(folder: Path, cycle_id: int, cfg: StudioConfig) -> Path:
    """Take the cycle's picture into `capture.png` (kept if already there)."""
    out = folder / "capture.png"
    if out.is_file():
        return out
    folder.mkdir(parents=True, exist_ok=True)
    if cfg.camera == "sim":
        image = sim_photo(cycle_id)
    else:
        with open_source(cfg.camera) as source:
            image = source.read().image
    atomic_write(out, _png(image))
    return out


def plan(folder: Path, cfg: StudioConfig, progress: Progress) -> Plan:
    """Plan strokes for `capture.png` into `plan.json` (kept if already there)."""
    out = folder / "plan.json"
    if out.is_file():
        return load_plan(out)
    # torch loads in seconds: only a daemon that plans pays for it.
    from vision.painter import PainterConfig
    from vision.pipeline import plan_paint

    data = (folder / "capture.png").read_bytes()
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
    source = Source(hashlib.sha256(data).hexdigest(), image.shape[1], image.shape[0])
    config = PainterConfig(strokes=cfg.strokes, size=cfg.plan_size, stages=3,
                           stage_iterations=cfg.iterations, final_iterations=cfg.iterations,
                           palette_iterations=cfg.iterations)

    total = (config.stages * config.stage_iterations + config.final_iterations
             + config.palette_iterations)
    done = [0]

    def report(n: int) -> None:
        done[0] += n
        progress(min(1.0, done[0] / total), f"planning: {done[0]}/{total} iterations")

    # One paint per pot of the workcell: the arm cannot mix colours.
    pots = len(load_arm(cfg.arm_config).workcell.pots_xy)
    palette = kmeans_palette(image, min(cfg.paints, pots), seed=0)
    planned = plan_paint(image, source, config=config, palette=palette, progress=report)
    atomic_write(out, (planned.plan.to_json() + "\n").encode())
    return planned.plan


def paint(folder: Path, cfg: StudioConfig, stop: threading.Event,
          progress: Progress) -> dict[str, Any]:
    """Paint `plan.json` into `painting.png` and `film.mp4`; `paint.json` marks it done."""
    record_path = folder / "paint.json"
    if record_path.is_file():
        return json.loads(record_path.read_text())
    arm_cfg = load_arm(cfg.arm_config)
    cal = nominal_calibration(arm_cfg.workcell.canvas_pose(), arm_cfg.workcell.canvas_size_mm)
    the_plan = fit_plan(load_plan(folder / "plan.json"), cal.canvas_size_mm)
    brush = BrushModel.from_spec(arm_cfg.brush)
    chunks = [the_plan.strokes[i: i + cfg.chunk_strokes]
              for i in range(0, len(the_plan.strokes), cfg.chunk_strokes)] or [()]
    record: dict[str, Any] = {"arm": cfg.arm, "config": arm_cfg.name,
                              "strokes": len(the_plan.strokes), "arm_time_s": 0.0,
                              "dips": 0, "washes": 0}

    def run_chunks(driver: Any) -> int:
        done = 0
        for chunk in chunks:
            if stop.is_set():
                raise Stopped(f"parked after {done} of {len(the_plan.strokes)} strokes, "
                              "brush lifted")
            traj = plan_trajectory(replace(the_plan, strokes=tuple(chunk)), arm_cfg, cal,
                                   brush, driver.q)
            report = driver.execute(traj)
            record["arm_time_s"] += report.duration_s
            record["dips"] += report.dips
            record["washes"] += report.washes
            done += len(chunk)
            progress(done / max(1, len(the_plan.strokes)),
                     f"painting: {done}/{len(the_plan.strokes)} strokes")
        return done

    if cfg.arm == "gcode":
        if cfg.arm_port is None:
            raise RobotError("--arm gcode needs --port (the arm's serial port)")
        with GCodeArm(cfg.arm_port, arm_cfg) as driver:
            run_chunks(driver)
        # A real studio photographs the canvas; without a camera the plan's preview stands in.
        from vision.plan import render_preview
        image = render_preview(the_plan, cfg.px_per_mm * 2)
    else:
        sim = SimulatedArm(arm_cfg, brush, px_per_mm=cfg.px_per_mm)
        film_path = folder / "film.mp4"
        with FilmRecorder(film_path, cfg.film) as film:
            sim.film = film
            run_chunks(sim)
            sim.film = None
        info = read_film_info(film_path)
        record["film"] = {"path": str(film_path), "codec": info.codec, "frames": info.frames,
                          "fps": info.fps, "duration_s": info.duration_s,
                          "size": [info.width, info.height]}
        image = sim.canvas_rgb((the_plan.canvas.width_mm, the_plan.canvas.height_mm))
    atomic_write(folder / "painting.png", _png(image))
    atomic_write(record_path, json.dumps(record, indent=2).encode())
    return record
