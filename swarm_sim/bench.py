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


def token_votes_per_s(quick: bool) -> dict[str, Any]:
    """SwarmTokenDecision on the in-process revm chain, every vote a transaction of its robot:
    a height's votes as one block (`execute_block`, what the simulator does), the same votes
    one transaction at a time, and the ceiling: the bare pyrevm message calls alone (no nonce,
    no result read), interleaved height by height so that load hits all three alike."""
    from services.chain.protocol import Call
    from swarm_sim.ledger import Robots, TokenDecisionLedger

    robots, heights = (100, 4) if quick else (200, 10)
    rates: dict[str, list[float]] = {"execute_block": [], "one_by_one": [], "bare_pyrevm": []}
    for _ in range(1 if quick else 3):
        chain = open_backend("revm")
        stake, bond = 10**12, 20 * 10**12
        ledger = TokenDecisionLedger(chain, "dmvd", stable_depth=6, reveal_delay=1,
                                     freshness=10**6, contingent=60000, unanimity=10**6,
                                     audit=0.0, audits=1, bond_wei=bond, stake_wei=stake)
        team = Robots(chain, Robots.keys(b"bench", robots))
        team.fund([bond + 10**4 * stake] * robots)
        ledger.open(1)
        for i, address in enumerate(team.addresses):
            ledger.contract.send(address, ledger.contract.data("register", [0, i % 2]),
                                 value=bond + 10**4 * stake)
        ledger.tick()
        ledger.tick()
        ledger.resolve(team.addresses)
        opinions = [i % 2 for i in range(robots)]
        to, evm = ledger.contract.address, getattr(chain, "evm", None)
        calls = [Call(a, to, ledger._vote[o]) for a, o in zip(team.addresses, opinions,
                                                              strict=True)]
        walls = dict.fromkeys(rates, 0.0)
        for _ in range(heights):
            ledger.tick()
            start = time.perf_counter()
            accepted = sum(ledger.votes(team.addresses, opinions))
            walls["execute_block"] += time.perf_counter() - start
            ledger.tick()
            start = time.perf_counter()
            accepted += sum(ledger.vote(a, o) for a, o in zip(team.addresses, opinions,
                                                              strict=True))
            walls["one_by_one"] += time.perf_counter() - start
            if accepted != 2 * robots:
                raise RuntimeError(f"only {accepted} of {2 * robots} votes were accepted")
            ledger.tick()
            start = time.perf_counter()
            for c in calls:
                evm.message_call(c.sender, c.to, c.data)
            walls["bare_pyrevm"] += time.perf_counter() - start
        for k, wall in walls.items():
            rates[k].append(robots * heights / wall)
    med = {k: statistics.median(v) for k, v in rates.items()}
    return {"votes_per_tx": 1, "robots": robots, "heights_per_path": heights,
            "revm_votes_per_s": med["execute_block"],
            "one_by_one_votes_per_s": med["one_by_one"],
            "bare_pyrevm_votes_per_s": med["bare_pyrevm"],
            "ratio_execute_block_over_one_by_one": med["execute_block"] / med["one_by_one"],
            "share_of_bare_pyrevm": med["execute_block"] / med["bare_pyrevm"],
            "repeats": rates}


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
        "token_contract_votes": token_votes_per_s(quick),
        "gas_per_vote": gas_per_vote(quick),
    }
    if sweep:
        report["aamas2018_sweep"] = sweep_wall_time()
    report["targets"] = {
        "robot_ticks_per_s_at_10000": 1e7, "revm_votes_per_s": 5e4, "sweep_wall_s": 300}
    return report



INTRINSIC_GAS = 21_000


def _gas_chain() -> Chain:
    """A revm chain whose gas equals a real node's (every transaction starts cold)."""
    from services.chain.backends import ChainSpec, open_chain

    return open_chain(ChainSpec("revm"))


def _old_decision_gas(votes: int, blocks: int) -> dict[str, float]:
    chain = _gas_chain()
    ledger = DecisionLedger(chain, "dmvd", stable_depth=6, freshness=10**6, contingent=10**6)
    ids = np.arange(votes, dtype=np.int64)
    zeros = np.zeros(votes, dtype=np.int64)
    ledger.register([1], zeros, ids, (ids % 2).astype(np.uint8))
    batched, single = [], []
    for _ in range(blocks):
        receipt = ledger.contract.transact("step", [b"", _pack_votes(zeros, ids)])
        batched.append(receipt["gasUsed"] / votes)
    for b in range(blocks):
        who = ids[b:b + 1]
        receipt = ledger.contract.transact("step", [b"", _pack_votes(zeros[:1], who)])
        single.append(receipt["gasUsed"])
    return {"batched_per_vote_total": statistics.median(batched),
            "one_vote_tx_total": statistics.median(single),
            "one_vote_tx_execution": statistics.median(single) - INTRINSIC_GAS}


def _pack_votes(swarm: np.ndarray, robot: np.ndarray) -> bytes:
    from swarm_sim.ledger import _pack

    return _pack([(swarm, ">u2"), (robot, ">u4"), ((robot % 2).astype(np.uint8), "u1"),
                  (np.full(robot.size, 30000), ">u2")])


