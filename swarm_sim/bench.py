"""Measurements behind `gaka swarm bench` and benchmarks/swarm.py (one JSON document)."""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

import numpy as np

from gaka.machine import machine_info
from services.chain.protocol import Chain
from swarm_sim.config import ByzantineSpec, Scenario, scaled_arena
from swarm_sim.ledger import DecisionLedger, open_backend
from swarm_sim.rng import run_seed
from swarm_sim.simulation import simulate_batch


def machine() -> dict[str, Any]:
    return machine_info(("numpy", "pyrevm", "web3", "py-evm", "eth-tester"))


def robot_ticks_per_s(robots: int, ticks: int, runs: int = 1, repeats: int = 3,
                      strategy: str = "dmmd") -> dict[str, Any]:
    """Median robot-ticks per second of a classical strategy; 20 % Byzantine robots keep the
    swarm from agreeing early, and the ticks actually simulated are the ones counted."""
    base = Scenario(robots=robots, strategy=strategy, arena=scaled_arena(robots),
                    byzantine=ByzantineSpec(count=robots // 5),
                    max_time_s=ticks / 10)
    rates = []
    for rep in range(repeats):
        seeds = [run_seed(rep, i) for i in range(runs)]
        start = time.perf_counter()
        results = simulate_batch([base] * runs, seeds, list(range(runs)))
        wall = time.perf_counter() - start
        simulated_ticks = results[0].simulated_s * base.timing.ticks_per_s
        rates.append(robots * runs * simulated_ticks / wall)
    return {"robots": robots, "runs_side_by_side": runs, "ticks": ticks,
            "robot_ticks_per_s": statistics.median(rates), "repeats": rates}


def _vote_workload(backend: Chain, robots: int, blocks: int, per_tx: int
                   ) -> tuple[float, int]:
    """Votes per second through SwarmDecision: `blocks` transactions of `per_tx` votes each."""
    ledger = DecisionLedger(backend, "dmmd", stable_depth=6, freshness=10**6, contingent=10**6)
    ids = np.arange(robots, dtype=np.int64)
    zeros = np.zeros(robots, dtype=np.int64)
    ledger.register([1], zeros, ids, (ids % 2).astype(np.uint8))
    empty = np.empty(0, dtype=np.int64)
    start = time.perf_counter()
    for b in range(blocks):
        who = (np.arange(per_tx) + b * per_tx) % robots
        ledger.step((empty, empty, empty),
                    (zeros[:per_tx], who, (who % 2).astype(np.uint8), np.full(per_tx, 30000)))
    wall = time.perf_counter() - start
    accepted = ledger.counters()["accepted"]
    if accepted != blocks * per_tx:
        raise RuntimeError(f"only {accepted} of {blocks * per_tx} votes were accepted")
    return blocks * per_tx / wall, accepted


def contract_votes_per_s(quick: bool) -> dict[str, Any]:
    """Same contract, same votes: the in-process revm chain vs the embedded py-evm chain."""
    out: dict[str, Any] = {}
    # 400 votes keep a transaction inside a 30M-gas block on the web3 chain.
    work = {"batched": (2000, 25 if quick else 100, 400), "one_vote_per_tx": (50, 200, 1)}
    web3_work = {"batched": (2000, 2, 400), "one_vote_per_tx": (50, 10 if quick else 30, 1)}
    for mode in work:
        rates: dict[str, list[float]] = {"revm": [], "web3_embedded": []}
        for _ in range(1 if quick else 3):
            rates["revm"].append(_vote_workload(open_backend("revm"), *work[mode])[0])
            chain = open_backend("embedded")
            try:
                rates["web3_embedded"].append(_vote_workload(chain, *web3_work[mode])[0])
            finally:
                chain.close()
        med = {k: statistics.median(v) for k, v in rates.items()}
        out[mode] = {
            "votes_per_tx": work[mode][2],
            "revm_votes_per_s": med["revm"],
            "web3_embedded_votes_per_s": med["web3_embedded"],
            "ratio_revm_over_web3": med["revm"] / med["web3_embedded"],
            "repeats": rates,
        }
    return out


def sweep_wall_time() -> dict[str, Any]:
    """Wall time of the whole AAMAS 2018 reproduction sweep (default workers)."""
    from swarm_sim.experiments import aamas2018, execute, summarise

    sweep = aamas2018()
    start = time.perf_counter()
    runs = execute(sweep, progress=False)
    wall = time.perf_counter() - start
    table = summarise(runs)
    exit_prob = {s: [round(v, 3) for v in g.sort_values("byzantine")["exit_probability"]]
                 for s, g in table.groupby("strategy")}
    return {"runs": sweep.runs, "wall_s": wall, "workers": min(os.cpu_count() or 1, 5),
            "exit_probability_by_byzantine_0_to_9": exit_prob}


def run_benchmarks(quick: bool = False, sweep: bool = True) -> dict[str, Any]:
    # Long enough that setting up the swarm (arena, placement) is a small part of the time.
    sizes = [(20, 3000, 1), (20, 3000, 450), (1000, 3000, 1), (10_000, 3000, 1)]
    if quick:
        sizes = [(r, min(t, 500), min(n, 45)) for r, t, n in sizes]
    ticks = [robot_ticks_per_s(r, t, n, repeats=1 if quick else 3) for r, t, n in sizes]
    report: dict[str, Any] = {
        "machine": machine(),
        "note": "2-core machine shared with other jobs while measuring: timings are noisy",
        "robot_ticks": ticks,
        "contract_votes": contract_votes_per_s(quick),
    }
    if sweep:
        report["aamas2018_sweep"] = sweep_wall_time()
    report["targets"] = {
        "robot_ticks_per_s_at_10000": 1e7, "revm_votes_per_s": 5e4, "sweep_wall_s": 300}
    return report

