"""Forward and inverse kinematics of DH chains, vectorised over batches of poses.

- `fk`: joint vectors (..., n) -> tool-tip poses (..., 4, 4) in the base frame.
- `ik_analytic_candidates`: the (up to) 8 closed-form solutions of a 6-axis arm with a
  spherical wrist (2 shoulder x 2 elbow x 2 wrist branches).
- `ik_dls`: damped-least-squares (Levenberg–Marquardt) solver for any chain. Its task is
  the full pose; for a 4-axis SCARA the brush axis is pointing down by construction, so
  the reachable task is position + yaw and the orientation error stays a plain angle.
- `solve_ik` / `solve_path`: one pose or a path of poses, choosing, among the in-limit
  solutions, the one closest to the previous joint state (continuity: no wrist flips).

Nothing is clamped silently: a pose out of reach raises `UnreachableError`, one that
needs a joint beyond its limits `JointLimitError`, a path that would flip a joint between
neighbouring waypoints `ContinuityError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

import numpy as np

from robot.arm_model import Chain
from robot.errors import ContinuityError, JointLimitError, UnreachableError

TWO_PI = 2.0 * np.pi
# How far solvers must converge; well under the 0.01 mm / 0.01° the robot needs.
POS_TOL_MM = 1e-6
ANG_TOL_RAD = 1e-9
# Length (mm) that makes one radian of orientation error weigh like a millimetre.
ORIENTATION_WEIGHT_MM = 200.0
# Iterations after which a DLS start that has not converged counts as stuck.
STALL_ITERATIONS = 25


# ---------------------------------------------------------------- forward kinematics


def _dh(theta: np.ndarray, d: np.ndarray, a: float, alpha: float) -> np.ndarray:
    """Batched DH transforms Rz(theta) Tz(d) Tx(a) Rx(alpha); theta, d of shape (...)."""
    ct, st = np.cos(theta), np.sin(theta)
    ca, sa = np.cos(alpha), np.sin(alpha)
    t = np.zeros(theta.shape + (4, 4))
    t[..., 0, 0], t[..., 0, 1], t[..., 0, 2], t[..., 0, 3] = ct, -st * ca, st * sa, a * ct
    t[..., 1, 0], t[..., 1, 1], t[..., 1, 2], t[..., 1, 3] = st, ct * ca, -ct * sa, a * st
    t[..., 2, 1], t[..., 2, 2], t[..., 2, 3] = sa, ca, d
    t[..., 3, 3] = 1.0
    return t


def joint_transforms(chain: Chain, q: np.ndarray) -> list[np.ndarray]:
    """Per-joint link transforms for joint vectors q (..., n)."""
    out = []
    for i, j in enumerate(chain.joints):
        qi = q[..., i]
        if j.kind == "revolute":
            out.append(_dh(qi + j.offset, np.full_like(qi, j.d), j.a, j.alpha))
        else:
            out.append(_dh(np.full_like(qi, j.offset), j.d + qi, j.a, j.alpha))
    return out


def fk_frames(chain: Chain, q: np.ndarray) -> np.ndarray:
    """Frames 0..n in the base frame (frame 0 = base) plus the tool tip: (..., n + 2, 4, 4)."""
    q = np.asarray(q, dtype=float)
    frames = [np.broadcast_to(chain.base, q.shape[:-1] + (4, 4))]
    for t in joint_transforms(chain, q):
        frames.append(frames[-1] @ t)
    frames.append(frames[-1] @ chain.tool)
    return np.stack(frames, axis=-3)


def fk(chain: Chain, q: np.ndarray) -> np.ndarray:
    """Tool-tip pose(s) in the base frame for joint vector(s) q of shape (..., n)."""
    q = np.asarray(q, dtype=float)
    if q.shape[-1] != chain.dof:
        raise ValueError(f"expected {chain.dof} joint values, got shape {q.shape}")
    t = np.broadcast_to(chain.base, q.shape[:-1] + (4, 4))
    for link in joint_transforms(chain, q):
        t = t @ link
    return t @ chain.tool


def jacobian(chain: Chain, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Geometric Jacobian (..., 6, n) at the tool tip (base frame) and the tip pose."""
    frames = fk_frames(chain, q)
    tip = frames[..., -1, :, :]
    p = tip[..., :3, 3]
    cols = []
    for i, j in enumerate(chain.joints):
        z = frames[..., i, :3, 2]
        if j.kind == "revolute":
            cols.append(np.concatenate([np.cross(z, p - frames[..., i, :3, 3]), z], axis=-1))
        else:
            cols.append(np.concatenate([z, np.zeros_like(z)], axis=-1))
    return np.stack(cols, axis=-1), tip