def _new_decision_gas(robots: int, heights: int) -> dict[str, float]:
    from swarm_sim.ledger import Robots, TokenDecisionLedger

    chain = _gas_chain()
    stake, bond = 10**12, 20 * 10**12
    ledger = TokenDecisionLedger(chain, "dmvd", stable_depth=6, reveal_delay=2,
                                 freshness=10**6, contingent=60000, unanimity=10**6, audit=0.0,
                                 audits=1, bond_wei=bond, stake_wei=stake)
    team = Robots(chain, Robots.keys(b"gas", robots))
    team.fund([bond + 10**4 * stake] * robots)
    ledger.open(1)
    for i, address in enumerate(team.addresses):
        ledger.contract.send(address, ledger.contract.data("register", [0, i % 2]),
                             value=bond + 10**4 * stake)
    for _ in range(3):
        ledger.tick()
    ledger.resolve(team.addresses)
    votes, requests, resolves = [], [], []
    data = ledger._vote
    for h in range(heights):
        ledger.tick()
        for i, address in enumerate(team.addresses):
            receipt = ledger.contract.send(address, data[i % 2])
            if receipt is None:
                raise RuntimeError(f"vote of robot {i} at height {h} was refused")
            votes.append(receipt["gasUsed"])
    # Decisions: every robot asks, and the keeper resolves them in one transaction.
    for address in team.addresses:
        requests.append(ledger.contract.send(address, ledger._request)["gasUsed"])
    for _ in range(2):
        ledger.tick()
    receipt = ledger.contract.transact("resolve", [team.addresses])
    resolves.append(receipt["gasUsed"] / robots)
    steady = votes[len(votes) // 2:]  # heights after the first ones (slots already non-zero)
    return {"vote_tx_total": statistics.median(steady),
            "vote_tx_execution": statistics.median(steady) - INTRINSIC_GAS,
            "request_tx_total": statistics.median(requests),
            "resolve_per_robot": statistics.median(resolves)}


def _old_estimate_gas(votes: int, blocks: int) -> float:
    from swarm_sim.ledger import EstimateLedger

    chain = _gas_chain()
    stake = 10**12
    ledger = EstimateLedger(chain, stake, 0, round_size=10, swarms=1)
    ids = np.arange(votes, dtype=np.int64)
    zeros = np.zeros(votes, dtype=np.int64)
    ledger.deposit(zeros, ids, np.full(votes, 10**4 * stake))
    per_vote = []
    from swarm_sim.ledger import _pack

    for b in range(blocks):
        ppm = (300_000 + (ids * 7 + b) % 80_000).astype(np.uint32)
        records = _pack([(zeros, ">u2"), (ids, ">u4"), (ppm, ">u4")])
        per_vote.append(ledger.contract.transact("step", [records])["gasUsed"] / votes)
    return statistics.median(per_vote)


def _new_estimate_gas(robots: int, rounds: int) -> dict[str, float]:
    from swarm_sim.ledger import Robots, TokenEstimateLedger

    chain = _gas_chain()
    stake, bond = 10**12, 20 * 10**12
    ledger = TokenEstimateLedger(chain, bond, stake, round_size=10, epsilon=0.05)
    team = Robots(chain, Robots.keys(b"gas-estimate", robots))
    team.fund([bond + 10**4 * stake] * robots)
    ledger.open(1)
    for address in team.addresses:
        ledger.contract.send(address, ledger.contract.data("register", [0]),
                             value=bond + 10**4 * stake)
    gas = []
    for r in range(rounds):
        for i, address in enumerate(team.addresses):
            ppm = 300_000 + (i * 7919 + r) % 80_000
            receipt = ledger.contract.send(address, ledger.contract.data("vote", [ppm]))
            gas.append(receipt["gasUsed"])
    steady = gas[len(gas) // 2:]
    return {"vote_tx_total_mean": statistics.fmean(steady),
            "vote_tx_execution_mean": statistics.fmean(steady) - INTRINSIC_GAS}


def gas_per_vote(quick: bool = False) -> dict[str, Any]:
    """Gas of a vote on the first contracts (many votes in one operator transaction) and on the
    token contracts (every vote a transaction of its robot), on a revm chain with exact gas.

    Execution gas leaves out the 21,000 every transaction pays before running any code; the
    first contracts' batched figure spreads that base over the batch."""
    old = _old_decision_gas(400, 4 if quick else 10)
    new = _new_decision_gas(40 if quick else 100, 20 if quick else 24)
    old_est = _old_estimate_gas(400, 4 if quick else 10)
    new_est = _new_estimate_gas(20, 10 if quick else 40)
    # A robot asks for one decision per dissemination, and votes about ten times in it.
    per_decision = new["request_tx_total"] - INTRINSIC_GAS + new["resolve_per_robot"]
    return {
        "decision": {
            "first_contract": old, "token_contract": new,
            "execution_ratio_old_batched_over_new": (old["batched_per_vote_total"]
                                                     / new["vote_tx_execution"]),
            "execution_ratio_old_single_over_new": (old["one_vote_tx_execution"]
                                                    / new["vote_tx_execution"]),
            "total_ratio_old_batched_over_new": (old["batched_per_vote_total"]
                                                 / new["vote_tx_total"]),
            "new_execution_per_vote_with_decisions_every_10_votes":
                new["vote_tx_execution"] + per_decision / 10,
        },
        "estimate": {
            "first_contract_batched_per_vote_total": old_est, "token_contract": new_est,
            "execution_ratio_old_batched_over_new": old_est / new_est["vote_tx_execution_mean"],
        },
    }
