"""Advance a batch of runs tick by tick; classical strategies talk to neighbours, blockchain
strategies talk to the consensus contract once per block."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from services.chain.protocol import Chain
from swarm_sim import byzantine as byz
from swarm_sim import rng, strategies
from swarm_sim.config import Scenario, Timing
from swarm_sim.errors import SwarmError
from swarm_sim.ledger import (
    QUALITY_SCALE,
    DecisionLedger,
    EstimateLedger,
    open_backend,
)
from swarm_sim.robots import (
    DISSEMINATE,
    EXPLORE,
    PROXIMITY_ROBOTS,
    S_BYZANTINE,
    S_CHOICE,
    S_DISSEMINATE,
    S_EXPLORE,
    Grid,
    Motion,
    Proximity,
    Swarm,
    deliver,
    flat_nonzero,
    neighbour_pairs,
    new_swarm,
    sense,
)
from swarm_sim.token_economy import TokenDecision, TokenEstimate

FLAGGED = 255
W_MSR_F = 1


@dataclass(frozen=True)
class RunResult:
    """Outcome of one run."""

    run_index: int
    seed: int
    strategy: str
    robots: int
    byzantine: int
    behaviour: str
    consensus: bool
    decision: float  # colour (discrete) or estimate (continuous); nan when undecided
    correct: bool
    consensus_time_s: float  # nan when never reached
    abs_error: float
    flagged_byzantine: int
    flagged_honest: int
    accepted_votes: int
    rejected_votes: int
    simulated_s: float
    # Token strategies: mean tokens held at the end over tokens at the start (nan otherwise).
    honest_tokens: float
    byzantine_tokens: float
    # Absolute error at each tenth of max_time_s until the run was recorded (";"-separated).
    error_curve: str
    digest: str  # sha256 of the run's final robot state: equal digests, equal runs


def _q16(quality: np.ndarray) -> np.ndarray:
    """Qualities in [0, 1] as the contract's 16-bit fixed point."""
    return np.rint(np.clip(quality, 0, 1) * QUALITY_SCALE).astype(np.uint16)


def _batch_key(s: Scenario) -> Scenario:
    """Runs can share a batch when they differ only in Byzantine count."""
    return s.with_byzantine(0)


