"""Runs and sweeps: strategy × Byzantine count × seeds, in local processes or on Ray.

A sweep is planned as a fixed list of runs; run i is seeded from (base seed, i) only, and runs
are cut into batches in plan order, so the same sweep gives the same table on one process,
on many, or on a Ray cluster.
"""

from __future__ import annotations

import math
import os
import socket
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from swarm_sim.config import DISCRETE, RULES, STRATEGIES, TOKEN_RULES, Scenario
from swarm_sim.errors import SwarmError
from swarm_sim.rng import run_seed
from swarm_sim.simulation import RunResult, simulate_batch

BATCH_RUNS = 500
# A token contract hosts at most 216 swarms (SwarmTokenDecision.MAX_SWARMS).
TOKEN_BATCH_RUNS = 200
Z95 = 1.959963984540054


def strategy_labels() -> list[str]:
    """Every strategy a sweep accepts; the contract strategies are named after their rule."""
    return ([s for s in STRATEGIES if s not in ("blockchain", "token")]
            + [f"blockchain-{r}" for r in RULES] + [f"token-{r}" for r in TOKEN_RULES])


def scenario_for(base: Scenario, label: str, byzantine: int) -> Scenario:
    """The scenario of one sweep cell; 'blockchain-<rule>' and 'token-<rule>' select the
    contract's rule."""
    family, _, rule = label.partition("-")
    if family in ("blockchain", "token") and rule != "estimate" and label not in STRATEGIES:
        rules = RULES if family == "blockchain" else TOKEN_RULES
        if rule not in rules:
            raise SwarmError(f"unknown {family} rule {rule!r}; choose one of {', '.join(rules)}")
        scenario = replace(base, strategy=family, ledger=replace(base.ledger, rule=rule))
    elif label in STRATEGIES:
        scenario = replace(base, strategy=label)
    else:
        raise SwarmError(
            f"unknown strategy {label!r}; choose from {', '.join(strategy_labels())}")
    return scenario.with_byzantine(byzantine)


@dataclass(frozen=True)
class Sweep:
    """A full factorial sweep."""

    base: Scenario = field(default_factory=Scenario)
    strategies: tuple[str, ...] = ("dmvd", "dmmd", "dc", "blockchain-dmvd")
    byzantine: tuple[int, ...] = tuple(range(10))
    seeds: int = 45
    base_seed: int = 2018
    # Byzantine styles to sweep; empty: the base scenario's one.
    behaviours: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.seeds < 1:
            raise SwarmError(f"a sweep needs at least 1 seed per cell, got {self.seeds}")
        if not self.strategies or not self.byzantine:
            raise SwarmError("a sweep needs at least one strategy and one Byzantine count")
        for b in self.byzantine:
            if b < 0:
                raise SwarmError(f"Byzantine counts must not be negative, got {b}")
        for label in self.strategies:
            scenario_for(self.base, label, max(self.byzantine))

    @property
    def styles(self) -> tuple[str, ...]:
        return self.behaviours or (self.base.byzantine.behaviour,)

    @property
    def runs(self) -> int:
        return len(self.strategies) * len(self.styles) * len(self.byzantine) * self.seeds


@dataclass(frozen=True)
class Batch:
    """Runs simulated side by side: same strategy and parameters, own seeds."""

    scenarios: tuple[Scenario, ...]
    seeds: tuple[int, ...]
    run_indices: tuple[int, ...]


def aamas2018() -> Sweep:
    """Strobel, Castelló Ferrer and Dorigo (AAMAS 2018): 20 robots, 400 tiles, 34 % black,
    0–9 Byzantine robots always voting the wrong colour, 45 runs per setting."""
    return Sweep(strategies=("dmvd", "dmmd", "dc", "blockchain-dmmd", "blockchain-dmvd",
                             "token-dmvd"))


