"""G-code arm driver: GRBL-style firmware on a serial port (pyserial).

The trajectory becomes G-code in the arm's base frame (`G1 X Y Z F`, `G4` dwells); the
firmware runs its own kinematics, we have already checked every waypoint for reach,
limits and continuity. Streaming uses GRBL's character-counting protocol: a line is
sent only if all unacknowledged bytes plus the line fit in the controller's 128-byte
receive buffer (we keep one byte spare, as GRBL's ring buffer holds 127). Each `ok` or
`error:N` acknowledges the oldest line. `ALARM:N` stops the stream at once. Real-time
commands (`?` status, `!` feed hold, `~` resume, Ctrl-X reset) bypass the buffer.

A dead port, a port that is not GRBL, a port lost mid-program: each is a clear
`ArmConnectionError`/`PortLostError` carrying the last acknowledged line, from which
`GCodeArm.resume` goes on after lifting the brush and moving back above where it was.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import serial

from robot.arm import RunReport
from robot.arm_model import ArmConfig
from robot.errors import ArmConnectionError, GrblAlarm, GrblError, PortLostError, RobotError
from robot.kinematics import fk
from robot.trajectory import Trajectory

RX_BUFFER = 128
LINE_MAX = 80  # GRBL's line buffer
ERRORS = {
    1: "expected command letter", 2: "bad number format", 3: "invalid $ statement",
    8: "not idle", 9: "G-code locked out during alarm or jog state",
    15: "travel exceeded", 20: "unsupported or invalid g-code command",
    22: "feed rate undefined", 24: "two commands using the same axis words",
    33: "invalid motion target",
}
ALARMS = {
    1: "hard limit triggered", 2: "soft limit: target outside machine travel",
    3: "reset while in motion", 6: "homing fail: reset during homing",
    8: "homing fail: could not clear limit switch", 9: "homing fail: switch not found",
}
_STATUS = re.compile(r"<(?P<state>[A-Za-z]+)(?::\d+)?\|MPos:(?P<pos>[-\d.,]+)")
_WORD = re.compile(r"([A-Z])([-+]?\d*\.?\d+)")


# ---------------------------------------------------------------- program


def trajectory_gcode(traj: Trajectory) -> list[str]:
    """G-code lines for a trajectory: millimetres, absolute, feed in mm/min, dwells in s."""
    lines = ["G21", "G90"]
    feed = None
    prev_t = 0.0
    for k in range(len(traj.t)):
        dt = float(traj.t[k]) - prev_t
        prev_t = float(traj.t[k])
        if traj.feed_mm_s[k] == 0.0:
            lines.append(f"G4 P{dt:.3f}")
            continue
        x, y, z = traj.poses[k, :3, 3]
        f = round(float(traj.feed_mm_s[k]) * 60.0)
        line = f"G1 X{x:.3f} Y{y:.3f} Z{z:.3f}"
        if f != feed:
            line += f" F{f}"
            feed = f
        lines.append(line)
    return lines


def program_positions(lines: Sequence[str], start: np.ndarray) -> np.ndarray:
    """Position (N, 3) after each line of an absolute-mode program starting at `start`."""
    pos = np.array(start, dtype=float)
    out = np.empty((len(lines), 3))
    for i, line in enumerate(lines):
        words = dict(_WORD.findall(line.upper()))
        if words.get("G") in ("0", "1", "00", "01"):
            for axis, j in (("X", 0), ("Y", 1), ("Z", 2)):
                if axis in words:
                    pos[j] = float(words[axis])
        out[i] = pos
    return out


@dataclass
class StreamResult:
    """How far a program got: acknowledged lines, errors (line index, code)."""

    sent: int = 0
    acked: int = 0
    last_acked: int = -1
    errors: list[tuple[int, int]] = field(default_factory=list)
    max_pending_bytes: int = 0


# ---------------------------------------------------------------- driver


class GCodeArm:
    """A GRBL-driven arm on a serial port.

    `on_error`: "stop" (default) stops sending at the first `error:N` and raises
    `GrblError` once the lines already sent are acknowledged; "continue" records the
    error and goes on (GRBL itself skips the bad line)."""

    def __init__(self, port: str, arm: ArmConfig | None = None, *, baudrate: int = 115200,
                 on_error: str = "stop", answer_timeout_s: float = 10.0,
                 connect_timeout_s: float = 3.0, up: Sequence[float] = (0.0, 0.0, 1.0),
                 lift_mm: float = 20.0, serial_factory: Callable[..., serial.Serial] | None = None,
                 ) -> None:
        if on_error not in ("stop", "continue"):
            raise ValueError(f"on_error must be 'stop' or 'continue', got {on_error!r}")
        self.name = f"gcode:{port}"
        self.port = port
        self.arm = arm
        self.baudrate = baudrate
        self.on_error = on_error
        self.answer_timeout_s = answer_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.up = np.asarray(up, dtype=float) / np.linalg.norm(up)
        self.lift_mm = lift_mm
        self.q = arm.home.copy() if arm is not None else np.zeros(0)
        self.banner = ""
        self.last_status: dict[str, object] | None = None
        self._factory = serial_factory or serial.Serial
        self._ser: serial.Serial | None = None
        self._write_lock = threading.Lock()
        self._held = False
        self._status_event = threading.Event()
        self._streaming = False

    # -------------------------------------------------------------- connection

    def connect(self) -> GCodeArm:
        """Open the port and wait for GRBL's banner after a soft reset."""
        try:
            self._ser = self._factory(self.port, self.baudrate, timeout=0.05, write_timeout=2.0)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise ArmConnectionError(f"cannot open serial port {self.port}: {exc}") from None
        try:
            self._ser.reset_input_buffer()
            self._write(b"\x18")
            deadline = time.monotonic() + self.connect_timeout_s
            while time.monotonic() < deadline:
                line = self._readline()
                if line.startswith("Grbl "):
                    self.banner = line
                    break
            else:
                raise ArmConnectionError(
                    f"no GRBL banner on {self.port} within {self.connect_timeout_s:g} s: "
                    "is this the arm's port, and is the controller powered?"
                )
            self._drain_messages()
        except PortLostError as exc:
            self.close()
            raise ArmConnectionError(f"port {self.port} failed during the handshake: {exc}") \
                from None
        except ArmConnectionError:
            self.close()
            raise
        return self

    def close(self) -> None:
        if self._ser is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                self._ser.close()
            self._ser = None

    def __enter__(self) -> GCodeArm:
        return self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -------------------------------------------------------------- commands

    def home(self) -> None:
        """`$H`: run the homing cycle (waits for its `ok`)."""
        self.command("$H", timeout_s=max(self.answer_timeout_s, 60.0))
        if self.arm is not None:
            self.q = self.arm.home.copy()

    def unlock(self) -> None:
        """`$X`: leave the alarm lock (after checking the machine is safe).

        Lines already on their way when the alarm struck reach the controller after it and
        are each refused with error:9 (locked by the alarm). The serial line is in order,
        so those answers all come before the answer to `$X`: skip them, wait for its `ok`."""
        self._write(b"$X\n")
        deadline = time.monotonic() + self.answer_timeout_s
        while time.monotonic() < deadline:
            line = self._readline()
            if line == "ok":
                return
            if line.startswith("error:") and _code(line) != ALARM_LOCK:
                raise GrblError(f"'$X' rejected: {line} "
                                f"({ERRORS.get(_code(line), 'unknown')})", 0, _code(line), -1)
            if line:
                self._take_status(line)
        raise ArmConnectionError(f"no answer to '$X' from {self.port} "
                                 f"within {self.answer_timeout_s:g} s")

    def command(self, line: str, timeout_s: float | None = None) -> None:
        """Send one line outside a program and wait for its answer."""
        result = self.stream([line], timeout_s=timeout_s)
        if result.errors:
            idx, code = result.errors[0]
            raise GrblError(f"{line!r} rejected: error:{code} ({ERRORS.get(code, 'unknown')})",
                            idx, code, result.last_acked)

    def feed_hold(self) -> None:
        """`!`: decelerate to a stop, keep the program (real-time, not buffered)."""
        self._held = True
        self._write(b"!")

    def resume_motion(self) -> None:
        """`~`: cycle start / resume after a feed hold."""
        self._write(b"~")
        self._held = False

    def status(self, timeout_s: float = 2.0) -> dict[str, object]:
        """`?`: the controller's state and machine position."""
        self._status_event.clear()
        self._write(b"?")
        if self._streaming:
            if not self._status_event.wait(timeout_s):
                raise ArmConnectionError(f"no status report from {self.port} in {timeout_s} s")
            assert self.last_status is not None
            return self.last_status
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            line = self._readline()
            if self._take_status(line):
                assert self.last_status is not None
                return self.last_status
        raise ArmConnectionError(f"no status report from {self.port} in {timeout_s} s")

    # -------------------------------------------------------------- programs

    def execute(self, trajectory: Trajectory, from_line: int = 0) -> RunReport:
        """Stream the trajectory's G-code; raises on errors, alarms and lost ports.

        With `from_line` > 0, go on with an interrupted run of the same trajectory at that
        program line (`resume`: lift, move above the line's start, lower, stream the rest);
        the trajectory must start where the arm stood for the first run (its `q`)."""
        began = time.perf_counter()
        lines = trajectory_gcode(trajectory)
        if from_line:
            if not 0 < from_line < len(lines):
                raise RobotError(f"resume line {from_line} outside the program's lines "
                                 f"1..{len(lines) - 1}")
            if self.arm is None:
                raise RobotError("resuming needs the arm's config (where the program starts)")
            self.resume(lines, from_line, fk(self.arm.chain, self.q)[:3, 3])
        else:
            self.stream(lines)
        self.q = trajectory.q[-1].copy()
        return RunReport(arm=self.name, duration_s=trajectory.duration_s,
                         waypoints=len(trajectory.t), dips=trajectory.dips,
                         washes=trajectory.washes, frames=0,
                         wall_s=time.perf_counter() - began)

    def resume(self, lines: Sequence[str], from_line: int, start: np.ndarray,
               travel_feed: float = 3000.0, approach_feed: float = 600.0) -> StreamResult:
        """Go on with `lines` at `from_line` after an interruption.

        Asks the controller where it is, lifts the brush by `lift_mm` along `up`, moves
        above the end of line `from_line - 1`, lowers onto it, then streams the rest."""
        positions = program_positions(lines, start)
        target = positions[from_line - 1] if from_line > 0 else np.asarray(start, dtype=float)
        here = np.asarray(self.status()["mpos"], dtype=float)
        lift = self.up * self.lift_mm
        pre = ["G21", "G90"]
        for p, f in ((here + lift, approach_feed), (target + lift, travel_feed),
                     (target, approach_feed)):
            pre.append(f"G1 X{p[0]:.3f} Y{p[1]:.3f} Z{p[2]:.3f} F{f:.0f}")
        # Re-establish the modal feed of the line we resume at.
        feed = next((w for line in reversed(lines[:from_line])
                     for w in re.findall(r"F[\d.]+", line)), None)
        if feed is not None:
            pre.append(f"G1 {feed}")
        self.stream(pre)
        return self.stream(lines, start=from_line)

    def stream(self, lines: Sequence[str], start: int = 0,
               on_ack: Callable[[int], None] | None = None,
               timeout_s: float | None = None) -> StreamResult:
        """Character-counting stream of `lines[start:]`; returns when all are acknowledged."""
        if self._ser is None:
            raise ArmConnectionError(f"{self.port} is not connected (call connect() first)")
        timeout = self.answer_timeout_s if timeout_s is None else timeout_s
        result = StreamResult(last_acked=start - 1)
        pending: deque[tuple[int, int]] = deque()
        in_buffer = 0
        i = start
        stopping = False
        last_answer = time.monotonic()
        self._streaming = True
        try:
            while (i < len(lines) and not stopping) or pending:
                while i < len(lines) and not stopping:
                    data = (lines[i].strip() + "\n").encode("ascii")
                    if len(data) > LINE_MAX:
                        raise ValueError(f"line {i} is longer than {LINE_MAX} bytes: {lines[i]!r}")
                    if in_buffer + len(data) > RX_BUFFER - 1:
                        break
                    self._write(data)
                    pending.append((i, len(data)))
                    in_buffer += len(data)
                    result.sent += 1
                    result.max_pending_bytes = max(result.max_pending_bytes, in_buffer)
                    i += 1
                line = self._readline()
                if not line:
                    if self._held:
                        last_answer = time.monotonic()
                    elif time.monotonic() - last_answer > timeout:
                        raise ArmConnectionError(
                            f"no answer from {self.port} for {timeout:g} s "
                            f"(last acknowledged line {result.last_acked})")
                    continue
                last_answer = time.monotonic()
                if line == "ok" or line.startswith("error:"):
                    if not pending:
                        continue  # an answer to a line from before this stream
                    idx, n = pending.popleft()
                    in_buffer -= n
                    result.acked += 1
                    result.last_acked = idx
                    if on_ack is not None:
                        on_ack(idx)
                    if line.startswith("error:"):
                        code = _code(line)
                        result.errors.append((idx, code))
                        if self.on_error == "stop":
                            stopping = True
                elif line.startswith("ALARM:"):
                    code = _code(line)
                    raise GrblAlarm(
                        f"ALARM:{code} ({ALARMS.get(code, 'unknown alarm')}) after line "
                        f"{result.last_acked}: motion stopped; check the arm, then unlock ($X) "
                        f"or home ($H) and resume from line {result.last_acked + 1}",
                        code, result.last_acked)
                elif line.startswith("Grbl "):
                    raise ArmConnectionError(
                        f"the controller on {self.port} reset mid-program after line "
                        f"{result.last_acked}; resume from line {result.last_acked + 1}")
                else:
                    self._take_status(line)
        except PortLostError as exc:
            self.close()
            raise PortLostError(
                f"lost serial port {self.port} after line {result.last_acked} ({exc}); nothing "
                f"more was sent, resume from line {result.last_acked + 1}",
                result.last_acked) from None
        finally:
            self._streaming = False
        if stopping and result.errors and self.on_error == "stop":
            idx, code = result.errors[0]
            raise GrblError(
                f"line {idx} {lines[idx]!r} rejected: error:{code} "
                f"({ERRORS.get(code, 'unknown error')}); stopped after line {result.last_acked}",
                idx, code, result.last_acked)
        return result

    # -------------------------------------------------------------- low level

    def _write(self, data: bytes) -> None:
        if self._ser is None:
            raise ArmConnectionError(f"{self.port} is not connected")
        try:
            with self._write_lock:
                self._ser.write(data)
        except (serial.SerialException, OSError) as exc:
            raise PortLostError(str(exc), -1) from None

    def _readline(self) -> str:
        assert self._ser is not None
        try:
            raw = self._ser.readline()
        except (serial.SerialException, OSError) as exc:
            raise PortLostError(str(exc), -1) from None
        return raw.decode("ascii", errors="replace").strip()

    def _drain_messages(self) -> None:
        """Read what follows the banner (e.g. an alarm-lock message) without blocking long."""
        while True:
            line = self._readline()
            if not line:
                return
            self._take_status(line)

    def _take_status(self, line: str) -> bool:
        m = _STATUS.match(line)
        if not m:
            return False
        self.last_status = {"state": m.group("state"),
                            "mpos": [float(v) for v in m.group("pos").split(",")[:3]],
                            "raw": line}
        self._status_event.set()
        return True


ALARM_LOCK = 9  # error:9, G-code locked out during an alarm


def _code(line: str) -> int:
    try:
        return int(line.split(":", 1)[1])
    except (IndexError, ValueError):
        return -1
