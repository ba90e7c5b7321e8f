"""Swarm simulator benchmark: prints one JSON document.

Robot-ticks per second at N = 20 (alone and 450 runs side by side), 1,000 and 10,000 robots;
contract votes per second (the first SwarmDecision batched and one vote per transaction on pyrevm
and on the embedded web3 chain; SwarmTokenDecision, every vote a transaction of its robot, a
height's votes as one block and one at a time, beside the bare pyrevm calls of the same votes);
gas per vote of the first and the token contracts; wall time of the AAMAS 2018 reproduction
sweep; and a peer baseline: the same DMVD scenario as a plain Mesa 3 model (the optional
`mesa` extra: `pip install -e '.[mesa]'`), timed side by side with gaka at N = 20 (one run),
1,000 and 10,000 on an arena that grows with N. Medians of repeated runs.

    .venv/bin/python benchmarks/swarm.py [--quick] [--skip-sweep] [--skip-mesa | --mesa-only]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from typing import Any

import numpy as np

from swarm_sim.bench import machine, robot_ticks_per_s, run_benchmarks
from swarm_sim.config import ByzantineSpec, Scenario, scaled_arena

EXPLORE, DISSEMINATE = 0, 1


def _mesa_model(scenario: Scenario, seed: int) -> Any:
    """The AAMAS 2018 DMVD scenario as a plain Mesa 3 model (built here so that Mesa stays an
    optional import): one Agent per robot stepped in random order, positions in a
    ContinuousSpace and neighbours from its radius query, swarm_sim's default parameters, and
    Byzantine robots always announcing black."""
    from mesa import Agent, Model
    from mesa.space import ContinuousSpace

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

    return DMVD(scenario, seed)


def mesa_comparison(quick: bool) -> dict[str, Any]:
    """Robot-ticks/s of gaka's vectorised DMVD and of the Mesa model, same scenario (20 %
    Byzantine robots), measured one after the other in this process; ratio gaka / Mesa."""
    sizes = [(20, 3000), (1000, 300), (10_000, 20)]
    if quick:
        sizes = [(20, 500), (1000, 50), (10_000, 5)]
    out = []
    for robots, ticks in sizes:
        scenario = Scenario(robots=robots, strategy="dmvd", arena=scaled_arena(robots),
                            byzantine=ByzantineSpec(count=robots // 5))
        mesa_rates, gaka_rates = [], []
        # Interleaved, so that a change in the machine's load hits both alike.
        for rep in range(1 if quick else 5):
            model = _mesa_model(scenario, rep)
            start = time.perf_counter()
            for _ in range(ticks):
                model.step()
            mesa_rates.append(robots * ticks / (time.perf_counter() - start))
            gaka_rates.append(robot_ticks_per_s(robots, ticks, 1, repeats=1,
                                                strategy="dmvd")["robot_ticks_per_s"])
        mesa, gaka = statistics.median(mesa_rates), statistics.median(gaka_rates)
        out.append({"robots": robots, "ticks": ticks, "runs_side_by_side": 1,
                    "gaka_robot_ticks_per_s": gaka, "mesa_robot_ticks_per_s": mesa,
                    "ratio_gaka_over_mesa": gaka / mesa,
                    "per_repeat_ratios": [g / m for g, m in zip(gaka_rates, mesa_rates,
                                                                strict=True)],
                    "mesa_repeats": mesa_rates, "gaka_repeats": gaka_rates})
    return {"mesa_version": __import__("mesa").__version__, "sizes": out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller measurements")
    parser.add_argument("--skip-sweep", action="store_true", help="do not time the sweep")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--skip-mesa", action="store_true", help="no Mesa baseline")
    group.add_argument("--mesa-only", action="store_true",
                       help="only the Mesa baseline (and the machine)")
    args = parser.parse_args()
    report = ({"machine": machine()} if args.mesa_only
              else run_benchmarks(quick=args.quick, sweep=not args.skip_sweep))
    if not args.skip_mesa:
        try:
            report["mesa"] = mesa_comparison(args.quick)
        except ImportError:
            hint = "mesa is not installed: pip install -e '.[mesa]'"
            if args.mesa_only:  # the one thing asked for cannot run
                raise SystemExit(f"error: {hint}") from None
            report["mesa"] = {"skipped": hint}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
