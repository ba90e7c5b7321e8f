"""Metrics agree with scikit-image on known pairs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage import data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from vision.metrics import MetricError, coverage, psnr, ssim


def _pairs():
    rng = np.random.default_rng(3)
    astro = data.astronaut()[::4, ::4]
    noisy = np.clip(astro.astype(int) + rng.integers(-40, 40, astro.shape), 0, 255).astype(np.uint8)
    cam = data.camera()[::4, ::4]
    blurred = (cam.astype(float) * 0.8 + 20).astype(np.uint8)
    return [(astro, noisy), (cam, blurred), (astro / 255.0, noisy / 255.0)]


@pytest.mark.parametrize(("a", "b"), _pairs())
def test_psnr_and_ssim_match_skimage(a, b):
    rng = 1.0 if a.dtype != np.uint8 else 255
    channel = 2 if a.ndim == 3 else None
    assert psnr(a, b) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=rng), abs=1e-9)
    expected = structural_similarity(a, b, channel_axis=channel, data_range=rng)
    assert ssim(a, b) == pytest.approx(expected, abs=1e-6)


def test_identical_images_and_known_values():
    img = np.full((16, 16, 3), 100, np.uint8)
    assert psnr(img, img) == math.inf
    assert ssim(img, img) == pytest.approx(1.0)
    off = img.copy()
    off[..., 0] += 51  # MSE = (51/255)^2 / 3 per pixel
    assert psnr(img, off) == pytest.approx(10 * math.log10(3 / (51 / 255) ** 2))


def test_coverage_counts_painted_pixels():
    canvas = np.full((10, 10, 3), 255, np.uint8)
    canvas[:3] = (10, 200, 10)
    canvas[5, 5] = (253, 254, 255)  # within tolerance of white
    assert coverage(canvas) == pytest.approx(0.3)
    assert coverage(canvas.astype(float) / 255.0) == pytest.approx(0.3)


def test_mismatched_inputs_are_errors():
    with pytest.raises(MetricError, match="shapes differ"):
        psnr(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(MetricError, match="mixing uint8 and float"):
        psnr(np.zeros((4, 4), np.uint8), np.zeros((4, 4)))
    with pytest.raises(MetricError, match="at least 7x7"):
        ssim(np.zeros((5, 5)), np.zeros((5, 5)))


def test_psnr_and_ssim_are_scikit_image_behind_the_input_checks(monkeypatch):
    """No hand-written copy: the scores come from skimage.metrics, after vision's checks."""
    import vision.metrics as m

    calls: list[str] = []

    def spy(name, real):
        def wrapped(*args, **kwargs):
            calls.append(name)
            return real(*args, **kwargs)

        return wrapped

    monkeypatch.setattr(m, "peak_signal_noise_ratio", spy("psnr", m.peak_signal_noise_ratio))
    monkeypatch.setattr(m, "structural_similarity", spy("ssim", m.structural_similarity))
    a = data.camera()[::8, ::8]
    b = np.clip(a.astype(int) + 9, 0, 255).astype(np.uint8)
    psnr(a, b)
    ssim(a, b)
    assert calls == ["psnr", "ssim"]
    with pytest.raises(MetricError, match="NaN or infinite"):
        ssim(np.full((8, 8), np.nan), np.zeros((8, 8)))
    assert calls == ["psnr", "ssim"]  # refused before reaching skimage
