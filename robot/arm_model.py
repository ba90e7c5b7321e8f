"""Arm descriptions: Denavit–Hartenberg chain, joint limits, tool, motion limits, workcell.

An arm is described by a TOML file (see `robot/configs/`). Lengths are millimetres and
angles degrees in the file; in memory angles are radians. The chain follows the
standard DH convention: T_i = Rz(theta_i) Tz(d_i) Tx(a_i) Rx(alpha_i), where a revolute
joint has theta_i = q_i + offset_i and a prismatic one d_i = d + q_i.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from robot.errors import ArmConfigError

CONFIG_DIR = Path(__file__).with_name("configs")
JointKind = Literal["revolute", "prismatic"]


@dataclass(frozen=True)
class Joint:
    """One DH link; `lower`/`upper`/`max_speed` in rad (rad/s) or mm (mm/s) by kind."""

    name: str
    kind: JointKind
    a: float
    alpha: float
    d: float
    offset: float
    lower: float
    upper: float
    max_speed: float


@dataclass(frozen=True)
class Chain:
    """A serial chain: base transform, DH joints, flange-to-tool-tip transform."""

    joints: tuple[Joint, ...]
    base: np.ndarray
    tool: np.ndarray

    @property
    def dof(self) -> int:
        return len(self.joints)

    @property
    def lower(self) -> np.ndarray:
        return np.array([j.lower for j in self.joints])

    @property
    def upper(self) -> np.ndarray:
        return np.array([j.upper for j in self.joints])

    @property
    def revolute(self) -> np.ndarray:
        return np.array([j.kind == "revolute" for j in self.joints])

    @property
    def max_speed(self) -> np.ndarray:
        return np.array([j.max_speed for j in self.joints])

    def has_spherical_wrist(self) -> bool:
        """True for 6 revolute joints whose last three axes meet in one point (PUMA-like)."""
        if self.dof != 6 or not all(j.kind == "revolute" for j in self.joints):
            return False
        j = self.joints
        right = (abs(abs(j[0].alpha) - math.pi / 2) < 1e-9 and abs(j[1].alpha) < 1e-9
                 and abs(abs(j[2].alpha) - math.pi / 2) < 1e-9)
        wrist = (abs(abs(j[3].alpha) - math.pi / 2) < 1e-9
                 and abs(abs(j[4].alpha) - math.pi / 2) < 1e-9)
        offsets = all(abs(v) < 1e-9 for v in (j[3].a, j[4].a, j[5].a, j[4].d, j[5].alpha))
        return right and wrist and offsets


@dataclass(frozen=True)
class MotionLimits:
    """Cartesian speeds (mm/s), acceleration (mm/s²), heights (mm) and sampling of paths."""

    paint_speed: float
    travel_speed: float
    approach_speed: float
    accel: float
    lift_mm: float
    waypoint_spacing_mm: float
    travel_spacing_mm: float
    max_joint_step: float


@dataclass(frozen=True)
class BrushSpec:
    """Round brush: width grows linearly with depth up to `max_width_mm` at `max_depth_mm`."""

    max_width_mm: float
    max_depth_mm: float
    capacity_mm2: float
    fade_fraction: float


@dataclass(frozen=True)
class Workcell:
    """Where things are. Canvas pose is nominal (the simulated world, a default calibration);
    pots and wash jar are in canvas millimetres (z > 0 is below the canvas surface)."""

    canvas_origin: np.ndarray
    canvas_yaw: float
    canvas_size_mm: tuple[float, float]
    pots_xy: np.ndarray
    pot_radius_mm: float
    pot_rim_mm: float
    pot_dip_mm: float
    wash_xy: np.ndarray
    dip_length_mm: float
    dip_dwell_s: float
    wash_dwell_s: float

    def canvas_pose(self) -> np.ndarray:
        """Nominal base-from-canvas transform: x right, y down, z into the (horizontal) canvas."""
        c, s = math.cos(self.canvas_yaw), math.sin(self.canvas_yaw)
        t = np.eye(4)
        t[:3, 0] = (c, s, 0.0)
        t[:3, 1] = (s, -c, 0.0)
        t[:3, 2] = (0.0, 0.0, -1.0)
        t[:3, 3] = self.canvas_origin
        return t


@dataclass(frozen=True)
class ArmConfig:
    """Everything the robot needs to know about one arm and its table."""

    name: str
    description: str
    chain: Chain
    home: np.ndarray
    motion: MotionLimits
    brush: BrushSpec
    workcell: Workcell
    source: Path


def shipped_arms() -> list[str]:
    """Names of the arm configs that ship with gaka."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.toml"))


