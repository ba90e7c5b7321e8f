"""Fidelity of a painting against its target: PSNR, SSIM and paint coverage.

Images are numpy arrays, (H, W) grey or (H, W, 3) RGB, either uint8 (0..255) or float
(0..1); both images of a pair must share shape and kind. PSNR and SSIM are
`skimage.metrics`' (SSIM: Wang et al. 2004, 7x7 uniform window, sample covariances,
averaged over channels) behind checks that refuse mismatched or non-finite inputs.
"""

from __future__ import annotations

import math

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from vision.errors import MetricError


def _as_float_pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise MetricError(f"image shapes differ: {a.shape} vs {b.shape}")
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (1, 3)) or a.size == 0:
        raise MetricError(f"expected an (H, W) or (H, W, 3) image, got shape {a.shape}")
    if (a.dtype == np.uint8) != (b.dtype == np.uint8):
        raise MetricError(f"mixing uint8 and float images ({a.dtype} vs {b.dtype})")
    if a.dtype == np.uint8:
        return a.astype(np.float64) / 255.0, b.astype(np.float64) / 255.0
    a, b = a.astype(np.float64), b.astype(np.float64)
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise MetricError("images hold NaN or infinite values")
    return a, b


def psnr(target: np.ndarray, image: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB (data range 1 for float, 255 for uint8); inf if equal."""
    a, b = _as_float_pair(target, image)
    if np.array_equal(a, b):
        return math.inf
    return float(peak_signal_noise_ratio(a, b, data_range=1.0))


def ssim(target: np.ndarray, image: np.ndarray, win_size: int = 7) -> float:
    """Mean structural similarity (channel-averaged for colour images)."""
    a, b = _as_float_pair(target, image)
    if min(a.shape[:2]) < win_size:
        raise MetricError(f"SSIM needs images of at least {win_size}x{win_size} pixels")
    axis = 2 if a.ndim == 3 else None
    return float(
        structural_similarity(a, b, win_size=win_size, data_range=1.0, channel_axis=axis)
    )


def coverage(canvas: np.ndarray, blank: float | int | None = None, tol: float = 0.02) -> float:
    """Share of canvas pixels that carry paint, i.e. differ from the blank canvas colour.

    `blank` defaults to white (255 for uint8, 1.0 for float); a pixel counts as painted
    when any channel differs from it by more than `tol` of the data range.
    """
    img = np.asarray(canvas)
    if img.ndim not in (2, 3) or img.size == 0:
        raise MetricError(f"expected an (H, W) or (H, W, 3) image, got shape {img.shape}")
    scale = 255.0 if img.dtype == np.uint8 else 1.0
    white = scale if blank is None else float(blank)
    diff = np.abs(img.astype(np.float64) - white) / scale > tol
    painted = diff.any(axis=2) if diff.ndim == 3 else diff
    return float(painted.mean())
