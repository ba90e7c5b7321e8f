"""`gaka robot`: run the daemon, paint a plan with an arm, calibrate."""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(help="Run the robot: daemon, painting with an arm, calibration.",
                  no_args_is_help=True)


@app.command("run")
def run(
    port: str | None = typer.Option(
        None, "--port", help="API/dashboard port (default: api_port); with --arm gcode a "
        "device path such as /dev/ttyUSB0 is the arm's serial port instead"),
    host: str | None = typer.Option(None, "--host", help="address the API binds to"),
    once: bool = typer.Option(False, "--once", help="do one full cycle, then exit"),
    arm: str | None = typer.Option(None, "--arm", help="sim | gcode"),
    arm_port: str | None = typer.Option(None, "--arm-port", help="serial port of the arm"),
    api_port: int | None = typer.Option(None, "--api-port", min=1, max=65535,
                                        help="API port (with --port DEV)"),
    camera: str | None = typer.Option(None, "--camera",
                                      help="sim | camera:N | a folder or image file"),
) -> None:
    """Run the robot daemon: paint, publish, auction, settle, repay, restock; serve the
    API and dashboard. Stops gracefully on Ctrl-C / SIGTERM."""
    from gaka.config import Settings
    from robot.daemon.run import Overrides
    from robot.daemon.run import run as run_daemon

    if port is not None and not port.isdigit():
        if arm != "gcode":
            raise typer.BadParameter("--port takes a number (API port); a serial device "
                                     "needs --arm gcode")
        arm_port, port = port, None
    elif port is not None and not 1 <= int(port) <= 65535:
        raise typer.BadParameter(f"{port} is not a port (1 to 65535)",
                                 param_hint="'--port'")
    ov = Overrides(port=api_port if api_port is not None else (int(port) if port else None),
                   host=host, once=once, arm=arm, arm_port=arm_port, camera=camera)
    raise typer.Exit(run_daemon(Settings(), ov, typer.echo))


def _daemon_call(method: str, path: str, url: str | None) -> dict:
    import httpx

    from gaka.config import Settings
    from robot.daemon.run import TOKEN_FILE

    settings = Settings()
    base = url or f"http://{settings.api_host}:{settings.api_port}"
    headers = {}
    token_file = settings.data_dir / TOKEN_FILE
    if method == "POST":
        if not token_file.is_file():
            raise _fail(RuntimeError(f"no API token at {token_file}: is the daemon's data dir "
                                     "the same as this one (GAKA_DATA_DIR)?"))
        headers["Authorization"] = f"Bearer {token_file.read_text().strip()}"
    try:
        answer = httpx.request(method, base + path, headers=headers, timeout=10)
    except httpx.HTTPError as exc:
        raise _fail(RuntimeError(f"no daemon answers at {base} ({exc.__class__.__name__}); "
                                 "start it with `gaka robot run`")) from None
    doc = answer.json() if answer.headers.get("content-type", "").startswith(
        "application/json") else {}
    if answer.status_code >= 400:
        message = (doc.get("error") or {}).get("message", answer.text)
        raise _fail(RuntimeError(f"{base}{path}: {answer.status_code} {message}"))
    return doc


_URL = typer.Option(None, "--url", help="daemon API URL (default: from api_host/api_port)")


@app.command("status")
def status(url: str | None = _URL) -> None:
    """Ask the running daemon what it is doing."""
    typer.echo(json.dumps(_daemon_call("GET", "/status", url), indent=2))


@app.command("pause")
def pause(url: str | None = _URL) -> None:
    """Pause the running daemon (it finishes the current step, starts nothing new)."""
    typer.echo(json.dumps(_daemon_call("POST", "/pause", url), indent=2))


@app.command("resume")
def resume(url: str | None = _URL) -> None:
    """Resume a paused daemon."""
    typer.echo(json.dumps(_daemon_call("POST", "/resume", url), indent=2))


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(1)


def _size(text: str, option: str) -> tuple[int, int]:
    from robot.errors import RobotError

    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise RobotError(f"{option}: expected WIDTHxHEIGHT, got {text!r}") from None
    return w, h


def _default_calibration(config: str) -> Path:
    from gaka.config import Settings

    return Settings().data_dir / "calibration" / f"{Path(config).stem}.json"


def _arm_config(config: str | None) -> str:
    """--config, or the `arm_config` setting (the workcell `gaka paint` plans for)."""
    from gaka.config import Settings

    return config if config is not None else Settings().arm_config


