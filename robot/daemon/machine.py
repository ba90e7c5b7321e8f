"""The painting cycle as an explicit state machine over the journal.

    capture → plan → paint (+ film) → publish → auction → on_auction → settle → repay
      → restock → done

Two lanes share the robot: the studio (capture … auction: one cycle at a time, it needs
the arm) and the market (on_auction … done: as many cycles as have auctions running).
Each step is a function of the cycle that is safe to run again: it either finds its output
(files in the cycle folder, the mint in the journal or on chain, the economy's actions in
its store or on chain) or produces it. The state moves on only after the step's result is
durable, so a restart resumes exactly at the step that was interrupted.
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
from robot.daemon.economy import SimMarket
from robot.daemon.effects import TxRunner
from robot.daemon.journal import Journal
from services.auctions import auctions
from services.economy.core import Economy
from services.ipfs.store import ContentStore
from services.nft.metadata import provenance_hash
from services.nft.publish import load_folder, publish
from services.supplies import supplies
from vision.plan import load_plan

log = logging.getLogger(__name__)

STUDIO = ("capture", "plan", "paint", "publish", "auction")
MARKET = ("on_auction", "settle", "repay", "restock")
STATES = (*STUDIO, *MARKET, "done")


@dataclass
class Daemon:
    """One robot: its journal, economy, content store and the two lanes."""

    journal: Journal
    eco: Economy
    store: ContentStore
    runner: TxRunner
    studio_cfg: studio.StudioConfig
    data_dir: Path
    auto_canvas: bool = True  # the simulated studio loads canvases itself
    stop: threading.Event = field(default_factory=threading.Event)
    sim: SimMarket | None = None
    version: int = 0
    activity: dict[str, Any] = field(default_factory=dict)
    view: dict[str, Any] = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)
    cycles_done: int = 0
    on_cycle_done: Callable[[int], None] | None = None
    new_cycles_left: int | None = None  # None: no limit; --once starts at most one
    _last_progress: float = 0.0
    # (version, studio cycle row, paused): /status reads the journal once per change.
    _status_rows: tuple[int, dict[str, Any] | None, bool] = (-1, None, False)

    @property
    def robot(self) -> str:
        return self.eco.wallet

    @property
    def lock(self) -> threading.RLock:
        return self.runner.lock

    # ------------------------------------------------------------------ set-up

    def prepare(self, time_buffer_s: int) -> None:
        """Catch up with the chain; on dev chains set the simulated market up (once)."""
        with self.lock:
            if self.sim is not None and not self.journal.get("sim_seeded", False):
                self.sim.seed(time_buffer_s, self.eco.settings.supplies_items)
                self.journal.put("sim_seeded", True)
            self.eco.sync()
            self.refresh_view()

    def touch(self) -> None:
        """Something changed that watchers (the dashboard) want to see."""
        self.version += 1

    def refresh_view(self) -> None:
        """Rebuild what the API serves (call holding the lock)."""
        self.view = economy.views(self.eco)
        self.touch()

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
        if self.paused or self.stop.is_set() or self.new_cycles_left == 0:
            return None
        with self.lock:
            if economy.canvases(self.eco) < 1:
                return None
        if not self.auto_canvas and not self.journal.get("canvas_loaded", False):
            return None
        with self.journal.tx() as conn:
            cycle_id = self.journal.new_cycle(self.data_dir / "paintings", conn)
            self.journal.put("canvas_loaded", False, conn)
        if self.new_cycles_left is not None:
            self.new_cycles_left -= 1
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
            with self.lock:
                auctions.open_auction(self.eco, int(row["token_id"]))
                self.refresh_view()
        following = STATES[STATES.index(state) + 1]
        self.journal.set_cycle(cycle_id, state=following, progress=0.0, detail="", error=None,
                               **nxt)
        log.info("cycle %d: %s done → %s", cycle_id, state, following)
        self.touch()

    def _publish(self, cycle_id: int, folder: Path) -> str:
        """Pin and mint (the mint journaled as an effect), then book the supplies used."""
        plan = load_plan(folder / "plan.json")
        provenance = provenance_hash(plan)
        token = str(int.from_bytes(provenance, "big"))
        nft = self.eco.contracts.nft

        def mint() -> Any:
            published = publish(load_folder(folder), self.store, self.eco.chain, nft,
                                self.robot, self.eco.contracts.start_block)
            if published.minted_now and published.tx_hash:
                return self.eco.chain.receipt(bytes.fromhex(published.tx_hash[2:]))
            return None

        with self.lock:
            self.runner.run(f"mint:{token}", "mint", cycle_id, nft.address, mint,
                            lambda _receipt: {"token_id": token})
            if '"minted"' not in _read(folder / "publish.json"):
                # The mint was found again by its nonce after a crash: finish the record
                # (pinning is idempotent; the token exists, so nothing is minted).
                mint()
            supplies.consume_painting(self.eco, "0x" + provenance.hex(), plan)
        return token

    # ------------------------------------------------------------------ market lane

    def market_tick(self) -> None:
        """Catch up with the chain, then move every cycle whose auction ended towards done."""
        with self.lock:
            economy.catch_up_clock(self.eco)
            self.eco.sync()
        for row in self.journal.cycles_in(MARKET):
            if self.stop.is_set():
                return
            try:
                self._market_step(row)
            except Exception as exc:  # noqa: BLE001 - journaled; the next tick retries
                log.warning("cycle %d: %s failed: %s", row["id"], row["state"], exc)
                self.journal.set_cycle(row["id"], error=f"{row['state']}: {exc}"[:500])
        with self.lock:
            economy.restock(self.eco)
            self.refresh_view()

    def _market_step(self, row: dict[str, Any]) -> None:
        cycle_id, token, state = row["id"], int(row["token_id"]), row["state"]
        while state in MARKET and not self.stop.is_set():
            with self.lock:
                if state == "on_auction":
                    if economy.token_state(self.eco, token) in ("open", None):
                        return
                    following = "settle"
                elif state == "settle":
                    after = economy.settle_token(self.eco, token)
                    if after == "ended":
                        return  # settled, not yet confirmed: the next tick looks again
                    if after == "open":
                        following = "on_auction"  # re-listed at a lower reserve
                    else:
                        following = "repay" if after == "sold" else "restock"
                elif state == "repay":
                    economy.repay_token(self.eco, token)
                    following = "restock"
                else:
                    economy.restock(self.eco)
                    following = "done"
                self.refresh_view()
            self.journal.set_cycle(cycle_id, state=following, error=None)
            log.info("cycle %d: %s → %s", cycle_id, state, following)
            state = following
            if state == "on_auction":
                return
        if state == "done":
            self.cycles_done += 1
            if self.on_cycle_done is not None:
                self.on_cycle_done(cycle_id)

    def sim_market_tick(self) -> None:
        if self.sim is not None and not self.stop.is_set():
            with self.lock:
                self.sim.tick()
                self.eco.sync()
                self.refresh_view()

    def reconcile_tick(self) -> None:
        with self.lock:
            self.eco.sync()
            self.refresh_view()
        wallet = self.view["wallet"]
        if wallet["unattributed_wei"] != "0":
            log.error("ledger: %s wei moved without a known cause", wallet["unattributed_wei"])

    # ------------------------------------------------------------------ views

    def status(self) -> dict[str, Any]:
        """What the robot is doing now (cheap: no chain access, the journal read once per
        change — every change bumps `version`)."""
        version = self.version
        if self._status_rows[0] != version:
            studio_rows = self.journal.cycles_in(STUDIO)
            self._status_rows = (version, studio_rows[0] if studio_rows else None, self.paused)
        _, current, paused = self._status_rows
        if self.stop.is_set():
            state = "stopping"
        elif paused:
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
            "network": self.eco.chain.network,
            "robot": self.robot,
            "cycles_done": self.cycles_done,
            "uptime_s": round(time.time() - self.started_at, 1),
            "version": self.version,
        }


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""
