"""Bad input to the economy commands: one `error:` line, no traceback."""

from __future__ import annotations

import subprocess

from tests.conftest import GAKA


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(GAKA), *args], env=env, capture_output=True, text=True,
                          timeout=300)


def test_no_deployment_is_one_clear_error(gaka_env: dict[str, str]) -> None:
    for args in (["wallet"], ["auction", "status"], ["supplies", "--json"], ["investors"]):
        out = _run(gaka_env, *args)
        assert out.returncode == 1, (args, out.stderr)
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: no deployment record")
        assert "gaka chain deploy" in lines[0] and "Traceback" not in out.stderr


def test_a_token_id_must_be_a_number(gaka_env: dict[str, str]) -> None:
    out = _run(gaka_env, "auction", "status", "twelve")
    assert out.returncode == 2 and "token id must be a number" in out.stderr


def test_a_token_id_out_of_uint256_range_is_a_usage_error(gaka_env: dict[str, str]) -> None:
    for token in ("-1", str(2**256)):
        out = _run(gaka_env, "auction", "settle", "--", token)
        assert out.returncode == 2, out.stderr
        assert "token id must be 0 … 2**256 - 1" in out.stderr and "Traceback" not in out.stderr