@app.command("paint")
def paint(
    plan: Path = typer.Argument(..., help="stroke plan JSON (from `gaka paint`)"),
    arm: str = typer.Option("sim", "--arm", help="sim | gcode"),
    config: str | None = typer.Option(
        None, "--config",
        help="arm config: a shipped name or a TOML file (default: the `arm_config` setting)"),
    port: str | None = typer.Option(None, "--port", help="serial port of the G-code arm"),
    calibration: Path | None = typer.Option(
        None, "--calibration",
        help="calibration JSON (default: the one `gaka robot calibrate` saved, if any)"),
    video: Path | None = typer.Option(None, "--video", help="film the painting to this MP4"),
    film_size: str = typer.Option("1280x720", "--film-size", help="film resolution WxH"),
    fps: float = typer.Option(30.0, "--fps", help="film frame rate"),
    speedup: float = typer.Option(10.0, "--speedup",
                                  help="time-lapse factor (arm seconds per film second)"),
    canvas: Path | None = typer.Option(None, "--canvas", help="save the simulated canvas (PNG)"),
    px_per_mm: float = typer.Option(2.0, "--px-per-mm", help="simulated canvas resolution"),
    fit: bool = typer.Option(False, "--fit", help="scale the plan to fit the canvas"),
    jitter_mm: float = typer.Option(0.0, "--jitter-mm", help="brush wobble (simulation)"),
    width_noise: float = typer.Option(0.0, "--width-noise", help="relative width noise (sim)"),
    paint_scale: float = typer.Option(1.0, "--paint-scale",
                                      help="paint a dip holds, x the config's (sim)"),
    target: Path | None = typer.Option(None, "--target",
                                       help="the plan's source image (for --corrections)"),
    corrections: int = typer.Option(0, "--corrections",
                                    help="closed loop: up to K corrective strokes (sim)"),
    misplace_mm: float = typer.Option(0.0, "--misplace-mm",
                                      help="simulated canvas lies off its configured pose"),
    seed: int = typer.Option(0, "--seed", help="seed of the simulated world"),
    report: Path | None = typer.Option(None, "--report", help="also write the record here"),
    resume: int = typer.Option(0, "--resume", min=0,
                               help="G-code arm: go on with an interrupted run of the same plan "
                                    "at this program line (the error said which)"),
    progress: bool = typer.Option(True, help="simulation: a progress bar over the arm time"),
) -> None:
    """Paint PLAN with the simulated arm (filming it) or a GRBL arm on a serial port."""
    from robot.errors import RobotError
    from robot.film import FilmSpec
    from robot.jobs import PaintOptions, SimWorld, run_paint
    from vision.plan import PlanError

    config = _arm_config(config)
    if calibration is None and _default_calibration(config).is_file():
        calibration = _default_calibration(config)
    w, h = _size(film_size, "--film-size")
    opts = PaintOptions(plan=plan, arm=arm, config=config, port=port, calibration=calibration,
                        video=video, film=FilmSpec(w, h, fps, speedup), canvas_png=canvas,
                        px_per_mm=px_per_mm, fit=fit, jitter_mm=jitter_mm,
                        width_noise=width_noise, paint_scale=paint_scale, target=target,
                        corrections=corrections, world=SimWorld(misplace_mm, seed),
                        resume_line=resume, progress=progress)
    try:
        record = run_paint(opts)
    except (RobotError, PlanError) as exc:
        raise _fail(exc) from None
    text = json.dumps(record, indent=2)
    if report is not None:
        report.write_text(text + "\n", encoding="utf-8")
    typer.echo(text)


@app.command("calibrate")
def calibrate(
    out: Path | None = typer.Option(None, "--out",
                                    help="where to save (default: data dir/calibration/ARM.json)"),
    config: str | None = typer.Option(
        None, "--config",
        help="arm config: a shipped name or a TOML file (default: the `arm_config` setting)"),
    arm: str | None = typer.Option(None, "--arm",
                                   help="'sim': touch the marks with the simulated arm"),
    points: Path | None = typer.Option(None, "--points",
                                       help="touch points file (JSON or CSV u,v,x,y,z)"),
    point: list[str] = typer.Option([], "--point", help="one touch point u,v,x,y,z (repeat)"),
    marks: str = typer.Option("4x3", "--marks", help="grid of marks the simulated arm touches"),
    camera: Path | None = typer.Option(None, "--camera",
                                       help="photo of the blank canvas (finds its corners)"),
    max_rms_mm: float = typer.Option(0.5, "--max-rms-mm", help="refuse a plane fit worse than"),
    misplace_mm: float = typer.Option(0.0, "--misplace-mm",
                                      help="simulated canvas lies off its configured pose"),
    seed: int = typer.Option(0, "--seed", help="seed of the simulated world"),
) -> None:
    """Record a canvas calibration from brush-touch points (and a camera photo)."""
    from robot.errors import RobotError
    from robot.jobs import CalibrateOptions, SimWorld, run_calibrate

    config = _arm_config(config)
    cols, rows = _size(marks, "--marks")
    opts = CalibrateOptions(out=out or _default_calibration(config), config=config, arm=arm,
                            points_file=points, points=tuple(point), marks=(cols, rows),
                            camera_image=camera, max_plane_rms_mm=max_rms_mm,
                            world=SimWorld(misplace_mm, seed))
    try:
        record = run_calibrate(opts)
    except RobotError as exc:
        raise _fail(exc) from None
    typer.echo(json.dumps(record, indent=2))
