"""`gaka mission …` as a user runs it: a real process, real files."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

from tests.conftest import GAKA

SPEC = """name = "demo"
ordered = true
[[operations]]
sensor = "colour:red"
action = "deliver"
[[operations]]
sensor = "colour:blue"
action = "deliver"
[[operations]]
sensor = "colour:green"
action = "deliver"
"""


def gaka(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(GAKA), "mission", *args], env=env, cwd=cwd, text=True,
                          capture_output=True, timeout=300)


def test_build_prove_verify(gaka_env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "spec.toml").write_text(SPEC)
    built = gaka(gaka_env, tmp_path, "build", "spec.toml", "--out", "m", "--robots", "2",
                 "--share", "1", "--wallet", "0x" + "00" * 19 + "01", "--wallet",
                 "0x" + "00" * 19 + "02")
    assert built.returncode == 0, built.stderr
    public = (tmp_path / "m" / "blueprint.json").read_text()
    assert json.loads(public)["size"] == 3 and "colour" not in public
    for secret in ("operator.json", "robot-0.json", "robot-1.json"):
        assert stat.S_IMODE((tmp_path / "m" / secret).stat().st_mode) == 0o600

    ok = gaka(gaka_env, tmp_path, "prove", "m/robot-1.json", "--step", "2", "--sensor",
              "colour:blue", "--action", "deliver", "--out", "p.json")
    assert ok.returncode == 0, ok.stderr
    verified = gaka(gaka_env, tmp_path, "verify", "m/blueprint.json", "p.json", "--last", "1")
    assert verified.returncode == 0 and json.loads(verified.stdout)["accepted"]
    early = gaka(gaka_env, tmp_path, "verify", "m/blueprint.json", "p.json", "--last", "0")
    assert early.returncode == 1 and json.loads(early.stdout)["in_order"] is False

    proof = json.loads((tmp_path / "p.json").read_text())
    proof["proof"]["metadata"]["index"] = 3
    (tmp_path / "forged.json").write_text(json.dumps(proof))
    forged = gaka(gaka_env, tmp_path, "verify", "m/blueprint.json", "forged.json")
    assert forged.returncode == 1
    assert json.loads(forged.stdout) == {"index": 3, "beneficiary": "0x" + "00" * 19 + "02",
                                         "pymerkle": False, "fast": False, "in_order": True,
                                         "accepted": False}

    wrong = gaka(gaka_env, tmp_path, "prove", "m/robot-1.json", "--step", "2", "--sensor",
                 "colour:red", "--action", "deliver")
    assert wrong.returncode == 1
    assert wrong.stderr.strip() == "error: ('colour:red', 'deliver') is not step 2 of this mission"


def test_bad_input_is_one_error_line(gaka_env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text('{"operations": []}')
    out = gaka(gaka_env, tmp_path, "build", "bad.json")
    assert out.returncode == 1 and out.stderr.startswith("error: ")
    assert len(out.stderr.strip().splitlines()) == 1
    (tmp_path / "spec.toml").write_text(SPEC)
    short = gaka(gaka_env, tmp_path, "build", "spec.toml", "--robots", "2", "--wallet",
                 "0x" + "11" * 20)
    assert short.returncode == 1
    assert short.stderr.strip() == "error: give one --wallet per robot: 2 robots, 1 wallets"


def test_run_prints_one_mission(gaka_env: dict[str, str], tmp_path: Path) -> None:
    out = gaka(gaka_env, tmp_path, "run", "--robots", "6", "--byzantine", "2", "--seed", "1",
               "--chain", "revm")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["success"] and result["forged_accepted"] == 0
    assert result["chain_completions"] == 8 and result["chain_forged_accepted"] == 0
