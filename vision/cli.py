"""`gaka paint`: turn an image into a stroke plan."""

from __future__ import annotations

from pathlib import Path

import typer


def paint(image: Path = typer.Argument(..., help="image file to paint")) -> None:
    """Turn IMAGE into a stroke plan (filled in by the vision issue)."""
    typer.echo("gaka paint: not implemented yet", err=True)
    raise typer.Exit(2)
