"""The `gaka` front end: every failure is one `error:` line (usage mistakes exit with 2)."""

from __future__ import annotations

import subprocess

import pytest

from gaka.cli import main
from tests.conftest import GAKA


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def _one_error_line(err: str, *words: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for word in words:
        assert word in lines[0]


@pytest.mark.parametrize(
    ("argv", "code", "words"),
    [
        (["paint", "/no/such/photo.png"], 1, ["no such image"]),
        (["paint", "synthetic:64x48", "--palette", "#zz"], 1, ["not a #rrggbb colour"]),
        (["paint", "synthetic:64x48", "--palette", "99"], 1, ["palette size must be 1..64"]),
        (["paint", "synthetic:64x48", "--canvas", "wide"], 1, ["--canvas", "WIDTHxHEIGHT"]),
        (["robot", "paint", "plan.json", "--film-size", "big"], 1, ["--film-size"]),
        (["paint", "synthetic:64x48", "--strokes", "many"], 2, ["--strokes"]),
        (["robot", "paint", "/no/such/plan.json"], 1, ["cannot read plan"]),
        (["robot", "paint", "plan.json", "--arm", "gcode", "--port", "/dev/null",
          "--corrections", "5"], 1, ["--corrections", "--arm sim"]),
        (["no-such-command"], 2, ["No such command"]),
    ],
)
def test_errors_are_one_line(capsys, tmp_path, monkeypatch, argv, code, words):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GAKA_CONFIG", str(tmp_path / "none.toml"))
    if "plan.json" in argv:
        from tests.robot.conftest import random_plan
        from vision.plan import save_plan

        save_plan(random_plan((500.0, 400.0), 2, 10.0, seed=0), tmp_path / "plan.json")
    got, out, err = _run(capsys, *argv)
    assert got == code and out == ""
    _one_error_line(err, *words)


def test_console_script_prints_one_error_line(tmp_path):
    proc = subprocess.run([str(GAKA), "paint", str(tmp_path / "missing.png")],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 1 and proc.stdout == ""
    _one_error_line(proc.stderr, "no such image")
