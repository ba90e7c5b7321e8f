"""Mission sweeps: swarm size × Byzantine share × seeds, a summary table and plots.

Run i of a sweep is seeded from (base seed, i) only, so the table is the same whatever the
number of worker processes.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import pandas as pd

from swarm_sim.errors import SwarmError
from swarm_sim.mission.sim import MissionScenario, run_mission
from swarm_sim.rng import run_seed


@dataclass(frozen=True)
class MissionSweep:
    """Every (robots, Byzantine share) cell run with `seeds` seeds."""

    base: MissionScenario = MissionScenario()
    robots: tuple[int, ...] = (1, 2, 4, 8, 16)
    byzantine_shares: tuple[float, ...] = (0.0, 0.25, 0.5)
    seeds: int = 30
    base_seed: int = 2021

    def __post_init__(self) -> None:
        if self.seeds < 1 or not self.robots or not self.byzantine_shares:
            raise SwarmError("a sweep needs robots, Byzantine shares and at least one seed")
        if min(self.robots) < 1 or not all(0 <= s < 1 for s in self.byzantine_shares):
            raise SwarmError("robots must be ≥ 1 and Byzantine shares in [0, 1)")

    def cells(self) -> list[tuple[int, int]]:
        """(robots, Byzantine) pairs; at least one robot stays honest, duplicates dropped."""
        out: list[tuple[int, int]] = []
        for n in self.robots:
            for share in self.byzantine_shares:
                cell = (n, min(n - 1, round(share * n)))
                if cell not in out:
                    out.append(cell)
        return out

    def plan(self) -> list[tuple[MissionScenario, int]]:
        runs, i = [], 0
        for n, b in self.cells():
            scenario = replace(self.base, robots=n, byzantine=b)
            for _ in range(self.seeds):
                runs.append((scenario, run_seed(self.base_seed, i)))
                i += 1
        return runs


def _one(job: tuple[MissionScenario, int]) -> dict:
    result = asdict(run_mission(*job))
    for kind, count in result.pop("attacks_rejected").items():
        result[f"rejected_{kind}"] = count
    for verdict, count in result.pop("verdicts").items():
        result[f"verdict_{verdict}"] = count
    return result


def run_sweep(sweep: MissionSweep, workers: int | None = None) -> pd.DataFrame:
    """One row per run, in plan order."""
    jobs = sweep.plan()
    workers = workers or min(2, os.cpu_count() or 1)
    if workers == 1:
        rows = [_one(job) for job in jobs]
    else:
        with ProcessPoolExecutor(workers) as pool:
            rows = list(pool.map(_one, jobs, chunksize=8))
    return pd.DataFrame(rows).fillna(0)


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (robots, Byzantine): success rate, completion time of successful runs, proof bytes
    and the forged steps accepted (which must be 0)."""
    g = runs.groupby(["robots", "byzantine"], sort=True)
    ok = runs[runs["success"]].groupby(["robots", "byzantine"])["time_s"]
    out = pd.DataFrame({
        "runs": g.size(),
        "success_rate": g["success"].mean(),
        "time_median_s": ok.median(),
        "time_mean_s": ok.mean(),
        "proof_bytes_mean": g["proof_bytes"].mean(),
        "query_bytes_mean": g["query_bytes"].mean(),
        "attack_bytes_mean": g["attack_bytes"].mean(),
        "attacks_rejected": g[[c for c in runs if c.startswith("rejected_")]].sum().sum(axis=1)
        if any(c.startswith("rejected_") for c in runs) else 0,
        "forged_accepted": g["forged_accepted"].sum(),
        "order_violations": g["order_violations"].sum(),
    }).reset_index()
    out.insert(2, "byzantine_share", out["byzantine"] / out["robots"])
    return out


def markdown_table(summary: pd.DataFrame) -> str:
    lines = ["| robots | Byzantine | runs | success | median time (s) | honest proof bytes / run "
             "| query bytes / run | Byzantine bytes / run | attacks rejected | forged accepted |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in summary.itertuples():
        t = "–" if pd.isna(row.time_median_s) else f"{row.time_median_s:,.0f}"
        lines.append(f"| {row.robots} | {row.byzantine} | {row.runs} | "
                     f"{row.success_rate:.0%} | {t} | {row.proof_bytes_mean:,.0f} | "
                     f"{row.query_bytes_mean:,.0f} | {row.attack_bytes_mean:,.0f} | "
                     f"{int(row.attacks_rejected):,} | {int(row.forged_accepted)} |")
    return "\n".join(lines) + "\n"


def plot(summary: pd.DataFrame, path: Path, title: str) -> None:
    """Success rate and median completion time against swarm size, one line per share."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    summary = summary.assign(share=(summary["byzantine_share"] * 4).round() / 4)
    for share, part in summary.groupby("share"):
        label = f"Byzantine ≈ {share:.0%}"
        a.plot(part["robots"], part["success_rate"], "o-", label=label)
        b.plot(part["robots"], part["time_median_s"], "o-", label=label)
    for ax in (a, b):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("robots in the swarm")
        ax.grid(alpha=0.3)
    a.set_ylabel("success rate")
    a.set_ylim(-0.02, 1.02)
    b.set_ylabel("median completion time (s)")
    a.legend()
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(sweep: MissionSweep, out: Path, workers: int | None = None) -> pd.DataFrame:
    """Run the sweep and write runs CSV, summary CSV, a markdown table and the plot."""
    runs = run_sweep(sweep, workers)
    summary = summarise(runs)
    task = sweep.base.task
    out.mkdir(parents=True, exist_ok=True)
    runs.to_csv(out / f"{task}-runs.csv", index=False)
    summary.to_csv(out / f"{task}-summary.csv", index=False)
    (out / f"{task}-table.md").write_text(markdown_table(summary))
    plot(summary, out / f"{task}.png",
         f"{task}: {sweep.seeds} seeds per cell, {sweep.base.max_time_s:,.0f} s limit")
    return summary
