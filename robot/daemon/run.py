"""Assemble and run the daemon: lock, chain, IPFS store, contracts, scheduler, API server.

APScheduler keeps its jobs in the journal's database (explicit ids, replace_existing, a
grace time for misfires, one instance each): `studio` advances the painting, `market`
settles due auctions, repays and restocks, `reconcile` checks the ledger against the
wallet, `sim_market` plays the outside world on dev chains. uvicorn serves the API in the
main thread; on SIGTERM/SIGINT it returns, the studio parks after its current strokes, the
scheduler waits for running jobs, and everything is closed in order.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from gaka.config import Settings
from gaka.errors import GakaError
from gaka.net import check_listen
from robot.daemon import jobs
from robot.daemon.chainguard import GuardedChain, flaky
from robot.daemon.economy import DEV_NETWORKS, SimMarket
from robot.daemon.effects import TxRunner
from robot.daemon.journal import Journal
from robot.daemon.lock import DataDirLock
from robot.daemon.machine import Daemon
from robot.daemon.studio import StudioConfig
from robot.film import FilmSpec
from services.chain.deploy import deploy, deploy_command, record_name, resolve_target
from services.chain.protocol import Chain
from services.economy.core import open_economy
from services.ipfs import open_store
from vision.capture import check_source

log = logging.getLogger(__name__)
TOKEN_FILE = "api-token"


class DaemonError(GakaError, RuntimeError):
    """The daemon cannot start as configured."""


def api_token(data_dir: Path) -> str:
    """The API's bearer token, created at the first start (mode 0600)."""
    path = data_dir / TOKEN_FILE
    if not path.is_file():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(32))
        path.with_suffix(".tmp").replace(path)
    return path.read_text().strip()


@dataclass
class Overrides:
    """What `gaka robot run` can change for one run."""

    port: int | None = None
    host: str | None = None
    once: bool = False
    arm: str | None = None
    arm_port: str | None = None
    camera: str | None = None


def _deployment(settings: Settings, chain: Chain, target_name: str) -> dict[str, Any]:
    name = record_name(target_name, chain.chain_id)
    if chain.network in DEV_NETWORKS:
        return deploy(chain, name, settings.deployments_dir, settings.robot_address)
    path = settings.deployments_dir / f"{name}.json"
    if path.is_file():
        return json.loads(path.read_text())
    raise DaemonError(f"no deployment record {path}: run {deploy_command(name)}")


def build(settings: Settings, ov: Overrides) -> tuple[Daemon, Callable[[], None]]:
    """Open everything the daemon needs; returns it and a function that closes it all."""
    from services.chain.backends import open_chain

    target = resolve_target(settings)
    lock = threading.RLock()
    raw = open_chain(target.spec)
    chain: Any = GuardedChain(raw, lock)
    try:
        record = _deployment(settings, chain, target.name)
        eco = open_economy(chain, record, settings, wallet=record["robot"])
    except Exception:
        raw.close()
        raise
    journal = Journal(settings.data_dir / "journal.sqlite")
    dev = chain.network in DEV_NETWORKS
    sim = settings.sim_market if settings.sim_market is not None else dev
    camera = ov.camera or settings.camera
    studio_cfg = StudioConfig(
        camera=camera, arm=ov.arm or settings.arm, arm_port=ov.arm_port or settings.arm_port,
        arm_config=settings.arm_config, strokes=settings.plan_strokes,
        plan_size=settings.plan_size, iterations=settings.plan_iterations,
        film=FilmSpec(settings.film_width, settings.film_height, 15.0, settings.film_speedup))
    daemon = Daemon(journal, eco, open_store(settings),
                    TxRunner(journal, chain, eco.wallet, lock), studio_cfg, settings.data_dir,
                    auto_canvas=camera == "sim")
    if sim:
        daemon.sim = SimMarket(eco)

    def close() -> None:
        eco.store.close()
        journal.close()
        raw.close()
    return daemon, close