# ---------------------------------------------------------------- pose algebra


def rotation_log(r: np.ndarray) -> np.ndarray:
    """Axis-angle vectors (..., 3) of rotation matrices (..., 3, 3), accurate near 0 and pi."""
    vee = 0.5 * np.stack([r[..., 2, 1] - r[..., 1, 2], r[..., 0, 2] - r[..., 2, 0],
                          r[..., 1, 0] - r[..., 0, 1]], axis=-1)
    s = np.linalg.norm(vee, axis=-1)
    c = 0.5 * (np.trace(r, axis1=-2, axis2=-1) - 1.0)
    angle = np.arctan2(s, c)
    small = s > 1e-12
    axis = np.where(small[..., None], vee / np.where(small, s, 1.0)[..., None], 0.0)
    # Near pi the antisymmetric part vanishes; take the axis from the symmetric part.
    near_pi = (c < -0.99) & (s < 1e-3)
    if np.any(near_pi):
        sym = 0.5 * (r[near_pi] + np.swapaxes(r[near_pi], -1, -2)) + np.eye(3)
        col = np.argmax(np.linalg.norm(sym, axis=-2), axis=-1)
        ax = np.take_along_axis(sym, col[:, None, None], axis=-1)[..., 0]
        ax /= np.linalg.norm(ax, axis=-1, keepdims=True)
        ax *= np.where(np.sum(ax * vee[near_pi], axis=-1) < 0, -1.0, 1.0)[:, None]
        axis[near_pi] = ax
    return axis * angle[..., None]


