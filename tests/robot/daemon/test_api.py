"""The daemon's API on a live uvicorn: OpenAPI fuzzed by schemathesis, mutations refused
without the token, no secret in any answer; the CLI, the gateway, metrics and events."""

from __future__ import annotations

import json
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from services.chain.keystore import embedded_dev_accounts
from tests.conftest import GAKA, ROOT, free_port
from tests.robot.daemon.helpers import daemon_env, daemon_with_a_painting_on_auction, get, post

SECRETS_HINT = "private key material of the dev accounts and the API token"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("api")
    data = tmp / "data"
    env = daemon_env(data, GAKA_AUCTION_DURATION_S="600")
    with daemon_with_a_painting_on_auction(env, tmp) as (port, proc, log):
        token = (data / "api-token").read_text().strip()
        secrets = [token] + [a.key.hex().removeprefix("0x") for a in embedded_dev_accounts(10)]
        yield {"port": port, "token": token, "data": data, "env": env, "log": log,
               "secrets": secrets, "proc": proc}


def test_schemathesis_against_live_openapi(live: dict[str, Any], tmp_path: Path) -> None:
    """Every operation of the live schema fuzzed (positive and negative cases): no 5xx,
    answers match the schema, auth enforced (`ignored_auth`); the HAR of every exchange is
    then searched for secrets and for a mutation that succeeded without the token."""
    har = tmp_path / "api.har"
    # /events never ends (server-sent events); it is checked below by reading one event.
    run = subprocess.run(
        [str(Path(GAKA).with_name("st")), "run",
         f"http://127.0.0.1:{live['port']}/openapi.json", "--checks", "all",
         "--exclude-path", "/events", "--max-examples", "25", "--seed", "1",
         "--report", "har", "--report-har-path", str(har)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-4000:]
    entries = json.loads(har.read_text())["log"]["entries"]
    assert len(entries) > 50
    for entry in entries:
        body = json.dumps(entry["response"])
        for secret in live["secrets"]:
            assert secret not in body, SECRETS_HINT
        request = entry["request"]
        authorized = any(h["name"].lower() == "authorization" and live["token"] in h["value"]
                         for h in request["headers"])
        if request["method"] == "POST" and not authorized:
            assert entry["response"]["status"] in (401, 405, 422), entry["request"]["url"]
    mutations = [e for e in entries if e["request"]["method"] == "POST"]
    assert mutations and all(e["response"]["status"] < 500 for e in entries)


def test_mutations_with_token_and_cli(live: dict[str, Any]) -> None:
    port, token = live["port"], live["token"]
    assert post(port, "/pause", "wrong").status_code == 401
    assert post(port, "/pause", None).json()["error"]["code"] == 401
    assert post(port, "/pause", token).json() == {"ok": True, "state": "paused"}
    env = {**live["env"], "GAKA_API_PORT": str(port)}
    out = subprocess.run([str(GAKA), "robot", "status"], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and '"state": "paused"' in out.stdout, out.stderr
    out = subprocess.run([str(GAKA), "robot", "resume"], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and '"ok": true' in out.stdout, out.stderr
    assert get(port, "/status")["state"] != "paused"
    out = subprocess.run([str(GAKA), "robot", "status", "--url", f"http://127.0.0.1:{free_port()}"],
                         env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and out.stderr.startswith("error: no daemon answers")


def test_token_file_and_one_daemon_per_data_dir(live: dict[str, Any]) -> None:
    mode = stat.S_IMODE((live["data"] / "api-token").stat().st_mode)
    assert mode == 0o600
    second = subprocess.run([str(GAKA), "robot", "run", "--port", str(free_port())],
                            env=live["env"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert second.returncode == 1
    assert "another gaka daemon" in second.stderr and "is running on" in second.stderr
    assert live["proc"].poll() is None


def test_painting_media_through_the_gateway(live: dict[str, Any]) -> None:
    port = live["port"]
    listed = {a["token_id"] for a in get(port, "/auctions")}
    painting = next(p for p in get(port, "/paintings") if p["token_id"] in listed)
    assert get(port, f"/paintings/{painting['token_id']}") == painting
    base = f"http://127.0.0.1:{port}"
    image = requests.get(base + painting["image_url"], timeout=10)
    assert image.status_code == 200 and image.content[:8] == b"\x89PNG\r\n\x1a\n"
    film = requests.get(base + painting["film_url"], headers={"Range": "bytes=4-11"},
                        timeout=10)
    assert film.status_code == 206 and film.content[:4] == b"ftyp"
    assert requests.post(base + painting["image_url"], timeout=10).status_code == 405
    auction = get(port, f"/auctions/{painting['token_id']}")
    assert auction["token_id"] == painting["token_id"] and auction["seconds_left"] > 0


def test_metrics_and_events(live: dict[str, Any]) -> None:
    port = live["port"]
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["gaka_auctions_open"].samples[0].value >= 1
    states = {s.labels["state"]: s.value for s in families["gaka_state"].samples}
    assert sum(states.values()) == 1
    with requests.get(f"http://127.0.0.1:{port}/events", stream=True, timeout=10) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        line = next(x for x in stream.iter_lines() if x)
    assert line.startswith(b"data: {") and b'"state"' in line


def test_unknown_paths_answer_json(live: dict[str, Any]) -> None:
    answer = requests.get(f"http://127.0.0.1:{live['port']}/nothing-here", timeout=10)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == 404


def test_binds_loopback_only(live: dict[str, Any]) -> None:
    import socket

    addresses = {a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None)
                 if a[0] == socket.AF_INET} - {"127.0.0.1", "127.0.1.1"}
    for address in addresses:
        with socket.socket() as s, pytest.raises(OSError):
            s.settimeout(1)
            s.connect((address, live["port"]))


