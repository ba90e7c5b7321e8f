"""The token-economy strategies inside the simulator: robots with their own accounts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from swarm_sim.config import ByzantineSpec, LedgerSpec, Scenario, Timing
from swarm_sim.experiments import Sweep, execute
from swarm_sim.ledger import open_backend
from swarm_sim.rng import run_seed
from swarm_sim.simulation import simulate, simulate_batch

# Short phases and a small swarm, so that robots vote, get audited and decide within a minute.
QUICK = Timing(explore_mean_s=2, dissemination_g_s=2, dissemination_min_ticks=5, listen_ticks=5,
               comm_range_m=0.5)
SMALL = Scenario(robots=12, strategy="token", timing=QUICK, max_time_s=60,
                 byzantine=ByzantineSpec(count=4), ledger=LedgerSpec(unanimity=6))


def test_liars_are_flagged_and_slashed_and_no_honest_robot_is() -> None:
    results = simulate_batch([SMALL] * 3, [run_seed(4, i) for i in range(3)], [0, 1, 2])
    assert sum(r.flagged_byzantine for r in results) >= 6  # audits catch most of the 12 liars
    assert all(r.flagged_honest == 0 for r in results)
    assert all(r.accepted_votes > 0 for r in results)
    for r in results:
        # Flagged liars lose everything; honest robots keep at least what they brought.
        assert r.byzantine_tokens < 1.0 and r.honest_tokens >= 1.0
        assert r.strategy == "token-dmvd" and 1 <= len(r.error_curve.split(";")) <= 10


def test_sybil_identities_share_one_budget() -> None:
    scenario = dataclasses.replace(
        SMALL, strategy="token-estimate",
        byzantine=ByzantineSpec(count=4, behaviour="sybil", sybil_identities=5))
    result = simulate(scenario, run_seed(5, 0))
    assert result.accepted_votes > 0 and 0 <= result.abs_error <= 1
    # The bond equals the deposit, so a split budget pays for one identity only: a liar's
    # tokens are what one identity brought, lost while it votes far from the centre.
    assert result.byzantine_tokens < result.honest_tokens


def test_robots_sign_their_own_votes_on_a_web3_chain() -> None:
    chain = open_backend("embedded")
    try:
        scenario = dataclasses.replace(SMALL, robots=5, byzantine=ByzantineSpec(count=1),
                                       max_time_s=15)
        result = simulate(scenario, run_seed(6, 0), backend=chain)
        robot_keys = chain.signers[10:]  # the dev accounts come first
    finally:
        chain.close()
    assert len(robot_keys) == 5
    assert result.accepted_votes > 0


def test_one_cell_of_a_sweep_reruns_exactly_on_its_own() -> None:
    base = Scenario(robots=10, timing=QUICK, max_time_s=40)
    full = execute(Sweep(base=base, strategies=("dmvd", "token-dmvd"), byzantine=(0, 3),
                         seeds=3, base_seed=9), workers=1, progress=False)
    cell = execute(Sweep(base=base, strategies=("token-dmvd",), byzantine=(3,), seeds=3,
                         base_seed=9), workers=1, progress=False)
    mine = full[(full["strategy"] == "token-dmvd") & (full["byzantine"] == 3)]
    columns = [c for c in full.columns if c not in ("run_index", "simulated_s")]
    pd.testing.assert_frame_equal(mine[columns].reset_index(drop=True),
                                  cell[columns].reset_index(drop=True))
    assert np.isfinite(cell["honest_tokens"]).all()