def pose_error(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position error (mm) and orientation error (rad, geodesic angle) between poses."""
    dp = np.linalg.norm(a[..., :3, 3] - b[..., :3, 3], axis=-1)
    rel = np.swapaxes(a[..., :3, :3], -1, -2) @ b[..., :3, :3]
    return dp, np.linalg.norm(rotation_log(rel), axis=-1)


# ---------------------------------------------------------------- limits and branches


def limit_violations(chain: Chain, q: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """Boolean (..., n): which joints lie outside their limits."""
    return (q < chain.lower - tol) | (q > chain.upper + tol)


def check_joint_limits(chain: Chain, q: np.ndarray) -> None:
    """Raise `JointLimitError` naming the first waypoint and joint outside its range."""
    bad = limit_violations(chain, np.atleast_2d(q))
    if bad.any():
        k, i = np.argwhere(bad)[0]
        j = chain.joints[i]
        unit = (np.degrees, "°") if j.kind == "revolute" else (float, " mm")
        raise JointLimitError(
            f"waypoint {k}: joint {j.name} = {unit[0](np.atleast_2d(q)[k, i]):.3f}{unit[1]} "
            f"outside [{unit[0](j.lower):.1f}, {unit[0](j.upper):.1f}]{unit[1]}"
        )


def wrap_near(chain: Chain, q: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Shift revolute angles by multiples of 2π to the in-limit value nearest `ref`.

    Joints with no in-limit equivalent keep their nearest-to-`ref` value (and fail a
    later limit check)."""
    shifts = TWO_PI * np.arange(-2, 3)
    cand = q[..., None] + np.where(chain.revolute[:, None], shifts, 0.0)
    inside = (cand >= chain.lower[:, None] - 1e-9) & (cand <= chain.upper[:, None] + 1e-9)
    dist = np.abs(cand - np.asarray(ref)[..., None]) + np.where(inside, 0.0, 1e6)
    return np.take_along_axis(cand, np.argmin(dist, axis=-1)[..., None], axis=-1)[..., 0]


def joint_distance(chain: Chain, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Largest joint move between a and b (rad; prismatic mm count as mm/100)."""
    scale = np.where(chain.revolute, 1.0, 0.01)
    return np.max(np.abs(a - b) * scale, axis=-1)


# ---------------------------------------------------------------- analytic IK


def ik_analytic_candidates(chain: Chain, poses: np.ndarray,
                           q_ref: np.ndarray | None = None) -> np.ndarray:
    """All 8 closed-form solutions (N, 8, 6) for poses (N, 4, 4); NaN rows: no solution.

    Requires `chain.has_spherical_wrist()`. At the wrist singularity (q5 = 0) and the
    shoulder singularity (wrist centre on axis 1) the free angle is taken from `q_ref`.
    """
    if not chain.has_spherical_wrist():
        raise ValueError("analytic IK needs a 6-axis chain with a spherical wrist")
    poses = np.asarray(poses, dtype=float).reshape(-1, 4, 4)
    n = len(poses)
    q_ref = np.zeros((n, 6)) if q_ref is None else np.broadcast_to(q_ref, (n, 6))
    j = chain.joints
    flange = np.linalg.inv(chain.base) @ poses @ np.linalg.inv(chain.tool)
    w = flange[:, :3, 3] - j[5].d * flange[:, :3, 2]
    s1 = np.sign(np.sin(j[0].alpha))
    d_off = j[1].d + j[2].d
    rho = np.hypot(w[:, 0], w[:, 1])
    phi = np.where(rho > 1e-9, np.arctan2(w[:, 1], w[:, 0]), q_ref[:, 0] + j[0].offset)
    k = -d_off * s1 / np.maximum(rho, 1e-12)
    shoulder_ok = np.abs(k) <= 1.0
    asin_k = np.arcsin(np.clip(k, -1.0, 1.0))
    th1 = np.stack([phi - asin_k, phi - np.pi + asin_k], axis=1)  # (N, 2)

    c1, s1_ = np.cos(th1), np.sin(th1)
    big_x = c1 * w[:, None, 0] + s1_ * w[:, None, 1] - j[0].a
    big_y = s1 * (w[:, None, 2] - j[0].d) * np.ones_like(th1)
    a2 = j[1].a
    v = np.array([j[2].a, -j[3].d * np.sin(j[2].alpha)])
    link = float(np.hypot(*v))
    beta = float(np.arctan2(v[1], v[0]))
    cos_g = (big_x**2 + big_y**2 - a2**2 - link**2) / (2.0 * a2 * link)
    elbow_ok = np.abs(cos_g) <= 1.0 + 1e-12
    g = np.arccos(np.clip(cos_g, -1.0, 1.0))
    gam = np.stack([g, -g], axis=2)  # (N, 2, 2)
    th2 = np.arctan2(big_y, big_x)[..., None] - np.arctan2(link * np.sin(gam),
                                                           a2 + link * np.cos(gam))
    th3 = gam - beta
    th1 = np.broadcast_to(th1[..., None], th2.shape)

    q123 = np.stack([th1 - j[0].offset, th2 - j[1].offset, th3 - j[2].offset], axis=-1)
    r03 = np.broadcast_to(np.eye(3), q123.shape[:-1] + (3, 3))
    for t in joint_transforms(_sub_chain(chain, 3), q123):
        r03 = r03 @ t[..., :3, :3]
    m = np.swapaxes(r03, -1, -2) @ flange[:, None, None, :3, :3]
    s4 = np.sign(np.sin(j[3].alpha))
    s5 = np.sign(np.sin(j[4].alpha))
    c5 = np.clip(-s4 * s5 * m[..., 2, 2], -1.0, 1.0)
    sin5 = np.sqrt(1.0 - c5**2)
    ref4 = q_ref[:, None, None, 3] + j[3].offset
    sols = []
    for sign in (1.0, -1.0):
        th5 = np.arctan2(sign * sin5, c5)
        singular = np.hypot(m[..., 0, 2], m[..., 1, 2]) < 1e-10
        th4 = np.where(singular, ref4,
                       np.arctan2(sign * s5 * m[..., 1, 2], sign * s5 * m[..., 0, 2]))
        a4 = _dh(th4, np.zeros_like(th4), 0.0, j[3].alpha)[..., :3, :3]
        a5 = _dh(th5, np.zeros_like(th5), 0.0, j[4].alpha)[..., :3, :3]
        rest = np.swapaxes(a4 @ a5, -1, -2) @ m
        th6 = np.arctan2(rest[..., 1, 0], rest[..., 0, 0])
        sols.append(np.stack([th4 - j[3].offset, th5 - j[4].offset, th6 - j[5].offset], -1))
    q = np.concatenate([np.stack([q123, q123], axis=3), np.stack(sols, axis=3)], axis=-1)
    ok = (shoulder_ok[:, None] & elbow_ok)[..., None, None, None]
    q = np.where(ok, q, np.nan).reshape(n, 8, 6)
    return (q + np.pi) % TWO_PI - np.pi


def _sub_chain(chain: Chain, k: int) -> Chain:
    return Chain(joints=chain.joints[:k], base=np.eye(4), tool=np.eye(4))


# ---------------------------------------------------------------- numeric IK


@dataclass(frozen=True)
class DlsResult:
    """Solutions (N, n), whether each converged, and the residual errors."""

    q: np.ndarray
    converged: np.ndarray
    pos_err_mm: np.ndarray
    ang_err_rad: np.ndarray


def _task_error(tip: np.ndarray, target: np.ndarray) -> np.ndarray:
    ep = target[..., :3, 3] - tip[..., :3, 3]
    eo = rotation_log(target[..., :3, :3] @ np.swapaxes(tip[..., :3, :3], -1, -2))
    return np.concatenate([ep, ORIENTATION_WEIGHT_MM * eo], axis=-1)


def ik_dls(chain: Chain, poses: np.ndarray, seeds: np.ndarray, *, bounded: bool = True,
           max_iter: int = 100, restarts: int = 0,
           rng: np.random.Generator | None = None) -> DlsResult:
    """Damped least squares from `seeds` (N, n) towards `poses` (N, 4, 4), in one batch.

    Levenberg–Marquardt damping per pose: a step that lowers the error is kept and the
    damping shrinks, otherwise it grows. With `bounded`, iterates are projected into the
    joint limits (the final solution is checked, never clamped after the fact). A pose
    whose damping blows up (a local minimum, often at a limit) is restarted from a random
    in-limit seed, up to `restarts` times, within the same `max_iter` iterations.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    poses = np.asarray(poses, dtype=float).reshape(-1, 4, 4)
    n = len(poses)
    q = np.array(np.broadcast_to(seeds, (n, chain.dof)), dtype=float)
    lo, hi = (chain.lower, chain.upper) if bounded else (-np.inf, np.inf)
    q = np.clip(q, lo, hi)
    jac, tip = jacobian(chain, q)
    err = _task_error(tip, poses)
    cost = np.sum(err**2, axis=-1)
    mu = np.full(n, 1e-3)
    left = np.full(n, restarts)
    age = np.zeros(n, dtype=int)
    eye = np.eye(chain.dof)
    dp, da = pose_error(tip, poses)
    done = (dp < POS_TOL_MM) & (da < ANG_TOL_RAD)
    for _ in range(max_iter):
        stuck = ~done & ((mu > 1e4) | (age > STALL_ITERATIONS)) & (left > 0)
        if stuck.any():
            idx = np.flatnonzero(stuck)
            q[idx] = rng.uniform(chain.lower, chain.upper, size=(len(idx), chain.dof))
            jac[idx], tip[idx] = jacobian(chain, q[idx])
            err[idx] = _task_error(tip[idx], poses[idx])
            cost[idx] = np.sum(err[idx] ** 2, axis=-1)
            mu[idx], left[idx], age[idx] = 1e-3, left[idx] - 1, 0
        idx = np.flatnonzero(~done & (mu < 1e8))
        if not len(idx):
            break
        age[idx] += 1
        js = jac[idx].copy()
        js[:, 3:] *= ORIENTATION_WEIGHT_MM
        jt = np.swapaxes(js, -1, -2)
        jtj = jt @ js
        scale = np.trace(jtj, axis1=-2, axis2=-1) / chain.dof
        lhs = jtj + (mu[idx] * scale)[:, None, None] * eye
        dq = np.linalg.solve(lhs, (jt @ err[idx][..., None]))[..., 0]
        q_new = np.clip(q[idx] + dq, lo, hi)
        jac_new, tip_new = jacobian(chain, q_new)
        err_new = _task_error(tip_new, poses[idx])
        cost_new = np.sum(err_new**2, axis=-1)
        better = cost_new < cost[idx]
        take = idx[better]
        q[take], jac[take], tip[take] = q_new[better], jac_new[better], tip_new[better]
        err[take], cost[take] = err_new[better], cost_new[better]
        mu[idx] = np.where(better, np.maximum(mu[idx] / 4.0, 1e-12), mu[idx] * 8.0)
        dp[take], da[take] = pose_error(tip_new[better], poses[take])
        done[take] = (dp[take] < POS_TOL_MM) & (da[take] < ANG_TOL_RAD)
    dp, da = pose_error(tip, poses)
    ok = (dp < POS_TOL_MM * 10) & (da < ANG_TOL_RAD * 10)
    return DlsResult(q=q, converged=ok, pos_err_mm=dp, ang_err_rad=da)


# ---------------------------------------------------------------- one pose, a path


def _describe(pose: np.ndarray) -> str:
    x, y, z = pose[:3, 3]
    return f"({x:.1f}, {y:.1f}, {z:.1f}) mm"


def select_closest(chain: Chain, candidates: np.ndarray,
                   q_prev: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Among candidates (N, B, n) pick, per row, the in-limit one nearest `q_prev` (N, n).

    Returns (q (N, n), branch index (N,), found (N,), any_geometric (N,)); rows without
    an in-limit candidate have found False (NaN q)."""
    geometric = ~np.isnan(candidates).any(axis=-1)
    prev = np.broadcast_to(q_prev, (candidates.shape[0], chain.dof))[:, None, :]
    wrapped = wrap_near(chain, np.nan_to_num(candidates), prev)
    inside = geometric & ~limit_violations(chain, wrapped).any(axis=-1)
    dist = np.where(inside, joint_distance(chain, wrapped, prev), np.inf)
    best = np.argmin(dist, axis=1)
    q = np.take_along_axis(wrapped, best[:, None, None], axis=1)[:, 0]
    found = inside.any(axis=1)
    return np.where(found[:, None], q, np.nan), best, found, geometric.any(axis=1)


def _limit_message(chain: Chain, candidates: np.ndarray, q_prev: np.ndarray) -> str:
    wrapped = wrap_near(chain, candidates, q_prev)
    bad = limit_violations(chain, wrapped)
    names = sorted({chain.joints[i].name for i in np.argwhere(bad)[:, -1]})
    return ", ".join(names)


def solve_ik(chain: Chain, pose: np.ndarray, q_prev: np.ndarray) -> np.ndarray:
    """Joint vector reaching `pose`, the in-limit solution nearest `q_prev`.

    Uses the analytic solver for spherical-wrist 6-axis arms and DLS otherwise."""
    return solve_path(chain, np.asarray(pose)[None], q_prev, check_continuity=False)[0]


def solve_path(chain: Chain, poses: np.ndarray, q_start: np.ndarray,
               check_continuity: bool = True, max_step: float = np.radians(20.0)) -> np.ndarray:
    """Joint vectors (N, n) for a path of poses (N, 4, 4), each nearest its predecessor.

    Raises `UnreachableError`/`JointLimitError` naming the first failing waypoint, and
    (with `check_continuity`) `ContinuityError` where neighbours differ by > `max_step`."""
    poses = np.asarray(poses, dtype=float).reshape(-1, 4, 4)
    q_start = np.asarray(q_start, dtype=float)
    if chain.has_spherical_wrist():
        q = _path_analytic(chain, poses, q_start)
    else:
        q = _path_dls(chain, poses, q_start, max_step)
    if check_continuity and len(q):
        steps = joint_distance(chain, q, np.vstack([q_start[None], q[:-1]]))
        jump = np.flatnonzero(steps > max_step)
        if len(jump):
            k = int(jump[0])
            raise ContinuityError(
                f"waypoint {k} at {_describe(poses[k])}: joints would jump "
                f"{np.degrees(steps[k]):.1f}° (> {np.degrees(max_step):.1f}°) from the "
                "previous waypoint (a wrist/elbow flip); add waypoints or move the canvas"
            )
    return q


def _path_analytic(chain: Chain, poses: np.ndarray, q_start: np.ndarray) -> np.ndarray:
    """Follow, waypoint by waypoint, the branch nearest the previous one.

    Fast path: the branch choice only needs, per waypoint, which candidate is nearest
    each candidate of the waypoint before (an (N, 8, 8) table, computed at once); the
    angles are then unwrapped along the chosen branches. Where that leaves a joint
    limit, or at a wrist singularity, the exact waypoint-by-waypoint choice decides."""
    cands = ik_analytic_candidates(chain, poses, q_ref=q_start)
    valid = ~np.isnan(cands).any(axis=-1)
    off5 = chain.joints[4].offset
    singular = (np.abs(np.sin(np.where(valid, cands[..., 4], 1.0) + off5)) < 1e-9).any()
    q0, branch, found, _ = select_closest(chain, cands[:1], q_start)
    if found[0] and not singular:
        diff = cands[1:, None, :, :] - cands[:-1, :, None, :]  # (N-1, from, to, n)
        diff = np.where(chain.revolute, (diff + np.pi) % TWO_PI - np.pi, diff)
        dist = np.nan_to_num(joint_distance(chain, diff, np.zeros(chain.dof)), nan=np.inf)
        dist = np.where(_wrappable(chain, cands[1:])[:, None, :], dist, np.inf)
        nearest = np.argmin(dist, axis=2)  # (N-1, from)
        path_branch = np.empty(len(poses), dtype=np.int64)
        b = path_branch[0] = int(branch[0])
        for k, row in enumerate(nearest.tolist(), start=1):
            b = path_branch[k] = row[b]
        q = cands[np.arange(len(poses)), path_branch]
        q[0] = q0[0]
        rev = chain.revolute
        q[:, rev] = np.unwrap(q[:, rev], axis=0)
        if not np.isnan(q).any() and not limit_violations(chain, q).any():
            return q
    return _path_analytic_exact(chain, poses, q_start, cands, valid)


def _wrappable(chain: Chain, cands: np.ndarray) -> np.ndarray:
    """Candidates (..., n) that some 2π turn of each revolute joint puts inside the limits."""
    turns = np.where(chain.revolute[:, None], TWO_PI * np.arange(-2, 3), 0.0)
    alts = np.nan_to_num(cands, nan=np.inf)[..., None] + turns
    ok = (alts >= chain.lower[:, None] - 1e-9) & (alts <= chain.upper[:, None] + 1e-9)
    return ok.any(axis=-1).all(axis=-1)


def _path_analytic_exact(chain: Chain, poses: np.ndarray, q_start: np.ndarray,
                         cands: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Waypoint by waypoint, the in-limit branch (and 2π turn) nearest the previous one."""
    lo, hi = chain.lower[:, None] - 1e-9, chain.upper[:, None] + 1e-9
    turns = np.where(chain.revolute[:, None], TWO_PI * np.array([0.0, -1.0, 1.0]), 0.0)
    off5 = chain.joints[4].offset
    out = np.empty((len(poses), chain.dof))
    prev = q_start
    for k in range(len(poses)):
        c = cands[k]
        if (np.abs(np.sin(c[valid[k], 4] + off5)) < 1e-9).any():
            # Wrist singular: the free wrist angle comes from the previous waypoint.
            c = ik_analytic_candidates(chain, poses[k], q_ref=prev)[0]
        near = c + np.where(chain.revolute, TWO_PI * np.round((prev - c) / TWO_PI), 0.0)
        alts = near[..., None] + turns  # (8, n, 3)
        cost = np.abs(alts - prev[:, None]) + np.where((alts >= lo) & (alts <= hi), 0.0, 1e6)
        pick = np.argmin(cost, axis=-1)
        q = np.take_along_axis(alts, pick[..., None], axis=-1)[..., 0]
        inside = valid[k] & (np.min(cost, axis=-1) < 1e6).all(axis=-1)
        if not inside.any():
            _raise_unsolved(chain, poses[k], k, bool(valid[k].any()), c, prev)
        dist = np.where(inside, joint_distance(chain, q, prev), np.inf)
        out[k] = prev = q[np.argmin(dist)]
    return out


def _path_dls(chain: Chain, poses: np.ndarray, q_start: np.ndarray,
              max_step: float) -> np.ndarray:
    """Solve in chunks seeded by the last solution; re-seed stragglers one by one."""
    out = np.empty((len(poses), chain.dof))
    prev = q_start
    chunk = 32
    for s in range(0, len(poses), chunk):
        part = poses[s : s + chunk]
        res = ik_dls(chain, part, prev)
        q = wrap_near(chain, res.q, prev)
        steps = joint_distance(chain, q, np.vstack([prev[None], q[:-1]]))
        if not res.converged.all() or (steps > max_step).any():
            q = np.empty_like(q)
            for i, pose in enumerate(part):
                q[i] = prev = _dls_one(chain, pose, prev, s + i)
        out[s : s + len(part)] = q
        prev = q[-1]
    return out


def _dls_one(chain: Chain, pose: np.ndarray, prev: np.ndarray, k: int) -> np.ndarray:
    res = ik_dls(chain, pose[None], prev[None], max_iter=300, restarts=20)
    if res.converged[0]:
        return wrap_near(chain, res.q[0], prev)
    free = ik_dls(chain, pose[None], prev[None], bounded=False, max_iter=200)
    if not free.converged[0]:
        free = ik_dls(chain, pose[None], prev[None], bounded=False, max_iter=300, restarts=20)
    _raise_unsolved(chain, pose, k, bool(free.converged[0]), free.q, prev,
                    residual=(float(res.pos_err_mm[0]), float(res.ang_err_rad[0])))


def _raise_unsolved(chain: Chain, pose: np.ndarray, k: int, geometric: bool,
                    candidates: np.ndarray, prev: np.ndarray,
                    residual: tuple[float, float] | None = None) -> NoReturn:
    if geometric:
        cands = candidates[~np.isnan(candidates).any(axis=-1)]
        raise JointLimitError(
            f"waypoint {k} at {_describe(pose)}: reachable only with joint(s) "
            f"{_limit_message(chain, cands, prev)} beyond their limits"
        )
    extra = ""
    if residual is not None:
        extra = f" (best: {residual[0]:.3f} mm, {np.degrees(residual[1]):.3f}° off)"
    raise UnreachableError(f"waypoint {k} at {_describe(pose)} is outside the arm's "
                           f"workspace{extra}")
