"""`gaka swarm`: simulate swarms, sweep, plot, benchmark."""

from __future__ import annotations

import typer

app = typer.Typer(help="Simulate robot swarms (run, sweep, plot, bench).", no_args_is_help=True)


@app.callback()
def _swarm() -> None:
    """Swarm simulator commands."""