class _Batch:
    """The state of one batch while it runs; `run()` returns one RunResult per run."""

    def __init__(self, scenarios: list[Scenario], seeds: list[int], run_indices: list[int],
                 backend: Chain | None) -> None:
        keys = {_batch_key(s) for s in scenarios}
        if len(keys) != 1:
            raise SwarmError("a batch must share every parameter but the Byzantine count")
        self.sc = scenarios[0]
        self.scenarios, self.seeds, self.run_indices = scenarios, seeds, run_indices
        self.s: Swarm = new_swarm(scenarios, seeds)
        t = self.sc.timing
        self.tps = t.ticks_per_s
        self.grid = Grid.for_arena(self.sc.arena, t.comm_range_m)
        self.jam_grid = Grid.for_arena(self.sc.arena, max(self.sc.byzantine.jam_range_m, 1e-3))
        self.behaviour = self.sc.byzantine.behaviour
        self.truth = (float(self.sc.arena.majority_colour) if self.sc.discrete
                      else self.sc.arena.true_share)
        self.wrong = (1.0 - self.truth) if self.sc.discrete else float(self.truth < 0.5)
        self.liars = flat_nonzero(self.s.byzantine)
        self.honest = flat_nonzero(~self.s.byzantine)
        self.honest_count = np.bincount(self.s.run_of[self.honest], minlength=self.s.runs)
        self.honest_mask = ~self.s.byzantine
        self.near = (Proximity(self.s, t.comm_range_m) if self.s.size <= PROXIMITY_ROBOTS
                     else None)
        # The tick at which the first robot's phase ends.
        self.next_end = int(self.s.phase_left.min()) - 1
        self.pending = np.zeros(self.s.size, dtype=bool)
        self.done_at = np.full(self.s.runs, -1, dtype=np.int64)
        self.decision = np.full(self.s.runs, np.nan)
        self.results: dict[int, RunResult] = {}
        self.ids = byz.identities(self.behaviour, self.sc.byzantine.sybil_identities)
        self.s.estimate[:] = np.nan
        self.ledger: DecisionLedger | EstimateLedger | None = None
        self.token: TokenDecision | TokenEstimate | None = None
        self.curve: list[np.ndarray] = []
        self.backend = backend
        if self.sc.on_chain:
            self._open_ledger()

    # ---- shared helpers -------------------------------------------------------------------

    def _forged(self, tick: int, who: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = self.s
        u = [rng.uniform(s.seeds[who], tick, s.local[who], S_BYZANTINE + i)
             for i in range(byz.DRAWS.get(self.behaviour, 0))]
        honest = None
        if self.behaviour == "gaussian":
            honest = (s.opinion[who].astype(np.float32) if self.sc.discrete
                      else self._sensed(who))
        return byz.forge(self.behaviour, who.size, honest, self.wrong, u,
                         self.sc.byzantine.noise_sd, self.sc.discrete)

    def _sensed(self, who: np.ndarray) -> np.ndarray:
        s = self.s
        return (s.black_total[who] / np.maximum(s.seen_total[who], 1)).astype(np.float32)

    def _jammed(self, who: np.ndarray) -> np.ndarray:
        """Mask over `who`: robots within range of a jamming robot this tick."""
        if self.behaviour != "jamming" or self.liars.size == 0 or who.size == 0:
            return np.zeros(who.size, dtype=bool)
        rec, _ = neighbour_pairs(self.jam_grid, self.s, who, self.liars,
                                 self.sc.byzantine.jam_range_m)
        return np.isin(who, rec)

    def _modulated(self) -> bool:
        contract = self.sc.strategy in ("blockchain", "token")
        rule = self.sc.ledger.rule if contract else self.sc.strategy
        return rule in ("dmvd", "dmmd")

    # ---- phases ---------------------------------------------------------------------------

    def _transitions(self, tick: int) -> None:
        s, t = self.s, self.sc.timing
        s.phase_left -= 1
        if tick < self.next_end:
            return
        ended = flat_nonzero(s.phase_left <= 0)
        explored = ended[s.phase[ended] == EXPLORE]
        disseminated = ended[s.phase[ended] == DISSEMINATE]
        if explored.size:
            self._start_dissemination(tick, explored, t)
        if disseminated.size:
            self._decide(tick, disseminated)
            s.phase[disseminated] = EXPLORE
            s.seen[disseminated] = 0
            s.matched[disseminated] = 0
            u = rng.uniform(s.seeds[disseminated], tick, s.local[disseminated], S_EXPLORE)
            s.phase_left[disseminated] = rng.exponential_ticks(u, t.explore_mean_s * self.tps)
        self.next_end = tick + int(s.phase_left.min())

    def _start_dissemination(self, tick: int, who: np.ndarray, t: Timing) -> None:
        s = self.s
        s.quality[who] = np.where(s.seen[who] > 0, s.matched[who] / np.maximum(s.seen[who], 1),
                                  0.5)
        if not self.sc.discrete:
            sensed = self._sensed(who)
            old = s.estimate[who]
            s.estimate[who] = np.where(np.isnan(old), sensed, 0.5 * (old + sensed))
        mean = t.dissemination_g_s * self.tps
        if self._modulated():
            mean = mean * s.quality[who]
        u = rng.uniform(s.seeds[who], tick, s.local[who], S_DISSEMINATE)
        s.phase_left[who] = (np.ceil(-np.log(u) * mean).astype(np.int32)
                             + t.dissemination_min_ticks)
        s.phase[who] = DISSEMINATE
        s.inbox_n[who] = 0

    def _decide(self, tick: int, who: np.ndarray) -> None:
        s = self.s
        if self.sc.strategy in ("blockchain", "token"):
            self.pending[who] = True  # the contract decides, at the next block
            return
        if self.sc.on_chain:
            return  # the estimate contract has no per-robot decision
        who = who[~s.byzantine[who]]
        if who.size == 0:
            return
        box, q = s.inbox.take(who, axis=0), s.inbox_quality.take(who, axis=0)
        n = s.inbox_n[who].astype(np.int64)
        u = rng.uniform(s.seeds[who], tick, s.local[who], S_CHOICE)
        strategy = self.sc.strategy
        if strategy == "dmvd":
            s.opinion[who] = strategies.voter_model(s.opinion[who], box, n, u)
        elif strategy == "dmmd":
            s.opinion[who] = strategies.majority(s.opinion[who], box, n)
        elif strategy == "dc":
            s.opinion[who] = strategies.direct_comparison(s.opinion[who], s.quality[who], box,
                                                          q, n, u)
        elif strategy == "lcp":
            s.estimate[who] = strategies.linear_consensus(s.estimate[who], box, n)
        else:
            s.estimate[who] = strategies.wmsr(s.estimate[who], box, n, W_MSR_F)

    # ---- classical communication ----------------------------------------------------------

    def _communicate(self, tick: int) -> None:
        s, t = self.s, self.sc.timing
        disseminating = s.phase.astype(bool)  # a copy: jamming narrows it in place
        listening = flat_nonzero(disseminating & (s.phase_left <= t.listen_ticks)
                                 & self.honest_mask)
        if listening.size == 0:
            return
        sending = disseminating
        if self.behaviour == "jamming":
            sending &= self.honest_mask
        if self.near is not None:
            rec, snd = self.near.pairs(self.grid, s, listening, sending)
        else:
            rec, snd = neighbour_pairs(self.grid, s, listening, flat_nonzero(sending),
                                       t.comm_range_m)
        if rec.size == 0:
            return
        if self.behaviour == "jamming":
            keep = ~self._jammed(rec)
            rec, snd = rec[keep], snd[keep]
        value = (s.opinion[snd].astype(np.float32) if self.sc.discrete
                 else s.estimate[snd].astype(np.float32))
        quality = s.quality[snd]
        lying = flat_nonzero(s.byzantine[snd])
        if lying.size:
            value[lying], quality[lying] = self._forged(tick, snd[lying])
            if self.ids > 1:
                extra = np.repeat(lying, self.ids - 1)
                rec = np.concatenate([rec, rec[extra]])
                value = np.concatenate([value, value[extra]])
                quality = np.concatenate([quality, quality[extra]])
        deliver(s, rec, value, quality)

    # ---- the chain ------------------------------------------------------------------------

    def _identities(self, who: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(swarm, robot id, owner index) for every identity of `who` (Sybils have several)."""
        s = self.s
        swarm, robot, owner = s.run_of[who], s.local[who].astype(np.int64), who
        liars = who[s.byzantine[who]]
        if self.ids > 1 and liars.size:
            extra = np.repeat(liars, self.ids - 1)
            k = np.tile(np.arange(1, self.ids), liars.size)
            swarm = np.concatenate([swarm, s.run_of[extra]])
            robot = np.concatenate([robot, s.local[extra] + k * s.n])
            owner = np.concatenate([owner, extra])
        return swarm, robot, owner

    def _open_ledger(self) -> None:
        s, spec = self.s, self.sc.ledger
        self.backend = self.backend or open_backend(spec.backend)
        if self.sc.strategy == "token":
            self.token = TokenDecision(self, self.backend)
            return
        if self.sc.strategy == "token-estimate":
            self.token = TokenEstimate(self, self.backend)
            return
        everyone = np.arange(s.size)
        swarm, robot, owner = self._identities(everyone)
        if self.sc.strategy == "blockchain":
            ledger = DecisionLedger(self.backend, spec.rule, spec.stable_depth, spec.freshness,
                                    spec.contingent)
            said = s.opinion[owner].astype(np.float32)
            liars = s.byzantine[owner]
            said[liars], _ = self._forged(-1, owner[liars])
            ledger.register(self.seeds, swarm, robot, said.astype(np.uint8))
        else:
            bond = spec.stake_wei * spec.bond_votes
            ledger = EstimateLedger(self.backend, spec.stake_wei, bond, spec.round_size, s.runs)
            per_robot = bond + spec.stake_wei * spec.deposit_votes
            # One robot's budget, whatever the number of identities it splits it over.
            share = np.where(s.byzantine[owner], per_robot // self.ids, per_robot)
            ledger.deposit(swarm, robot, share)
        self.ledger = ledger

    def _block(self, tick: int) -> None:
        s = self.s
        # A robot still waiting for the contract's answer has no opinion to announce yet.
        voting = flat_nonzero((s.phase == DISSEMINATE) & ~self.pending)
        if self.behaviour == "jamming":
            voting = voting[~s.byzantine[voting]]
            voting = voting[~self._jammed(voting)]
        if self.token is not None:
            self.token.block(tick, voting)
        elif isinstance(self.ledger, DecisionLedger):
            self._decision_block(tick, voting)
        else:
            self._estimate_block(tick, voting)

    def _said(self, tick: int, owner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = self.s
        value = s.opinion[owner].astype(np.float32)
        quality = s.quality[owner]
        liars = flat_nonzero(s.byzantine[owner])
        if liars.size:
            value[liars], quality[liars] = self._forged(tick, owner[liars])
        return value, quality

    def _decision_block(self, tick: int, voting: np.ndarray) -> None:
        s = self.s
        asking = flat_nonzero(self.pending)
        asking = asking[~self._jammed(asking)]
        d_swarm, d_robot, d_owner = self._identities(asking)
        _, d_quality = self._said(tick, d_owner)
        v_swarm, v_robot, v_owner = self._identities(voting)
        v_value, v_quality = self._said(tick, v_owner)
        result = self.ledger.step(
            (d_swarm, d_robot, _q16(d_quality)),
            (v_swarm, v_robot, v_value.astype(np.uint8), _q16(v_quality)),
        )
        self.pending[asking] = False
        adopt = (~s.byzantine[d_owner]) & (result != FLAGGED)
        who = d_owner[adopt]
        s.opinion[who] = result[adopt].astype(np.int8)
        s.seen[who] = 0
        s.matched[who] = 0

    def _estimate_block(self, tick: int, voting: np.ndarray) -> None:
        s = self.s
        voting = voting[s.seen_total[voting] > 0]
        swarm, robot, owner = self._identities(voting)
        value = self._sensed(owner)
        liars = flat_nonzero(s.byzantine[owner])
        if liars.size:
            value[liars], _ = self._forged(tick, owner[liars])
        self.ledger.step(swarm, robot, value)
        mean, _ = self.ledger.means()
        s.estimate[self.honest] = mean[s.run_of[self.honest]]

    # ---- outcome --------------------------------------------------------------------------

    def _check(self, tick: int) -> None:
        s = self.s
        open_runs = self.done_at < 0
        if self.sc.discrete:
            ones = np.bincount(s.run_of[self.honest], weights=s.opinion[self.honest],
                               minlength=s.runs)
            agreed = open_runs & ((ones == 0) | (ones == self.honest_count))
            self.decision[agreed] = (ones[agreed] > 0).astype(float)
        else:
            est = s.estimate[self.honest]
            runs = s.run_of[self.honest]
            known = np.bincount(runs, weights=~np.isnan(est), minlength=s.runs)
            filled = np.nan_to_num(est, nan=0.5)
            hi = np.full(s.runs, -np.inf)
            lo = np.full(s.runs, np.inf)
            np.maximum.at(hi, runs, filled)
            np.minimum.at(lo, runs, filled)
            centre = 0.5 * (hi + lo)
            agreed = (open_runs & (known == self.honest_count)
                      & (hi - lo <= self.sc.tolerance)
                      & (np.abs(centre - self.truth) <= self.sc.tolerance))
        self.done_at[agreed] = tick + 1
        if self.sc.discrete:
            # A decided run is recorded now: what its batch does afterwards is not its business.
            self._finish(flat_nonzero(agreed), tick + 1)

    def _errors(self, runs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per run: the honest robots' mean value and its absolute error (discrete: the share
        of honest robots holding the wrong colour)."""
        s = self.s
        who = self.honest[np.isin(s.run_of[self.honest], runs)]
        counts = self.honest_count[runs]
        if self.sc.discrete:
            value = s.opinion[who] != self.truth
        else:
            value = np.nan_to_num(s.estimate[who], nan=0.5)
        total = np.bincount(s.run_of[who], weights=value, minlength=s.runs)[runs] / counts
        return total, (total if self.sc.discrete else np.abs(total - self.truth))

    def _finish(self, runs: np.ndarray, ticks: int) -> None:
        """Freeze the outcome of `runs` at this tick."""
        if runs.size == 0:
            return
        s = self.s
        mean, error = self._errors(runs)
        flagged = np.zeros((2, s.runs), dtype=np.int64)
        tokens: dict[int, tuple[float, float]] = {}
        if isinstance(self.ledger, DecisionLedger):
            swarm, robot, owner = self._identities(flat_nonzero(np.isin(s.run_of, runs)))
            hit = self.ledger.opinions(swarm, robot) == FLAGGED
            np.add.at(flagged, (s.byzantine[owner].astype(int) ^ 1, swarm), hit)
        elif isinstance(self.token, TokenDecision):
            flagged = self.token.flagged_by_run(runs)
        elif isinstance(self.token, TokenEstimate):
            tokens = self.token.balances(runs)
        for i, r in enumerate(runs.tolist()):
            done = self.done_at[r] >= 0
            if self.sc.discrete:
                decision = self.decision[r] if done else math.nan
                correct = bool(done and decision == self.truth)
            else:
                decision = float(mean[i])
                correct = bool(error[i] <= self.sc.tolerance)
            if self.ledger is not None:
                votes = self.ledger.counters(r)
            elif self.token is not None:
                votes = {"accepted": self.token.accepted[r], "rejected": self.token.rejected[r]}
            else:
                votes = {}
            held = tokens.get(r, (math.nan, math.nan))
            self.results[r] = RunResult(
                run_index=self.run_indices[r], seed=self.seeds[r], strategy=self._label(),
                robots=s.n, byzantine=self.scenarios[r].byzantine_count,
                behaviour=self.behaviour, consensus=bool(done), decision=float(decision),
                correct=correct,
                consensus_time_s=float(self.done_at[r] / self.tps) if done else math.nan,
                abs_error=float(error[i]),
                flagged_byzantine=int(flagged[0, r]), flagged_honest=int(flagged[1, r]),
                accepted_votes=int(votes.get("accepted", 0)),
                rejected_votes=int(votes.get("rejected", 0)),
                simulated_s=ticks / self.tps,
                honest_tokens=float(held[0]), byzantine_tokens=float(held[1]),
                error_curve=";".join(f"{c[r]:.4g}" for c in self.curve),
                digest=self._digest(r),
            )

    def run(self, progress: Callable[[int], None] | None = None) -> list[RunResult]:
        s, t = self.s, self.sc.timing
        motion = Motion(s, t.turn_mean_s * self.tps)
        block_ticks = self.sc.ledger.block_ticks
        on_chain = self.sc.on_chain
        sample_every = max(1, self.sc.max_ticks // 10)
        last = 0
        ticks = self.sc.max_ticks
        for tick in range(ticks):
            motion.step(tick)
            sense(s, totals=not self.sc.discrete)
            self._transitions(tick)
            if on_chain:
                if tick % block_ticks == block_ticks - 1:
                    self._block(tick)
            else:
                self._communicate(tick)
            if (tick + 1) % sample_every == 0:
                self.curve.append(self._errors(np.arange(s.runs))[1])
            if tick % self.tps == self.tps - 1:
                self._check(tick)
                if len(self.results) == s.runs:
                    ticks = tick + 1
                    break
            if progress is not None and tick - last >= 1000:
                progress(tick - last)
                last = tick
        if progress is not None:
            progress(ticks - last)
        self._finish(np.array([r for r in range(s.runs) if r not in self.results], dtype=int),
                     ticks)
        if isinstance(self.token, TokenDecision):
            # Runs are recorded when their robots agree; their tokens once the batch is over
            # (settled swarms have paid out by then).
            held = self.token.holdings(np.arange(s.runs))
            self.results = {r: replace(res, honest_tokens=held[r][0],
                                       byzantine_tokens=held[r][1])
                            for r, res in self.results.items()}
        return [self.results[r] for r in range(s.runs)]

    def _digest(self, run: int) -> str:
        s = self.s
        mine = slice(run * s.n, (run + 1) * s.n)
        h = hashlib.sha256()
        for arr in (s.x, s.y, s.opinion, s.estimate, s.phase, s.phase_left):
            h.update(np.ascontiguousarray(arr[mine]).tobytes())
        return h.hexdigest()

    def _label(self) -> str:
        if self.sc.strategy in ("blockchain", "token"):
            return f"{self.sc.strategy}-{self.sc.ledger.rule}"
        return self.sc.strategy

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()


def simulate_batch(scenarios: list[Scenario], seeds: list[int], run_indices: list[int],
                   backend: Chain | None = None,
                   progress: Callable[[int], None] | None = None) -> list[RunResult]:
    """Simulate runs that share every parameter but seed and Byzantine count, side by side."""
    if not scenarios:
        return []
    batch = _Batch(scenarios, seeds, run_indices, backend)
    try:
        return batch.run(progress)
    finally:
        if backend is None:
            batch.close()


def simulate(scenario: Scenario, seed: int, run_index: int = 0,
             backend: Chain | None = None) -> RunResult:
    """One run."""
    return simulate_batch([scenario], [seed], [run_index], backend)[0]

