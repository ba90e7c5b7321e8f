"""`gaka paint` end to end on the bundled image: in-process and as the console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
from typer.testing import CliRunner

from gaka.cli import app, main
from vision.metrics import psnr
from vision.plan import load_plan, render_preview

from .conftest import ASSET

GAKA = Path(sys.executable).with_name("gaka")


def _check_outputs(out: Path, strokes: int) -> dict:
    plan = load_plan(out / "plan.json")
    assert len(plan.strokes) == strokes
    preview = cv2.cvtColor(cv2.imread(str(out / "preview.png")), cv2.COLOR_BGR2RGB)
    assert preview.shape[1] == 512  # longer side of the 500 x 400 mm canvas
    assert psnr(preview, render_preview(plan, 512 / 500)) > 40  # the plan's own picture
    compare = cv2.imread(str(out / "compare.png"))
    assert compare.shape[1] == 2 * preview.shape[1] + 8  # target | gap | preview
    return dict(plan.metrics)


def test_paint_in_process(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(
        app,
        [
            "paint",
            str(ASSET),
            "--strokes",
            "12",
            "--size",
            "40",
            "--out",
            str(out),
            "--seed",
            "3",
            "--palette",
            "4",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    metrics = _check_outputs(out, 12)
    assert printed["metrics"] == metrics
    for key in (
        "psnr_db",
        "ssim",
        "strokes",
        "travel_unordered_mm",
        "travel_mm",
        "palette_loss_db",
    ):
        assert key in metrics
    assert metrics["travel_mm"] <= metrics["travel_unordered_mm"]
    assert len(load_plan(out / "plan.json").palette) == 4


def test_paint_lines_mode_and_errors(tmp_path, capsys):
    runner = CliRunner()
    ok = runner.invoke(
        app,
        ["paint", str(ASSET), "--mode", "lines", "--out", str(tmp_path), "--palette", "#101010"],
    )
    assert ok.exit_code == 0, ok.output
    plan = load_plan(tmp_path / "plan.json")
    assert plan.palette[0].rgb == (16, 16, 16) and plan.metrics["mode"] == "lines"
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png at all")
    for args, message in [
        ([str(bad)], "not a recognised image format"),
        ([str(tmp_path / "missing.png")], "no such image"),
        ([str(ASSET), "--palette", "#zzzzzz"], "not a #rrggbb colour"),
        ([str(ASSET), "--canvas", "wide"], "WIDTHxHEIGHT"),
    ]:
        with pytest.raises(SystemExit) as exc:
            main(["paint", *args, "--out", str(tmp_path / "x")])
        out, err = capsys.readouterr()
        assert exc.value.code == 1 and out == ""
        assert err.startswith("error: ") and err.count("\n") == 1 and message in err
        assert not (tmp_path / "x").exists()  # nothing half-written


def test_paint_console_script(tmp_path):
    out = tmp_path / "cli"
    proc = subprocess.run(
        [str(GAKA), "paint", str(ASSET), "--strokes", "10", "--size", "32", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "painting" in proc.stderr  # the progress bar
    metrics = _check_outputs(out, 10)
    assert json.loads(proc.stdout)["metrics"]["strokes"] == metrics["strokes"] == 10


def test_unwritable_out_is_refused_before_painting(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    with pytest.raises(SystemExit) as exc:
        main(["paint", str(ASSET), "--strokes", "5", "--size", "24", "--out", str(blocker / "x")])
    out, err = capsys.readouterr()
    assert exc.value.code == 1 and out == ""
    assert err.startswith("error: cannot create") and err.count("\n") == 1  # no progress bar