def _scheduler(daemon: Daemon) -> BackgroundScheduler:
    sched = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=daemon.journal.engine,
                                                 tablename="scheduler_jobs")},
        executors={"default": ThreadPoolExecutor(4)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30})
    key = str(daemon.data_dir)
    every = {"studio": 2, "market": 2, "reconcile": 20}
    if daemon.sim is not None:
        every["sim_market"] = 3
    for lane, seconds in every.items():
        # First run at once: a restarted daemon resumes its cycle without waiting a tick.
        sched.add_job(jobs.tick, "interval", seconds=seconds, id=lane, args=[key, lane],
                      replace_existing=True, next_run_time=_now())
    return sched


def _start(settings: Settings, ov: Overrides) -> tuple[Daemon, Callable[[], None]]:
    """Build and prepare the daemon, retrying while the node is unreachable or answers
    errors (a flaky RPC at boot should not need a person; systemd would only retry too)."""
    delay = 1.0
    while True:
        try:
            daemon, close = build(settings, ov)
        except Exception as exc:
            if not flaky(exc):
                raise
            log.warning("chain not usable yet (%s: %s); retrying in %.0f s",
                        exc.__class__.__name__, exc, delay, exc_info=exc)
        else:
            try:
                daemon.prepare(settings.auction_time_buffer_s)
                return daemon, close
            except Exception as exc:
                close()
                if not flaky(exc):
                    raise
                log.warning("catching up with the chain failed (%s: %s); retrying in %.0f s",
                            exc.__class__.__name__, exc, delay)
        time.sleep(delay)
        delay = min(30.0, delay * 2)


def run(settings: Settings, ov: Overrides, echo: Callable[[str], None]) -> int:
    """Run the daemon until SIGTERM/SIGINT (or, with --once, one full cycle)."""
    import uvicorn

    from services.api.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: "
                        "%(message)s")
    # A lane still busy when its next tick is due is normal (a painting takes minutes).
    logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
    logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    host = ov.host or settings.api_host
    port = settings.api_port if ov.port is None else ov.port
    camera = ov.camera or settings.camera
    if camera != "sim":
        # A missing picture would otherwise only show as a capture failure every tick.
        check_source(camera)
    lock = DataDirLock(settings.data_dir).acquire()
    try:
        check_listen(host, port)
        token = api_token(settings.data_dir)
        echo(f"starting on {settings.network}: connecting to the chain; a first start "
             "compiles and deploys the contracts (a minute or two) …")
        daemon, close = _start(settings, ov)
        try:
            jobs.register(str(daemon.data_dir), daemon)
            sched = _scheduler(daemon)

            def settle_now() -> None:
                sched.modify_job("market", next_run_time=_now())

            app = create_app(daemon, token, settle_now)
            server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, workers=1,
                                                  log_level="warning", access_log=False))
            first: list[int] = []

            def cycle_done(cycle_id: int) -> None:
                if ov.once and (not first or cycle_id >= first[0]):
                    server.should_exit = True
            daemon.on_cycle_done = cycle_done
            if ov.once:
                pending = daemon.journal.cycles_in(("capture", "plan", "paint", "publish",
                                                    "auction", "on_auction", "settle",
                                                    "repay", "restock"))
                first.append(pending[0]["id"] if pending else 0)
                # One cycle: the one left open by an earlier run, else a new one; the studio
                # starts no other while the first goes through the market.
                daemon.new_cycles_left = 0 if pending else 1
            sched.start()
            if daemon.sim is None and sched.get_job("sim_market") is not None:
                sched.remove_job("sim_market")  # left in the job store by an earlier run
            echo(f"gaka robot on {daemon.eco.chain.network}: robot {daemon.robot}")
            echo(f"dashboard: http://{host}:{port}/   (API token in "
                 f"{settings.data_dir / TOKEN_FILE})")
            # uvicorn turns SIGTERM/SIGINT into a clean server exit and then re-raises the
            # signal to the handler found before it; this one lets the stop below happen.
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: None)
            server.run()
            echo("stopping: parking the brush, closing the film …")
            sched.pause()
            daemon.stop.set()
            # A tick due during shutdown finds the executor closed; apscheduler logs that as
            # an error although nothing is lost (the lane runs again at the next start).
            logging.getLogger("apscheduler.scheduler").setLevel(logging.CRITICAL)
            sched.shutdown(wait=True)
            jobs.unregister(str(daemon.data_dir))
        finally:
            close()
    finally:
        lock.release()
    echo("stopped")
    return 0


def _now() -> Any:
    from datetime import datetime
    return datetime.now(UTC)
