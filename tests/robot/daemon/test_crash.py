"""SIGKILL the real daemon at ≥ 50 random moments across cycles, restart it each time, then
check on the chain itself that every economic action happened exactly once.

Oracles: the embedded chain's blocks and events (read after the daemon stopped), not the
daemon's own records: every robot transaction is scanned, so a duplicate attempt shows even
when it reverted.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import Counter
from pathlib import Path

import pytest

from services.chain.backends import ChainSpec, open_chain
from tests.conftest import free_port
from tests.robot.daemon.helpers import (
    chain_audit,
    daemon_env,
    get,
    journal_rows,
    market_settled,
    post,
    start_daemon,
    stop,
    wait_for,
    wait_ready,
)

KILLS = int(os.environ.get("GAKA_CRASH_KILLS", "50"))


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_sigkill_at_random_moments(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    spawned_procs: list = []
    request.addfinalizer(lambda: [p.kill() for p in spawned_procs if p.poll() is None])
    data = tmp_path / "data"
    # Lives are seconds long: an auction must outlast a few of them for the simulated
    # collectors (who bid while the daemon runs) to buy, so that sales, settlements and
    # repayments happen between kills too.
    env = daemon_env(data, GAKA_AUCTION_DURATION_S="10")
    port = free_port()
    log = tmp_path / "daemon.log"
    rng = random.Random(int(os.environ.get("GAKA_CRASH_SEED", "13")))
    startup: list[float] = []
    kills = during_startup = 0
    moments: Counter[str] = Counter()  # where each kill fell: start-up, or the studio's step
    window = 5.0  # seconds of work a life gets at most; widened while nothing moves
    began = time.monotonic()
    while kills < KILLS:
        before = _progress(data)
        spawned = time.monotonic()
        proc = start_daemon(env, port, log)
        spawned_procs.append(proc)
        at_work = not (startup and rng.random() < 0.5)
        if not at_work:
            # A moment of the start-up itself: deploy, catching up with the chain.
            time.sleep(rng.uniform(0.2, sorted(startup)[len(startup) // 2]))
            up = _ready(port)
            during_startup += not up
        else:
            assert wait_ready(port, proc), f"daemon died:\n{log.read_text()[-3000:]}"
            startup.append(time.monotonic() - spawned)
            # A moment of the work: planning, painting, minting, auctions, settling …
            time.sleep(rng.uniform(0.0, window))
        assert proc.poll() is None, f"daemon died by itself:\n{log.read_text()[-3000:]}"
        proc.kill()
        proc.wait()
        kills += 1
        moments[_studio_step(data) if at_work or up else "start-up"] += 1
        # On a slow machine a step may need longer than the window: the moments must
        # still fall across whole cycles, not always inside the same step. Only a life
        # that got to work says whether the window is long enough: one killed while
        # starting up could not move the journal whatever the window (counting it would
        # widen the window towards its cap for nothing, and the test would idle for minutes).
        if at_work:
            moved = _progress(data) != before
            window = max(5.0, window / 1.2) if moved else min(60, window * 1.5)

    # Let it finish what is under way: no new paintings, every auction to its end.
    proc = start_daemon(env, port, log)
    spawned_procs.append(proc)
    assert wait_ready(port, proc), log.read_text()[-3000:]
    token = (data / "api-token").read_text().strip()
    assert post(port, "/pause", token).status_code == 200

    wait_for(lambda: market_settled(data), 240, "every minted painting through its auction")
    wallet = get(port, "/wallet")
    assert stop(proc) == 0, log.read_text()[-3000:]
    cycles = journal_rows(data, "SELECT id, state, token_id FROM cycles")
    done = sum(r["state"] == "done" for r in cycles)
    median = sorted(startup)[len(startup) // 2]
    print(f"\n{kills} SIGKILLs ({during_startup} during start-up) in "
          f"{time.monotonic() - began:.0f} s; cycles started {len(cycles)}, completed {done}; "
          f"median start-up {median:.1f} s; kills by moment {dict(moments)}")
    assert done >= 2, "the daemon made no progress between kills"
    assert during_startup >= 1, "no kill fell inside a start-up"

    # ----- the chain as oracle
    record = json.loads((data / "deployments" / "embedded.json").read_text())
    chain = open_chain(ChainSpec("embedded", data_dir=data))
    try:
        audit = chain_audit(chain, record, cycles, wallet, data)
    finally:
        chain.close()
    print(audit)
    assert audit["open_now"] == 0, "an auction left open"
    assert audit["sold"] >= 1, "nothing sold: settling and repaying went unexercised"
    assert audit["repayments"] >= 1, "no sale repaid the investors"
    assert not journal_rows(data, "SELECT key FROM effects WHERE status != 'done'")


def _progress(data: Path) -> tuple[object, ...]:
    """Where the journal stands: cycles, their states, effects done."""
    if not (data / "journal.sqlite").is_file():
        return ()
    rows = journal_rows(data, "SELECT state FROM cycles")
    done = journal_rows(data, "SELECT count(*) AS n FROM effects WHERE status = 'done'")
    return (len(rows), *sorted(r["state"] for r in rows), done[0]["n"])


def _studio_step(data: Path) -> str:
    """The step the studio's cycle is in ("market" when only auctions are under way)."""
    rows = journal_rows(data, "SELECT state FROM cycles WHERE state IN "
                        "('capture', 'plan', 'paint', 'publish', 'auction') ORDER BY id")
    return rows[0]["state"] if rows else "market"


def _ready(port: int) -> bool:
    import requests

    try:
        return requests.get(f"http://127.0.0.1:{port}/health", timeout=0.5).ok
    except requests.RequestException:
        return False
