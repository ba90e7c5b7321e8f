"""Image loading and pre-processing: safe decoding, canvas fitting, denoising, edges,
line art (threshold + Zhang-Suen thinning + skeleton tracing) and palette quantisation.

Images are (H, W, 3) uint8 RGB numpy arrays throughout.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError
from skimage.morphology import skeletonize

from vision.errors import ImageError

MIN_SIDE = 8  # px: anything smaller carries no picture worth painting
MAX_PIXELS = 40_000_000  # refuse to decode beyond this (a 40 MP RGB image is 120 MB)



# ---------------------------------------------------------------- loading


def load_image(path: str | Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode an image file to RGB, checking its header before decoding any pixels."""
    p = Path(path)
    if not p.exists():
        raise ImageError(f"{p}: no such file")
    if not p.is_file():
        raise ImageError(f"{p}: not a regular file")
    if p.stat().st_size == 0:
        raise ImageError(f"{p}: file is empty")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ImageError(f"{p}: cannot read ({exc.strerror or exc})") from None
    return decode_image(data, name=str(p), max_pixels=max_pixels)


def decode_image(data: bytes, name: str = "image", max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode encoded image bytes (PNG, JPEG, BMP, TIFF, WebP, ...) to (H, W, 3) uint8 RGB.

    The header is parsed first (PIL opens lazily); images whose declared size is below
    `MIN_SIDE` or above `max_pixels` are refused without decoding their pixel data.
    Truncated or corrupt data, and files that are not images, raise `ImageError`.
    """
    if not data:
        raise ImageError(f"{name}: no data (empty input)")
    with warnings.catch_warnings():
        # PIL warns before its own bomb limit; we apply a stricter limit ourselves.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data))
        except UnidentifiedImageError:
            raise ImageError(f"{name}: not a recognised image format") from None
        except Image.DecompressionBombError:
            raise ImageError(
                f"{name}: header declares an image far beyond the {max_pixels / 1e6:.0f} MP "
                "limit; refusing to decode"
            ) from None
        except (OSError, ValueError, SyntaxError) as exc:
            raise ImageError(f"{name}: unreadable image header ({exc})") from None
        w, h = img.size
        if w < MIN_SIDE or h < MIN_SIDE:
            raise ImageError(
                f"{name}: {w}x{h} px is too small (need at least {MIN_SIDE} px a side)"
            )
        if w * h > max_pixels:
            raise ImageError(
                f"{name}: header declares {w}x{h} px ({w * h / 1e6:.0f} MP), more than the "
                f"{max_pixels / 1e6:.0f} MP limit; refusing to decode"
            )
        try:
            img.load()
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            raise ImageError(f"{name}: corrupt or truncated image data ({exc})") from None
    return _to_rgb(img)


def _to_rgb(img: Image.Image) -> np.ndarray:
    """RGB uint8; transparency is composited onto a white canvas."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        hi = arr.max() if arr.max() > 0 else 1.0
        grey = np.clip(arr / hi * 255.0, 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    return np.asarray(img.convert("RGB"))


def check_rgb(img: np.ndarray, name: str = "image") -> np.ndarray:
    """Validate an in-memory (H, W, 3) uint8 image."""
    arr = np.asarray(img)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise ImageError(f"{name}: expected an (H, W, 3) uint8 image, got {arr.shape} {arr.dtype}")
    if min(arr.shape[:2]) < MIN_SIDE:
        raise ImageError(f"{name}: {arr.shape[1]}x{arr.shape[0]} px is too small")
    return arr


# ---------------------------------------------------------------- geometry and filters


def fit_to_aspect(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """Centre-crop to the aspect ratio width:height, then resize to exactly width x height."""
    img = check_rgb(img)
    if width < 1 or height < 1:
        raise ImageError(f"target size must be positive, got {width}x{height}")
    h, w = img.shape[:2]
    if w * height > h * width:  # too wide: crop columns
        cw = max(1, round(h * width / height))
        x0 = (w - cw) // 2
        img = img[:, x0 : x0 + cw]
    else:
        ch = max(1, round(w * height / width))
        y0 = (h - ch) // 2
        img = img[y0 : y0 + ch]
    shrinking = img.shape[1] >= width
    interp = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    return cv2.resize(np.ascontiguousarray(img), (width, height), interpolation=interp)


def denoise(img: np.ndarray, strength: float = 5.0) -> np.ndarray:
    """Edge-preserving smoothing (bilateral filter); 0 returns the image unchanged."""
    img = check_rgb(img)
    if strength <= 0:
        return img
    return cv2.bilateralFilter(img, d=5, sigmaColor=strength * 10, sigmaSpace=strength)


def canny_edges(img: np.ndarray, low: float | None = None, high: float | None = None) -> np.ndarray:
    """Boolean edge map (Canny); thresholds default to 0.66x / 1.33x the median grey level."""
    grey = cv2.cvtColor(check_rgb(img), cv2.COLOR_RGB2GRAY)
    med = float(np.median(grey))
    lo = max(0.0, 0.66 * med) if low is None else low
    hi = min(255.0, 1.33 * med) if high is None else high
    return cv2.Canny(grey, lo, max(hi, lo + 1)) > 0


def ink_mask(img: np.ndarray, threshold: int | None = None) -> np.ndarray:
    """Dark strokes on a light ground: True where grey < threshold (Otsu when None)."""
    grey = cv2.cvtColor(check_rgb(img), cv2.COLOR_RGB2GRAY)
    if threshold is None:
        threshold, _ = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return grey < threshold


# ---------------------------------------------------------------- line art

_NEIGHBOURS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


def skeleton_polylines(mask: np.ndarray) -> list[np.ndarray]:
    """Thin `mask` (Zhang-Suen) and trace the skeleton into centre-line polylines.

    Every skeleton edge is walked exactly once: polylines run between end points and
    junctions (or around loops), so no line is traced twice, unlike contour tracing,
    which follows both sides of every stroke. Returns (n, 2) float arrays of x, y pixel
    centres (+0.5); an isolated pixel gives a one-point polyline.
    """
    skel = skeletonize(np.asarray(mask, dtype=bool))
    graph = _skeleton_graph(skel)
    seen: set[tuple[int, int]] = set()
    lines: list[list[int]] = []

    def walk(start: int, nxt: int) -> list[int]:
        path = [start]
        prev, cur = start, nxt
        while True:
            seen.add((min(prev, cur), max(prev, cur)))
            path.append(cur)
            if len(graph[cur]) != 2:
                return path
            step = [v for v in graph[cur] if (min(cur, v), max(cur, v)) not in seen]
            if not step:  # closed a loop
                return path
            prev, cur = cur, step[0]

    nodes = sorted(graph)
    for u in nodes:  # paths from end points and junctions first
        if len(graph[u]) != 2:
            for v in sorted(graph[u]):
                if (min(u, v), max(u, v)) not in seen:
                    lines.append(walk(u, v))
            if not graph[u]:
                lines.append([u])
    for u in nodes:  # what is left are loops of degree-2 pixels
        for v in sorted(graph[u]):
            if (min(u, v), max(u, v)) not in seen:
                lines.append(walk(u, v))
    width = skel.shape[1]
    return [np.array([(i % width + 0.5, i // width + 0.5) for i in line]) for line in lines]


def _skeleton_graph(skel: np.ndarray) -> dict[int, set[int]]:
    """8-connected pixel graph without the diagonal shortcuts that close 3-pixel triangles."""
    h, w = skel.shape
    ys, xs = np.nonzero(skel)
    on = set(zip(ys.tolist(), xs.tolist(), strict=True))
    graph: dict[int, set[int]] = {y * w + x: set() for y, x in on}
    for y, x in on:
        for dy, dx in _NEIGHBOURS:
            q = (y + dy, x + dx)
            if q not in on:
                continue
            # A diagonal step is redundant when a 4-connected detour exists.
            if dy and dx and ((y + dy, x) in on or (y, x + dx) in on):
                continue
            graph[y * w + x].add(q[0] * w + q[1])
    return graph


def simplify(line: np.ndarray, tolerance: float = 0.7) -> np.ndarray:
    """Ramer-Douglas-Peucker simplification of an (n, 2) polyline (end points kept)."""
    if len(line) < 3:
        return line
    approx = cv2.approxPolyDP(line.astype(np.float32)[:, None, :], tolerance, closed=False)
    return approx[:, 0, :].astype(np.float64)


def line_thickness(mask: np.ndarray) -> np.ndarray:
    """Local full thickness of the ink at each pixel (2 x distance to the background)."""
    dist = cv2.distanceTransform(np.asarray(mask, dtype=np.uint8), cv2.DIST_L2, 5)
    return 2.0 * dist


# ---------------------------------------------------------------- palette


def kmeans_palette(img: np.ndarray, k: int, seed: int = 0, samples: int = 20_000) -> np.ndarray:
    """`k` representative colours (k-means++ then Lloyd, in RGB), sorted dark to light."""
    pixels = check_rgb(img).reshape(-1, 3).astype(np.float64)
    if k < 1:
        raise ImageError(f"palette size must be >= 1, got {k}")
    rng = np.random.default_rng(seed)
    if len(pixels) > samples:
        pixels = pixels[rng.choice(len(pixels), samples, replace=False)]
    centres = [pixels[rng.integers(len(pixels))]]
    for _ in range(1, k):
        d2 = ((pixels[:, None] - np.array(centres)[None]) ** 2).sum(-1).min(1)
        if d2.sum() == 0:
            centres.append(centres[-1])
            continue
        centres.append(pixels[rng.choice(len(pixels), p=d2 / d2.sum())])
    c = np.array(centres)
    for _ in range(50):
        label = ((pixels[:, None] - c[None]) ** 2).sum(-1).argmin(1)
        new = np.array(
            [pixels[label == j].mean(0) if (label == j).any() else c[j] for j in range(k)]
        )
        if np.allclose(new, c, atol=0.05):
            break
        c = new
    c = np.clip(np.rint(c), 0, 255).astype(np.uint8)
    return c[np.argsort(c.astype(int).sum(1), kind="stable")]


def quantise(img: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Replace every pixel by its nearest palette colour."""
    arr = check_rgb(img)
    pal = np.asarray(palette, dtype=np.float64)
    flat = arr.reshape(-1, 3).astype(np.float64)
    label = np.concatenate(
        [((chunk[:, None] - pal[None]) ** 2).sum(-1).argmin(1) for chunk in _chunks(flat)]
    )
    return pal[label].astype(np.uint8).reshape(arr.shape)


def _chunks(a: np.ndarray, size: int = 65_536) -> Iterator[np.ndarray]:
    for i in range(0, max(1, math.ceil(len(a) / size))):
        yield a[i * size : (i + 1) * size]
