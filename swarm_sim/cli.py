"""`gaka swarm`: simulate swarms, sweep, plot, benchmark."""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from swarm_sim.errors import SwarmError

if TYPE_CHECKING:
    from swarm_sim.experiments import Sweep

app = typer.Typer(help="Simulate robot swarms (run, sweep, plot, bench).", no_args_is_help=True)


@app.callback()
def _swarm() -> None:
    """Swarm simulator commands."""


def parse_counts(text: str) -> tuple[int, ...]:
    """'0-9' or '0,3,6' (or a mix) as a tuple of Byzantine counts."""
    out: list[int] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
        if match is None:
            raise SwarmError(f"cannot read Byzantine counts {text!r}: use non-negative integers "
                             "such as 0-9 or 0,3,6")
        lo, hi = int(match[1]), int(match[2] or match[1])
        if hi < lo:
            raise SwarmError(f"Byzantine counts {part!r} run backwards: use low-high, e.g. 0-9")
        out.extend(range(lo, hi + 1))
    if not out:
        raise SwarmError("no Byzantine counts given")
    return tuple(out)


def _scenario(robots: int, strategy: str, byzantine: int | None, share: float | None,
              behaviour: str, placement: str, black_share: float, layout: str,
              tiles: int | None, side_m: float | None, max_time_s: float, backend: str,
              rule: str | None):
    from swarm_sim.arena import ArenaSpec
    from swarm_sim.config import ByzantineSpec, LedgerSpec, Scenario, scaled_arena
    from swarm_sim.experiments import scenario_for

    arena = scaled_arena(robots, ArenaSpec(black_share=black_share, layout=layout))
    if tiles is not None or side_m is not None:
        arena = replace(arena, tiles_per_side=tiles if tiles is not None else arena.tiles_per_side,
                        side_m=side_m if side_m is not None else arena.side_m)
    label = f"{strategy}-{rule}" if strategy in ("blockchain", "token") and rule else strategy
    base = Scenario(robots=robots, arena=arena, max_time_s=max_time_s,
                    byzantine=ByzantineSpec(behaviour=behaviour, placement=placement),
                    ledger=LedgerSpec(backend=backend))
    count = ByzantineSpec(count=byzantine, share=share).resolve(robots)
    return scenario_for(base, label, count)


@app.command("run")
def run_cmd(
    strategy: str = typer.Option("blockchain", help="dmvd|dmmd|dc|lcp|wmsr|blockchain|"
                                 "blockchain-estimate|token|token-estimate, or "
                                 "blockchain-<rule> / token-<rule>"),
    robots: int = typer.Option(20, help="swarm size (the arena grows to keep the density)"),
    byzantine: int | None = typer.Option(None, help="number of Byzantine robots"),
    byzantine_share: float | None = typer.Option(None, help="share of Byzantine robots (0..1)"),
    behaviour: str = typer.Option("wrong", help="wrong|black|white|coin|uniform|gaussian|"
                                  "sybil|jamming"),
    placement: str = typer.Option("random", help="random|cluster"),
    black_share: float = typer.Option(0.34, help="share of black tiles"),
    layout: str = typer.Option("random", help="random|halves|stripes"),
    tiles: int | None = typer.Option(None, help="tiles per side (default: scaled)"),
    side_m: float | None = typer.Option(None, help="arena side in metres (default: scaled)"),
    max_time: float = typer.Option(1500.0, help="simulated seconds at most"),
    backend: str = typer.Option("revm", help="ledger backend: revm|embedded"),
    rule: str | None = typer.Option(None, help="contract rule for blockchain (dmvd|dmmd|dc) "
                                    "or token (dmvd|dmmd)"),
    seed: int = typer.Option(0, help="base seed (the run is run 0 of it)"),
) -> None:
    """Simulate one run and print its outcome as JSON."""
    import time

    from swarm_sim.rng import run_seed
    from swarm_sim.simulation import simulate

    scenario = _scenario(robots, strategy, byzantine, byzantine_share, behaviour, placement,
                         black_share, layout, tiles, side_m, max_time, backend, rule)
    start = time.perf_counter()
    result = simulate(scenario, run_seed(seed, 0))
    out = asdict(result) | {"wall_s": round(time.perf_counter() - start, 3),
                            "arena_side_m": scenario.arena.side_m,
                            "tiles": scenario.arena.tiles}
    # JSON has no NaN: a measure that does not apply to this run (tokens without a token
    # contract) is null.
    out = {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in out.items()}
    typer.echo(json.dumps(out, indent=2, allow_nan=False))


