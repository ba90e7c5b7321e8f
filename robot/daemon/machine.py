"""The painting cycle as an explicit state machine over the journal.

    capture → plan → paint (+ film) → publish → auction → on_auction → settle → repay
      → restock → done

Two lanes share the robot: the studio (capture … auction: one cycle at a time, it needs
the arm) and the market (on_auction … done: as many cycles as have auctions running).
Each step is a function of the cycle that is safe to run again: it either finds its output
(files in the cycle folder, effects in the journal, the effect on chain) or produces it.
The state moves on only after the step's result is durable, so a restart resumes exactly
at the step that was interrupted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from robot.daemon import economy, studio
from robot.daemon.economy import Contracts, NotDue, SimMarket
from robot.daemon.effects import TxRunner
from robot.daemon.journal import Journal, auctions, supplies
from services.chain.protocol import Chain
from services.ipfs.store import ContentStore
from services.nft.metadata import provenance_hash
from services.nft.publish import load_folder, publish
from vision.plan import load_plan

log = logging.getLogger(__name__)

STUDIO = ("capture", "plan", "paint", "publish", "auction")
MARKET = ("on_auction", "settle", "repay", "restock")
STATES = (*STUDIO, *MARKET, "done")


@dataclass(frozen=True)
class MarketConfig:
    """Auction terms and money policy."""

    auction_duration_s: int = 86_400
    reserve_wei: int = 10**16
    time_buffer_s: int = 300
    repay_share: float = 0.5
    canvas_stock: int = 5
    canvas_threshold: int = 1
    canvas_refill_to: int = 5
    auto_canvas: bool = True  # the simulated studio loads canvases itself
    sim_market: bool = True


@dataclass
class Daemon:
    """One robot: its journal, chain, content store, contracts and the two lanes."""

    journal: Journal
    chain: Chain
    store: ContentStore
    contracts: Contracts
    robot: str
    runner: TxRunner
    studio_cfg: studio.StudioConfig
    market_cfg: MarketConfig
    data_dir: Path
    network: str
    stop: threading.Event = field(default_factory=threading.Event)
    sim: SimMarket | None = None
    version: int = 0
    activity: dict[str, Any] = field(default_factory=dict)
    reconciliation: dict[str, Any] = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)
    cycles_done: int = 0
    on_cycle_done: Callable[[int], None] | None = None
    _last_progress: float = 0.0

    # ------------------------------------------------------------------ set-up

    def prepare(self) -> None:
        """First start on a chain: opening balance and supplies; then the simulated market."""
        with self.runner.lock:
            if self.journal.get("opening") is None:
                block = self.chain.block_number()
                balance = economy.balance_at(self.chain, self.robot, block)
                with self.journal.tx() as conn:
                    self.journal.put("opening", {"block": block, "balance_wei": str(balance)},
                                     conn)
                    self.journal.put("sync_block", block, conn)
            if not self.journal.rows(supplies, supplies.c.name == "canvas"):
                with self.journal.tx() as conn:
                    conn.execute(supplies.insert().values(
                        name="canvas", stock=self.market_cfg.canvas_stock, on_order=0,
                        threshold=self.market_cfg.canvas_threshold,
                        refill_to=self.market_cfg.canvas_refill_to,
                        item_id=economy.CANVAS_ITEM))
            if self.sim is not None:
                self.sim.seed(self.journal, self.market_cfg.time_buffer_s)
        self.touch()

    def touch(self) -> None:
        """Something changed that watchers (the dashboard) want to see."""
        self.version += 1

    @property
    def paused(self) -> bool:
        return bool(self.journal.get("paused", False))

    def set_paused(self, paused: bool) -> None:
        self.journal.put("paused", paused)
        self.touch()

    def canvas_loaded(self) -> None:
        """A person put a fresh canvas on the easel (hardware studios)."""
        self.journal.put("canvas_loaded", True)
        self.touch()

    # ------------------------------------------------------------------ studio lane

    def _progress(self, cycle_id: int, step: str) -> studio.Progress:
        def report(fraction: float, detail: str) -> None:
            if step == "plan" and self.stop.is_set():
                # Planning writes nothing until it is done: dropping it loses only time.
                raise studio.Stopped("planning interrupted; it restarts with the daemon")
            self.activity = {"cycle_id": cycle_id, "step": step, "progress": fraction,
                             "detail": detail}
            now = time.monotonic()
            if now - self._last_progress > 0.5 or fraction >= 1.0:
                self._last_progress = now
                self.journal.set_cycle(cycle_id, progress=fraction, detail=detail)
                self.touch()
        return report

    def _next_canvas(self) -> int | None:
        """Start a cycle when a canvas is there and stock allows; None otherwise."""
        if self.paused or self.stop.is_set():
            return None
        stock = self.journal.rows(supplies, supplies.c.name == "canvas")
        if not stock or stock[0]["stock"] <= 0:
            return None
        if not self.market_cfg.auto_canvas and not self.journal.get("canvas_loaded", False):
            return None
        with self.journal.tx() as conn:
            cycle_id = self.journal.new_cycle(self.data_dir / "paintings", conn)
            economy.consume_canvas(self.journal, conn, cycle_id)
            self.journal.put("canvas_loaded", False, conn)
        self.touch()
        return cycle_id

    def studio_tick(self) -> None:
        """Advance the studio's cycle as far as it goes (through opening its auction)."""
        open_cycles = self.journal.cycles_in(STUDIO)
        cycle_id = open_cycles[0]["id"] if open_cycles else self._next_canvas()
        while cycle_id is not None and not self.stop.is_set() and not self.paused:
            state = self.journal.cycle(cycle_id)["state"]
            if state not in STUDIO:
                break
            try:
                self._step(cycle_id, state)
            except studio.Stopped as exc:
                log.info("cycle %d: %s", cycle_id, exc)
                self.journal.set_cycle(cycle_id, detail=str(exc))
                break
            except Exception as exc:  # noqa: BLE001 - journaled; the next tick retries
                log.warning("cycle %d: %s failed: %s", cycle_id, state, exc)
                self.journal.set_cycle(cycle_id, error=f"{state}: {exc}"[:500])
                break
        self.activity = {}
        self.touch()

    def _step(self, cycle_id: int, state: str) -> None:
        row = self.journal.cycle(cycle_id)
        folder = Path(row["folder"])
        report = self._progress(cycle_id, state)
        report(0.0, state)
        nxt: dict[str, Any] = {}
        if state == "capture":
            studio.capture(folder, cycle_id, self.studio_cfg)
        elif state == "plan":
            studio.plan(folder, self.studio_cfg, report)
        elif state == "paint":
            studio.paint(folder, self.studio_cfg, self.stop, report)
        elif state == "publish":
            nxt["token_id"] = self._publish(cycle_id, folder)
        elif state == "auction":
            token = int(row["token_id"])
            economy.open_auction(self.runner, self.contracts, token, cycle_id,
                                 self.market_cfg.reserve_wei, self.market_cfg.auction_duration_s)
            with self.runner.lock:
                economy.sync(self.journal, self.chain, self.contracts, self.robot)
        following = STATES[STATES.index(state) + 1]
        self.journal.set_cycle(cycle_id, state=following, progress=0.0, detail="", error=None,
                               **nxt)
        log.info("cycle %d: %s done → %s", cycle_id, state, following)
        self.touch()

    def _publish(self, cycle_id: int, folder: Path) -> str:
        token = str(int.from_bytes(provenance_hash(load_plan(folder / "plan.json")), "big"))
        result: dict[str, Any] = {}

        def send() -> Any:
            published = publish(load_folder(folder), self.store, self.chain, self.contracts.nft,
                                self.robot, self.contracts.deploy_block)
            result["cids"] = published.cids
            if published.minted_now and published.tx_hash:
                return self.chain.receipt(bytes.fromhex(published.tx_hash[2:]))
            return None

        def done(conn: Any, receipt: Any) -> dict[str, Any]:
            return {"token_id": token, **result}

        self.runner.run(f"mint:{token}", "mint", cycle_id, send, done)
        if not (folder / "publish.json").is_file() or "minted" not in \
                (folder / "publish.json").read_text():
            # Found again by nonce after a crash: pin (idempotent) and write the record.
            publish(load_folder(folder), self.store, self.chain, self.contracts.nft,
                    self.robot, self.contracts.deploy_block)
        return token

    # ------------------------------------------------------------------ market lane

    def market_tick(self) -> None:
        """Sync events, then move every cycle whose auction is due towards done."""
        with self.runner.lock:
            economy.sync(self.journal, self.chain, self.contracts, self.robot)
        for row in self.journal.cycles_in(MARKET):
            if self.stop.is_set():
                return
            try:
                self._market_step(row)
            except NotDue:
                continue
            except Exception as exc:  # noqa: BLE001 - journaled; the next tick retries
                log.warning("cycle %d: %s failed: %s", row["id"], row["state"], exc)
                self.journal.set_cycle(row["id"], error=f"{row['state']}: {exc}"[:500])
        economy.place_orders(self.runner, self.journal, self.contracts)
        economy.confirm_deliveries(self.runner, self.journal, self.contracts)
        self.touch()

    def _market_step(self, row: dict[str, Any]) -> None:
        cycle_id, token, state = row["id"], row["token_id"], row["state"]
        while state in MARKET and not self.stop.is_set():
            if state == "on_auction":
                lot = self.journal.rows(auctions, auctions.c.token_id == token)
                if lot and lot[0]["status"] == "open" and time.time() < lot[0]["end_time"]:
                    return
            elif state == "settle":
                economy.settle(self.runner, self.contracts, int(token), cycle_id)
                with self.runner.lock:
                    economy.sync(self.journal, self.chain, self.contracts, self.robot)
            elif state == "repay":
                economy.repay(self.runner, self.journal, self.contracts, token, cycle_id,
                              self.market_cfg.repay_share)
            elif state == "restock":
                economy.place_orders(self.runner, self.journal, self.contracts)
            state = STATES[STATES.index(state) + 1]
            self.journal.set_cycle(cycle_id, state=state, error=None)
            log.info("cycle %d → %s", cycle_id, state)
            self.touch()
        if state == "done":
            self.cycles_done += 1
            if self.on_cycle_done is not None:
                self.on_cycle_done(cycle_id)

    def sim_market_tick(self) -> None:
        if self.sim is not None and not self.stop.is_set():
            with self.runner.lock:
                self.sim.tick(self.journal)
            self.touch()

    def reconcile_tick(self) -> None:
        with self.runner.lock:
            self.reconciliation = economy.reconcile(self.journal, self.chain, self.contracts,
                                                    self.robot)
        if not self.reconciliation["ok"]:
            log.error("ledger does not reconcile: %s", self.reconciliation)
        self.touch()

    # ------------------------------------------------------------------ views

    def claimable(self, investors: list[str]) -> dict[str, int]:
        """What each investor can withdraw from the pool now."""
        with self.runner.lock:
            return {a: int(self.chain.call(self.contracts.pool.functions.claimable(a)))
                    for a in investors}

    def status(self) -> dict[str, Any]:
        """What the robot is doing now (cheap: no chain access)."""
        studio_rows = self.journal.cycles_in(STUDIO)
        current = studio_rows[0] if studio_rows else None
        if self.stop.is_set():
            state = "stopping"
        elif self.paused:
            state = "paused"
        elif current is not None:
            state = "working"
        else:
            state = "waiting"
        act = self.activity
        return {
            "state": state,
            "step": act.get("step") or (current["state"] if current else None),
            "cycle_id": current["id"] if current else None,
            "progress": float(act.get("progress", current["progress"] if current else 0.0)),
            "detail": act.get("detail") or (current["detail"] if current else ""),
            "error": current["error"] if current else None,
            "network": self.network,
            "robot": self.robot,
            "cycles_done": self.cycles_done,
            "uptime_s": round(time.time() - self.started_at, 1),
            "version": self.version,
        }
