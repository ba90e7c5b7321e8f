"""`gaka chain …` as a user runs it: real processes, real files, real nodes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from eth_account import Account
from typer.testing import CliRunner

from gaka.cli import app
from services.chain.backends import ChainSpec, open_chain
from tests.conftest import GAKA, ROOT


def gaka(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(GAKA), *args], env=env, cwd=ROOT, input=stdin, text=True,
                          capture_output=True, timeout=300)


def test_help_lists_every_group(gaka_env: dict[str, str]) -> None:
    top = gaka(gaka_env, "--help")
    assert top.returncode == 0 and "Usage: gaka " in top.stdout
    # Each group answers its own --help (the top help's description alone names robot and
    # swarm, so finding words there proves nothing); an unknown group is a usage error.
    runner = CliRunner()
    for group in ("robot", "paint", "chain", "wallet", "auction", "supplies", "swarm",
                  "mission", "serve", "config"):
        sub = runner.invoke(app, [group, "--help"], prog_name="gaka")
        assert sub.exit_code == 0 and f"Usage: gaka {group} " in sub.stdout, group
    assert runner.invoke(app, ["no-such-group", "--help"]).exit_code == 2
    for command in ("deploy", "compile", "account"):
        sub = runner.invoke(app, ["chain", command, "--help"], prog_name="gaka")
        assert sub.exit_code == 0 and f"Usage: gaka chain {command} " in sub.stdout, command


def test_deploy_embedded_is_idempotent(gaka_env: dict[str, str], tmp_path: Path) -> None:
    first = gaka(gaka_env, "chain", "deploy")
    assert first.returncode == 0, first.stderr
    record = json.loads(first.stdout)
    assert record["network"] == "embedded" and record["redeployed"]
    saved = json.loads((tmp_path / "deployments" / "embedded.json").read_text())
    for entry in saved["contracts"].values():
        assert {"address", "tx_hash", "block", "source_hash", "bytecode_hash"} <= set(entry)
    assert saved["compiler"].startswith(json.loads(
        (ROOT / "contracts" / "compiler.json").read_text())["version"])

    again = json.loads(gaka(gaka_env, "chain", "deploy").stdout)
    assert again["redeployed"] == []
    assert again["contracts"] == saved["contracts"]


def test_deploy_revm_keeps_no_record(gaka_env: dict[str, str], tmp_path: Path) -> None:
    out = gaka(gaka_env, "chain", "deploy", "--network", "revm")
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    assert record["network"] == "revm" and record["setup"]
    assert sorted(record["redeployed"]) == sorted(record["contracts"])
    assert not (tmp_path / "deployments").exists()  # nothing of an in-memory chain survives


def test_deploy_localhost(gaka_env: dict[str, str], hardhat_node: str) -> None:
    env = {**gaka_env, "GAKA_LOCALHOST_RPC_URL": hardhat_node}
    out = gaka(env, "chain", "deploy", "--network", "localhost")
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    assert record["chain_id"] == 31337
    chain = open_chain(ChainSpec("localhost", rpc_url=hardhat_node))
    for entry in record["contracts"].values():
        assert len(chain.w3.eth.get_code(entry["address"])) > 0


def test_keystore_deploy_to_rpc_url(gaka_env: dict[str, str], hardhat_node: str,
                                    tmp_path: Path) -> None:
    keystore = tmp_path / "robot.json"
    secret_key = Account.create().key.hex()
    env = {**gaka_env, "GAKA_KEYSTORE": str(keystore), "GAKA_KEYSTORE_PASSWORD": "s3cret pass"}
    made = gaka(env, "chain", "account", "import", stdin=secret_key + "\n")
    assert made.returncode == 0, made.stderr
    address = made.stdout.strip()
    assert secret_key.removeprefix("0x") not in keystore.read_text()
    assert gaka(env, "chain", "account", "show").stdout.strip() == address

    open_chain(ChainSpec("localhost", rpc_url=hardhat_node)).send_eth(address, 10**19)
    out = gaka(env, "chain", "deploy", "--rpc-url", hardhat_node)
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    assert record["deployer"] == address
    # Named by its chain id: another --rpc-url chain gets its own record, never this one.
    assert record["network"] == "rpc-31337"
    saved = json.loads((tmp_path / "deployments" / "rpc-31337.json").read_text())
    assert saved["contracts"] == record["contracts"]
    assert sorted(p.name for p in (tmp_path / "deployments").glob("*.json")) == ["rpc-31337.json"]
    for stream in (out.stdout, out.stderr):
        assert secret_key.removeprefix("0x") not in stream and "s3cret" not in stream


def test_wrong_keystore_password_is_a_clear_error(gaka_env: dict[str, str],
                                                  tmp_path: Path) -> None:
    keystore = tmp_path / "robot.json"
    env = {**gaka_env, "GAKA_KEYSTORE": str(keystore), "GAKA_KEYSTORE_PASSWORD": "right one"}
    assert gaka(env, "chain", "account", "new").returncode == 0
    wrong = {**env, "GAKA_KEYSTORE_PASSWORD": "wrong one"}
    for args in (["chain", "account", "show", "--unlock"],
                 ["chain", "deploy", "--rpc-url", "http://127.0.0.1:9"]):
        out = gaka(wrong, *args)
        assert out.returncode == 1
        assert f"error: wrong password for keystore {keystore}" in out.stderr
        assert "Traceback" not in out.stderr
        assert "wrong one" not in out.stderr + out.stdout


def test_dead_rpc_url_from_the_cli(gaka_env: dict[str, str], tmp_path: Path) -> None:
    keystore = tmp_path / "robot.json"
    env = {**gaka_env, "GAKA_KEYSTORE": str(keystore), "GAKA_KEYSTORE_PASSWORD": "pw",
           "GAKA_RPC_TIMEOUT_S": "2"}
    assert gaka(env, "chain", "account", "new").returncode == 0
    out = gaka(env, "chain", "deploy", "--rpc-url", "http://127.0.0.1:9")
    assert out.returncode == 1
    assert "RPC node at http://127.0.0.1:9 is unavailable" in out.stderr
    assert "Traceback" not in out.stderr


def test_config_show_masks_secrets(gaka_env: dict[str, str]) -> None:
    env = {**gaka_env, "GAKA_KEYSTORE_PASSWORD": "hunter2", "GAKA_NETWORK": "localhost"}
    out = gaka(env, "config", "show")
    shown = json.loads(out.stdout)
    assert shown["network"] == "localhost"
    assert shown["keystore_password"] == "********"
    assert "hunter2" not in out.stdout
    bad = gaka({**gaka_env, "GAKA_NETWORK": "moon"}, "config", "show")
    assert bad.returncode == 1 and "network must be one of" in bad.stderr
