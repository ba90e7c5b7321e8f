"""`gaka robot paint` and `gaka robot calibrate`, run as a user would (subprocesses)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data
from typer.testing import CliRunner

from gaka.cli import app
from gaka.workcell import configured_workcell
from robot.arm_model import load_arm
from robot.brush import BrushModel
from robot.calibration import nominal_calibration
from robot.errors import PortLostError, RobotError
from robot.film import read_film_info
from robot.gcode import trajectory_gcode
from robot.jobs import CalibrateOptions, PaintOptions, run_calibrate, run_paint
from robot.trajectory import plan_trajectory
from vision.cli import palette_for
from vision.metrics import ssim
from vision.pipeline import parse_palette
from vision.plan import PlanError, load_plan, render_preview, save_plan

from .conftest import random_plan
from .grbl_emulator import EmulatorScript, GrblEmulator

GAKA = Path(sys.executable).with_name("gaka")


def _gaka(*args: str, tmp_path: Path, group: str = "robot") -> subprocess.CompletedProcess:
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"), GAKA_CONFIG=os.devnull)
    cmd = [str(GAKA), *([group] if group else []), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)


def test_gaka_paint_plan_painted_by_the_simulated_arm_matches_its_preview(tmp_path):
    """Acceptance: calibrate, plan with `gaka paint`, paint and film with the simulated arm."""
    cal = tmp_path / "cal.json"
    out = _gaka("calibrate", "--arm", "sim", "--misplace-mm", "3", "--seed", "2",
                "--out", str(cal), tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    assert record["touches"] == 12 and record["plane_rms_mm"] < 0.2
    assert len(record["camera_corners_px"]) == 4
    assert json.loads(cal.read_text())["plane_rms_mm"] == record["plane_rms_mm"]

    image = tmp_path / "astronaut.png"
    cv2.imwrite(str(image), data.astronaut()[..., ::-1])
    out = _gaka("paint", str(image), "--palette", "8", "--strokes", "60", "--size", "64",
                "--out", str(tmp_path / "plan"), "--no-progress", tmp_path=tmp_path, group="")
    assert out.returncode == 0, out.stderr
    plan_path = tmp_path / "plan" / "plan.json"

    video, canvas = tmp_path / "out.mp4", tmp_path / "canvas.png"
    out = _gaka("paint", str(plan_path), "--arm", "sim", "--video", str(video),
                "--calibration", str(cal), "--misplace-mm", "3", "--seed", "2",
                "--film-size", "320x180", "--fps", "10", "--speedup", "40",
                "--canvas", str(canvas), "--px-per-mm", "1", tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    plan = load_plan(plan_path)
    painted = cv2.imread(str(canvas))[..., ::-1]
    # Close to the preview, though the bristle brush is not the preview's disc rasteriser.
    assert ssim(render_preview(plan, 1.0), painted) >= 0.75
    info = read_film_info(video)
    assert info.frames == record["film"]["frames"] > 10
    assert (info.width, info.height) == (320, 180)
    assert abs(info.duration_s - record["arm_time_s"] / 40) <= 0.1
    assert record["dips"] >= 1


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
    for args, message in [
        (("paint", str(plan), "--arm", "gcode", "--port", str(tmp_path / "ttyNONE")),
         "cannot open serial port"),
        (("calibrate", "--point", "0,0,500,0,0", "--point", "10,10,510,10,0",
          "--point", "20,20,520,20,0", "--out", str(tmp_path / "c.json")), "collinear"),
    ]:
        out = _gaka(*args, tmp_path=tmp_path)
        assert out.returncode == 1, (args, out.stdout, out.stderr)
        assert message in out.stderr and "Traceback" not in out.stderr


def test_jobs_refuse_bad_requests(tmp_path):
    plan = tmp_path / "plan.json"
    save_plan(random_plan((500, 400), 2, 8.0), plan)
    cases = [
        (lambda: run_paint(PaintOptions(plan=plan, arm="gcode")), "needs --port"),
        (lambda: run_paint(PaintOptions(plan=plan, arm="kuka")), "--arm must be"),
        (lambda: run_paint(PaintOptions(plan=tmp_path / "missing.json")), "cannot read plan"),
        (lambda: run_paint(PaintOptions(plan=plan, config="desktop_scara4")),
         "larger than the calibrated canvas"),
        (lambda: run_paint(PaintOptions(plan=plan, corrections=3)), "needs --target"),
        (lambda: run_calibrate(CalibrateOptions(out=tmp_path / "c.json")), "no touch points"),
        (lambda: run_calibrate(CalibrateOptions(out=tmp_path / "c.json", points=("1,2,3",))),
         "u,v,x,y,z"),
    ]
    for call, message in cases:
        with pytest.raises((RobotError, PlanError), match=message):
            call()


def test_gcode_run_resumes_where_the_lost_port_left_off(tmp_path):
    plan_path = tmp_path / "plan.json"
    save_plan(random_plan((240, 180), 4, 8.0, seed=6), plan_path)
    arm = load_arm("desktop_scara4")
    cal = nominal_calibration(arm.workcell.canvas_pose(), arm.workcell.canvas_size_mm)
    lines = trajectory_gcode(plan_trajectory(load_plan(plan_path), arm, cal,
                                             BrushModel.from_spec(arm.brush), arm.home))
    opts = PaintOptions(plan=plan_path, arm="gcode", config="desktop_scara4")
    with GrblEmulator(EmulatorScript(drop_after=60)) as first:
        with pytest.raises(PortLostError, match="resume from line") as lost:
            run_paint(replace(opts, port=first.port))
        where = list(first.pos)
    resume_at = lost.value.last_acked + 1
    with GrblEmulator() as second:
        second.pos = where
        record = run_paint(replace(opts, port=second.port, resume_line=resume_at))
        rest = [line.upper() for line in lines[resume_at:]]
        assert second.executed[len(second.executed) - len(rest):] == rest
    assert record["resumed_from_line"] == resume_at
    with pytest.raises(RobotError, match="needs --arm gcode"):
        run_paint(PaintOptions(plan=plan_path, config="desktop_scara4", resume_line=3))


@pytest.mark.parametrize("option, value", [
    ("corrections", 5), ("target", Path("t.png")), ("jitter_mm", 1.0), ("video", Path("f.mp4")),
])
def test_gcode_arm_refuses_simulation_only_options(tmp_path, option, value):
    plan_path = tmp_path / "plan.json"
    save_plan(random_plan((240, 180), 2, 8.0, seed=6), plan_path)
    opts = PaintOptions(plan=plan_path, arm="gcode", port="/dev/null", config="desktop_scara4")
    flag = "--" + option.replace("_", "-")
    with pytest.raises(RobotError, match=f"{flag}.* only work with --arm sim"):
        run_paint(replace(opts, **{option: value}))


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_the_two_steps_chain_with_defaults_only(tmp_path):
    """`gaka paint photo.jpg && gaka robot paint out/plan.json --arm sim --video f.mp4`,
    exactly as a newcomer types it: the default plan fits the default workcell's pots."""
    photo = tmp_path / "photo.jpg"
    cv2.imwrite(str(photo), cv2.resize(data.chelsea(), (120, 80))[..., ::-1])
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"), GAKA_CONFIG=os.devnull)
    step = subprocess.run([str(GAKA), "paint", "photo.jpg"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=1800)
    assert step.returncode == 0, step.stderr
    assert "not paintable" not in step.stderr
    plan = load_plan(tmp_path / "out" / "plan.json")
    pots = len(load_arm("kuka_kr6_r900").workcell.pots_xy)
    assert len(plan.palette) == pots and len(plan.strokes) == 200
    step = subprocess.run([str(GAKA), "robot", "paint", "out/plan.json", "--arm", "sim",
                           "--video", "f.mp4"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=1800)
    assert step.returncode == 0, step.stderr
    record = json.loads(step.stdout)
    assert record["film"]["frames"] == read_film_info(tmp_path / "f.mp4").frames > 0
    assert record["dips"] >= 1
    # Minutes of simulation show a bar over the arm time, moving up to (nearly: the bar
    # redraws at most 10 times a second) the painting's end.
    total = round(record["arm_time_s"])
    shown = [int(n) for n in re.findall(rf"painting \(arm s\):.*?(\d+)/{total} ", step.stderr)]
    assert shown and max(shown) >= 0.9 * total and min(shown) < total / 2, step.stderr[-2000:]


def test_palette_defaults_to_the_workcell_and_free_says_it_is_a_preview(tmp_path, monkeypatch):
    monkeypatch.setenv("GAKA_CONFIG", os.devnull)
    image = str(Path(__file__).resolve().parents[2] / "vision" / "assets" / "chelsea_96x72.png")
    small = ["--strokes", "8", "--size", "24", "--no-progress"]
    runner = CliRunner()
    out = runner.invoke(app, ["paint", image, *small, "--out", str(tmp_path / "a")])
    assert out.exit_code == 0, out.output
    assert len(load_plan(tmp_path / "a" / "plan.json").palette) == 8  # the KUKA's 8 pots
    assert "note:" not in out.stderr
    free = runner.invoke(app, ["paint", image, *small, "--palette", "free",
                               "--out", str(tmp_path / "b")])
    assert free.exit_code == 0, free.output
    assert "not paintable by the configured arm kuka_kr6_r900 (8 pots)" in free.stderr
    # Another arm, or named paints, in the settings: `auto` follows them.
    monkeypatch.setenv("GAKA_ARM_CONFIG", "desktop_scara4")
    cell = configured_workcell()
    assert cell.pots == len(load_arm("desktop_scara4").workcell.pots_xy) == 5
    assert palette_for("auto", cell) == "5" and palette_for("free", cell) == "free"
    monkeypatch.setenv("GAKA_PAINTS", "#101010,#f0f0f0,#c03020")
    spec = palette_for("auto", configured_workcell())
    assert parse_palette(spec, np.zeros((8, 8, 3), np.uint8)).tolist() == \
        [[16, 16, 16], [240, 240, 240], [192, 48, 32]]
