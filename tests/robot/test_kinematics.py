"""Kinematics: FK∘IK round trips over 10,000 random poses per shipped arm, clear errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from robot.arm_model import load_arm, shipped_arms
from robot.errors import ArmConfigError, ContinuityError, JointLimitError, UnreachableError
from robot.kinematics import (
    fk,
    ik_analytic_candidates,
    ik_dls,
    jacobian,
    limit_violations,
    pose_error,
    solve_ik,
    solve_path,
    wrap_near,
)

POS_TOL = 0.01  # mm
ANG_TOL = math.radians(0.01)
N = 10_000


@pytest.fixture(scope="module")
def kuka():
    return load_arm("kuka_kr6_r900").chain


@pytest.fixture(scope="module")
def scara():
    return load_arm("desktop_scara4").chain


def _random_reachable(chain, n, seed):
    q = np.random.default_rng(seed).uniform(chain.lower, chain.upper, size=(n, chain.dof))
    return q, fk(chain, q)


def test_shipped_arms_load():
    assert {"kuka_kr6_r900", "desktop_scara4"} <= set(shipped_arms())
    assert load_arm("kuka_kr6_r900").chain.has_spherical_wrist()
    assert not load_arm("desktop_scara4").chain.has_spherical_wrist()


def test_unknown_arm_and_bad_config_are_clear(tmp_path):
    with pytest.raises(ArmConfigError, match="no arm config 'ur5'"):
        load_arm("ur5")
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[[joints]]\na_mm = 1.0\n')
    with pytest.raises(ArmConfigError, match=r"joints\[0\]: missing key 'limits'"):
        load_arm(bad)


def test_analytic_round_trip_10000_poses(kuka):
    q, poses = _random_reachable(kuka, N, seed=1)
    cands = ik_analytic_candidates(kuka, poses, q_ref=q)
    assert cands.shape == (N, 8, 6)
    valid = ~np.isnan(cands).any(axis=-1)
    dp, da = pose_error(fk(kuka, np.nan_to_num(cands)), poses[:, None])
    # Every branch the solver returns reaches the pose.
    assert dp[valid].max() < POS_TOL
    assert da[valid].max() < ANG_TOL
    # The joint vector the pose came from is among the branches (mod 2π).
    diff = np.abs((cands - q[:, None] + np.pi) % (2 * np.pi) - np.pi).max(axis=-1)
    assert (np.nanmin(diff, axis=1) < 1e-6).all()
    # Choosing the in-limit branch nearest another state still round-trips within limits.
    other = np.random.default_rng(2).uniform(kuka.lower, kuka.upper, size=(N, 6))
    wrapped = wrap_near(kuka, np.nan_to_num(cands), other[:, None])
    inside = valid & ~limit_violations(kuka, wrapped).any(axis=-1)
    assert inside.any(axis=1).all()


def test_dls_round_trip_10000_poses_desktop_arm(scara):
    """The 4-axis arm's task is position + yaw: its brush points down by construction,
    so the orientation error is the full geodesic angle between tool frames."""
    q, poses = _random_reachable(scara, N, seed=3)
    home = np.tile((scara.lower + scara.upper) / 2, (N, 1))
    res = ik_dls(scara, poses, home, max_iter=600, restarts=60)
    assert res.converged.all()
    assert not limit_violations(scara, res.q).any()
    dp, da = pose_error(fk(scara, res.q), poses)
    assert dp.max() < POS_TOL
    assert da.max() < ANG_TOL
    # The brush axis really is vertical: tool z = -Z of the base.
    assert np.allclose(fk(scara, res.q)[:, :3, 2], [0, 0, -1], atol=1e-12)


def test_dls_agrees_with_analytic_on_the_6_axis_arm(kuka):
    q, poses = _random_reachable(kuka, 2000, seed=4)
    seeds = q + np.random.default_rng(5).normal(0, 0.05, q.shape)
    res = ik_dls(kuka, poses, seeds, max_iter=200, restarts=20)
    assert res.converged.all()
    dp, da = pose_error(fk(kuka, res.q), poses)
    assert dp.max() < POS_TOL and da.max() < ANG_TOL


def test_jacobian_matches_finite_differences(kuka, scara):
    for chain in (kuka, scara):
        q = np.random.default_rng(6).uniform(chain.lower, chain.upper, size=chain.dof)
        jac, tip = jacobian(chain, q)
        h = 1e-6
        for i in range(chain.dof):
            dq = np.zeros(chain.dof)
            dq[i] = h
            t2 = fk(chain, q + dq)
            assert np.allclose((t2[:3, 3] - tip[:3, 3]) / h, jac[:3, i], atol=1e-3)
            omega = (t2[:3, :3] - tip[:3, :3]) / h @ tip[:3, :3].T
            assert np.allclose([omega[2, 1], omega[0, 2], omega[1, 0]], jac[3:, i], atol=1e-5)


def _down_pose(x, y, z):
    pose = np.eye(4)
    pose[:3, :3] = np.diag([1.0, -1.0, -1.0])
    pose[:3, 3] = (x, y, z)
    return pose


def test_out_of_reach_is_reported_not_clamped(kuka, scara):
    with pytest.raises(UnreachableError, match="outside the arm's workspace"):
        solve_ik(kuka, _down_pose(1500.0, 0.0, 300.0), np.zeros(6))
    with pytest.raises(UnreachableError, match="outside the arm's workspace"):
        solve_ik(scara, _down_pose(600.0, 0.0, 50.0), np.zeros(4) + [0, 0, 100, 0])
    tilted = _down_pose(300.0, 0.0, 50.0)
    tilted[:3, :3] = np.eye(3)  # brush pointing up: no SCARA can do that
    with pytest.raises(UnreachableError):
        solve_ik(scara, tilted, np.array([0.0, 0.0, 100.0, 0.0]))


def test_joint_limits_are_reported(kuka, scara):
    # Behind the SCARA: in reach of its links, but base joint J1 stops at ±85°.
    with pytest.raises(JointLimitError, match="J1"):
        solve_ik(scara, _down_pose(-300.0, 0.0, 50.0), np.array([0.0, 0.0, 100.0, 0.0]))
    # A wrist bend of 150° on the KUKA: every branch needs |A5| > 120°.
    q = np.radians([0.0, 60.0, 0.0, 0.0, 150.0, 0.0])
    pose = fk(kuka, q)
    cands = ik_analytic_candidates(kuka, pose)[0]
    cands = cands[~np.isnan(cands).any(axis=-1)]
    assert len(cands) and limit_violations(kuka, wrap_near(kuka, cands, q)).any(axis=-1).all()
    with pytest.raises(JointLimitError, match="beyond their limits"):
        solve_ik(kuka, pose, np.zeros(6))


def test_path_is_continuous_without_wrist_flips(kuka, scara):
    for chain, (x0, x1), z, start in (
        (kuka, (350.0, 750.0), 0.0, np.radians([0, 30, 30, 0, 60, 0])),
        (scara, (170.0, 350.0), 0.0, np.array([0.5, -1.0, 200.0, 0.0])),
    ):
        xs = np.linspace(x0, x1, 400)
        poses = np.stack([_down_pose(x, 0.3 * (x - x0) - 60, z) for x in xs])
        q = solve_path(chain, poses, solve_ik(chain, poses[0], start))
        dp, da = pose_error(fk(chain, q), poses)
        assert dp.max() < POS_TOL and da.max() < ANG_TOL
        # No flips: a wrist flip would turn A4 and A6 by ~180° between neighbours.
        steps = np.abs(np.diff(q, axis=0)).max(axis=0)
        assert steps[chain.revolute].max() < math.radians(3.0)


def test_a_jump_between_waypoints_is_a_continuity_error(kuka):
    poses = np.stack([_down_pose(400.0, -300.0, 0.0), _down_pose(400.0, 300.0, 0.0)])
    start = solve_ik(kuka, poses[0], np.radians([-35, 30, 30, 0, 60, 0]))
    with pytest.raises(ContinuityError, match="waypoint 1"):
        solve_path(kuka, poses, start)
