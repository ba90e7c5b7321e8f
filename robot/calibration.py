"""Canvas calibration: where the canvas lies for the arm, and how the camera sees it.

- Touch calibration: the brush touches N >= 3 known marks of the canvas (canvas mm) and
  the arm records the tip (base mm). The plane is the least-squares fit (SVD); the
  in-plane axes come from a 2D Procrustes fit of the marks. Collinear marks and fits
  whose residuals exceed the thresholds are refused with `CalibrationError`.
- Camera calibration: the canvas' four corners in a camera image (detected, or given)
  give the homography that rectifies photos to canvas pixels.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from robot.errors import CalibrationError

MAX_PLANE_RMS_MM = 0.5
MAX_INPLANE_RMS_MM = 2.0
# Touch points whose second principal spread is below this share of the first are a line.
MIN_SPREAD_RATIO = 0.05


@dataclass(frozen=True)
class TouchPoint:
    """A mark of the canvas (canvas mm, x right, y down) and where the brush tip met it."""

    canvas_mm: tuple[float, float]
    base_mm: tuple[float, float, float]


@dataclass(frozen=True)
class CanvasCalibration:
    """Base-from-canvas transform (canvas z points into the canvas), residuals, camera."""

    canvas_size_mm: tuple[float, float]
    base_from_canvas: np.ndarray
    plane_rms_mm: float
    plane_max_mm: float
    inplane_rms_mm: float
    points: tuple[TouchPoint, ...] = ()
    camera_corners_px: np.ndarray | None = field(default=None)

    def to_base(self, canvas_xyz: np.ndarray) -> np.ndarray:
        """Canvas-frame points (..., 3) (z > 0 below the surface) to base-frame mm."""
        p = np.asarray(canvas_xyz, dtype=float)
        return p @ self.base_from_canvas[:3, :3].T + self.base_from_canvas[:3, 3]

    def to_canvas(self, base_xyz: np.ndarray) -> np.ndarray:
        """Base-frame points (..., 3) to canvas-frame mm."""
        p = np.asarray(base_xyz, dtype=float) - self.base_from_canvas[:3, 3]
        return p @ self.base_from_canvas[:3, :3]

    def with_camera(self, corners_px: np.ndarray) -> CanvasCalibration:
        """The same calibration with the canvas corners (TL, TR, BR, BL) seen by the camera."""
        corners = np.asarray(corners_px, dtype=float)
        if corners.shape != (4, 2):
            raise CalibrationError(f"camera corners must be 4 (x, y) pairs, got {corners.shape}")
        return CanvasCalibration(self.canvas_size_mm, self.base_from_canvas, self.plane_rms_mm,
                                 self.plane_max_mm, self.inplane_rms_mm, self.points, corners)

    def to_dict(self) -> dict[str, Any]:
        return {
            "canvas_size_mm": list(self.canvas_size_mm),
            "base_from_canvas": self.base_from_canvas.tolist(),
            "plane_rms_mm": self.plane_rms_mm,
            "plane_max_mm": self.plane_max_mm,
            "inplane_rms_mm": self.inplane_rms_mm,
            "points": [{"canvas_mm": list(p.canvas_mm), "base_mm": list(p.base_mm)}
                       for p in self.points],
            "camera_corners_px": (None if self.camera_corners_px is None
                                  else self.camera_corners_px.tolist()),
        }

    @classmethod
    def from_dict(cls, doc: Any) -> CanvasCalibration:
        try:
            t = np.asarray(doc["base_from_canvas"], dtype=float)
            size = tuple(float(v) for v in doc["canvas_size_mm"])
            corners = doc.get("camera_corners_px")
            cal = cls(
                canvas_size_mm=(size[0], size[1]),
                base_from_canvas=t,
                plane_rms_mm=float(doc["plane_rms_mm"]),
                plane_max_mm=float(doc["plane_max_mm"]),
                inplane_rms_mm=float(doc["inplane_rms_mm"]),
                points=tuple(TouchPoint(tuple(p["canvas_mm"]), tuple(p["base_mm"]))
                             for p in doc.get("points", [])),
                camera_corners_px=None if corners is None else np.asarray(corners, dtype=float),
            )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise CalibrationError(f"calibration document is malformed: {exc!r}") from None
        r = t[:3, :3] if t.shape == (4, 4) else None
        if r is None or not np.allclose(r.T @ r, np.eye(3), atol=1e-6) or np.linalg.det(r) < 0:
            raise CalibrationError("calibration base_from_canvas is not a rigid 4x4 transform")
        return cal


def save_calibration(cal: CanvasCalibration, path: str | Path) -> None:
    """Write the calibration as JSON."""
    Path(path).write_text(json.dumps(cal.to_dict(), indent=2) + "\n", encoding="utf-8")


def load_calibration(path: str | Path) -> CanvasCalibration:
    """Read a calibration; an unreadable or malformed file is a `CalibrationError`."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise CalibrationError(f"cannot read calibration {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise CalibrationError(f"calibration {path} is not valid JSON: {exc}") from None
    return CanvasCalibration.from_dict(doc)


def nominal_calibration(base_from_canvas: np.ndarray,
                        canvas_size_mm: tuple[float, float]) -> CanvasCalibration:
    """A calibration that trusts a configured canvas pose (no touches, zero residuals)."""
    return CanvasCalibration(canvas_size_mm, np.asarray(base_from_canvas, dtype=float),
                             0.0, 0.0, 0.0)


# ---------------------------------------------------------------- touch calibration


def fit_plane(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares plane through points (N, 3): centroid, unit normal, signed residuals.

    Refuses fewer than 3 points and (near-)collinear or coincident ones."""
    p = np.asarray(points, dtype=float)
    if p.ndim != 2 or p.shape[1] != 3 or len(p) < 3:
        raise CalibrationError(f"need at least 3 touch points (x, y, z), got {p.shape}")
    centroid = p.mean(axis=0)
    _, s, vt = np.linalg.svd(p - centroid)
    if s[0] < 1e-9 or s[1] / s[0] < MIN_SPREAD_RATIO:
        raise CalibrationError(
            "touch points are (nearly) collinear: they do not span a plane "
            f"(spread ratio {s[1] / max(s[0], 1e-12):.4f} < {MIN_SPREAD_RATIO}); "
            "touch marks spread over the canvas"
        )
    normal = vt[2]
    return centroid, normal, (p - centroid) @ normal


def calibrate_from_touches(touches: Sequence[TouchPoint], canvas_size_mm: tuple[float, float],
                           max_plane_rms_mm: float = MAX_PLANE_RMS_MM,
                           max_inplane_rms_mm: float = MAX_INPLANE_RMS_MM) -> CanvasCalibration:
    """Fit the canvas frame to touch points; refuse degenerate or inconsistent ones."""
    if len(touches) < 3:
        raise CalibrationError(f"need at least 3 touch points, got {len(touches)}")
    base = np.array([t.base_mm for t in touches], dtype=float)
    uv = np.array([t.canvas_mm for t in touches], dtype=float)
    centroid, normal, resid = fit_plane(base)
    _, s_uv, _ = np.linalg.svd(uv - uv.mean(axis=0))
    if s_uv[0] < 1e-9 or s_uv[1] / s_uv[0] < MIN_SPREAD_RATIO:
        raise CalibrationError("the canvas marks are collinear: touch marks spread over the canvas")
    plane_rms = float(np.sqrt(np.mean(resid**2)))
    if plane_rms > max_plane_rms_mm:
        raise CalibrationError(
            f"touch points are not on one plane: RMS residual {plane_rms:.3f} mm > "
            f"{max_plane_rms_mm} mm (a missed touch, or a warped canvas)"
        )
    frame, inplane = _inplane_fit(base - centroid, uv, normal)
    if inplane > max_inplane_rms_mm:
        raise CalibrationError(
            f"touch points do not match their canvas marks: in-plane RMS {inplane:.3f} mm > "
            f"{max_inplane_rms_mm} mm (marks listed in the wrong order?)"
        )
    frame[:3, 3] += centroid
    return CanvasCalibration(
        canvas_size_mm=(float(canvas_size_mm[0]), float(canvas_size_mm[1])),
        base_from_canvas=frame,
        plane_rms_mm=plane_rms,
        plane_max_mm=float(np.abs(resid).max()),
        inplane_rms_mm=inplane,
        points=tuple(touches),
    )


def _inplane_fit(centred: np.ndarray, uv: np.ndarray, normal: np.ndarray) -> tuple[np.ndarray,
                                                                                    float]:
    """Rotation + translation in the plane mapping canvas marks onto the touches."""
    for n in (normal, -normal):
        b1 = np.cross(n, [1.0, 0.0, 0.0])
        if np.linalg.norm(b1) < 0.1:
            b1 = np.cross(n, [0.0, 1.0, 0.0])
        b1 /= np.linalg.norm(b1)
        b2 = np.cross(n, b1)
        p2 = np.stack([centred @ b1, centred @ b2], axis=1)
        mu_uv, mu_p = uv.mean(axis=0), p2.mean(axis=0)
        u, _, vt = np.linalg.svd((uv - mu_uv).T @ (p2 - mu_p))
        rot = (u @ vt).T
        if np.linalg.det(rot) < 0:
            continue  # the marks are mirrored against this normal: use the other side
        t = mu_p - rot @ mu_uv
        resid = p2 - (uv @ rot.T + t)
        basis = np.stack([b1, b2], axis=1)  # (3, 2)
        frame = np.eye(4)
        frame[:3, 0] = basis @ rot[:, 0]
        frame[:3, 1] = basis @ rot[:, 1]
        frame[:3, 2] = np.cross(frame[:3, 0], frame[:3, 1])
        frame[:3, 3] = basis @ t
        return frame, float(np.sqrt(np.mean(np.sum(resid**2, axis=1))))
    raise AssertionError("one of the two normals always gives a proper rotation")


def touch_marks(canvas_size_mm: tuple[float, float], cols: int = 4, rows: int = 3,
                margin_mm: float = 20.0) -> np.ndarray:
    """A grid of marks (cols x rows) inside the canvas, like Gaka-Chu's 12–15 touches."""
    w, h = canvas_size_mm
    xs = np.linspace(margin_mm, w - margin_mm, cols)
    ys = np.linspace(margin_mm, h - margin_mm, rows)
    return np.array([(x, y) for y in ys for x in xs])


# ---------------------------------------------------------------- camera


def order_corners(pts: np.ndarray) -> np.ndarray:
    """Order 4 image points as canvas TL, TR, BR, BL (canvas upright in the image)."""
    pts = np.asarray(pts, dtype=float).reshape(4, 2)
    s, d = pts.sum(axis=1), pts[:, 1] - pts[:, 0]
    ordered = np.array([pts[np.argmin(s)], pts[np.argmin(d)], pts[np.argmax(s)],
                        pts[np.argmax(d)]])
    if len({tuple(p) for p in ordered}) != 4:
        raise CalibrationError("cannot order the canvas corners: the quadrilateral is degenerate")
    return ordered


def detect_canvas_corners(image_rgb: np.ndarray, min_area_fraction: float = 0.05) -> np.ndarray:
    """Find the bright canvas quadrilateral in a camera image; corners TL, TR, BR, BL (px).

    Otsu threshold, largest external contour, polygon approximation to 4 vertices,
    refined to sub-pixel accuracy."""
    gray = cv2.cvtColor(np.asarray(image_rgb, dtype=np.uint8), cv2.COLOR_RGB2GRAY)
    blur = cv2.GaussianBlur(gray, (5, 5), 0)
    _, mask = cv2.threshold(blur, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((15, 15), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        raise CalibrationError("no canvas found in the camera image (nothing bright enough)")
    best = max(contours, key=cv2.contourArea)
    if cv2.contourArea(best) < min_area_fraction * gray.size:
        raise CalibrationError("no canvas found in the camera image (largest bright area too "
                               "small)")
    hull = cv2.convexHull(best)
    quad = None
    for eps in (0.01, 0.02, 0.03, 0.05):
        approx = cv2.approxPolyDP(hull, eps * cv2.arcLength(hull, True), True)
        if len(approx) == 4:
            quad = approx.reshape(4, 2).astype(np.float32)
            break
    if quad is None:
        raise CalibrationError("the canvas outline in the camera image is not a quadrilateral")
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 40, 0.01)
    refined = cv2.cornerSubPix(gray, quad.reshape(-1, 1, 2).copy(), (5, 5), (-1, -1), criteria)
    return order_corners(refined.reshape(4, 2))


def canvas_homography(corners_px: np.ndarray, canvas_size_mm: tuple[float, float],
                      px_per_mm: float) -> np.ndarray:
    """Homography from camera pixels to rectified canvas pixels at `px_per_mm`.

    With exactly 4 corners (TL, TR, BR, BL) it is `getPerspectiveTransform`."""
    corners = np.asarray(corners_px, dtype=np.float32).reshape(4, 2)
    w, h = canvas_size_mm[0] * px_per_mm, canvas_size_mm[1] * px_per_mm
    dst = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    d1, d2 = corners[2] - corners[0], corners[3] - corners[1]
    area = 0.5 * abs(float(d1[0] * d2[1] - d1[1] * d2[0]))
    if not math.isfinite(area) or area < 1.0:
        raise CalibrationError("camera corners enclose no area: cannot rectify")
    return cv2.getPerspectiveTransform(corners, dst)


def rectify(image: np.ndarray, homography: np.ndarray, canvas_size_mm: tuple[float, float],
            px_per_mm: float) -> np.ndarray:
    """Warp a camera image to the canvas, (H, W, 3) at `px_per_mm`."""
    size = (round(canvas_size_mm[0] * px_per_mm), round(canvas_size_mm[1] * px_per_mm))
    return cv2.warpPerspective(image, homography, size, flags=cv2.INTER_AREA,
                               borderMode=cv2.BORDER_REPLICATE)
