"""The built wheel, installed in a fresh virtualenv, deploys with no checkout, solc or node.

Only gaka itself comes from the wheel: its dependencies are borrowed from this test's
environment through a .pth line (a plain path entry, so the editable install's own .pth
hooks there are not run and the checkout stays invisible).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from services.chain.backends import ChainSpec, open_chain
from services.chain.compiler import compile_project
from services.chain.deploy import bytecode_hash
from tests.conftest import ROOT


def run(*args: str | Path, **kwargs) -> subprocess.CompletedProcess:
    out = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600,
                         **kwargs)
    assert out.returncode == 0, out.stdout + out.stderr
    return out


def source_copy(dst: Path) -> Path:
    """The project's sources without build outputs, so the build starts clean (the compile
    cache comes along to keep it quick; node_modules is linked)."""
    shutil.copytree(ROOT, dst, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "node_modules", "build", "artifacts", "cache", "*.egg-info",
        "__pycache__", "deployments"))
    shutil.copytree(ROOT / "build" / "contracts", dst / "build" / "contracts")
    (dst / "node_modules").symlink_to(ROOT / "node_modules")
    return dst


@pytest.mark.slow
def test_wheel_deploys_outside_the_checkout(tmp_path: Path) -> None:
    compile_project()  # fills the checkout's compile cache that source_copy takes along
    src = source_copy(tmp_path / "src")
    run(sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation",
        "--quiet", "-w", tmp_path / "wheels", cwd=src)
    (wheel,) = (tmp_path / "wheels").glob("gaka-*.whl")

    venv = tmp_path / "fresh"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
        "--quiet", wheel)
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
                .stdout.strip())
    (site / "borrowed-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    home = tmp_path / "elsewhere"
    home.mkdir()
    # No node, no solc, no checkout on the path: only the venv's own scripts.
    env = {"HOME": str(home), "PATH": str(venv / "bin"), "GAKA_DATA_DIR": str(home / "data")}
    where = run(python, "-c", "import services.chain.compiler as c; print(c.__file__)",
                cwd=home, env=env).stdout.strip()
    assert Path(where).is_relative_to(site)

    printed = json.loads(run(venv / "bin" / "gaka", "chain", "deploy", cwd=home, env=env).stdout)
    record = json.loads((home / "data" / "deployments" / "embedded.json").read_text())
    assert printed["contracts"] == record["contracts"]
    assert sorted(printed["redeployed"]) == sorted(record["contracts"])

    artifacts = compile_project()  # the checkout's own compile, as an independent reference
    chain = open_chain(ChainSpec("embedded", data_dir=home / "data"))
    try:
        for name, entry in record["contracts"].items():
            assert entry["bytecode_hash"] == bytecode_hash(artifacts[name])
            code = chain.get_code(entry["address"])
            assert len(code) == len(artifacts[name].deployed_bytecode) // 2 - 1
    finally:
        chain.close()
