"""Filming: record the painting to an H.264 MP4 with PyAV, started and stopped around it.

Frames (RGB, any size) are letterboxed into the configured resolution. The codec is H.264
(libx264, which PyAV's wheels bundle, yuv420p so every player takes it); MPEG-4 Part 2
(`mp4v`) only where this FFmpeg build has no H.264 encoder. `FilmRecorder.codec` says which
one was used, and `read_film_info` reads the codec back from the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import cv2
import numpy as np

from robot.errors import FilmError

# (PyAV encoder, name in the record): H.264 first, MPEG-4 Part 2 only as a fallback.
ENCODERS = (("libx264", "h264"), ("mpeg4", "mp4v"))


@dataclass(frozen=True)
class FilmSpec:
    """Resolution and frame rate; `speedup` > 1 makes a time-lapse (arm seconds per film s)."""

    width: int = 1280
    height: int = 720
    fps: float = 30.0
    speedup: float = 1.0


@dataclass(frozen=True)
class FilmInfo:
    """What a video file holds, read back by decoding it."""

    frames: int
    fps: float
    width: int
    height: int
    codec: str = ""

    @property
    def duration_s(self) -> float:
        return self.frames / self.fps if self.fps else 0.0


def letterbox(frame_rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale an RGB frame to fit (width, height), centred on black; returns RGB uint8."""
    h, w = frame_rgb.shape[:2]
    scale = min(width / w, height / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    # INTER_AREA only where it matters (strong shrinking): at a fractional scale near 1 it
    # costs ~6 ms a 720p frame, as much as encoding it, for no visible difference.
    interp = cv2.INTER_AREA if scale < 0.5 else cv2.INTER_LINEAR
    small = cv2.resize(np.ascontiguousarray(frame_rgb, dtype=np.uint8), (nw, nh),
                       interpolation=interp)
    out = np.zeros((height, width, 3), dtype=np.uint8)
    y0, x0 = (height - nh) // 2, (width - nw) // 2
    out[y0 : y0 + nh, x0 : x0 + nw] = small
    return out


def _encoder() -> tuple[str, str]:
    for encoder, name in ENCODERS:
        try:
            av.codec.Codec(encoder, "w")
        except (av.FFmpegError, ValueError):
            continue
        return encoder, name
    raise FilmError(f"this FFmpeg build has none of the encoders {[e for e, _ in ENCODERS]}")


class FilmRecorder:
    """An MP4 being recorded; use as a context manager so it is always finalised."""

    def __init__(self, path: str | Path, spec: FilmSpec) -> None:
        self.path = Path(path)
        self.spec = spec
        self.frames = 0
        self.codec = ""
        self._container: av.container.OutputContainer | None = None
        self._stream: av.video.stream.VideoStream | None = None

    def start(self) -> FilmRecorder:
        if self.spec.width <= 0 or self.spec.height <= 0 or self.spec.fps <= 0:
            raise FilmError(f"film needs a positive size and frame rate, got {self.spec}")
        if self.spec.width % 2 or self.spec.height % 2:
            raise FilmError(f"film size must be even (yuv420p), got "
                            f"{self.spec.width}x{self.spec.height}")
        encoder, self.codec = _encoder()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            container = av.open(str(self.path), mode="w", format="mp4")
        except (av.FFmpegError, OSError) as exc:
            raise FilmError(f"cannot open {self.path} for writing: {exc}") from None
        stream = container.add_stream(encoder, rate=Fraction(self.spec.fps).limit_denominator(
            1001))
        stream.width, stream.height, stream.pix_fmt = self.spec.width, self.spec.height, "yuv420p"
        if encoder == "libx264":
            # superfast: about the cost of the old OpenCV mp4v writer, at H.264 quality.
            stream.options = {"crf": "23", "preset": "superfast"}
        self._container, self._stream = container, stream
        return self

    def write(self, frame_rgb: np.ndarray) -> None:
        """Append one RGB frame (letterboxed to the film's size)."""
        if self._container is None or self._stream is None:
            raise FilmError("the film is not recording (call start() first)")
        image = letterbox(frame_rgb, self.spec.width, self.spec.height)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    def stop(self) -> None:
        if self._container is not None and self._stream is not None:
            for packet in self._stream.encode():  # flush the encoder's delayed frames
                self._container.mux(packet)
            self._container.close()
        self._container = self._stream = None

    def __enter__(self) -> FilmRecorder:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def read_film_info(path: str | Path) -> FilmInfo:
    """Open a video with PyAV and count its frames by decoding them all."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            frames = sum(1 for _ in container.decode(stream))
            rate = stream.average_rate or stream.guessed_rate or 0
            return FilmInfo(frames=frames, fps=float(rate), width=stream.codec_context.width,
                            height=stream.codec_context.height, codec=stream.codec_context.name)
    except (av.FFmpegError, OSError, IndexError) as exc:
        raise FilmError(f"cannot open video {path}: {exc}") from None
