"""Safe image loading and the line-art tracing of Gaka-Chu's mode."""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib

import cv2
import numpy as np
import pytest
from skimage.morphology import skeletonize

from vision.pipeline import plan_lines
from vision.plan import Source, render_preview
from vision.preprocess import (
    ImageError,
    canny_edges,
    decode_image,
    denoise,
    fit_to_aspect,
    ink_mask,
    kmeans_palette,
    load_image,
    quantise,
    skeleton_polylines,
)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_with_header(width: int, height: int) -> bytes:
    """A PNG whose IHDR declares width x height but carries almost no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + _chunk(b"IEND", b"")
    )


def _encode(img: np.ndarray, ext: str = ".png") -> bytes:
    ok, buf = cv2.imencode(ext, cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    assert ok
    return buf.tobytes()


def test_valid_png_and_jpeg_decode_to_rgb(tmp_path):
    img = np.zeros((20, 30, 3), np.uint8)
    img[:, :, 0] = 200  # red: catches BGR/RGB swaps
    path = tmp_path / "red.png"
    path.write_bytes(_encode(img))
    out = load_image(path)
    assert out.shape == (20, 30, 3) and out.dtype == np.uint8
    assert tuple(out[5, 5]) == (200, 0, 0)
    assert decode_image(_encode(img, ".jpg"))[5, 5, 0] > 180


_DECODE_IN_FRESH_PROCESS = """
import resource, sys
from vision.preprocess import ImageError, decode_image
data = sys.stdin.buffer.read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    decode_image(data, name="bomb.png")
except ImageError as exc:
    print(exc)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


@pytest.mark.parametrize("side", [7_000, 10_000, 60_000])
def test_huge_header_is_refused_without_decoding(side):
    # A fresh process: its peak RSS is where the imports left it, so any large allocation
    # while decoding raises it (in the test process the peak is already far higher).
    proc = subprocess.run(
        [sys.executable, "-c", _DECODE_IN_FRESH_PROCESS],
        input=png_with_header(side, side),
        capture_output=True,
        timeout=120,
        check=True,
    )
    message, grown_kib = proc.stdout.decode().strip().rsplit("\n", 1)
    assert "refusing to decode" in message
    assert int(grown_kib) < 50_000  # a decode would need >= 1.2 GB


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"this is a text file, not a picture\n" * 10, "not a recognised image format"),
        (png_with_header(1, 1), "1x1 px is too small"),
        (png_with_header(640, 480)[:20], "unreadable image header"),
    ],
)
def test_bad_bytes_give_clear_errors(data, message):
    with pytest.raises(ImageError, match=message):
        decode_image(data, name="input")


def test_corrupt_and_truncated_pixel_data(tmp_path):
    good = _encode(np.full((64, 64, 3), 90, np.uint8))
    with pytest.raises(ImageError, match="corrupt or truncated"):
        decode_image(png_with_header(64, 64))  # header fine, pixel data missing
    jpeg = bytearray(
        _encode(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8), ".jpg")
    )
    with pytest.raises(ImageError, match="corrupt or truncated"):
        decode_image(bytes(jpeg[: len(jpeg) // 2]))
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ImageError, match="file is empty"):
        load_image(empty)
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="not a regular file"):
        load_image(tmp_path)
    assert decode_image(good).shape == (64, 64, 3)


def test_fit_to_aspect_centre_crops():
    img = np.zeros((100, 300, 3), np.uint8)
    img[:, 100:200] = 255  # the centre third is white
    out = fit_to_aspect(img, 50, 50)
    assert out.shape == (50, 50, 3)
    assert out.min() == 255  # only the centre square survived


def test_canny_finds_the_border_and_denoise_keeps_it():
    img = np.full((60, 60, 3), 230, np.uint8)
    img[20:40, 20:40] = 30
    noisy = np.clip(img + np.random.default_rng(0).normal(0, 12, img.shape), 0, 255)
    smooth = denoise(noisy.astype(np.uint8), 5.0)
    assert np.abs(smooth.astype(int) - img).mean() < np.abs(noisy - img).mean()
    edges = canny_edges(smooth, 50, 150)
    ys, xs = np.nonzero(edges)
    assert edges.sum() > 60  # the square's outline ...
    assert ys.min() >= 17 and ys.max() <= 42 and xs.min() >= 17 and xs.max() <= 42  # ... only
    assert not edges[25:35, 25:35].any()


def test_kmeans_palette_finds_the_colours_and_quantise_maps_to_them():
    img = np.zeros((40, 60, 3), np.uint8)
    img[:, :20] = (200, 30, 30)
    img[:, 20:40] = (30, 200, 30)
    img[:, 40:] = (250, 250, 250)
    pal = kmeans_palette(img, 3, seed=1)
    assert {tuple(int(v) for v in c) for c in pal} == {
        (200, 30, 30),
        (30, 200, 30),
        (250, 250, 250),
    }
    assert np.array_equal(quantise(img, pal), img)
    assert np.array_equal(pal, kmeans_palette(img, 3, seed=1))


def _glyphs() -> np.ndarray:
    """Black shapes on white: Hershey text (ships inside OpenCV), a ring, a cross."""
    img = np.full((160, 240, 3), 255, np.uint8)
    cv2.putText(img, "A8", (10, 120), cv2.FONT_HERSHEY_SIMPLEX, 4, (0, 0, 0), 9)
    cv2.circle(img, (200, 50), 25, (0, 0, 0), 5)
    cv2.line(img, (170, 110), (230, 150), (0, 0, 0), 6)
    cv2.line(img, (170, 150), (230, 110), (0, 0, 0), 6)
    return img


def test_line_art_traces_every_skeleton_edge_exactly_once():
    mask = ink_mask(_glyphs())
    lines = skeleton_polylines(mask)
    skel = skeletonize(mask)
    steps: list[frozenset] = []
    visited: set[tuple[int, int]] = set()
    for line in lines:
        px = [(int(y), int(x)) for x, y in line]
        visited.update(px)
        for a, b in zip(px, px[1:], strict=False):
            assert max(abs(a[0] - b[0]), abs(a[1] - b[1])) == 1  # neighbouring pixels
            steps.append(frozenset((a, b)))
    assert len(steps) == len(set(steps))  # no pixel step walked twice
    assert visited == set(zip(*np.nonzero(skel), strict=True))  # and the whole skeleton
    # Centre lines: about one pixel of path per skeleton pixel, not two contours.
    assert len(steps) < 1.1 * skel.sum()


def test_line_plan_is_single_pass_centre_lines_of_the_glyph_width():
    planned = plan_lines(_glyphs(), Source("0" * 64, 240, 160), size=240)
    plan = planned.plan
    assert len(plan.palette) == 1 and len(plan.strokes) >= 6
    ppm = planned.px_per_mm
    mask = ink_mask(planned.target)
    # Stroke points lie on the ink ...
    for s in plan.strokes:
        pts = s.array()
        assert mask[(pts[:, 1] * ppm).astype(int), (pts[:, 0] * ppm).astype(int)].all()
    # ... and the brush, as wide as the line, paints the glyphs and little else.
    painted = render_preview(plan, ppm).min(axis=2) < 128
    assert (painted & mask).sum() / mask.sum() > 0.9
    near_ink = cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    assert (painted & ~near_ink).sum() / painted.sum() < 0.05
    assert plan.metrics["travel_reduction"] >= 1.0
