"""One daemon per data dir: an exclusive flock on `daemon.lock`, released by the kernel
when the process dies (even by SIGKILL), so a stale lock never blocks a restart."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from gaka.errors import GakaError


class AlreadyRunning(GakaError, RuntimeError):
    """Another daemon holds this data dir."""


class DataDirLock:
    """Hold the data dir's lock for the life of the daemon."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "daemon.lock"
        self._fh: IO[str] | None = None

    def acquire(self) -> DataDirLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = self.path.open("a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            pid = fh.read().strip() or "?"
            fh.close()
            raise AlreadyRunning(f"another gaka daemon (pid {pid}) is running on "
                                 f"{self.path.parent}; stop it or use another data dir") from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._fh = fh
        return self

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None