def load_arm(name_or_path: str | Path) -> ArmConfig:
    """Load a shipped arm by name (e.g. ``kuka_kr6_r900``) or any TOML file by path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = CONFIG_DIR / f"{name_or_path}.toml"
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArmConfigError(
            f"no arm config {name_or_path!r} (shipped: {', '.join(shipped_arms())})"
        ) from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ArmConfigError(f"cannot read arm config {path}: {exc}") from None
    return parse_arm(doc, path)


def parse_arm(doc: dict[str, Any], source: Path) -> ArmConfig:
    """Build an `ArmConfig` from a parsed TOML document; errors name the bad key."""
    where = str(source)
    joints = tuple(_joint(j, f"{where}: joints[{i}]") for i, j in enumerate(_get(doc, "joints",
                                                                                where, list)))
    if not joints:
        raise ArmConfigError(f"{where}: needs at least one joint")
    tool = _get(doc, "tool", where, dict)
    chain = Chain(joints=joints, base=np.eye(4),
                  tool=transform(_vec(tool, "xyz_mm", 3, where), np.radians(_vec(tool, "rpy_deg",
                                                                              3, where))))
    m = _get(doc, "motion", where, dict)
    motion = MotionLimits(
        paint_speed=_pos(m, "paint_speed_mm_s", where),
        travel_speed=_pos(m, "travel_speed_mm_s", where),
        approach_speed=_pos(m, "approach_speed_mm_s", where),
        accel=_pos(m, "accel_mm_s2", where),
        lift_mm=_pos(m, "lift_mm", where),
        waypoint_spacing_mm=_pos(m, "waypoint_spacing_mm", where),
        travel_spacing_mm=_pos(m, "travel_spacing_mm", where),
        max_joint_step=math.radians(_pos(m, "max_joint_step_deg", where)),
    )
    b = _get(doc, "brush", where, dict)
    brush = BrushSpec(
        max_width_mm=_pos(b, "max_width_mm", where),
        max_depth_mm=_pos(b, "max_depth_mm", where),
        capacity_mm2=_pos(b, "capacity_mm2", where),
        fade_fraction=_pos(b, "fade_fraction", where),
    )
    w = _get(doc, "workcell", where, dict)
    size = _vec(w, "canvas_size_mm", 2, where)
    pots = np.asarray(_get(w, "pots_xy_mm", where, list), dtype=float)
    if pots.ndim != 2 or pots.shape[1] != 2 or len(pots) == 0:
        raise ArmConfigError(f"{where}: workcell.pots_xy_mm must be a list of [x, y] pairs")
    workcell = Workcell(
        canvas_origin=_vec(w, "canvas_origin_mm", 3, where),
        canvas_yaw=math.radians(float(_get(w, "canvas_yaw_deg", where, (int, float)))),
        canvas_size_mm=(float(size[0]), float(size[1])),
        pots_xy=pots,
        pot_radius_mm=_pos(w, "pot_radius_mm", where),
        pot_rim_mm=_pos(w, "pot_rim_mm", where),
        pot_dip_mm=_pos(w, "pot_dip_mm", where),
        wash_xy=_vec(w, "wash_xy_mm", 2, where),
        dip_length_mm=_pos(w, "dip_length_mm", where),
        dip_dwell_s=_pos(w, "dip_dwell_s", where),
        wash_dwell_s=_pos(w, "wash_dwell_s", where),
    )
    home = _vec(doc, "home", chain.dof, where)
    home[chain.revolute] = np.radians(home[chain.revolute])
    if ((home < chain.lower) | (home > chain.upper)).any():
        raise ArmConfigError(f"{where}: home lies outside the joint limits")
    return ArmConfig(name=str(doc.get("name", source.stem)),
                     description=str(doc.get("description", "")), chain=chain, home=home,
                     motion=motion, brush=brush, workcell=workcell, source=source)


def transform(xyz: np.ndarray, rpy: np.ndarray) -> np.ndarray:
    """4×4 transform from a translation and roll-pitch-yaw (radians, R = Rz Ry Rx)."""
    cr, sr = math.cos(rpy[0]), math.sin(rpy[0])
    cp, sp = math.cos(rpy[1]), math.sin(rpy[1])
    cy, sy = math.cos(rpy[2]), math.sin(rpy[2])
    t = np.eye(4)
    t[:3, :3] = np.array([
        [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
        [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
        [-sp, cp * sr, cp * cr],
    ])
    t[:3, 3] = xyz
    return t


def _joint(doc: Any, where: str) -> Joint:
    if not isinstance(doc, dict):
        raise ArmConfigError(f"{where}: expected a table")
    kind = doc.get("type", "revolute")
    if kind not in ("revolute", "prismatic"):
        raise ArmConfigError(f"{where}: type must be 'revolute' or 'prismatic', got {kind!r}")
    lo, hi = _vec(doc, "limits", 2, where)
    if not lo < hi:
        raise ArmConfigError(f"{where}: limits must be [lower, upper] with lower < upper")
    speed = _pos(doc, "max_speed", where)
    if kind == "revolute":
        lo, hi, speed = math.radians(lo), math.radians(hi), math.radians(speed)
    return Joint(
        name=str(doc.get("name", where)),
        kind=kind,
        a=float(_get(doc, "a_mm", where, (int, float))),
        alpha=math.radians(float(_get(doc, "alpha_deg", where, (int, float)))),
        d=float(_get(doc, "d_mm", where, (int, float))),
        offset=(math.radians(float(doc.get("offset_deg", 0.0))) if kind == "revolute"
                else math.radians(float(doc.get("theta_deg", 0.0)))),
        lower=lo, upper=hi, max_speed=speed,
    )


def _get(doc: dict[str, Any], key: str, where: str, kind: type | tuple[type, ...]) -> Any:
    if key not in doc:
        raise ArmConfigError(f"{where}: missing key {key!r}")
    value = doc[key]
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ArmConfigError(f"{where}: {key} has the wrong type ({type(value).__name__})")
    return value


def _pos(doc: dict[str, Any], key: str, where: str) -> float:
    value = float(_get(doc, key, where, (int, float)))
    if not (math.isfinite(value) and value > 0):
        raise ArmConfigError(f"{where}: {key} must be a positive number, got {value}")
    return value


def _vec(doc: dict[str, Any], key: str, n: int, where: str) -> np.ndarray:
    value = _get(doc, key, where, list)
    if len(value) != n or not all(isinstance(v, int | float) and not isinstance(v, bool)
                                  for v in value):
        raise ArmConfigError(f"{where}: {key} must be a list of {n} numbers")
    return np.asarray(value, dtype=float)
