"""`gaka robot paint` and `gaka robot calibrate`, run as a user would (subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from robot.film import read_film_info
from vision.plan import save_plan

from .conftest import random_plan
from .grbl_emulator import GrblEmulator

GAKA = Path(sys.executable).with_name("gaka")


def _gaka(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"), GAKA_CONFIG=str(tmp_path / "no"))
    return subprocess.run([str(GAKA), "robot", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def test_calibrate_then_paint_in_simulation_with_film(tmp_path):
    cal = tmp_path / "cal.json"
    out = _gaka("calibrate", "--arm", "sim", "--misplace-mm", "3", "--seed", "2",
                "--out", str(cal), tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    assert record["touches"] == 12 and record["plane_rms_mm"] < 0.2
    assert len(record["camera_corners_px"]) == 4
    assert json.loads(cal.read_text())["plane_rms_mm"] == record["plane_rms_mm"]

    plan = tmp_path / "plan.json"
    save_plan(random_plan((500, 400), 12, 30.0, seed=3), plan)
    video, canvas = tmp_path / "out.mp4", tmp_path / "canvas.png"
    out = _gaka("paint", str(plan), "--arm", "sim", "--video", str(video), "--calibration",
                str(cal), "--misplace-mm", "3", "--seed", "2", "--film-size", "320x180",
                "--fps", "10", "--speedup", "40", "--canvas", str(canvas), "--px-per-mm", "1",
                tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    assert record["ssim_vs_preview"] >= 0.9
    info = read_film_info(video)
    assert info.frames == record["film"]["frames"] > 10
    assert abs(info.duration_s - record["arm_time_s"] / 40) <= 0.1
    assert canvas.is_file() and record["dips"] >= 1


def test_paint_with_a_gcode_arm_on_a_serial_port(tmp_path):
    plan = tmp_path / "plan.json"
    save_plan(random_plan((240, 180), 3, 8.0, seed=6), plan)
    with GrblEmulator() as emu:
        out = _gaka("paint", str(plan), "--arm", "gcode", "--port", emu.port,
                    "--config", "desktop_scara4", tmp_path=tmp_path)
        assert out.returncode == 0, out.stderr
        record = json.loads(out.stdout)
        assert record["driver"] == f"gcode:{emu.port}"
        moves = [line for line in emu.executed if line.startswith(("G1", "G4"))]
        assert len(moves) == record["waypoints"]
        assert not emu.overflowed
        assert np.isfinite(emu.pos).all()


def test_bad_input_is_a_clear_error_without_traceback(tmp_path):
    plan = tmp_path / "plan.json"
    save_plan(random_plan((500, 400), 2, 8.0), plan)
    cases = [
        (("paint", str(plan), "--arm", "gcode", "--port", str(tmp_path / "ttyNONE")),
         "cannot open serial port"),
        (("paint", str(plan), "--arm", "gcode"), "needs --port"),
        (("paint", str(tmp_path / "missing.json")), "cannot read plan"),
        (("paint", str(plan), "--config", "desktop_scara4"), "larger than the calibrated canvas"),
        (("calibrate", "--point", "0,0,500,0,0", "--point", "10,10,510,10,0",
          "--point", "20,20,520,20,0", "--out", str(tmp_path / "c.json")), "collinear"),
        (("calibrate", "--out", str(tmp_path / "c.json")), "no touch points"),
    ]
    for args, message in cases:
        out = _gaka(*args, tmp_path=tmp_path)
        assert out.returncode == 1, (args, out.stdout, out.stderr)
        assert message in out.stderr and "Traceback" not in out.stderr
