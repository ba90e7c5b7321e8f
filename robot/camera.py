"""A camera model for the simulated canvas: perspective, uneven light, sensor noise.

The camera hangs in front of and above the canvas, tilted towards it, so the canvas
appears as a trapezoid; a vignette and a side light darken parts of the picture.
`flat_field` undoes the light with a photo of the blank canvas, as one would with a
real camera.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class CameraModel:
    """Pinhole camera looking at the canvas centre from `distance_mm`, tilted `tilt_deg`."""

    width: int = 960
    height: int = 720
    focal_px: float = 1000.0
    distance_mm: float = 900.0
    tilt_deg: float = 25.0
    gain: float = 0.92
    vignetting: float = 0.25
    side_light: float = 0.15
    noise_sigma: float = 2.0
    background_rgb: tuple[int, int, int] = (70, 62, 55)

    def canvas_to_image(self, canvas_size_mm: tuple[float, float]) -> np.ndarray:
        """Homography from canvas mm (x right, y down) to image pixels."""
        w, h = canvas_size_mm
        th = math.radians(self.tilt_deg)
        centre = np.array([w / 2.0, h / 2.0, 0.0])
        eye = centre + self.distance_mm * np.array([0.0, math.sin(th), -math.cos(th)])
        rot = np.array([[1.0, 0.0, 0.0],
                        [0.0, math.cos(th), math.sin(th)],
                        [0.0, -math.sin(th), math.cos(th)]])
        t = -rot @ eye
        k = np.array([[self.focal_px, 0.0, self.width / 2.0],
                      [0.0, self.focal_px, self.height / 2.0],
                      [0.0, 0.0, 1.0]])
        return k @ np.column_stack([rot[:, 0], rot[:, 1], t])

    def corners_px(self, canvas_size_mm: tuple[float, float]) -> np.ndarray:
        """Where the canvas corners TL, TR, BR, BL land in the image."""
        w, h = canvas_size_mm
        pts = np.array([[0, 0, 1], [w, 0, 1], [w, h, 1], [0, h, 1]], dtype=float)
        img = pts @ self.canvas_to_image(canvas_size_mm).T
        return img[:, :2] / img[:, 2:]

    def lighting(self) -> np.ndarray:
        """Multiplicative light field (height, width)."""
        yy, xx = np.mgrid[0 : self.height, 0 : self.width].astype(float)
        r2 = ((xx - self.width / 2) ** 2 + (yy - self.height / 2) ** 2) / (
            (self.width / 2) ** 2 + (self.height / 2) ** 2)
        side = 1.0 + self.side_light * (xx / self.width - 0.5)
        return self.gain * (1.0 - self.vignetting * r2) * side

    def capture(self, canvas_rgb: np.ndarray, canvas_size_mm: tuple[float, float],
                rng: np.random.Generator) -> np.ndarray:
        """Photograph a canvas image (H, W, 3 uint8 at H/height_mm px per mm)."""
        px_per_mm = canvas_rgb.shape[1] / canvas_size_mm[0]
        to_mm = np.diag([1.0 / px_per_mm, 1.0 / px_per_mm, 1.0])
        hom = self.canvas_to_image(canvas_size_mm) @ to_mm
        img = cv2.warpPerspective(np.ascontiguousarray(canvas_rgb, dtype=np.uint8), hom,
                                  (self.width, self.height), flags=cv2.INTER_AREA,
                                  borderMode=cv2.BORDER_CONSTANT,
                                  borderValue=tuple(int(c) for c in self.background_rgb))
        lit = img.astype(float) * self.lighting()[..., None]
        lit += rng.normal(0.0, self.noise_sigma, size=lit.shape)
        return np.clip(np.rint(lit), 0, 255).astype(np.uint8)


def flat_field(rectified: np.ndarray, blank_rectified: np.ndarray) -> np.ndarray:
    """Undo uneven light: divide by a rectified photo of the blank (white) canvas."""
    ref = cv2.GaussianBlur(blank_rectified.astype(float), (0, 0), 3.0)
    out = rectified.astype(float) / np.maximum(ref, 1.0) * 255.0
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
