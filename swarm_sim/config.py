"""Scenario parameters: validated, immutable, with the AAMAS 2018 setting as defaults."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Literal

from swarm_sim.arena import ArenaSpec
from swarm_sim.errors import SwarmError

DISCRETE = ("dmvd", "dmmd", "dc", "blockchain", "token")
CONTINUOUS = ("lcp", "wmsr", "blockchain-estimate", "token-estimate")
STRATEGIES = DISCRETE + CONTINUOUS
BEHAVIOURS = ("wrong", "black", "white", "coin", "uniform", "gaussian", "sybil", "jamming")
PLACEMENTS = ("random", "cluster")
RULES = ("dmvd", "dmmd", "dc")
TOKEN_RULES = ("dmvd", "dmmd")
BACKENDS = ("revm", "embedded")

Strategy = Literal["dmvd", "dmmd", "dc", "blockchain", "token", "lcp", "wmsr",
                   "blockchain-estimate", "token-estimate"]


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise SwarmError(message)


@dataclass(frozen=True)
class Timing:
    """Robot timing and motion (Valentini et al.; Strobel et al. 2018)."""

    ticks_per_s: int = 10
    explore_mean_s: float = 10.0
    dissemination_g_s: float = 10.0
    dissemination_min_ticks: int = 30
    listen_ticks: int = 30
    speed_m_s: float = 0.1
    turn_mean_s: float = 5.0
    comm_range_m: float = 0.22
    memory: int = 2

    def __post_init__(self) -> None:
        _check(self.ticks_per_s >= 1, f"ticks_per_s must be at least 1, got {self.ticks_per_s}")
        for name in ("explore_mean_s", "dissemination_g_s", "turn_mean_s", "comm_range_m"):
            _check(getattr(self, name) > 0, f"{name} must be positive, got {getattr(self, name)}")
        _check(self.speed_m_s >= 0, f"speed_m_s must not be negative, got {self.speed_m_s}")
        _check(self.dissemination_min_ticks >= 0 and self.listen_ticks >= 1,
               "dissemination_min_ticks must be >= 0 and listen_ticks >= 1")
        _check(1 <= self.memory <= 16, f"memory must be 1..16 messages, got {self.memory}")


@dataclass(frozen=True)
class ByzantineSpec:
    """Who lies, how, and where they start. Give `count` or `share` (of all robots)."""

    count: int | None = None
    share: float | None = None
    behaviour: str = "wrong"
    placement: str = "random"
    sybil_identities: int = 5
    noise_sd: float = 0.2
    jam_range_m: float = 0.22

    def __post_init__(self) -> None:
        _check(self.count is None or self.share is None,
               "give the Byzantine robots as a count or as a share, not both")
        _check(self.count is None or self.count >= 0,
               f"Byzantine count must not be negative, got {self.count}")
        _check(self.share is None or 0.0 <= self.share <= 1.0,
               f"Byzantine share must lie in [0, 1], got {self.share}")
        _check(self.behaviour in BEHAVIOURS,
               f"unknown Byzantine behaviour {self.behaviour!r}; choose one of "
               f"{', '.join(BEHAVIOURS)}")
        _check(self.placement in PLACEMENTS,
               f"unknown placement {self.placement!r}; choose one of {', '.join(PLACEMENTS)}")
        _check(self.sybil_identities >= 1,
               f"a Sybil attacker needs at least 1 identity, got {self.sybil_identities}")
        _check(self.noise_sd >= 0 and self.jam_range_m >= 0,
               "noise_sd and jam_range_m must not be negative")

    def resolve(self, robots: int) -> int:
        """Number of Byzantine robots among `robots`."""
        n = self.count if self.count is not None else round((self.share or 0.0) * robots)
        _check(n <= robots, f"{n} Byzantine robots requested but the swarm has only {robots}")
        return n


@dataclass(frozen=True)
class LedgerSpec:
    """The consensus contract: backend, block period and the contract's parameters."""

    backend: str = "revm"
    block_ticks: int = 10
    stable_depth: int = 6
    freshness: int = 100
    contingent: int = 100
    rule: str = "dmvd"
    stake_wei: int = 10**15
    deposit_votes: int = 40
    bond_votes: int = 40
    round_size: int = 10
    # The token-economy contracts (robots as accounts). Decision: a request at height h is
    # resolved with the seed of height h + reveal_delay; a share `audit` of decisions asks for
    # `audit_votes` coin-flip colours first; the swarm settles once its robots have agreed for
    # `unanimity` heights. Estimate: rounds of token_round_size votes, paid within epsilon of
    # the midpoint of the shortest range holding a majority of the latest votes. Amounts in
    # stakes.
    reveal_delay: int = 1
    unanimity: int = 30
    token_stake_wei: int = 10**13
    token_bond_stakes: int = 20
    token_deposit_stakes: int = 2000
    token_contingent: int = 20
    token_round_size: int = 10
    # Estimate: the bond equals the deposit, so that splitting one robot's budget over
    # several identities (a Sybil attack) buys no more votes than one identity has.
    estimate_deposit_stakes: int = 50
    epsilon: float = 0.05
    # Estimate: an honest robot votes once its reading rests on this many sensed tiles (its
    # first readings, of a few tiles, are mostly 0 or 1 and would side with liars there).
    estimate_min_tiles: int = 300
    audit: float = 1.0
    audit_votes: int = 3

    def __post_init__(self) -> None:
        _check(self.backend in BACKENDS,
               f"unknown ledger backend {self.backend!r}; choose one of {', '.join(BACKENDS)}")
        _check(self.rule in RULES, f"unknown rule {self.rule!r}; choose one of {', '.join(RULES)}")
        _check(self.block_ticks >= 1 and self.stable_depth >= 1,
               "block_ticks and stable_depth must be at least 1")
        _check(self.freshness >= 1 and self.contingent >= 1,
               "freshness and contingent must be at least 1")
        _check(self.stake_wei >= 1 and self.deposit_votes >= 1 and self.bond_votes >= 0
               and self.round_size >= 2,
               "stake_wei and deposit_votes must be >= 1, bond_votes >= 0, round_size >= 2")
        _check(self.reveal_delay >= 1 and self.stable_depth + self.reveal_delay < 16,
               "reveal_delay must be at least 1 and stable_depth + reveal_delay below 16")
        _check(0 <= self.audit <= 1 and 1 <= self.audit_votes <= 4,
               "audit must lie in [0, 1] and audit_votes in 1..4")
        _check(self.unanimity >= 1 and self.token_stake_wei >= 1 and self.token_bond_stakes >= 0
               and self.token_deposit_stakes >= 1 and 1 <= self.token_contingent < 2**16,
               "unanimity, token_stake_wei, token_deposit_stakes must be >= 1, "
               "token_bond_stakes >= 0, token_contingent 1..65535")
        _check(self.estimate_deposit_stakes >= 1, "estimate_deposit_stakes must be >= 1")
        _check(self.estimate_min_tiles >= 1, "estimate_min_tiles must be >= 1")
        _check(3 <= self.token_round_size <= 64 and 0 < self.epsilon <= 1,
               "token_round_size must be 3..64 and epsilon in (0, 1]")


