"""Canvas calibration: touches on a misplaced canvas, refusals, camera homography."""

from __future__ import annotations

import json

import numpy as np
import pytest

from robot.arm import SimulatedArm, misplaced
from robot.arm_model import load_arm
from robot.calibration import (
    TouchPoint,
    calibrate_from_touches,
    canvas_homography,
    detect_canvas_corners,
    load_calibration,
    rectify,
    save_calibration,
    touch_marks,
)
from robot.camera import CameraModel, flat_field
from robot.errors import CalibrationError
from robot.kinematics import rotation_log
from vision.metrics import ssim


@pytest.fixture(scope="module", params=["kuka_kr6_r900", "desktop_scara4"])
def touched(request):
    arm = load_arm(request.param)
    nominal = arm.workcell.canvas_pose()
    world = misplaced(nominal, 3.0, 0.5, np.random.default_rng(7))
    sim = SimulatedArm(arm, world_canvas=world, seed=3)
    size = arm.workcell.canvas_size_mm
    touches = [TouchPoint(tuple(m), tuple(sim.touch(m)))
               for m in touch_marks(size, 4, 3)]
    return arm, world, touches


def test_touch_calibration_recovers_the_real_canvas(touched):
    arm, world, touches = touched
    cal = calibrate_from_touches(touches, arm.workcell.canvas_size_mm)
    angle = np.degrees(np.linalg.norm(rotation_log(world[:3, :3].T @ cal.base_from_canvas[:3, :3])))
    assert angle < 0.05
    assert np.linalg.norm(cal.base_from_canvas[:3, 3] - world[:3, 3]) < 0.3
    assert 0 < cal.plane_rms_mm < 0.1  # the touch sensor's noise, nothing more
    # Canvas points map onto the real canvas surface.
    corners = np.array([[0, 0, 0], [500, 0, 0], [0, 400, 0]], dtype=float)
    local = (cal.to_base(corners) - world[:3, 3]) @ world[:3, :3]
    assert np.abs(local[:, 2]).max() < 0.3
    assert np.allclose(cal.to_canvas(cal.to_base(corners)), corners, atol=1e-9)


def test_bad_touches_are_refused(touched):
    arm, _, touches = touched
    size = arm.workcell.canvas_size_mm
    with pytest.raises(CalibrationError, match="at least 3"):
        calibrate_from_touches(touches[:2], size)
    line = [TouchPoint((x, 2 * x), (100 + x, 50 + 2 * x, 0.01 * x)) for x in range(0, 100, 10)]
    with pytest.raises(CalibrationError, match="collinear"):
        calibrate_from_touches(line, size)
    missed = list(touches)
    bx, by, bz = missed[5].base_mm
    missed[5] = TouchPoint(missed[5].canvas_mm, (bx, by, bz + 5.0))  # a touch in the air
    with pytest.raises(CalibrationError, match=r"not on one plane: RMS residual"):
        calibrate_from_touches(missed, size)
    swapped = [TouchPoint(touches[(i + 1) % len(touches)].canvas_mm, t.base_mm)
               for i, t in enumerate(touches)]
    with pytest.raises(CalibrationError, match="do not match their canvas marks"):
        calibrate_from_touches(swapped, size)


def test_calibration_round_trips_through_json(touched, tmp_path):
    arm, _, touches = touched
    cal = calibrate_from_touches(touches, arm.workcell.canvas_size_mm)
    cal = cal.with_camera(np.array([[1, 2], [30, 2], [30, 40], [1, 40]], dtype=float))
    path = tmp_path / "cal.json"
    save_calibration(cal, path)
    back = load_calibration(path)
    assert np.allclose(back.base_from_canvas, cal.base_from_canvas)
    assert back.points == cal.points and back.plane_rms_mm == cal.plane_rms_mm
    assert np.allclose(back.camera_corners_px, cal.camera_corners_px)
    doc = json.loads(path.read_text())
    doc["base_from_canvas"][0][0] = 3.0
    path.write_text(json.dumps(doc))
    with pytest.raises(CalibrationError, match="not a rigid"):
        load_calibration(path)
    path.write_text("{")
    with pytest.raises(CalibrationError, match="not valid JSON"):
        load_calibration(path)
    with pytest.raises(CalibrationError, match="cannot read calibration"):
        load_calibration(tmp_path / "missing.json")


def test_camera_corners_and_rectification():
    arm = load_arm("kuka_kr6_r900")
    size = arm.workcell.canvas_size_mm
    camera = CameraModel()
    sim = SimulatedArm(arm, seed=1)
    blank = sim.capture(camera)
    corners = detect_canvas_corners(blank)
    assert np.abs(corners - camera.corners_px(size)).max() < 1.5
    # Paint a pattern straight onto the virtual canvas and look at it through the camera.
    yy, xx = np.mgrid[0 : sim.canvas.shape[0], 0 : sim.canvas.shape[1]]
    sim.canvas[...] = np.where(((xx // 40 + yy // 40) % 2 == 0)[..., None], 255.0,
                               [[[40.0, 90.0, 160.0]]])
    hom = canvas_homography(corners, size, sim.px_per_mm)
    photo = rectify(sim.capture(camera), hom, size, sim.px_per_mm)
    corrected = flat_field(photo, rectify(blank, hom, size, sim.px_per_mm))
    assert corrected.shape == sim.canvas_rgb().shape
    assert ssim(sim.canvas_rgb(), corrected) > ssim(sim.canvas_rgb(), photo)
    assert ssim(sim.canvas_rgb(), corrected) > 0.8
    with pytest.raises(CalibrationError, match="no canvas found"):
        detect_canvas_corners(np.zeros((120, 160, 3), dtype=np.uint8))
