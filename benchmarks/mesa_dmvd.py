"""The AAMAS 2018 DMVD scenario as a plain Mesa 3 model: the peer baseline of benchmarks/swarm.py.

One Agent per robot, stepped in random order; positions in a ContinuousSpace, neighbours from its
radius query. The same parameters as swarm_sim's defaults (an arena grown with the swarm, 34 %
black tiles, random walk at 10 cm/s, exploration ~ Exp(10 s), dissemination ~ Exp(10 s · quality)
+ 30 ticks, listening in the last 3 s within 0.22 m, the last two opinions kept, voter model),
with 20 % Byzantine robots always announcing black. Needs the optional `mesa` extra.
"""

from __future__ import annotations

import math

import numpy as np
from mesa import Agent, Model
from mesa.space import ContinuousSpace

from swarm_sim.config import Scenario

EXPLORE, DISSEMINATE = 0, 1


class Robot(Agent):
    """One e-puck: moves, senses the tile below, explores and disseminates."""

    def __init__(self, model: DMVD, liar: bool, opinion: int) -> None:
        super().__init__(model)
        self.liar = liar
        self.opinion = 1 if liar else opinion
        heading = self.random.uniform(0, 2 * math.pi)
        self.vx = math.cos(heading) * model.step_m
        self.vy = math.sin(heading) * model.step_m
        self.turn_in = model.exp_ticks(model.turn_ticks)
        self.phase = EXPLORE
        self.left = model.exp_ticks(model.explore_ticks)
        self.seen = self.matched = 0
        self.quality = 0.5
        self.inbox: list[int] = []

    def step(self) -> None:
        m = self.model
        x, y = self.pos[0] + self.vx, self.pos[1] + self.vy
        if not 0 <= x <= m.side:
            x, self.vx = (-x if x < 0 else 2 * m.side - x), -self.vx
        if not 0 <= y <= m.side:
            y, self.vy = (-y if y < 0 else 2 * m.side - y), -self.vy
        m.space.move_agent(self, (x, y))
        self.turn_in -= 1
        if self.turn_in <= 0:
            speed = math.hypot(self.vx, self.vy)
            angle = self.random.uniform(0, 2 * math.pi)
            self.vx, self.vy = math.cos(angle) * speed, math.sin(angle) * speed
            self.turn_in = m.exp_ticks(m.turn_ticks)
        if self.phase == EXPLORE:
            self.seen += 1
            self.matched += int(m.black_at(x, y) == self.opinion)
        self.left -= 1
        if self.left <= 0:
            self._next_phase()
        elif self.phase == DISSEMINATE and self.left <= m.listen_ticks and not self.liar:
            for other in m.space.get_neighbors(self.pos, m.comm_range, include_center=False):
                if other.phase == DISSEMINATE:
                    self.inbox = [other.opinion, *self.inbox[:1]]

    def _next_phase(self) -> None:
        m = self.model
        if self.phase == EXPLORE:
            self.quality = self.matched / self.seen if self.seen else 0.5
            mean = m.dissemination_ticks * self.quality
            self.left = math.ceil(-math.log(1.0 - self.random.random()) * mean) + m.min_ticks
            self.phase = DISSEMINATE
            self.inbox = []
            return
        if not self.liar and self.inbox:
            self.opinion = self.random.choice(self.inbox)
        self.phase = EXPLORE
        self.seen = self.matched = 0
        self.left = m.exp_ticks(m.explore_ticks)


class DMVD(Model):
    """The swarm: tiles, space and robots."""

    def __init__(self, scenario: Scenario, seed: int) -> None:
        super().__init__(seed=seed)
        arena, t = scenario.arena, scenario.timing
        self.side = arena.side_m
        self.tiles_per_side = arena.tiles_per_side
        g = np.random.default_rng(seed)
        flat = np.zeros(arena.tiles, dtype=bool)
        flat[g.permutation(arena.tiles)[:arena.black_tiles]] = True
        self.tiles = flat.reshape(arena.tiles_per_side, arena.tiles_per_side).tolist()
        self.tile_m = arena.tile_m
        tps = t.ticks_per_s
        self.step_m = t.speed_m_s / tps
        self.turn_ticks = t.turn_mean_s * tps
        self.explore_ticks = t.explore_mean_s * tps
        self.dissemination_ticks = t.dissemination_g_s * tps
        self.min_ticks = t.dissemination_min_ticks
        self.listen_ticks = t.listen_ticks
        self.comm_range = t.comm_range_m
        self.space = ContinuousSpace(self.side, self.side, torus=False)
        n, liars = scenario.robots, scenario.byzantine_count
        margin = min(0.05, self.side / 10)
        for i in range(n):
            robot = Robot(self, liar=i < liars, opinion=i % 2)
            pos = (self.random.uniform(margin, self.side - margin),
                   self.random.uniform(margin, self.side - margin))
            self.space.place_agent(robot, pos)

    def exp_ticks(self, mean: float) -> int:
        return max(1, math.ceil(-math.log(1.0 - self.random.random()) * mean))

    def black_at(self, x: float, y: float) -> int:
        t = self.tiles_per_side
        row = min(int(y / self.tile_m), t - 1)
        col = min(int(x / self.tile_m), t - 1)
        return int(self.tiles[row][col])

    def step(self) -> None:
        self.agents.shuffle_do("step")
