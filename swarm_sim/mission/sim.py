"""Simulated secret missions: ordered foraging and maze formation, with Byzantine robots.

Robots random-walk in a square arena. A robot learns a step only by sensing it: it combines
what it senses with the salts of its secret bundle and checks the candidate proof against the
root. Foraging: objects of 8 colours must reach the nest in the mission's secret order; a robot
delivers step k only once it has accepted a proof that step k - 1 is done. Maze: a wall must be
built in every occupied cell of a secret 5 × 5 pattern (unordered). Every second each robot
broadcasts a query; neighbours within range answer with proofs; Byzantine robots answer and
broadcast forged, replayed, out-of-order, wrong-root and false-claim proofs. The environment
keeps the ground truth, so a forged step accepted anywhere is counted, never assumed away.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from swarm_sim import rng
from swarm_sim.errors import SwarmError
from swarm_sim.mission.blueprint import (
    Blueprint,
    BuiltMission,
    Operation,
    StepSecret,
    build,
    foraging_spec,
    leaf_data,
    maze_spec,
)
from swarm_sim.mission.exchange import Knowledge, Verdict
from swarm_sim.mission.proofs import Proof, decode_proof, prove, rule_for, verify
from swarm_sim.mission.registry import ChainRecorder, robot_wallet

COLOURS = ("red", "orange", "yellow", "green", "cyan", "blue", "violet", "black")
ATTACKS = ("forged", "replayed", "out-of-order", "wrong-root", "false-claim")
Task = Literal["foraging", "maze"]
_SETUP, _MOTION, _ATTACK, _FOREIGN = 1, 2, 3, 4
CHAIN_ATTACK_EVERY = 30  # exchanges between two on-chain attacks of each Byzantine robot


@dataclass(frozen=True)
class MissionScenario:
    """One simulated mission. Defaults follow the 2021 foraging setting (2.5 m arena, 0.7 m
    range, 2,100 s); `robots` counts every robot, `byzantine` of them are attackers."""

    task: Task = "foraging"
    robots: int = 8
    byzantine: int = 0
    share: int | None = None
    arena_m: float = 2.5
    range_m: float = 0.7
    speed_m_s: float = 0.1
    ticks_per_s: int = 2
    max_time_s: float = 2100.0
    turn_mean_s: float = 5.0
    objects_per_colour: int = 2
    pickup_m: float = 0.1
    nest_m: float = 0.3
    exchange_s: float = 1.0
    build_s: float = 10.0
    maze_cells: int = 5
    wall_share: float = 0.4

    def __post_init__(self) -> None:
        if self.task not in ("foraging", "maze"):
            raise SwarmError(f"unknown mission task {self.task!r}; choose foraging or maze")
        if not 0 <= self.byzantine < self.robots:
            raise SwarmError(f"need at least one honest robot: {self.robots} robots, "
                             f"{self.byzantine} Byzantine")
        honest = self.robots - self.byzantine
        if self.share is not None and not 1 <= self.share <= honest:
            raise SwarmError(f"share must lie in 1..{honest} (honest robots)")
        if self.arena_m <= 0 or self.range_m < 0 or self.speed_m_s <= 0 or self.max_time_s <= 0:
            raise SwarmError("arena, range, speed and time must be positive")

    @property
    def honest(self) -> int:
        return self.robots - self.byzantine


@dataclass
class MissionResult:
    """Outcome of one run; `forged_accepted` counts false steps any honest robot accepted."""

    task: str
    robots: int
    byzantine: int
    seed: int
    success: bool
    time_s: float
    steps_done: int
    steps: int
    order_violations: int
    forged_accepted: int
    proof_bytes: int  # honest proof messages
    query_bytes: int
    attack_bytes: int  # Byzantine proof messages
    messages: int
    verdicts: dict[str, int] = field(default_factory=dict)
    attacks_rejected: dict[str, int] = field(default_factory=dict)
    chain_completions: int = 0
    chain_rejected: int = 0
    chain_forged_accepted: int = 0


def _salted_mission(scenario: MissionScenario, seed: int,
                    wallets: list[bytes]) -> tuple[BuiltMission, Any]:
    g = rng.generator(seed, _SETUP)
    if scenario.task == "foraging":
        order = [COLOURS[i] for i in g.permutation(len(COLOURS))]
        return build(foraging_spec(order), g.bytes(32), wallets), order
    cells = scenario.maze_cells**2
    walls = max(1, round(scenario.wall_share * cells))
    flat = np.zeros(cells, dtype=bool)
    flat[g.permutation(cells)[:walls]] = True
    pattern = flat.reshape(scenario.maze_cells, scenario.maze_cells).tolist()
    spec = maze_spec(pattern, [int(c) for c in g.permutation(cells)])
    return build(spec, g.bytes(32), wallets), pattern


class _Attacker:
    """A Byzantine robot: no secrets, but it overhears every proof sent near it and holds a
    complete, valid proof set of another mission with the same operations."""

    def __init__(self, me: int, mission: BuiltMission, foreign: BuiltMission,
                 g: np.random.Generator) -> None:
        self.me, self.g = me, g
        self.size = mission.tree.get_size()
        self.operations = mission.spec.operations
        self.heard: dict[int, Proof] = {}
        self.foreign = foreign
        self.turn = itertools.cycle(ATTACKS)

    def overhear(self, message: bytes) -> None:
        _, proof = decode_proof(message)
        self.heard[proof.index] = proof

    def _forged(self, index: int) -> Proof:
        index = min(max(index, 1), self.size)
        op = self.operations[int(self.g.integers(len(self.operations)))]
        rule = rule_for(index, self.size)
        siblings = tuple(self.g.bytes(32) for _ in range(len(rule) - 1))
        return Proof(index, self.size, rule, siblings, leaf_data(self.g.bytes(32), op))

    def attack(self, known: set[int], ordered: bool) -> tuple[str, bytes]:
        """One hostile proof message aimed at a robot that knows `known`."""
        kind = next(self.turn)
        nxt = (len(known) + 1 if ordered
               else next((i for i in range(1, self.size + 1) if i not in known), 1))
        old = [self.heard[i] for i in sorted(self.heard) if i in known]
        if kind == "replayed" and old:
            proof = old[int(self.g.integers(len(old)))]
        elif kind == "out-of-order" and ordered:
            proof = self._forged(nxt + 1 + int(self.g.integers(3)))
        elif kind == "wrong-root":
            index = min(nxt, self.size)
            proof = prove(self.foreign.step_secret(index), self.size, self.operations[index - 1])
        elif kind == "false-claim" and old:
            genuine = old[-1]
            rule = rule_for(min(nxt, self.size), self.size)
            siblings = (genuine.siblings + tuple(self.g.bytes(32) for _ in rule))[:len(rule) - 1]
            proof = Proof(min(nxt, self.size), self.size, rule, siblings, genuine.leaf)
        else:
            kind, proof = "forged", self._forged(nxt)
        return kind, proof.encode(self.me)


@dataclass
class _Robot:
    steps: dict[int, StepSecret]
    knowledge: Knowledge
    sensed: dict[Any, tuple[int, Operation] | None] = field(default_factory=dict)
    carrying: int = 0  # step index of the object carried (foraging)
    object_id: int = -1
    busy_until: int = -1  # building a wall until this tick (maze)
    pending: Proof | None = None


class _World:
    """One run: positions, robots, objects or cells, ground truth and tallies."""

    def __init__(self, scenario: MissionScenario, seed: int, chain: Any = None) -> None:
        self.s, self.seed = scenario, seed
        self.g = rng.generator(seed, _MOTION)
        n, side = scenario.robots, scenario.arena_m
        self.x = self.g.uniform(0.05, side - 0.05, n)
        self.y = self.g.uniform(0.05, side - 0.05, n)
        self.heading = self.g.uniform(0, 2 * np.pi, n)
        self.byz = np.zeros(n, dtype=bool)
        self.byz[self.g.permutation(n)[:scenario.byzantine]] = True
        honest_ids = np.flatnonzero(~self.byz)
        # Honest robot k holds bundle k; each step's reward is bound to its first holder.
        wallets = [robot_wallet(chain, int(r)) for r in honest_ids]
        self.mission, self.layout = _salted_mission(scenario, seed, wallets)
        self.blueprint: Blueprint = self.mission.blueprint
        # Same operations and wallets, other salts: every proof of it is valid, against
        # another root.
        self.foreign = build(self.mission.spec, rng.generator(seed, _FOREIGN).bytes(32), wallets)
        bundles = self.mission.robot_secrets(scenario.honest, scenario.share)
        self.robots: dict[int, _Robot] = {
            int(r): _Robot({s.index: s for s in b.steps}, Knowledge(self.blueprint))
            for r, b in zip(honest_ids, bundles, strict=True)}
        ga = rng.generator(seed, _ATTACK)
        self.attackers = {int(r): _Attacker(int(r), self.mission, self.foreign, ga)
                          for r in np.flatnonzero(self.byz)}
        self.truth: set[int] = set()
        self.tally: Counter[str] = Counter()
        self.rejected: Counter[str] = Counter()
        self.violations = self.forged = self.proof_bytes = self.query_bytes = 0
        self.attack_bytes = 0
        self.messages = 0
        self.chain = None if chain is None else ChainRecorder(chain, self.blueprint)
        self.chain_done = self.chain_rejected = 0
        if scenario.task == "foraging":
            self._place_objects()

    # -- set-up ----------------------------------------------------------------------------------
    def _place_objects(self) -> None:
        s, side = self.s, self.s.arena_m
        order = self.layout
        colours = [c for c in order for _ in range(s.objects_per_colour)]
        xs, ys = [], []
        while len(xs) < len(colours):
            x, y = self.g.uniform(0.1, side - 0.1, 2)
            if np.hypot(x - side / 2, y - side / 2) > s.nest_m + 0.2:
                xs.append(x)
                ys.append(y)
        self.obj_x, self.obj_y = np.array(xs), np.array(ys)
        self.obj_colour = colours
        self.obj_free = np.ones(len(colours), dtype=bool)

    # -- motion ----------------------------------------------------------------------------------
    def _move(self, tick: int) -> None:
        """Random walk with random turns and wall bounces; carriers head for the nest,
        builders stand still."""
        s, side = self.s, self.s.arena_m
        step = s.speed_m_s / s.ticks_per_s
        turn = self.g.random(s.robots) < 1.0 / (s.turn_mean_s * s.ticks_per_s)
        self.heading[turn] = self.g.uniform(0, 2 * np.pi, int(turn.sum()))
        moving = np.ones(s.robots, dtype=bool)
        for r, robot in self.robots.items():
            if robot.busy_until > tick:
                moving[r] = False
            elif robot.carrying:
                dx, dy = side / 2 - self.x[r], side / 2 - self.y[r]
                if np.hypot(dx, dy) > s.nest_m / 2:
                    self.heading[r] = np.arctan2(dy, dx)
        nx = self.x + step * np.cos(self.heading) * moving
        ny = self.y + step * np.sin(self.heading) * moving
        out = (nx < 0) | (nx > side) | (ny < 0) | (ny > side)
        self.heading[out] = self.g.uniform(0, 2 * np.pi, int(out.sum()))
        self.x = np.clip(nx, 0, side)
        self.y = np.clip(ny, 0, side)

    # -- sensing ---------------------------------------------------------------------------------
    def _recognise(self, robot: _Robot, key: Any, candidates: list[Operation]) -> (
            tuple[int, Operation] | None):
        """Combine what was sensed with every salt held: a step is found only if its
        candidate proof verifies against the root (remembered per sensed input)."""
        if key not in robot.sensed:
            robot.sensed[key] = None
            for secret in robot.steps.values():
                for op in candidates:
                    if verify(prove(secret, self.blueprint.size, op), self.blueprint):
                        robot.sensed[key] = (secret.index, op)
        return robot.sensed[key]

    def _forage(self, tick: int) -> None:
        s, side = self.s, self.s.arena_m
        near_nest = np.hypot(self.x - side / 2, self.y - side / 2) < s.nest_m
        for r, robot in self.robots.items():
            k = robot.knowledge
            if robot.carrying:
                if k.knows(robot.carrying):  # someone else delivered it: put it back
                    self._drop(r, robot)
                elif near_nest[r]:
                    self._deliver(r, robot)
                continue
            free = np.flatnonzero(self.obj_free)
            if free.size == 0:
                continue
            d = np.hypot(self.obj_x[free] - self.x[r], self.obj_y[free] - self.y[r])
            at = np.flatnonzero(d < s.pickup_m)
            for o in free[at]:
                colour = self.obj_colour[o]
                found = self._recognise(robot, colour,
                                        [Operation(f"colour:{colour}", "deliver")])
                # Only the next step: a robot holding a later one would wait for a step that
                # nobody may be free to deliver (one robot alone would deadlock).
                if found and found[0] == k.last + 1:
                    robot.carrying, robot.object_id = found[0], int(o)
                    robot.pending = prove(robot.steps[found[0]], self.blueprint.size, found[1])
                    self.obj_free[o] = False
                    break

    def _drop(self, r: int, robot: _Robot) -> None:
        o = robot.object_id
        self.obj_x[o], self.obj_y[o] = self.x[r], self.y[r]
        self.obj_free[o] = True
        robot.carrying, robot.object_id, robot.pending = 0, -1, None

    def _complete(self, r: int, robot: _Robot, proof: Proof) -> None:
        """The environment's ground truth, then the robot's own record (and the chain)."""
        index = proof.index
        if self.blueprint.ordered and index > len(self.truth) + 1:
            self.violations += 1
        self.truth.add(index)
        robot.knowledge.judge(proof)
        if self.chain is not None:
            self.chain_done += self.chain.submit(proof)

    def _deliver(self, r: int, robot: _Robot) -> None:
        assert robot.pending is not None
        self._complete(r, robot, robot.pending)
        robot.carrying, robot.object_id, robot.pending = 0, -1, None

    def _cell(self, r: int) -> tuple[int, int]:
        c = self.s.maze_cells
        size = self.s.arena_m / c
        return (min(int(self.y[r] / size), c - 1), min(int(self.x[r] / size), c - 1))

    def _maze(self, tick: int) -> None:
        for r, robot in self.robots.items():
            if robot.busy_until == tick and robot.pending is not None:
                self._complete(r, robot, robot.pending)
                robot.pending = None
            if robot.busy_until >= tick:
                continue
            row, col = self._cell(r)
            name = f"cell:{row},{col}"
            found = self._recognise(robot, (row, col), [Operation(name, "build"),
                                                        Operation(name, "keep-clear")])
            if found and found[1].action == "build" and not robot.knowledge.knows(found[0]):
                robot.busy_until = tick + int(self.s.build_s * self.s.ticks_per_s)
                robot.pending = prove(robot.steps[found[0]], self.blueprint.size, found[1])

    # -- communication ---------------------------------------------------------------------------
    def _send(self, receiver: _Robot, message: bytes, attack: str | None) -> None:
        self.messages += 1
        if attack is None:
            self.proof_bytes += len(message)
        else:
            self.attack_bytes += len(message)
        verdict, proof = receiver.knowledge.receive(message)
        self.tally[verdict.value] += 1
        if attack is not None and verdict is not Verdict.ACCEPTED:
            self.rejected[attack] += 1
        if verdict is Verdict.ACCEPTED and proof is not None and proof.index not in self.truth:
            self.forged += 1

    def _exchange(self, round_no: int) -> None:
        s = self.s
        d = np.hypot(self.x[:, None] - self.x[None, :], self.y[:, None] - self.y[None, :])
        near = (d <= s.range_m) & ~np.eye(s.robots, dtype=bool)
        for r, robot in self.robots.items():
            query = robot.knowledge.query(r)
            self.query_bytes += len(query)
            self.messages += 1
            for p in map(int, np.flatnonzero(near[r])):
                if p in self.robots:
                    answers = self.robots[p].knowledge.answer(query, p)
                    listeners = [self.attackers[a] for a in map(int, np.flatnonzero(near[p]))
                                 if a in self.attackers]
                    for message in answers:
                        self._send(robot, message, None)
                        for attacker in listeners:  # proofs go over the air: overheard
                            attacker.overhear(message)
                else:
                    kind, message = self.attackers[p].attack(set(robot.knowledge.proofs),
                                                             self.blueprint.ordered)
                    self._send(robot, message, kind)
        if self.chain is not None and round_no % CHAIN_ATTACK_EVERY == 0:
            for a, attacker in self.attackers.items():
                _, message = attacker.attack(set(self.truth), self.blueprint.ordered)
                self.chain_rejected += self.chain.attack(a, message)

    # -- the run ---------------------------------------------------------------------------------
    def goal_reached(self) -> bool:
        if self.s.task == "foraging":
            return len(self.truth) == self.blueprint.size
        pattern = self.layout
        walls = sum(map(sum, pattern))
        built = sum(1 for i in self.truth
                    if self.mission.spec.operations[i - 1].action == "build")
        return built == walls

    def steps_needed(self) -> int:
        if self.s.task == "foraging":
            return self.blueprint.size
        return int(sum(map(sum, self.layout)))

    def run(self) -> MissionResult:
        s = self.s
        every = max(1, round(s.exchange_s * s.ticks_per_s))
        ticks = int(s.max_time_s * s.ticks_per_s)
        tick = 0
        while tick < ticks and not self.goal_reached():
            tick += 1
            self._move(tick)
            (self._forage if s.task == "foraging" else self._maze)(tick)
            if tick % every == 0:
                self._exchange(tick // every)
        success = self.goal_reached() and self.violations == 0
        done = (len(self.truth) if s.task == "foraging" else
                sum(1 for i in self.truth
                    if self.mission.spec.operations[i - 1].action == "build"))
        return MissionResult(
            s.task, s.robots, s.byzantine, self.seed, success, tick / s.ticks_per_s, done,
            self.steps_needed(), self.violations, self.forged, self.proof_bytes,
            self.query_bytes, self.attack_bytes, self.messages, dict(self.tally),
            dict(self.rejected), self.chain_done, self.chain_rejected,
            self.chain.forged_accepted if self.chain is not None else 0)


def run_mission(scenario: MissionScenario, seed: int, chain: Any = None) -> MissionResult:
    """Simulate one run; with a services.chain `chain`, every completion and every Byzantine
    claim also goes to a freshly deployed MissionRegistry."""
    return _World(scenario, seed, chain).run()