def estimation() -> Sweep:
    """Collective estimation of the black share (Strobel, Pacheco and Dorigo 2023): 20 robots,
    9 of them (45 %) Byzantine in each listed style, 600 s, 20 runs per cell."""
    base = Scenario(max_time_s=600.0)
    return Sweep(base=base, strategies=("lcp", "wmsr", "blockchain-estimate", "token-estimate"),
                 byzantine=(9,), seeds=20, base_seed=2023,
                 behaviours=("white", "black", "coin", "uniform", "gaussian", "sybil",
                             "jamming"))


PRESETS: dict[str, Callable[[], Sweep]] = {"aamas2018": aamas2018, "estimation": estimation}


def cell_seed(base_seed: int, label: str, byzantine: int, k: int) -> int:
    """The seed of run k of the cell (strategy, Byzantine count): a sweep of that one cell
    runs exactly the runs the full sweep ran for it."""
    return run_seed(base_seed ^ zlib.crc32(label.encode()), byzantine * 1_000_003 + k)


def plan(sweep: Sweep, batch_runs: int = BATCH_RUNS) -> list[Batch]:
    """The sweep's runs in a fixed order, cut into batches per strategy. Token strategies
    draw with block hashes, which depend on the batch's transactions: they run one batch
    per cell, so that a cell's runs do not depend on the other cells of the sweep."""
    batches: list[Batch] = []
    index = 0
    for label in sweep.strategies:
        cells: list[list[tuple[Scenario, int, int]]] = [[]]
        for style in sweep.styles:
            base = replace(sweep.base, byzantine=replace(sweep.base.byzantine, behaviour=style))
            # Runs batch together only when they share the style.
            if cells[-1]:
                cells.append([])
            key = label if style == "wrong" else f"{label}/{style}"
            for b in sweep.byzantine:
                scenario = scenario_for(base, label, b)
                if label.startswith("token") and cells[-1]:
                    cells.append([])
                for k in range(sweep.seeds):
                    cells[-1].append((scenario, cell_seed(sweep.base_seed, key, b, k), index))
                    index += 1
        size = min(batch_runs, TOKEN_BATCH_RUNS) if label.startswith("token") else batch_runs
        for cell in cells:
            for at in range(0, len(cell), size):
                chunk = cell[at:at + size]
                batches.append(Batch(*(tuple(c) for c in zip(*chunk, strict=True))))
    return batches


def run_batch(batch: Batch) -> list[RunResult]:
    """Worker entry point (a plain function, so processes and Ray can ship it)."""
    return simulate_batch(list(batch.scenarios), list(batch.seeds), list(batch.run_indices))


def _local(batches: list[Batch], workers: int) -> Iterator[list[RunResult]]:
    if workers <= 1:
        for b in batches:
            yield run_batch(b)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(run_batch, b) for b in batches]
        for f in as_completed(futures):
            yield f.result()


def _check_reachable(address: str) -> None:
    """Fail fast on a dead host:port (Ray itself retries for minutes)."""
    host, sep, port = address.rpartition(":")
    if not sep or "://" in address or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
    except OSError as exc:
        raise SwarmError(f"cannot reach a Ray cluster at {address!r}: {exc}") from None


def _ray(batches: list[Batch], address: str) -> Iterator[list[RunResult]]:
    import ray

    if not ray.is_initialized():
        _check_reachable(address)
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise SwarmError(f"cannot reach a Ray cluster at {address!r}: {exc}") from None
    remote = ray.remote(run_batch)
    pending = [remote.remote(b) for b in batches]
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        yield ray.get(ready[0])