def sweep_from_options(preset: str | None, strategies: str | None, byzantine: str | None,
                       seeds: int | None, base_seed: int | None, robots: int | None,
                       behaviour: str | None, max_time: float | None) -> Sweep:
    """The sweep `gaka swarm sweep` runs: a preset (its own seeds and base seed unless given)
    or strategies × Byzantine counts."""
    from swarm_sim.config import ByzantineSpec, Scenario, scaled_arena
    from swarm_sim.experiments import PRESETS, Sweep

    if seeds is not None and seeds < 1:
        raise SwarmError(f"--seeds must be at least 1, got {seeds}")
    if preset is not None:
        if preset not in PRESETS:
            raise SwarmError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
        fixed = [f"--{name}" for name, value in (("strategies", strategies),
                 ("byzantine", byzantine), ("robots", robots), ("behaviour", behaviour))
                 if value is not None]
        if fixed:
            raise SwarmError(f"--preset {preset} sets its own strategies, Byzantine counts, "
                             f"swarm size and behaviours; drop {', '.join(fixed)} (or the "
                             "preset, to sweep your own)")
        sweep = PRESETS[preset]()
        sweep = replace(sweep, seeds=sweep.seeds if seeds is None else seeds,
                        base_seed=sweep.base_seed if base_seed is None else base_seed)
    else:
        size = 20 if robots is None else robots
        base = Scenario(robots=size, arena=scaled_arena(size),
                        byzantine=ByzantineSpec(behaviour=behaviour or "wrong"))
        names = strategies or "dmvd,dmmd,dc,blockchain-dmvd"
        sweep = Sweep(base=base, strategies=tuple(s.strip() for s in names.split(",")),
                      byzantine=parse_counts(byzantine or "0-9"),
                      seeds=45 if seeds is None else seeds,
                      base_seed=Sweep.base_seed if base_seed is None else base_seed)
    if max_time is not None:
        sweep = replace(sweep, base=replace(sweep.base, max_time_s=max_time))
    return sweep


@app.command("sweep")
def sweep_cmd(
    preset: str | None = typer.Option(None, help="a named sweep: aamas2018 | estimation"),
    strategies: str | None = typer.Option(None, help="comma-separated (default: "
                                          "dmvd,dmmd,dc,blockchain-dmvd)"),
    byzantine: str | None = typer.Option(None, help="Byzantine counts, e.g. 0-9 (the "
                                         "default) or 0,3,6"),
    seeds: int | None = typer.Option(None, help="runs per cell (preset: 45)"),
    base_seed: int | None = typer.Option(None, help="run i is seeded from (base seed, i); "
                                         "default: the preset's (aamas2018 2018, estimation "
                                         "2023), else 2018"),
    robots: int | None = typer.Option(None, help="swarm size (default: 20)"),
    behaviour: str | None = typer.Option(None, help="Byzantine behaviour (default: wrong)"),
    max_time: float | None = typer.Option(None, help="simulated seconds per run at most"),
    workers: int | None = typer.Option(None, help="local processes (default: cores)"),
    ray_address: str | None = typer.Option(None, help="run on Ray: 'auto' or host:port"),
    out: Path = typer.Option(Path("swarm-runs.csv"), help="per-run results (.csv|.parquet)"),
    summary: Path = typer.Option(Path("swarm-summary.csv"), help="summary table"),
    plot: Path | None = typer.Option(None, help="PNG plot of exit probability"),
    error_plot: Path | None = typer.Option(None, help="PNG plot of the estimate's error over "
                                           "time (continuous strategies)"),
    quiet: bool = typer.Option(False, help="no progress bar"),
) -> None:
    """Sweep strategies × Byzantine counts × seeds; write runs, summary and plot."""
    import time

    from swarm_sim.experiments import (
        execute,
        plot_error_over_time,
        plot_exit_probability,
        save_table,
        summarise,
    )

    sweep = sweep_from_options(preset, strategies, byzantine, seeds, base_seed, robots,
                               behaviour, max_time)
    start = time.perf_counter()
    runs = execute(sweep, workers=workers, ray_address=ray_address, progress=not quiet)
    wall = time.perf_counter() - start
    table = summarise(runs)
    save_table(runs, out)
    save_table(table, summary)
    if plot is not None:
        plot_exit_probability(table, plot, title=f"{preset or 'sweep'}: {sweep.runs} runs")
    if error_plot is not None:
        plot_error_over_time(runs, error_plot, sweep.base.max_time_s,
                             title=f"{preset or 'sweep'}: {sweep.runs} runs")
    show = ["strategy", "behaviour", "byzantine", "runs", "exit_probability", "wilson_low",
            "wilson_high", "consensus_time_median_s", "abs_error_mean"]
    typer.echo(table[show].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    typer.echo(f"{sweep.runs} runs in {wall:.1f} s; runs -> {out}, summary -> {summary}"
               + (f", plot -> {plot}" if plot else ""))


@app.command("plot")
def plot_cmd(
    summary: Path = typer.Argument(..., help="summary table from `gaka swarm sweep`"),
    out: Path = typer.Option(Path("swarm-exit-probability.png"), help="PNG file"),
    title: str = typer.Option("", help="plot title"),
) -> None:
    """Plot exit probability vs Byzantine robots from a summary table."""
    from swarm_sim.experiments import load_table, plot_exit_probability

    plot_exit_probability(load_table(summary), out, title)
    typer.echo(f"plot -> {out}")


@app.command("bench")
def bench_cmd(
    quick: bool = typer.Option(False, help="smaller measurements (a smoke test)"),
    skip_sweep: bool = typer.Option(False, help="do not time the AAMAS 2018 sweep"),
) -> None:
    """Measure robot-ticks/s, contract votes/s (revm vs embedded py-evm) and the sweep's time."""
    from swarm_sim.bench import run_benchmarks

    typer.echo(json.dumps(run_benchmarks(quick=quick, sweep=not skip_sweep), indent=2))
