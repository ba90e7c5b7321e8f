"""Which polyline segment each pixel lies deepest in: the painter's inner search.

A stroke covers a pixel by max over its segments of (r - d), d the distance from the
pixel centre to the segment and r the radius interpolated along it. Finding that max
over every segment and window pixel is the painter's hottest loop; as one compiled loop
it visits each segment's own bounding box once, without the temporaries of array code
(about ten times faster than the torch version it replaced).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numba
import numpy as np

MARGIN = 1.5  # px beyond a segment's radius that its box spans: any pixel it covers


def _compiled(fn: Callable[..., None]) -> Callable[..., None]:
    """`fn` compiled by numba, cached on disk where numba finds a writable place (next to
    this file or in the user's cache); else compiled afresh in each process (about 2 s),
    as under a service user with a read-only install and no home."""
    try:
        return numba.njit(cache=True, nogil=True)(fn)
    except RuntimeError:  # "cannot cache function …: no locator available"
        return numba.njit(nogil=True)(fn)


@_compiled
def _search(
    pts: np.ndarray, radius: np.ndarray, origin: np.ndarray, best: np.ndarray, seg: np.ndarray
) -> None:
    n, samples = radius.shape
    size = best.shape[1]
    for i in range(n):
        ox, oy = origin[i, 0], origin[i, 1]
        for s in range(samples - 1):
            ax, ay = pts[i, s, 0], pts[i, s, 1]
            bx, by = pts[i, s + 1, 0], pts[i, s + 1, 1]
            ra, rb = radius[i, s], radius[i, s + 1]
            m = max(ra, rb) + MARGIN
            c0 = max(0, int(math.floor(min(ax, bx) - m)) - ox)
            c1 = min(size, int(math.ceil(max(ax, bx) + m)) - ox + 1)
            r0 = max(0, int(math.floor(min(ay, by) - m)) - oy)
            r1 = min(size, int(math.ceil(max(ay, by) + m)) - oy + 1)
            dx, dy = bx - ax, by - ay
            len2 = max(dx * dx + dy * dy, 1e-9)
            for row in range(r0, r1):
                ry = oy + row + 0.5 - ay
                for col in range(c0, c1):
                    rx = ox + col + 0.5 - ax
                    t = min(max((rx * dx + ry * dy) / len2, 0.0), 1.0)
                    ex, ey = rx - t * dx, ry - t * dy
                    v = ra + t * (rb - ra) - math.sqrt(ex * ex + ey * ey + 1e-12)
                    if v > best[i, row, col]:  # strict: the first of equally deep segments
                        best[i, row, col] = v
                        seg[i, row, col] = s


def deepest(
    pts: np.ndarray, radius: np.ndarray, origin: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Deepest r - d and its segment over each stroke's (size, size) window.

    `pts` (n, samples, 2) and `radius` (n, samples) in px; `origin` (n, 2) int64 are the
    windows' top-left (x, y) pixels. Returns (n, size, size) values (-inf where no segment
    comes within its radius + MARGIN) and int64 segment indices.
    """
    n = len(pts)
    best = np.full((n, size, size), -np.inf, dtype=pts.dtype)
    seg = np.zeros((n, size, size), dtype=np.int64)
    _search(np.ascontiguousarray(pts), np.ascontiguousarray(radius),
            np.ascontiguousarray(origin), best, seg)
    return best, seg
