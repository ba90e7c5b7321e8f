"""`gaka robot run` refuses a configuration it can never work with before it starts."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import GAKA, ROOT, free_port
from tests.robot.daemon.helpers import daemon_env


@pytest.mark.parametrize("missing", ["nonexistent.jpg", "no-such-folder"])
def test_missing_camera_file_or_folder_is_refused_at_start(tmp_path: Path, missing: str) -> None:
    camera = tmp_path / missing
    run = subprocess.run([str(GAKA), "robot", "run", "--camera", str(camera),
                          "--port", str(free_port())], env=daemon_env(tmp_path / "data"),
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode != 0
    assert run.stderr.splitlines() == [f"error: no such image, folder or camera: {str(camera)!r}"]
    assert "Traceback" not in run.stdout
