"""A GRBL 1.1 emulator on a real pseudo-terminal, for the G-code driver's tests.

It serves the master side of `os.openpty()` from a thread; the driver opens the slave
path with pyserial like any serial port. It keeps GRBL's 128-byte receive buffer:
bytes wait there until the "planner" takes the line, which happens at a limited rate
(so a fast sender really fills the buffer), and it records the highest fill ever seen
so a test can fail on an overflow. Real-time bytes (`?`, `!`, `~`, Ctrl-X) bypass the
buffer like on the real firmware. It can inject `error:N` answers, raise an `ALARM`
(after which the buffer is flushed and motion lines are refused until `$X`/`$H`), and
drop the port (close the master) after a given line.
"""

from __future__ import annotations

import os
import re
import select
import threading
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass, field

RX_CAPACITY = 128
_WORD = re.compile(r"([A-Z])([-+]?\d*\.?\d+)")


@dataclass
class EmulatorScript:
    """What to inject, by index of received program line (0-based, `$` commands count)."""

    errors: dict[int, int] = field(default_factory=dict)
    alarm_at: int | None = None
    alarm_code: int = 1
    drop_after: int | None = None
    line_time_s: float = 0.0005


class GrblEmulator:
    """GRBL on a pty; `port` is the path to open with pyserial."""

    def __init__(self, script: EmulatorScript | None = None, *, silent: bool = False,
                 banner: str = "Grbl 1.1h ['$' for help]") -> None:
        self.script = script or EmulatorScript()
        self.silent = silent
        self.banner = banner
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.port = os.ttyname(self.slave)
        self.rx = bytearray()
        self.max_fill = 0
        self.overflowed = False
        self.received = 0
        self.executed: list[str] = []
        self.realtime: list[str] = []
        self.state = "Idle"
        self.pos = [0.0, 0.0, 0.0]
        self.dropped = False
        self.held_polls = 0  # loop turns spent in Hold with a complete line waiting
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> GrblEmulator:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if not self.dropped:
            os.close(self.master)
        os.close(self.slave)

    # -------------------------------------------------------------- loop

    def _send(self, text: str) -> None:
        if not self.dropped and not self.silent:
            os.write(self.master, (text + "\r\n").encode())

    def _run(self) -> None:
        next_line_at = 0.0
        while not self._stop.is_set() and not self.dropped:
            ready, _, _ = select.select([self.master], [], [], 0.001)
            if ready:
                try:
                    data = os.read(self.master, 4096)
                except OSError:
                    return
                for b in data:
                    self._byte(b)
            if self.state != "Hold":
                now = time.monotonic()
                if now >= next_line_at and b"\n" in self.rx:
                    self._line()
                    next_line_at = now + self.script.line_time_s
            elif b"\n" in self.rx:
                self.held_polls += 1
            with self._changed:
                self._changed.notify_all()

    def wait_until(self, predicate: Callable[[], bool], timeout_s: float = 10.0) -> bool:
        """Block until `predicate()` holds (checked after every turn of the loop)."""
        with self._changed:
            return self._changed.wait_for(predicate, timeout_s)

    def _byte(self, b: int) -> None:
        c = chr(b)
        if c in "?!~\x18":
            self.realtime.append(c)
            if c == "?":
                x, y, z = self.pos
                self._send(f"<{self.state}|MPos:{x:.3f},{y:.3f},{z:.3f}|FS:0,0>")
            elif c == "!" and self.state != "Alarm":
                self.state = "Hold"
            elif c == "~" and self.state == "Hold":
                self.state = "Idle"
            elif c == "\x18":
                self.rx.clear()
                self._send("")
                self._send(self.banner)
                if self.state == "Alarm":
                    self._send("[MSG:'$H'|'$X' to unlock]")
            return
        self.rx.append(b)
        self.max_fill = max(self.max_fill, len(self.rx))
        if len(self.rx) > RX_CAPACITY:
            self.overflowed = True

    def _line(self) -> None:
        end = self.rx.index(b"\n")
        text = self.rx[:end].decode().strip().upper()
        del self.rx[: end + 1]
        index = self.received
        self.received += 1
        if self.state == "Alarm":
            if text in ("$X", "$H"):
                self.state = "Idle"
                self._send("ok")
            else:
                self._send("error:9")
            return
        if index == self.script.alarm_at:
            self.state = "Alarm"
            self.rx.clear()  # a hard-limit alarm resets GRBL: buffered lines are lost
            self._send(f"ALARM:{self.script.alarm_code}")
            self._send("[MSG:Reset to continue]")
            return
        if index in self.script.errors:
            self._send(f"error:{self.script.errors[index]}")
        elif text == "$H":
            self.pos = [0.0, 0.0, 0.0]
            self.executed.append(text)
            self._send("ok")
        elif text == "$X" or text.startswith(("G21", "G90", "G4")):
            self.executed.append(text)
            self._send("ok")
        elif text.startswith(("G1", "G0")):
            words = dict(_WORD.findall(text))
            for axis, j in (("X", 0), ("Y", 1), ("Z", 2)):
                if axis in words:
                    self.pos[j] = float(words[axis])
            self.executed.append(text)
            self._send("ok")
        else:
            self._send("error:20")
        if self.script.drop_after is not None and index >= self.script.drop_after:
            self.dropped = True
            os.close(self.master)
