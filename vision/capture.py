"""Frames from a camera, an image file, a folder or a synthetic scene, behind one interface.

Every source has `read() -> Frame` ((H, W, 3) uint8 RGB plus the sha256 that identifies
it) and `close()`, and is a context manager. `open_source(spec)` picks one from a string:
``camera:N`` or a bare integer (OpenCV device index), an ``rtsp://`` / ``http(s)://`` /
``udp://`` URL (OpenCV stream), ``synthetic`` or ``synthetic:WxH[:SEED]``, a folder
(round-robin over its images, one per call) or an image file.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol

import cv2
import numpy as np

from vision.errors import CaptureError
from vision.preprocess import ImageError, load_image

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
_URL = re.compile(r"^(rtsp|rtmp|http|https|udp|tcp)://", re.IGNORECASE)
_SYNTHETIC = re.compile(r"^synthetic(?::(\d+)x(\d+))?(?::(\d+))?$")
_FFMPEG_LOGLEVEL = "OPENCV_FFMPEG_LOGLEVEL"



@dataclass(frozen=True)
class Frame:
    """One captured picture and its identity (sha256 of the file bytes or raw pixels)."""

    image: np.ndarray
    sha256: str
    label: str


class FrameSource(Protocol):
    """What every capture source offers."""

    def read(self) -> Frame: ...

    def close(self) -> None: ...


class _Closing:
    def close(self) -> None:
        """Release the source (no-op unless it holds a device)."""

    def __enter__(self):  # noqa: ANN204 - returns the concrete subclass
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _pixels_sha256(img: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(img).tobytes()).hexdigest()


class FileSource(_Closing):
    """The same image file on every read (re-read, so edits on disk show up)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise CaptureError(f"image file {self.path} does not exist")

    def read(self) -> Frame:
        try:
            data = self.path.read_bytes()
            img = load_image(self.path)
        except (OSError, ImageError) as exc:
            raise CaptureError(str(exc)) from None
        return Frame(img, hashlib.sha256(data).hexdigest(), str(self.path))


class FolderSource(_Closing):
    """The images of a folder in name order, one per read, wrapping around."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise CaptureError(f"folder {self.path} does not exist")
        self._next = 0

    def files(self) -> list[Path]:
        """The folder's image files, sorted by name (listed afresh on each read)."""
        return sorted(
            p for p in self.path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        )

    def read(self) -> Frame:
        files = self.files()
        if not files:
            raise CaptureError(f"folder {self.path} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        path = files[self._next % len(files)]
        self._next += 1
        return FileSource(path).read()


class SyntheticSource(_Closing):
    """A deterministic scene of coloured shapes on a pale ground; each read is a new frame."""

    def __init__(self, width: int = 320, height: int = 240, seed: int = 0) -> None:
        if width < 16 or height < 16:
            raise CaptureError(f"synthetic frames need at least 16x16 px, got {width}x{height}")
        self.width, self.height, self.seed = width, height, seed
        self._frame = 0

    def read(self) -> Frame:
        rng = np.random.default_rng([self.seed, self._frame])
        self._frame += 1
        w, h = self.width, self.height
        yy, xx = np.mgrid[0:h, 0:w]
        ground = 200 + 40 * (yy / h)[..., None] * np.array([1.0, 0.8, 0.5])
        img = np.ascontiguousarray(ground.astype(np.uint8))
        for _ in range(int(rng.integers(4, 9))):
            colour = tuple(int(c) for c in rng.integers(0, 230, 3))
            cx, cy = int(rng.integers(0, w)), int(rng.integers(0, h))
            size = int(rng.integers(min(w, h) // 10, min(w, h) // 3))
            if rng.random() < 0.5:
                cv2.circle(img, (cx, cy), size, colour, -1, cv2.LINE_AA)
            else:
                cv2.rectangle(
                    img,
                    (cx - size, cy - size // 2),
                    (cx + size, cy + size // 2),
                    colour,
                    -1,
                    cv2.LINE_AA,
                )
        return Frame(img, _pixels_sha256(img), f"synthetic:{w}x{h}:{self.seed}#{self._frame}")


@contextmanager
def _quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's and FFmpeg's own lines while a device opens: a failure is reported
    as one CaptureError, not after a few `[ WARN:0@…]` lines on stderr."""
    level = cv2.utils.logging.getLogLevel()
    saved = os.environ.get(_FFMPEG_LOGLEVEL)
    os.environ[_FFMPEG_LOGLEVEL] = saved or "-8"  # AV_LOG_QUIET, read when FFmpeg starts
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)
        if saved is None:
            del os.environ[_FFMPEG_LOGLEVEL]


class CameraSource(_Closing):
    """An OpenCV camera: a device index or a stream URL. Fails clearly when absent."""

    def __init__(self, device: int | str, warmup_frames: int = 2) -> None:
        self.device = device
        with _quiet_opencv():
            self._cap = cv2.VideoCapture(device)
        if not self._cap.isOpened():
            self._cap.release()
            what = (f"stream {device!r} could not be opened (is it running and reachable?)"
                    if isinstance(device, str) else
                    f"camera {device!r} could not be opened (missing or busy?)")
            raise CaptureError(what)
        self._warmup = warmup_frames

    def read(self) -> Frame:
        if self._cap is None:
            raise CaptureError(f"camera {self.device!r} is closed")
        for _ in range(self._warmup):  # auto-exposure settles over the first frames
            self._cap.grab()
        self._warmup = 0
        ok, bgr = self._cap.read()
        if not ok or bgr is None or bgr.size == 0:
            raise CaptureError(f"camera {self.device!r} delivered no frame (disconnected?)")
        if bgr.ndim == 2:
            bgr = cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR)
        img = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        return Frame(img, _pixels_sha256(img), f"camera:{self.device}")

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


def open_source(spec: str) -> FileSource | FolderSource | SyntheticSource | CameraSource:
    """Open the source named by `spec` (see the module docstring)."""
    spec = spec.strip()
    if not spec:
        raise CaptureError("empty capture source")
    if spec.startswith("camera:") or spec.isdigit():
        index = spec.removeprefix("camera:")
        if not index.isdigit():
            raise CaptureError(f"camera index must be an integer, got {index!r}")
        return CameraSource(int(index))
    if _URL.match(spec):
        return CameraSource(spec)
    m = _SYNTHETIC.match(spec)
    if m:
        w, h, seed = m.groups()
        return SyntheticSource(int(w or 320), int(h or 240), int(seed or 0))
    path = _existing_path(spec)
    return FolderSource(path) if path.is_dir() else FileSource(path)


def _existing_path(spec: str) -> Path:
    path = Path(spec).expanduser()
    if not (path.is_dir() or path.is_file()):
        raise CaptureError(f"no such image, folder or camera: {spec!r}")
    return path


def check_source(spec: str) -> None:
    """Refuse, without opening anything, a source that names a missing file or folder.

    Cameras and streams are not checked: a device may be plugged in or a stream started
    after the caller starts, and `open_source` reports them when they are read.
    """
    spec = spec.strip()
    if not spec:
        raise CaptureError("empty capture source")
    if spec.startswith("camera:") or spec.isdigit() or _URL.match(spec) or _SYNTHETIC.match(spec):
        return
    _existing_path(spec)
