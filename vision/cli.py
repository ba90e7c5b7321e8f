"""`gaka paint`: turn an image into a stroke plan, a preview and a side-by-side comparison."""

from __future__ import annotations

import json
import os
import re
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import typer

from vision.errors import VisionError

if TYPE_CHECKING:
    from gaka.workcell import Workcell
    from vision.painter import PainterConfig
    from vision.pipeline import Planned
    from vision.plan import Canvas, Paint, Source

# torch, OpenCV and scikit-image are imported by the command itself, not with the module:
# every `gaka` invocation loads this module to list its commands, and those imports cost
# seconds per start (the daemon and every other subcommand would pay them).

FILES = (("plan", "json"), ("preview", "png"), ("compare", "png"))
PREVIEW_PX = 512  # longer side of preview.png / each half of compare.png


class Mode(StrEnum):
    paint = "paint"
    lines = "lines"


def _canvas(spec: str) -> Canvas:
    from vision.plan import Canvas, PlanError

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*[xX]\s*(\d+(?:\.\d+)?)\s*", spec)
    if not m:
        raise PlanError(f"--canvas: expected WIDTHxHEIGHT in mm, e.g. 500x400, got {spec!r}")
    return Canvas(float(m.group(1)), float(m.group(2)))


def _paint_named(rgb: np.ndarray) -> Paint:
    from vision.plan import Paint

    return Paint("#" + "".join(f"{int(c):02x}" for c in rgb), tuple(int(c) for c in rgb))


def _write_png(path: Path, rgb: np.ndarray) -> None:
    import cv2

    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise VisionError(f"could not write {path}")


def palette_for(palette: str, cell: Workcell) -> str:
    """'auto' becomes the workcell's paints: the configured set, or one k-means paint a pot."""
    if palette.strip().lower() != "auto":
        return palette
    return cell.paints if cell.paints else str(cell.pots)


def _paintability_note(paints: int | None, cell: Workcell) -> str | None:
    """A warning when the plan has more paints than the configured workcell has pots."""
    if paints is not None and paints <= cell.pots:
        return None
    what = "free colours" if paints is None else f"{paints} paints"
    return (
        f"note: {what}: a preview, not paintable by the configured arm {cell.arm} "
        f"({cell.pots} pots); the default palette plans for its pots"
    )


def _write_outputs(planned: Planned, out: Path) -> dict[str, str]:
    import cv2

    from vision.plan import render_preview, save_plan

    plan = planned.plan
    ppm = PREVIEW_PX / max(plan.canvas.width_mm, plan.canvas.height_mm)
    preview = render_preview(plan, ppm)
    h, w = preview.shape[:2]
    target = cv2.resize(planned.target, (w, h), interpolation=cv2.INTER_NEAREST)
    gap = np.full((h, 8, 3), 255, dtype=np.uint8)
    files = {
        "plan": out / "plan.json",
        "preview": out / "preview.png",
        "compare": out / "compare.png",
    }
    save_plan(plan, files["plan"])
    _write_png(files["preview"], preview)
    _write_png(files["compare"], np.hstack([target, gap, preview]))
    return {k: str(v) for k, v in files.items()}


def paint(
    image: str = typer.Argument(
        ..., help="image file, folder (next image), camera:N, stream URL or synthetic[:WxH]"
    ),
    strokes: int = typer.Option(200, "--strokes", "-n", min=1, help="strokes to paint"),
    mode: Mode = typer.Option(Mode.paint, help="paint: stroke optimiser; lines: line art"),
    out: Path = typer.Option(Path("out"), "--out", "-o", help="output directory"),
    seed: int = typer.Option(0, help="random seed (same seed, same plan)"),
    palette: str = typer.Option(
        "auto",
        help="auto (the configured workcell's paints: the `paints` setting, else one k-means "
        "paint of the image per pot), free (any colour: previews only), K (k-means) or "
        "#rrggbb,#rrggbb,...",
    ),
    size: int = typer.Option(
        0, min=0, help="working resolution, px on the longer side (0: 128 paint, 512 lines)"
    ),
    canvas: str = typer.Option("500x400", help="canvas size in mm, WIDTHxHEIGHT"),
    progress: bool = typer.Option(True, help="show a progress bar"),
) -> None:
    """Turn IMAGE into a stroke plan: writes plan.json, preview.png and compare.png to --out.

    By default the plan uses the configured workcell's paints, so `gaka robot paint` can
    paint it as it is."""
    from gaka.workcell import configured_workcell
    from vision.capture import open_source
    from vision.painter import PainterConfig
    from vision.pipeline import INK, parse_palette, plan_lines
    from vision.plan import Source

    board = _canvas(canvas)
    cell = configured_workcell()
    with open_source(image) as src:
        frame = src.read()
    h, w = frame.image.shape[:2]
    source = Source(frame.sha256, w, h)
    if mode is Mode.lines and palette.strip().lower() == "auto":
        palette = "free"  # line art: one dark ink (INK), not k-means paints
    paints = parse_palette(palette_for(palette, cell), frame.image, seed)
    # Refuse an unusable --out before the minutes of painting, not after.
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise VisionError(f"cannot create the output folder {out}: {exc.strerror or exc}; "
                          "pass --out a folder that can be created or written") from None
    if not os.access(out, os.W_OK):
        raise VisionError(f"cannot write to {out}: permission denied")
    if mode is Mode.lines:
        ink = INK if paints is None else _paint_named(paints[0])
        planned = plan_lines(frame.image, source, board, size or 512, ink)
    else:
        config = PainterConfig(strokes=strokes, size=size or 128, seed=seed)
        planned = _run_painter(frame.image, source, board, config, paints, progress)
    files = _write_outputs(planned, out)
    free = paints is None and mode is Mode.paint
    note = _paintability_note(None if free else len(planned.plan.palette), cell)
    if note:
        typer.echo(note, err=True)
    typer.echo(json.dumps({"metrics": planned.plan.metrics, "files": files}, indent=2))


def _run_painter(
    image: np.ndarray,
    source: Source,
    board: Canvas,
    config: PainterConfig,
    paints: np.ndarray | None,
    progress: bool,
) -> Planned:
    from tqdm import tqdm

    from vision.painter import total_iterations
    from vision.pipeline import plan_paint

    total = total_iterations(config, paints is not None)
    with tqdm(total=total, desc="painting", unit="it", disable=not progress, leave=False) as bar:
        return plan_paint(image, source, board, config, paints, progress=bar.update)
