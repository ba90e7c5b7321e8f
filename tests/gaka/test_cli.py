"""The `gaka` front end: every failure is one `error:` line (usage mistakes exit with 2)."""

from __future__ import annotations

import json
import os
import pty
import select
import socket
import subprocess
import time

import pytest

from gaka.cli import main
from tests.conftest import GAKA, free_port


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
    monkeypatch.setenv("GAKA_CONFIG", os.devnull)
    if "plan.json" in argv:
        from tests.robot.conftest import random_plan
        from vision.plan import save_plan

        save_plan(random_plan((500.0, 400.0), 2, 10.0, seed=0), tmp_path / "plan.json")
    got, out, err = _run(capsys, *argv)
    assert got == code and out == ""
    _one_error_line(err, *words)


@pytest.mark.parametrize(("source", "words"), [
    ("missing.png", ["no such image"]),
    # OpenCV and FFmpeg print their own lines when a device or stream fails to open.
    ("camera:97", ["camera 97 could not be opened"]),
    ("rtsp://127.0.0.1:1/none", ["stream", "could not be opened", "reachable"]),
])
def test_console_script_prints_one_error_line(tmp_path, source, words):
    proc = subprocess.run([str(GAKA), "paint", source, "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=300, check=False,
                          cwd=tmp_path)
    assert proc.returncode == 1 and proc.stdout == ""
    _one_error_line(proc.stderr, *words)


def test_a_dead_node_is_one_line_without_retry_chatter(gaka_env):
    """The IPFS client's retries are not printed: the user sees only the outcome."""
    env = {**gaka_env, "GAKA_IPFS_TIMEOUT_S": "1"}
    address = f"http://127.0.0.1:{free_port()}"
    proc = subprocess.run([str(GAKA), "ipfs", "--api", address, "ls"], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 1 and proc.stdout == ""
    _one_error_line(proc.stderr, f"IPFS node at {address} is unavailable", "3 tries")


def _in_a_terminal(argv: list[str], env: dict[str, str], answers: list[tuple[str, bytes]]
                   ) -> tuple[int, str]:
    """Run argv with a pty as its controlling terminal (so getpass reads it as a user's
    keyboard); each answer is typed once its prompt has appeared. Returns (exit code, output)."""
    pid, master = pty.fork()
    if pid == 0:  # the child: exec at once
        os.execve(argv[0], argv, env)
    out = b""
    answered_at = 0  # output before this offset has been answered already
    deadline = time.monotonic() + 180
    pending = list(answers)
    try:
        while time.monotonic() < deadline:
            if pending and pending[0][0].encode() in out[answered_at:]:
                os.write(master, pending.pop(0)[1])
                answered_at = len(out)
            ready, _, _ = select.select([master], [], [], 1)
            if not ready:
                continue
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(master)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")


def test_keystore_password_prompt_in_a_terminal(gaka_env, tmp_path):
    keystore = tmp_path / "robot.json"
    env = {**gaka_env, "GAKA_KEYSTORE": str(keystore)}
    argv = [str(GAKA), "chain", "account", "new"]
    # The space after the colon comes from getpass once it has turned echo off: typing
    # before it would be flushed by getpass, as a real terminal does.
    code, out = _in_a_terminal(argv, env, [("Keystore password: ", b"s3cret-pw\n"),
                                           ("Repeat for confirmation: ", b"s3cret-pw\n")])
    assert code == 0, out
    assert "s3cret-pw" not in out  # typed, never echoed
    address = json.loads(keystore.read_text())["address"]
    assert address.lower() in out.lower()
    # Ctrl-D at the prompt: one error line after it, no traceback, no keystore written.
    other = tmp_path / "other.json"
    code, out = _in_a_terminal(argv, {**env, "GAKA_KEYSTORE": str(other)},
                               [("Keystore password: ", b"\x04")])
    after = out.split("Keystore password:", 1)[1].strip().splitlines()
    assert code == 1 and after == ["error: aborted"], out
    assert not other.exists()


def _gaka(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(GAKA), *argv], env=env, capture_output=True, text=True,
                          timeout=300, check=False)


@pytest.mark.parametrize("argv", [
    ["robot", "run", "--port", "99999"],
    ["robot", "run", "--port", "0"],
    ["robot", "run", "--port", "/dev/null", "--arm", "gcode", "--api-port", "70000"],
    ["ipfs", "gateway", "--port", "-1"],
    ["ipfs", "gateway", "--port", "65536"],
])
def test_a_port_out_of_range_is_a_usage_error(gaka_env, argv):
    proc = _gaka(gaka_env, *argv)
    assert proc.returncode == 2 and proc.stdout == ""
    _one_error_line(proc.stderr, "Invalid value for '--", "port'")


def test_the_gateway_refuses_a_busy_port_in_one_line(gaka_env):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = _gaka(gaka_env, "ipfs", "gateway", "--port", str(port))
    assert proc.returncode == 1 and proc.stdout == ""
    _one_error_line(proc.stderr, f"cannot listen on 127.0.0.1:{port}")


@pytest.mark.parametrize("command", ["paint", "calibrate"])
def test_robot_help_names_the_arm_config_setting(gaka_env, command):
    proc = _gaka({**gaka_env, "COLUMNS": "200"}, "robot", command, "--help")
    assert proc.returncode == 0
    assert "default: the `arm_config` setting" in proc.stdout, proc.stdout


# The EIP-55 form of 0x2b5ad5c4795c026514f8317c7a215e218dccd6cf with one letter's case flipped
# (eth_utils says which is right; a mixed-case typo must not pass as an address).
BAD_CHECKSUM = "0x2B5AD5c4795c026514f8317c7a215E218DcCD6cf"


@pytest.mark.parametrize(("argv", "option"), [
    (["wallet", "--address", BAD_CHECKSUM], "--address"),
    (["mission", "build", "spec.toml", "--wallet", BAD_CHECKSUM], "--wallet"),
])
def test_an_address_option_with_a_bad_checksum_is_refused(gaka_env, tmp_path, argv, option):
    from eth_utils import is_checksum_address

    assert not is_checksum_address(BAD_CHECKSUM)
    proc = subprocess.run([str(GAKA), *argv], env=gaka_env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    _one_error_line(proc.stderr, f"'{option}'", "EIP-55 checksum")


def test_config_show_hides_the_secrets_in_urls(gaka_env):
    env = {**gaka_env, "GAKA_SEPOLIA_RPC_URL": "https://x.example/v3/MYSECRETAPIKEY",
           "GAKA_IPFS_API": "http://user:hunter2@127.0.0.1:9"}
    proc = _gaka(env, "config", "show")
    assert proc.returncode == 0, proc.stderr
    for secret in ("MYSECRETAPIKEY", "hunter2", "user:"):
        assert secret not in proc.stdout + proc.stderr
    # the rest of each URL still says where it points
    shown = json.loads(proc.stdout)
    assert shown["sepolia_rpc_url"] == "https://x.example/…"
    assert shown["ipfs_api"] == "http://127.0.0.1:9"


def test_an_ipfs_error_hides_the_password_in_the_api_url(gaka_env):
    env = {**gaka_env, "GAKA_IPFS_TIMEOUT_S": "1"}
    proc = _gaka(env, "ipfs", "--api", f"http://user:hunter2@127.0.0.1:{free_port()}", "ls")
    assert proc.returncode == 1 and proc.stdout == ""
    _one_error_line(proc.stderr, "IPFS node at http://127.0.0.1:", "is unavailable")
    assert "hunter2" not in proc.stderr and "user:" not in proc.stderr


def test_version_is_the_installed_distributions(capsys, monkeypatch):
    from importlib.metadata import version

    monkeypatch.setenv("GAKA_NETWORK", "bogus")  # a broken configuration does not hide it
    code, out, err = _run(capsys, "--version")
    assert (code, out, err) == (0, f"gaka {version('gaka')}\n", "")


def test_a_misspelt_setting_in_the_environment_is_warned_about(capsys, monkeypatch):
    for name in [k for k in os.environ if k.startswith("GAKA_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("GAKA_CONFIG", os.devnull)
    monkeypatch.setenv("GAKA_NETWRK", "sepolia")
    monkeypatch.setenv("GAKA_API_PORT", "8123")  # a real setting: no warning
    monkeypatch.setenv("GAKA_Auction_Reserve_Wei", "7")  # read whatever its case: no warning
    code, out, err = _run(capsys, "config", "show")
    assert code == 0 and json.loads(out)["api_port"] == 8123
    assert json.loads(out)["auction_reserve_wei"] == 7
    assert err == ("warning: GAKA_NETWRK is not a gaka setting and is ignored "
                   "(did you mean GAKA_NETWORK?)\n")
