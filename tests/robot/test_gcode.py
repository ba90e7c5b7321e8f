"""The G-code driver against a GRBL emulator on a real pty."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from robot.arm_model import load_arm
from robot.brush import BrushModel
from robot.calibration import nominal_calibration
from robot.errors import ArmConnectionError, GrblAlarm, GrblError, PortLostError
from robot.gcode import RX_BUFFER, GCodeArm, program_positions, trajectory_gcode
from robot.kinematics import fk
from robot.trajectory import plan_trajectory

from .conftest import random_plan
from .grbl_emulator import EmulatorScript, GrblEmulator


@pytest.fixture(scope="module")
def job():
    arm = load_arm("desktop_scara4")
    plan = random_plan(arm.workcell.canvas_size_mm, 4, arm.brush.max_width_mm, seed=1)
    cal = nominal_calibration(arm.workcell.canvas_pose(), arm.workcell.canvas_size_mm)
    traj = plan_trajectory(plan, arm, cal, BrushModel.from_spec(arm.brush), arm.home)
    lines = trajectory_gcode(traj)
    start = fk(arm.chain, arm.home)[:3, 3]
    return arm, traj, lines, start


def _xyz(line):
    return program_positions([line], np.full(3, np.nan))[0]


def test_gcode_program_is_grbl_sized(job):
    _, traj, lines, _ = job
    assert lines[:2] == ["G21", "G90"]
    assert all(len(line) + 1 <= 80 for line in lines)
    moves = [line for line in lines if line.startswith("G1")]
    assert len(moves) + sum(line.startswith("G4") for line in lines) == len(traj.t)
    end = program_positions(lines, np.zeros(3))[-1]
    assert np.allclose(end, traj.poses[-1, :3, 3], atol=1e-3)


def test_plan_streams_without_overrunning_the_buffer(job):
    arm, traj, lines, _ = job
    with GrblEmulator(EmulatorScript(line_time_s=0.0003)) as emu:
        with GCodeArm(emu.port, arm) as driver:
            assert driver.banner.startswith("Grbl 1.1")
            report = driver.execute(traj)
        assert not emu.overflowed
        assert emu.max_fill <= RX_BUFFER
        assert emu.max_fill > RX_BUFFER // 2  # it really streams ahead, not stop-and-wait
        assert emu.executed == [line.upper() for line in lines]
        assert np.allclose(emu.pos, traj.poses[-1, :3, 3], atol=1e-3)
    assert report.waypoints == len(traj.t)


def test_error_lines_are_reported_and_skipped_when_continuing(job):
    arm, _, lines, _ = job
    with GrblEmulator(EmulatorScript(errors={5: 20, 40: 22})) as emu, \
            GCodeArm(emu.port, arm, on_error="continue") as driver:
        result = driver.stream(lines)
        assert result.errors == [(5, 20), (40, 22)]
        assert result.acked == len(lines)
        assert emu.executed == [line.upper() for i, line in enumerate(lines) if i not in (5, 40)]
        assert not emu.overflowed


def test_error_stops_and_resumes_after_the_last_acknowledged_line(job):
    arm, _, lines, start = job
    with GrblEmulator(EmulatorScript(errors={30: 33})) as emu, \
            GCodeArm(emu.port, arm) as driver:
        with pytest.raises(GrblError, match=r"line 30 .* error:33 \(invalid motion target\)") as e:
            driver.stream(lines)
        assert e.value.line_index == 30 and e.value.code == 33
        # Lines already in the controller's buffer ran; nothing after them was sent.
        assert e.value.last_acked >= 30
        done = len(emu.executed)
        assert emu.executed == [line.upper() for line in lines[: e.value.last_acked + 1]
                                if line != lines[30]]
        driver.resume(lines, e.value.last_acked + 1, start)
        tail = emu.executed[len(emu.executed) - (len(lines) - e.value.last_acked - 1):]
        assert tail == [line.upper() for line in lines[e.value.last_acked + 1 :]]
        assert len(emu.executed) > done
        assert not emu.overflowed


def test_alarm_stops_at_once_and_resumes_after_unlock(job):
    arm, _, lines, start = job
    with GrblEmulator(EmulatorScript(alarm_at=200)) as emu, GCodeArm(emu.port, arm) as driver:
        with pytest.raises(GrblAlarm, match="ALARM:1 .hard limit triggered.") as e:
            driver.stream(lines)
        assert e.value.last_acked == 199
        assert emu.executed == [line.upper() for line in lines[:200]]
        assert driver.status()["state"] == "Alarm"
        driver.unlock()
        here = np.array(emu.pos)
        before = len(emu.executed)
        driver.resume(lines, e.value.last_acked + 1, start)
        preamble = emu.executed[before : len(emu.executed) - (len(lines) - 200)]
        # Lift first (along +Z by lift_mm), then go above line 199's end, then down onto it.
        pos = program_positions(lines, start)
        up = np.array([0.0, 0.0, driver.lift_mm])
        assert preamble[:2] == ["G21", "G90"]
        assert np.allclose(_xyz(preamble[2]), here + up, atol=1e-3)
        assert np.allclose(_xyz(preamble[3]), pos[199] + up, atol=1e-3)
        assert np.allclose(_xyz(preamble[4]), pos[199], atol=1e-3)
        assert emu.executed[len(emu.executed) - (len(lines) - 200):] == \
            [line.upper() for line in lines[200:]]
        assert np.allclose(emu.pos, pos[-1], atol=1e-3)


def test_dropped_port_stops_safely_and_resumes_on_a_new_port(job):
    arm, _, lines, start = job
    with GrblEmulator(EmulatorScript(drop_after=150)) as first:
        driver = GCodeArm(first.port, arm).connect()
        with pytest.raises(PortLostError, match="resume from line") as e:
            driver.stream(lines)
        last = e.value.last_acked
        assert 100 <= last <= 150
        ran = list(first.executed)
        where = list(first.pos)
    # The controller kept what it had; the arm is plugged in again on another port.
    assert ran == [line.upper() for line in lines[: len(ran)]]
    with GrblEmulator() as second:
        second.pos = where
        with GCodeArm(second.port, arm) as driver:
            driver.resume(lines, last + 1, start)
        rest = [line.upper() for line in lines[last + 1 :]]
        assert second.executed[len(second.executed) - len(rest):] == rest
        assert not second.overflowed
    # Every program line ran at least once across the two sessions, in order.
    assert len(ran) >= last + 1


def test_feed_hold_pauses_and_resume_goes_on(job):
    arm, _, lines, _ = job
    with GrblEmulator(EmulatorScript(line_time_s=0.002)) as emu, GCodeArm(emu.port, arm) as driver:
        worker = threading.Thread(target=driver.stream, args=(lines[:400],))
        worker.start()
        assert emu.wait_until(lambda: len(emu.executed) >= 20)
        driver.feed_hold()
        assert emu.wait_until(lambda: emu.state == "Hold")
        held_at = len(emu.executed)
        assert driver.status()["state"] == "Hold"
        # Lines wait in the buffer for many turns of the controller's loop; none runs.
        assert emu.wait_until(lambda: emu.held_polls >= 200)
        assert len(emu.executed) == held_at < 400
        driver.resume_motion()
        worker.join(timeout=20)
        assert not worker.is_alive()
        assert emu.executed == [line.upper() for line in lines[:400]]
        assert emu.realtime.count("!") == 1 and emu.realtime.count("~") == 1


def test_homing_and_status(job):
    arm, _, _, _ = job
    with GrblEmulator() as emu, GCodeArm(emu.port, arm) as driver:
        driver.command("G1 X10 Y20 Z30 F600")
        assert driver.status()["mpos"] == [10.0, 20.0, 30.0]
        driver.home()
        assert emu.executed[-1] == "$H"
        assert driver.status() == {"state": "Idle", "mpos": [0.0, 0.0, 0.0],
                                   "raw": "<Idle|MPos:0.000,0.000,0.000|FS:0,0>"}


def test_dead_and_wrong_ports_fail_clearly(tmp_path):
    with pytest.raises(ArmConnectionError, match="cannot open serial port"):
        GCodeArm(str(tmp_path / "ttyNOPE")).connect()
    with GrblEmulator(silent=True) as emu, \
            pytest.raises(ArmConnectionError, match="no GRBL banner .* is this the arm's port"):
        GCodeArm(emu.port, connect_timeout_s=0.5).connect()
    with GrblEmulator(banner="Marlin 2.1.2") as emu, \
            pytest.raises(ArmConnectionError, match="no GRBL banner"):
        GCodeArm(emu.port, connect_timeout_s=0.5).connect()
