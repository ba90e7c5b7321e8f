"""Filming: record the painting to MP4 with OpenCV, started and stopped around it.

Frames (RGB, any size) are letterboxed into the configured resolution. The codec is
H.264 (`avc1`) where the OpenCV build has an encoder, else MPEG-4 Part 2 (`mp4v`);
`FilmRecorder.codec` says which one was used.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

from robot.errors import FilmError

CODECS = ("avc1", "mp4v")


@dataclass(frozen=True)
class FilmSpec:
    """Resolution and frame rate; `speedup` > 1 makes a time-lapse (arm seconds per film s)."""

    width: int = 1280
    height: int = 720
    fps: float = 30.0
    speedup: float = 1.0


@dataclass(frozen=True)
class FilmInfo:
    """What a video file holds, read back with OpenCV."""

    frames: int
    fps: float
    width: int
    height: int

    @property
    def duration_s(self) -> float:
        return self.frames / self.fps if self.fps else 0.0


def letterbox(frame_rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale an RGB frame to fit (width, height), centred on black; returns BGR uint8."""
    h, w = frame_rgb.shape[:2]
    scale = min(width / w, height / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(np.ascontiguousarray(frame_rgb, dtype=np.uint8), (nw, nh),
                       interpolation=interp)
    out = np.zeros((height, width, 3), dtype=np.uint8)
    y0, x0 = (height - nh) // 2, (width - nw) // 2
    out[y0 : y0 + nh, x0 : x0 + nw] = small[..., ::-1]
    return out


class FilmRecorder:
    """An MP4 being recorded; use as a context manager so it is always finalised."""

    def __init__(self, path: str | Path, spec: FilmSpec) -> None:
        self.path = Path(path)
        self.spec = spec
        self.frames = 0
        self.codec = ""
        self._writer: cv2.VideoWriter | None = None

    def start(self) -> FilmRecorder:
        if self.spec.width <= 0 or self.spec.height <= 0 or self.spec.fps <= 0:
            raise FilmError(f"film needs a positive size and frame rate, got {self.spec}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for codec in CODECS:
            with _quiet_stderr():
                writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*codec),
                                         self.spec.fps, (self.spec.width, self.spec.height))
            if writer.isOpened():
                self._writer, self.codec = writer, codec
                return self
            writer.release()
        raise FilmError(f"cannot open {self.path} for writing with any of {', '.join(CODECS)}")

    def write(self, frame_rgb: np.ndarray) -> None:
        """Append one RGB frame (letterboxed to the film's size)."""
        if self._writer is None:
            raise FilmError("the film is not recording (call start() first)")
        self._writer.write(letterbox(frame_rgb, self.spec.width, self.spec.height))
        self.frames += 1

    def stop(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    def __enter__(self) -> FilmRecorder:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence FFmpeg's C-level complaints while probing encoders this build may lack."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def read_film_info(path: str | Path) -> FilmInfo:
    """Open a video with OpenCV and count its frames by decoding them all."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise FilmError(f"cannot open video {path}")
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS))
        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        frames = 0
        while cap.grab():
            frames += 1
    finally:
        cap.release()
    return FilmInfo(frames=frames, fps=fps, width=width, height=height)
