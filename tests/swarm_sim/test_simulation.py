"""Determinism, batch independence, spatial hashing and the decision rules."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from swarm_sim import ledger, rng, robots, simulation
from swarm_sim.config import ByzantineSpec, Scenario, Timing
from swarm_sim.rng import run_seed
from swarm_sim.robots import Grid, neighbour_pairs, new_swarm
from swarm_sim.simulation import simulate, simulate_batch
from swarm_sim.strategies import direct_comparison, majority, voter_model, wmsr
from tests.swarm_sim.helpers import same

SHORT = Scenario(robots=20, strategy="dmmd", byzantine=ByzantineSpec(count=3), max_time_s=80)
QUICK = Timing(explore_mean_s=2, dissemination_g_s=2, dissemination_min_ticks=5, listen_ticks=5,
               comm_range_m=0.5)


def test_same_seed_same_run_and_other_seed_other_run() -> None:
    a = simulate(SHORT, seed=run_seed(7, 0))
    b = simulate(SHORT, seed=run_seed(7, 0))
    c = simulate(SHORT, seed=run_seed(7, 1))
    assert same(a, b)
    assert a.digest != c.digest


@pytest.mark.parametrize("strategy", ["dmmd", "blockchain", "blockchain-estimate"])
def test_a_run_is_the_same_alone_or_inside_a_batch(strategy: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # Small set-up transactions: a batch then needs more of them than a run alone.
    monkeypatch.setattr(ledger, "REGISTRATIONS_PER_TX", 7)
    monkeypatch.setattr(ledger, "DEPOSITS_PER_TX", 7)
    # Fast phases, so that some runs decide early while their batch goes on.
    base = dataclasses.replace(SHORT, strategy=strategy, timing=QUICK, max_time_s=60)
    scenarios = [base.with_byzantine(k) for k in (0, 3, 6)]
    seeds = [run_seed(11, i) for i in range(3)]
    together = simulate_batch(scenarios, seeds, [0, 1, 2])
    alone = [simulate(sc, seed, i) for i, (sc, seed) in enumerate(zip(scenarios, seeds,
                                                                      strict=True))]
    for t, a in zip(together, alone, strict=True):
        assert same(t, a)


@pytest.mark.parametrize("behaviour", ["wrong", "gaussian", "jamming"])
def test_small_swarm_shortcuts_give_the_vectorised_results(behaviour: str,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    # Every-pair neighbours, the proximity table, one-by-one delivery, Python-int draws and
    # turns planned ahead against the general paths: the spatial hash, vectorised delivery
    # and draws, and turns planned one tick at a time.
    scenarios = [dataclasses.replace(SHORT, strategy=strategy, timing=QUICK, max_time_s=30,
                                     byzantine=ByzantineSpec(count=4, behaviour=behaviour))
                 for strategy in ("dmvd", "lcp")]
    seeds = [run_seed(13, i) for i in range(4)]

    def outcomes() -> list:
        return ([simulate(sc, seeds[0]) for sc in scenarios]
                + simulate_batch([scenarios[0]] * 3, seeds[1:], [1, 2, 3]))

    short = outcomes()
    for module, name, value in ((robots, "BRUTE_FORCE_PAIRS", 0), (robots, "FEW_MESSAGES", 0),
                                (robots, "PLAN_TICKS", 1), (rng, "_FEW", -1),
                                (simulation, "PROXIMITY_ROBOTS", 0)):
        monkeypatch.setattr(module, name, value)
    general = outcomes()
    assert all(same(a, b) for a, b in zip(short, general, strict=True))
    assert len({r.digest for r in short}) == len(short)  # the runs differ among themselves


@pytest.mark.parametrize("strategy", ["dmvd", "dc", "lcp", "wmsr"])
@pytest.mark.parametrize("behaviour", ["coin", "gaussian", "sybil", "jamming"])
def test_every_strategy_runs_with_every_kind_of_liar(strategy: str, behaviour: str) -> None:
    scenario = dataclasses.replace(
        SHORT, strategy=strategy, max_time_s=30,
        byzantine=ByzantineSpec(count=4, behaviour=behaviour, placement="cluster"))
    result = simulate(scenario, seed=run_seed(3, 0))
    assert result.byzantine == 4 and result.simulated_s > 0
    assert 0.0 <= result.abs_error <= 1.0


def test_spatial_hash_finds_exactly_the_brute_force_pairs() -> None:
    scenarios = [Scenario(robots=300)] * 3
    swarm = new_swarm(scenarios, [run_seed(5, i) for i in range(3)])
    rng = np.random.default_rng(0)
    receivers = np.sort(rng.choice(swarm.size, 200, replace=False))
    senders = np.sort(rng.choice(swarm.size, 500, replace=False))
    reach = 0.3
    grid = Grid.for_arena(scenarios[0].arena, reach)
    rec, snd = neighbour_pairs(grid, swarm, receivers, senders, reach)
    got = set(zip(rec.tolist(), snd.tolist(), strict=True))
    expected = {
        (int(i), int(j)) for i in receivers for j in senders
        if i != j and swarm.run_of[i] == swarm.run_of[j]
        and (swarm.x[i] - swarm.x[j]) ** 2 + (swarm.y[i] - swarm.y[j]) ** 2
        <= np.float32(reach * reach)
    }
    assert got == expected
    assert expected  # the check means something only if pairs exist


def test_decision_rules() -> None:
    own = np.array([0, 0, 1, 1, 0], dtype=np.int8)
    inbox = np.array([[1, 1], [1, 0], [0, 0], [1, 0], [0, 0]], dtype=np.float32)
    n = np.array([2, 2, 2, 1, 0])
    assert majority(own, inbox, n).tolist() == [1, 0, 0, 1, 0]
    u = np.array([0.1, 0.9, 0.1, 0.9, 0.5])
    assert voter_model(own, inbox, n, u).tolist() == [1, 0, 0, 1, 0]
    quality = np.array([0.5, 0.5, 0.5, 0.5, 0.5], dtype=np.float32)
    better = np.array([[0.9, 0.1], [0.1, 0.9], [0.1, 0.1], [0.9, 0.9], [1, 1]], dtype=np.float32)
    assert direct_comparison(own, quality, inbox, better, n, u).tolist() == [1, 0, 1, 1, 0]


def test_wmsr_trims_the_extremes_around_its_own_value() -> None:
    own = np.array([0.3], dtype=np.float32)
    inbox = np.array([[0.9, 0.31, 0.0, 0.29]], dtype=np.float32)
    assert wmsr(own, inbox, np.array([4]), f=1)[0] == pytest.approx(0.3, abs=1e-6)
    assert wmsr(own, inbox, np.array([4]), f=0)[0] == pytest.approx(np.mean([0.3, 0.9, 0.31,
                                                                              0.0, 0.29]))
