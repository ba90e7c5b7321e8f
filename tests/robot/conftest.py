"""Fixtures for the robot tests: small stroke plans in the vision format."""

from __future__ import annotations

import numpy as np

from vision.plan import Canvas, Paint, Plan, Source, Stroke

PALETTE = (Paint("black", (20, 20, 20)), Paint("red", (200, 30, 30)), Paint("blue", (30, 60, 200)))


def random_plan(size_mm: tuple[float, float], strokes: int, max_width_mm: float,
                seed: int = 0) -> Plan:
    """Curved strokes of random colour, width and tapering pressure inside the canvas."""
    w, h = size_mm
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(strokes):
        x0, y0 = rng.uniform(0.1 * w, 0.9 * w), rng.uniform(0.1 * h, 0.9 * h)
        ang, length = rng.uniform(0, 2 * np.pi), rng.uniform(0.05, 0.25) * w
        k = np.arange(9)
        xs = np.clip(x0 + np.cos(ang) * length * k / 8 + 0.02 * w * np.sin(k), 0, w)
        ys = np.clip(y0 + np.sin(ang) * length * k / 8, 0, h)
        pr = 0.6 + 0.4 * np.sin(np.pi * k / 8)
        out.append(Stroke(int(rng.integers(len(PALETTE))),
                          float(rng.uniform(0.25, 1.0) * max_width_mm),
                          tuple(zip(xs.tolist(), ys.tolist(), pr.tolist(), strict=True))))
    return Plan(Canvas(w, h), PALETTE, tuple(out), Source("0" * 64, 64, 64))
