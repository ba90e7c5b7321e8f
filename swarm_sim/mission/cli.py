"""`gaka mission`: build secret missions, prove and verify steps, simulate and sweep."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import typer

from gaka.config import address_option
from swarm_sim.mission.blueprint import MissionError

app = typer.Typer(help="Secret Merkle missions (build, prove, verify, run, sweep).",
                  no_args_is_help=True)


@app.callback()
def _mission() -> None:
    """Secret Merkle mission commands."""


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise MissionError(f"cannot read {what} {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise MissionError(f"{what} {path} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MissionError(f"{what} {path} must be a JSON object")
    return data


def _write_private(path: Path, data: dict[str, Any]) -> None:
    """Secrets are written readable by the owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)


def _floats(text: str, what: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise MissionError(f"{what} must be comma-separated numbers, got {text!r}") from None


@app.command("build")
def build_cmd(
    spec: Path = typer.Argument(..., help="mission spec (.toml or .json)"),
    out: Path = typer.Option(Path("mission"), help="output folder"),
    robots: int = typer.Option(1, help="number of robot secret bundles"),
    share: int | None = typer.Option(None, help="robots holding each step (default: all)"),
    wallet: list[str] = typer.Option(
        [], "--wallet", callback=address_option, help="robot i's wallet, once per robot in "
        "order: step k's on-chain reward is bound to robot (k-1) mod robots; none: no step "
        "can be claimed on-chain"),
) -> None:
    """Salt and build the tree; write blueprint.json (public), operator.json and
    robot-<i>.json (secret, mode 600). Prints the blueprint."""
    from swarm_sim.mission.blueprint import address_bytes, build, load_spec

    if wallet and len(wallet) != robots:
        raise MissionError(f"give one --wallet per robot: {robots} robots, {len(wallet)} wallets")
    built = build(load_spec(spec), wallets=[address_bytes(w) for w in wallet])
    out.mkdir(parents=True, exist_ok=True)
    blueprint = built.blueprint.to_dict()
    (out / "blueprint.json").write_text(json.dumps(blueprint, indent=2) + "\n")
    _write_private(out / "operator.json", {
        "spec": built.spec.to_dict(), "salts": [s.hex() for s in built.salts],
        "beneficiaries": ["0x" + b.hex() for b in built.beneficiaries]})
    for bundle in built.robot_secrets(robots, share):
        _write_private(out / f"robot-{bundle.robot}.json", bundle.to_dict())
    typer.echo(json.dumps(blueprint, indent=2))


@app.command("prove")
def prove_cmd(
    secrets_file: Path = typer.Argument(..., help="a robot-<i>.json bundle"),
    step: int = typer.Option(..., help="step index (from 1)"),
    sensor: str = typer.Option(..., help="what the robot sensed"),
    action: str = typer.Option(..., help="the action it performed"),
    out: Path | None = typer.Option(None, help="write the proof JSON here"),
) -> None:
    """Build the proof of a step from a robot's secrets and what it sensed; refuses a
    (sensor, action) that is not that step."""
    from swarm_sim.mission.blueprint import Operation, RobotSecrets
    from swarm_sim.mission.proofs import prove, verify

    bundle = RobotSecrets.from_dict(_read_json(secrets_file, "secret bundle"))
    held = {s.index: s for s in bundle.steps}
    if step not in held:
        raise MissionError(f"robot {bundle.robot} holds no secret for step {step}")
    proof = prove(held[step], bundle.blueprint.size, Operation(sensor, action))
    if not verify(proof, bundle.blueprint):
        raise MissionError(f"({sensor!r}, {action!r}) is not step {step} of this mission")
    text = json.dumps(proof.to_dict() | {"wire_bytes": len(proof.encode())}, indent=2)
    if out is not None:
        out.write_text(text + "\n")
    typer.echo(text)


@app.command("verify")
def verify_cmd(
    blueprint_file: Path = typer.Argument(..., help="blueprint.json"),
    proof_file: Path = typer.Argument(..., help="proof JSON from `gaka mission prove`"),
    last: int | None = typer.Option(None, help="last completed step (ordered missions)"),
) -> None:
    """Check a proof with pymerkle and the fast verifier (and the order rule with --last);
    print the wallet the step's reward is bound to; exit code 1 when rejected."""
    from swarm_sim.mission.blueprint import Blueprint
    from swarm_sim.mission.proofs import Proof, verify, verify_reference

    bp = Blueprint.from_dict(_read_json(blueprint_file, "blueprint"))
    proof = Proof.from_dict(_read_json(proof_file, "proof"))
    in_order = last is None or not bp.ordered or proof.index == last + 1
    result = {"index": proof.index, "beneficiary": "0x" + proof.leaf[:20].hex(),
              "pymerkle": verify_reference(proof, bp), "fast": verify(proof, bp),
              "in_order": in_order}
    result["accepted"] = result["pymerkle"] and result["fast"] and in_order
    typer.echo(json.dumps(result, indent=2))
    if not result["accepted"]:
        raise typer.Exit(1)


def _open(chain: str, data_dir: Path | None) -> Any:
    if chain == "none":
        return None
    if chain not in ("revm", "embedded"):
        raise MissionError(f"unknown chain {chain!r}; choose none, revm or embedded")
    from services.chain.backends import ChainSpec, open_chain

    if chain == "embedded" and data_dir is None:
        raise MissionError("--chain embedded needs --data-dir")
    return open_chain(ChainSpec(network=chain, data_dir=data_dir))


@app.command("run")
def run_cmd(
    task: str = typer.Option("foraging", help="foraging|maze"),
    robots: int = typer.Option(8, help="robots in the swarm (Byzantine included)"),
    byzantine: int = typer.Option(0, help="Byzantine robots among them"),
    share: int | None = typer.Option(None, help="honest robots holding each step"),
    seed: int = typer.Option(0, help="run seed"),
    max_time: float = typer.Option(2100.0, help="simulated seconds at most"),
    chain: str = typer.Option("none", help="also record on-chain: none|revm|embedded"),
    data_dir: Path | None = typer.Option(None, help="embedded chain folder"),
) -> None:
    """Simulate one mission and print its outcome as JSON."""
    from swarm_sim.mission.sim import MissionScenario, run_mission

    scenario = MissionScenario(task=task, robots=robots, byzantine=byzantine,  # type: ignore
                               share=share, max_time_s=max_time)
    evm = _open(chain, data_dir)
    try:
        typer.echo(json.dumps(asdict(run_mission(scenario, seed, evm)), indent=2))
    finally:
        if evm is not None:
            evm.close()


@app.command("sweep")
def sweep_cmd(
    task: str = typer.Option("foraging", help="foraging|maze"),
    robots: str = typer.Option("1,2,4,8,16", help="swarm sizes"),
    byzantine_shares: str = typer.Option("0,0.25,0.5", help="Byzantine shares of the swarm"),
    seeds: int = typer.Option(30, help="runs per cell"),
    base_seed: int = typer.Option(2021, help="run i is seeded from (base seed, i)"),
    max_time: float = typer.Option(2100.0, help="simulated seconds per run at most"),
    workers: int | None = typer.Option(None, help="local processes (default: up to 2)"),
    out: Path = typer.Option(Path("docs/mission"), help="folder for CSVs, table and plot"),
) -> None:
    """Sweep swarm size × Byzantine share × seeds; write <task>-runs.csv, -summary.csv,
    -table.md and <task>.png, and print the table."""
    from swarm_sim.mission.experiments import MissionSweep, markdown_table, write_report
    from swarm_sim.mission.sim import MissionScenario

    sizes = tuple(int(v) for v in _floats(robots, "--robots"))
    base = replace(MissionScenario(task=task), max_time_s=max_time)  # type: ignore[arg-type]
    sweep = MissionSweep(base, sizes, _floats(byzantine_shares, "--byzantine-shares"), seeds,
                         base_seed)
    summary = write_report(sweep, out, workers)
    typer.echo(markdown_table(summary), nl=False)
    if int(summary["forged_accepted"].sum()):
        raise MissionError("a forged step was accepted: see the summary table")
