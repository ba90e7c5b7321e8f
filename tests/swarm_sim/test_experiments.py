"""Sweeps (local processes and Ray), statistics, bad input and the CLI."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from swarm_sim.arena import ArenaSpec
from swarm_sim.config import ByzantineSpec, LedgerSpec, Scenario, Timing
from swarm_sim.errors import SwarmError
from swarm_sim.experiments import Sweep, estimation, execute, plan, summarise, wilson
from tests.conftest import GAKA

TINY = Sweep(
    base=Scenario(robots=10, max_time_s=40, arena=ArenaSpec(side_m=1.4, tiles_per_side=14)),
    strategies=("dmmd", "blockchain-dmvd"), byzantine=(0, 2), seeds=3, base_seed=5)


def test_wilson_interval_contains_the_estimate_and_shrinks_with_more_runs() -> None:
    lo, hi = wilson(30, 45)
    assert lo < 30 / 45 < hi
    lo_big, hi_big = wilson(300, 450)
    assert hi_big - lo_big < hi - lo
    assert wilson(0, 45)[0] == 0.0 and wilson(45, 45)[1] == 1.0
    flipped = wilson(15, 45)
    assert flipped == pytest.approx((1 - hi, 1 - lo))


def test_runs_are_seeded_from_base_seed_and_index_whatever_the_batching() -> None:
    coarse = [r for b in plan(TINY, batch_runs=100) for r in b.run_indices]
    fine = [r for b in plan(TINY, batch_runs=2) for r in b.run_indices]
    assert sorted(coarse) == sorted(fine) == list(range(TINY.runs))
    seeds = {i: s for b in plan(TINY, 100) for i, s in zip(b.run_indices, b.seeds, strict=True)}
    assert seeds == {i: s for b in plan(TINY, 2) for i, s in zip(b.run_indices, b.seeds,
                                                                   strict=True)}


def test_local_processes_and_ray_give_the_same_table() -> None:
    import ray  # a hard dependency: a broken install must fail, not skip
    local = execute(TINY, workers=2, progress=False)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        on_ray = execute(TINY, ray_address="auto", progress=False, batch_runs=4)
    finally:
        ray.shutdown()
    assert len(local) == TINY.runs
    pd.testing.assert_frame_equal(local.drop(columns="simulated_s"),
                                  on_ray.drop(columns="simulated_s"))
    pd.testing.assert_frame_equal(summarise(local), summarise(on_ray))


@pytest.mark.parametrize("make, message", [
    (lambda: Scenario(robots=-3), "at least 1 robot"),
    (lambda: Scenario(robots=0), "at least 1 robot"),
    (lambda: ByzantineSpec(count=-1), "must not be negative"),
    (lambda: ByzantineSpec(share=1.5), r"share must lie in \[0, 1\]"),
    (lambda: ByzantineSpec(share=-0.1), r"share must lie in \[0, 1\]"),
    (lambda: Scenario(robots=5, byzantine=ByzantineSpec(count=9)), "only 5"),
    (lambda: ArenaSpec(tiles_per_side=0), "arena is empty"),
    (lambda: ArenaSpec(side_m=0.0), "side must be positive"),
    (lambda: Scenario(arena=ArenaSpec(black_share=0.5, tiles_per_side=2)), "no majority colour"),
    (lambda: Scenario(strategy="telepathy"), "unknown strategy"),
    (lambda: Timing(memory=0), "memory"),
    (lambda: Sweep(byzantine=(0, -2)), "must not be negative"),
    (lambda: Sweep(strategies=("blockchain-oracle",)), "unknown blockchain rule"),
])
def test_bad_parameters_are_clear_errors(make, message: str) -> None:
    with pytest.raises(SwarmError, match=message):
        make()


def _gaka(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(GAKA), "swarm", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_cli_reports_bad_input_without_a_traceback(gaka_env: dict[str, str]) -> None:
    for args in (["run", "--byzantine-share", "1.5"], ["run", "--robots", "-4"],
                 ["run", "--tiles", "0"], ["sweep", "--byzantine", "0,-3", "--quiet"],
                 ["sweep", "--seeds", "1", "--quiet", "--ray-address", "127.0.0.1:1"]):
        done = _gaka(*args, env=gaka_env)
        assert done.returncode != 0
        assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr


def test_cli_sweep_writes_runs_summary_and_plot(tmp_path: Path, gaka_env: dict[str, str]
                                                ) -> None:
    runs, summary, png = tmp_path / "runs.parquet", tmp_path / "s.csv", tmp_path / "p.png"
    done = _gaka("sweep", "--strategies", "dmvd,dc", "--byzantine", "0-1", "--seeds", "2",
                 "--robots", "8", "--max-time", "30", "--workers", "1", "--quiet",
                 "--out", str(runs), "--summary", str(summary), "--plot", str(png),
                 env=gaka_env)
    assert done.returncode == 0, done.stderr
    assert len(pd.read_parquet(runs)) == 8
    table = pd.read_csv(summary)
    assert set(table["strategy"]) == {"dmvd", "dc"} and set(table["byzantine"]) == {0, 1}
    assert png.read_bytes().startswith(b"\x89PNG")
    again = tmp_path / "again.png"
    assert _gaka("plot", str(summary), "--out", str(again), env=gaka_env).returncode == 0
    assert again.read_bytes().startswith(b"\x89PNG")


def test_cli_run_prints_the_outcome(gaka_env: dict[str, str]) -> None:
    done = _gaka("run", "--strategy", "blockchain-estimate", "--robots", "10",
                 "--byzantine", "2", "--behaviour", "sybil", "--max-time", "30", env=gaka_env)
    assert done.returncode == 0, done.stderr

    def no_nan(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    out = json.loads(done.stdout, parse_constant=no_nan)
    assert out["strategy"] == "blockchain-estimate"
    assert out["honest_tokens"] is None  # no token contract in this run


def test_sweep_is_reproducible_in_one_process_too() -> None:
    one = execute(dataclasses.replace(TINY, strategies=("dmmd",)), workers=1, progress=False)
    two = execute(dataclasses.replace(TINY, strategies=("dmmd",)), workers=1, progress=False)
    pd.testing.assert_frame_equal(one, two)


def test_a_sweep_is_the_same_whatever_the_workers_and_the_order_of_its_cells() -> None:
    # A classical and a token strategy in two styles; honest robots vote early enough that
    # the token contract decides within the short runs.
    base = Scenario(robots=10, max_time_s=40, arena=ArenaSpec(side_m=1.4, tiles_per_side=14),
                    ledger=LedgerSpec(estimate_min_tiles=20), byzantine=ByzantineSpec(count=4))
    sweep = Sweep(base=base, strategies=("lcp", "token-estimate"), byzantine=(4,), seeds=2,
                  base_seed=2023, behaviours=("white", "black"))
    turned = dataclasses.replace(sweep, strategies=sweep.strategies[::-1],
                                 behaviours=sweep.behaviours[::-1])
    key = ["strategy", "behaviour", "seed"]

    def rows(frame: pd.DataFrame) -> pd.DataFrame:
        # run_index follows the plan's order; everything else belongs to the run.
        return (frame.drop(columns=["run_index", "simulated_s"]).sort_values(key)
                .reset_index(drop=True))

    alone = rows(execute(sweep, workers=1, progress=False))
    assert set(alone["strategy"]) == {"lcp", "token-estimate"} and len(alone) == 8
    assert alone["accepted_votes"][alone["strategy"] == "token-estimate"].gt(0).all()
    pd.testing.assert_frame_equal(alone, rows(execute(sweep, workers=2, progress=False)))
    pd.testing.assert_frame_equal(alone, rows(execute(turned, workers=1, progress=False)))


def test_cli_preset_keeps_its_own_base_seed_unless_one_is_given(tmp_path: Path,
                                                                gaka_env: dict[str, str]) -> None:
    def seeds(*extra: str) -> list[int]:
        out = tmp_path / "runs.csv"
        done = _gaka("sweep", "--preset", "estimation", "--seeds", "1", "--max-time", "1",
                     "--workers", "1", "--quiet", "--out", str(out),
                     "--summary", str(tmp_path / "s.csv"), *extra, env=gaka_env)
        assert done.returncode == 0, done.stderr
        return pd.read_csv(out, dtype={"seed": "uint64"})["seed"].tolist()

    def planned(sweep: Sweep) -> list[int]:
        by_index = {i: s for b in plan(sweep) for i, s in zip(b.run_indices, b.seeds,
                                                              strict=True)}
        return [by_index[i] for i in sorted(by_index)]

    preset = dataclasses.replace(estimation(), seeds=1)
    assert preset.base_seed == 2023
    assert seeds() == planned(preset)
    assert seeds("--base-seed", "2018") == planned(dataclasses.replace(preset, base_seed=2018))


@pytest.mark.parametrize(("argv", "words"), [
    (["--preset", "estimation", "--strategies", "dmvd"], ["--strategies", "drop"]),
    (["--preset", "aamas2018", "--byzantine", "0", "--robots", "10"],
     ["--byzantine", "--robots"]),
    (["--strategies", "dmvd", "--seeds", "0"], ["--seeds must be at least 1"]),
    (["--strategies", "dmvd", "--byzantine", "5-2"], ["5-2", "backwards"]),
])
def test_cli_sweep_refuses_options_it_would_ignore(capsys, argv, words) -> None:
    from gaka.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["swarm", "sweep", *argv])
    out, err = capsys.readouterr()
    assert exc.value.code == 1 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1
    for word in words:
        assert word in err
