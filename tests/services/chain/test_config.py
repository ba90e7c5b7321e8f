"""A bad config file is one `error:` line from every command, through the real console script."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import GAKA, ROOT

# Commands that read the settings and commands that never do: all of them check the file.
COMMANDS = [["config", "show"], ["chain", "deploy"], ["chain", "account", "show"],
            ["paint", "synthetic:32x24"], ["mission", "verify", "blueprint.json", "proof.json"]]


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
    assert "unknown key(s) netwrok (did you mean network?)" in line
    assert "`gaka config show` lists every key" in line


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
    assert shown["keystore_password_file"] == str(tmp_path / "pw")  # beside the file
    shown = json.loads(gaka({**env, "GAKA_NETWORK": "localhost"}, "config", "show").stdout)
    assert shown["network"] == "localhost"


def test_a_named_config_file_that_does_not_exist_is_an_error(gaka_env: dict[str, str],
                                                              tmp_path: Path) -> None:
    env = {**gaka_env, "GAKA_CONFIG": str(tmp_path / "typo.toml")}
    for args in (["config", "show"], ["swarm", "run"]):
        line = one_error_line(gaka(env, *args))
        assert f"config file {tmp_path / 'typo.toml'} (GAKA_CONFIG) does not exist" in line
    assert gaka(env, "swarm", "run", "--help").returncode == 0  # help needs no config


def test_one_file_serves_every_command(gaka_env: dict[str, str], tmp_path: Path) -> None:
    """The daemon's keys beside the chain's: no command refuses a key another one reads."""
    env = {k: v for k, v in gaka_env.items() if k != "GAKA_DEPLOYMENTS_DIR"}
    env = with_config(env, tmp_path, 'camera = "sim"\napi_port = 8700\narm = "gcode"\n'
                                     'arm_config = "desktop_scara4"\ndeployments_dir = "records"\n')
    shown = json.loads(gaka(env, "config", "show").stdout)
    assert (shown["api_port"], shown["arm"], shown["arm_config"]) == (8700, "gcode",
                                                                      "desktop_scara4")
    # Relative paths in the file are beside the file, not in the current directory.
    assert shown["deployments_dir"] == str(tmp_path / "records")
    out = gaka(env, "ipfs", "ls")
    assert out.returncode == 0 and out.stderr == ""
    line = one_error_line(gaka({**env, "GAKA_ARM": "kuka"}, "ipfs", "ls"))
    assert "arm: the arm driver is 'sim' or 'gcode', not 'kuka'" in line


def test_deployments_default_to_the_data_dir(gaka_env: dict[str, str]) -> None:
    env = {k: v for k, v in gaka_env.items() if k != "GAKA_DEPLOYMENTS_DIR"}
    shown = json.loads(gaka(env, "config", "show").stdout)
    assert shown["deployments_dir"] == str(Path(env["GAKA_DATA_DIR"]) / "deployments")


ROBOT = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # Hardhat dev account 1, EIP-55


@pytest.mark.parametrize("given", [ROBOT, ROBOT.lower(), "0x" + ROBOT[2:].upper()])
def test_robot_address_in_any_unambiguous_case_is_checksummed(
        gaka_env: dict[str, str], tmp_path: Path, given: str) -> None:
    env = with_config(gaka_env, tmp_path, f'robot_address = "{given}"\n')
    assert json.loads(gaka(env, "config", "show").stdout)["robot_address"] == ROBOT


@pytest.mark.parametrize(("given", "words"), [
    (ROBOT[:-1] + "c", "fails its EIP-55 checksum"),  # one letter's case wrong
    ("0x7099", "is not an address"),
    (ROBOT + "00", "is not an address"),
])
def test_bad_robot_address_names_the_key(gaka_env: dict[str, str], given: str,
                                          words: str) -> None:
    line = one_error_line(gaka({**gaka_env, "GAKA_ROBOT_ADDRESS": given}, "wallet"))
    assert line.startswith("error: invalid configuration: robot_address: ") and words in line


@pytest.mark.parametrize(("text", "key", "words"), [
    ("rpc_timeout_s = -5", "rpc_timeout_s", "greater than 0"),
    ("ipfs_timeout_s = -1", "ipfs_timeout_s", "greater than 0"),
    ("receipt_timeout_s = 0", "receipt_timeout_s", "greater than 0"),
    ("supplies_start = {canvas = -5}", "supplies_start", "canvas must be 0 or more"),
    ('supplies_start = {"paint:red" = 1, paint = 2}', "supplies_start", "unknown supply 'paint'"),
    ("supplies_max_price_wei = {canvas = -1}", "supplies_max_price_wei", "must be 0 or more"),
    ('paints = "#zz"', "paints", "'#zz' is not one"),
    ('paints = "#ff0000,00ff00"', "paints", "'00ff00' is not one"),
    ("supplies_thresholds = {canvass = 1}", "supplies_thresholds", "unknown supply 'canvass'"),
    ("supplies_targets = {brush = -3}", "supplies_targets", "brush must be 0 or more"),
], ids=lambda v: v if isinstance(v, str) and "=" not in v and " " not in v else None)
def test_value_out_of_range_names_the_key(gaka_env: dict[str, str], tmp_path: Path, text: str,
                                          key: str, words: str) -> None:
    line = one_error_line(gaka(with_config(gaka_env, tmp_path, text + "\n"), "config", "show"))
    assert line.startswith(f"error: invalid configuration: {key}: ") and words in line


def test_values_in_range_are_taken(gaka_env: dict[str, str], tmp_path: Path) -> None:
    env = with_config(gaka_env, tmp_path, 'paints = "#ff0000, #00FF00"\n'
                                          'supplies_start = {canvas = 0, "paint:red" = 10}\n')
    shown = json.loads(gaka(env, "config", "show").stdout)
    assert shown["supplies_start"] == {"canvas": 0, "paint:red": 10}