@dataclass(frozen=True)
class Scenario:
    """One simulated run."""

    robots: int = 20
    strategy: str = "dmmd"
    arena: ArenaSpec = field(default_factory=ArenaSpec)
    byzantine: ByzantineSpec = field(default_factory=ByzantineSpec)
    timing: Timing = field(default_factory=Timing)
    ledger: LedgerSpec = field(default_factory=LedgerSpec)
    max_time_s: float = 1500.0
    tolerance: float = 0.05

    def __post_init__(self) -> None:
        _check(self.robots >= 1, f"a swarm needs at least 1 robot, got {self.robots}")
        _check(self.strategy in STRATEGIES,
               f"unknown strategy {self.strategy!r}; choose one of {', '.join(STRATEGIES)}")
        _check(self.max_time_s > 0, f"max_time_s must be positive, got {self.max_time_s}")
        _check(self.tolerance > 0, f"tolerance must be positive, got {self.tolerance}")
        byz = self.byzantine.resolve(self.robots)
        _check(byz < self.robots, "every robot is Byzantine: nothing is left to decide")
        if self.discrete:
            self.arena.majority_colour  # noqa: B018 - raises when there is no correct colour

    @property
    def discrete(self) -> bool:
        return self.strategy in DISCRETE

    @property
    def on_chain(self) -> bool:
        return self.strategy.startswith(("blockchain", "token"))

    @property
    def max_ticks(self) -> int:
        return math.ceil(self.max_time_s * self.timing.ticks_per_s)

    @property
    def byzantine_count(self) -> int:
        return self.byzantine.resolve(self.robots)

    def with_byzantine(self, count: int) -> Scenario:
        return replace(self, byzantine=replace(self.byzantine, count=count, share=None))


def scaled_arena(robots: int, base: ArenaSpec | None = None, base_robots: int = 20) -> ArenaSpec:
    """An arena grown with the swarm so the robot density (and tile size) stay the reference's."""
    _check(robots >= 1, f"a swarm needs at least 1 robot, got {robots}")
    base = base or ArenaSpec()
    grow = math.sqrt(robots / base_robots)
    tiles = max(1, round(base.tiles_per_side * grow))
    return replace(base, side_m=base.tile_m * tiles, tiles_per_side=tiles)