def execute(sweep: Sweep, workers: int | None = None, ray_address: str | None = None,
            progress: bool = True, batch_runs: int = BATCH_RUNS) -> pd.DataFrame:
    """Run every run of the sweep; one row per run, ordered by run index."""
    from tqdm import tqdm

    batches = plan(sweep, batch_runs)
    workers = workers or min(len(batches), os.cpu_count() or 1)
    source = _ray(batches, ray_address) if ray_address else _local(batches, workers)
    rows: list[dict] = []
    with tqdm(total=sweep.runs, unit="run", disable=not progress, desc="swarm sweep") as bar:
        for results in source:
            rows.extend(asdict(r) for r in results)
            bar.update(len(results))
    return pd.DataFrame(rows).sort_values("run_index", ignore_index=True)


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion."""
    if n == 0:
        return math.nan, math.nan
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """Per strategy and Byzantine count: exit probability (Wilson 95 %), time, error."""
    rows = []
    for (strategy, behaviour, byz), g in runs.groupby(["strategy", "behaviour", "byzantine"],
                                                      sort=True):
        k, n = int(g["correct"].sum()), len(g)
        lo, hi = wilson(k, n)
        reached = g.loc[g["consensus"], "consensus_time_s"]
        rows.append({
            "strategy": strategy, "behaviour": behaviour, "byzantine": int(byz), "runs": n,
            "exit_probability": k / n, "wilson_low": lo, "wilson_high": hi,
            "consensus_rate": float(g["consensus"].mean()),
            "consensus_time_median_s": float(reached.median()) if len(reached) else math.nan,
            "abs_error_mean": float(g["abs_error"].mean()),
            "flagged_byzantine_mean": float(g["flagged_byzantine"].mean()),
            "flagged_honest_total": int(g["flagged_honest"].sum()),
            "honest_tokens_mean": float(g["honest_tokens"].mean()),
            "byzantine_tokens_mean": float(g["byzantine_tokens"].mean()),
        })
    return pd.DataFrame(rows)


def save_table(frame: pd.DataFrame, path: Path) -> None:
    """CSV or Parquet, by the file's suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    elif path.suffix == ".csv":
        frame.to_csv(path, index=False, float_format="%.6g")
    else:
        raise SwarmError(f"cannot write {path}: use a .csv or .parquet file name")


def load_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise SwarmError(f"no such results file: {path}")
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".csv":
        return pd.read_csv(path)
    raise SwarmError(f"cannot read {path}: use a .csv or .parquet file")


def plot_exit_probability(summary: pd.DataFrame, path: Path, title: str = "") -> None:
    """PNG: exit probability vs number of Byzantine robots, one line per strategy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    needed = {"strategy", "byzantine", "exit_probability", "wilson_low", "wilson_high"}
    if not needed <= set(summary.columns):
        raise SwarmError(f"the table lacks columns {sorted(needed - set(summary.columns))}; "
                         "give a summary table (gaka swarm sweep --summary)")
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for strategy, g in summary.groupby("strategy", sort=True):
        g = g.sort_values("byzantine")
        err = [g["exit_probability"] - g["wilson_low"], g["wilson_high"] - g["exit_probability"]]
        ax.errorbar(g["byzantine"], g["exit_probability"], yerr=err, marker="o", capsize=3,
                    label=strategy, linestyle="--" if strategy in DISCRETE else "-")
    ax.set_xlabel("Byzantine robots")
    ax.set_ylabel("exit probability (Wilson 95 %)")
    ax.set_ylim(-0.03, 1.03)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    _finish(fig, ax, path, title)


def plot_error_over_time(runs: pd.DataFrame, path: Path, max_time_s: float, title: str = ""
                         ) -> None:
    """PNG: mean absolute error of the honest robots' estimate over time, one line per
    strategy (all Byzantine styles of the table pooled)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for strategy, g in runs.groupby("strategy", sort=True):
        curves = np.array([[float(v) for v in str(c).split(";")] for c in g["error_curve"]])
        t = max_time_s * np.arange(1, curves.shape[1] + 1) / curves.shape[1]
        ax.plot(t, curves.mean(axis=0), marker="o", label=strategy)
    ax.axhline(0.05, color="grey", linestyle=":", label="0.05")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("mean absolute error of the estimate")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _finish(fig, ax, path, title)


def _finish(fig: Any, ax: Any, path: Path, title: str) -> None:
    """Title, layout, write the PNG and free the figure (the plots' common tail)."""
    import matplotlib.pyplot as plt

    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
