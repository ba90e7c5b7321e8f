"""A bad config file is one `error:` line from every command, through the real console script."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import GAKA, ROOT

COMMANDS = [["config", "show"], ["chain", "deploy"], ["chain", "account", "show"]]


def gaka(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(GAKA), *args], env=env, cwd=ROOT, text=True,
                          capture_output=True, timeout=120)


def with_config(env: dict[str, str], tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return {**env, "GAKA_CONFIG": str(path)}


def one_error_line(out: subprocess.CompletedProcess) -> str:
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    (line,) = out.stderr.splitlines()
    assert line.startswith("error: ")
    return line


@pytest.mark.parametrize("args", COMMANDS, ids=["-".join(c) for c in COMMANDS])
def test_malformed_toml(gaka_env: dict[str, str], tmp_path: Path, args: list[str]) -> None:
    env = with_config(gaka_env, tmp_path, 'network = "sepolia\nrpc_url = 3\n')
    line = one_error_line(gaka(env, *args))
    assert f"config file {tmp_path / 'config.toml'} is not valid TOML" in line
    assert "line 1" in line


def test_unknown_key_is_reported(gaka_env: dict[str, str], tmp_path: Path) -> None:
    env = with_config(gaka_env, tmp_path, 'netwrok = "sepolia"\nrpc_timeout_s = 5\n')
    line = one_error_line(gaka(env, "config", "show"))
    assert "unknown key(s) netwrok" in line and "known: data_dir, network" in line


def test_secret_in_file_is_refused(gaka_env: dict[str, str], tmp_path: Path) -> None:
    env = with_config(gaka_env, tmp_path, 'keystore_password = "hunter2"\n')
    out = gaka(env, "chain", "deploy")
    line = one_error_line(out)
    assert "keystore_password is a secret and is read only from the environment" in line
    assert "GAKA_KEYSTORE_PASSWORD" in line and "keystore_password_file" in line
    assert "hunter2" not in out.stderr + out.stdout


def test_bad_value_is_one_line(gaka_env: dict[str, str], tmp_path: Path) -> None:
    env = with_config(gaka_env, tmp_path, 'network = "moon"\nrpc_timeout_s = "soon"\n')
    line = one_error_line(gaka(env, "config", "show"))
    assert "network: network must be one of embedded, revm, localhost, sepolia" in line
    assert "rpc_timeout_s: Input should be a valid number" in line


def test_good_file_and_env_precedence(gaka_env: dict[str, str], tmp_path: Path) -> None:
    env = with_config(gaka_env, tmp_path,
                      'network = "revm"\nrpc_timeout_s = 4.5\nkeystore_password_file = "pw"\n')
    shown = json.loads(gaka(env, "config", "show").stdout)
    assert shown["network"] == "revm" and shown["rpc_timeout_s"] == 4.5
    assert shown["keystore_password_file"] == "pw"
    shown = json.loads(gaka({**env, "GAKA_NETWORK": "localhost"}, "config", "show").stdout)
    assert shown["network"] == "localhost"
