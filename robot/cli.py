"""`gaka robot`: run the daemon, paint a plan with an arm, calibrate."""

from __future__ import annotations

import json

import typer

app = typer.Typer(help="Run the robot: daemon, painting with an arm, calibration.",
                  no_args_is_help=True)


@app.command("run")
def run() -> None:
    """Start the main job on the configured network (for now: deploy and print it)."""
    from gaka.config import Settings
    from services.chain.deploy import deploy_project

    deployment = deploy_project(Settings())
    typer.echo(json.dumps(deployment, indent=2))
