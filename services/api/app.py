"""The FastAPI app in front of a running daemon: reads, token-guarded mutations, metrics,
server-sent events, the dashboard page and the read-only IPFS gateway.

Reads come from the journal (cheap SQLite queries) and the daemon's in-memory status, not
from the chain, so the API stays fast while the robot works. Every error is JSON:
`{"error": {"code": 404, "message": "..."}}`.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Mount

from robot.daemon.machine import Daemon
from services.api import models
from services.ipfs.gateway import gateway_app

VERSION = "1"
_bearer = HTTPBearer(auto_error=False, description="the token in <data dir>/api-token")


def _error(code: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=code,
                        headers=headers)


def _publish_record(folder: str) -> dict[str, Any]:
    try:
        doc = json.loads((Path(folder) / "publish.json").read_text())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _painting(row: dict[str, Any]) -> models.Painting:
    pub = _publish_record(row["folder"])
    cids = pub.get("cids") or {}
    return models.Painting(
        token_id=row["token_id"], cycle_id=row["id"], state=row["state"],
        created_at=row["created_at"],
        image_url=f"/ipfs/{cids['image']}" if "image" in cids else None,
        film_url=f"/ipfs/{cids['film']}" if "film" in cids else None,
        plan_cid=cids.get("plan"), metadata_cid=cids.get("metadata"),
        token_uri=pub.get("token_uri"))


def _auction(lot: dict[str, Any]) -> dict[str, Any]:
    left = max(0.0, lot["end_time"] - time.time()) if lot["state"] == "open" else 0.0
    return {**lot, "seconds_left": round(left, 1), "bids": len(lot["bids"])}


class _Metrics:
    """Prometheus collector reading the daemon on each scrape."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon

    def collect(self) -> Any:
        d = self.daemon
        status = d.status()
        g = GaugeMetricFamily("gaka_state", "1 for the daemon's current state", labels=["state"])
        for s in ("working", "waiting", "paused", "stopping"):
            g.add_metric([s], 1.0 if status["state"] == s else 0.0)
        yield g
        yield GaugeMetricFamily("gaka_cycle_progress", "progress of the current step",
                                value=status["progress"])
        yield GaugeMetricFamily("gaka_cycles_done", "cycles finished since start",
                                value=status["cycles_done"])
        view = d.view
        lots = view.get("auctions", [])
        yield GaugeMetricFamily("gaka_auctions_open", "auctions running",
                                value=sum(lot["state"] == "open" for lot in lots))
        yield GaugeMetricFamily("gaka_paintings_sold", "paintings sold",
                                value=sum(lot["state"] == "sold" for lot in lots))
        wallet = view.get("wallet", {})
        cat = GaugeMetricFamily("gaka_ledger_ether", "ledger total per category, ether",
                                labels=["category"])
        for name, wei in wallet.get("totals_wei", {}).items():
            cat.add_metric([name], int(wei) / 1e18)
        yield cat
        yield GaugeMetricFamily("gaka_wallet_ether", "the robot's balance, ether",
                                value=int(wallet.get("balance_wei", 0)) / 1e18)
        stock = GaugeMetricFamily("gaka_supply_stock", "units (paint: ml) in stock",
                                  labels=["supply"])
        for name, amount in (view.get("supplies", {}).get("inventory") or {}).items():
            stock.add_metric([name], amount)
        yield stock
        yield GaugeMetricFamily("gaka_ledger_unattributed_wei",
                                "balance change of no known cause (0 when the ledger is exact)",
                                value=int(wallet.get("unattributed_wei", 0)))


def create_app(daemon: Daemon, token: str, settle_now: Any = None) -> FastAPI:
    """The API over one daemon; `token` guards mutations, `settle_now()` runs the market."""
    app = FastAPI(title="gaka robot API", version=VERSION,
                  description="Status, wallet, auctions and paintings of a gaka robot; "
                              "mutations need `Authorization: Bearer <token>`.",
                  responses={401: {"model": models.ErrorAnswer},
                             422: {"model": models.ErrorAnswer}})
    registry = CollectorRegistry(auto_describe=True)
    registry.register(_Metrics(daemon))
    journal = daemon.journal
    page = files("services.api").joinpath("dashboard.html").read_text(encoding="utf-8")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Keep the headers (Allow on 405, WWW-Authenticate on 401).
        return _error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error(422, f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(Exception)
    async def crashed(_: Request, exc: Exception) -> JSONResponse:
        return _error(500, f"internal error: {exc.__class__.__name__}")

    def authorized(cred: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> None:
        if cred is None or not secrets.compare_digest(cred.credentials.encode(), token.encode()):
            raise HTTPException(401, "missing or wrong bearer token",
                                headers={"WWW-Authenticate": "Bearer"})

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def dashboard() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/health", response_model=models.Health, tags=["robot"])
    def health() -> dict[str, Any]:
        """Liveness: the API answers and the daemon is not stopping."""
        return {"ok": not daemon.stop.is_set(), "version": VERSION}

    @app.get("/status", response_model=models.Status, tags=["robot"])
    def status() -> dict[str, Any]:
        """State, step and progress of the robot."""
        return daemon.status()

    @app.get("/wallet", response_model=models.Wallet, tags=["money"])
    def wallet() -> dict[str, Any]:
        """The robot's wallet: balance, totals by category, reconciliation with the node."""
        return daemon.view["wallet"]

    @app.get("/ledger", response_model=list[models.LedgerEntry], tags=["money"])
    def ledger_entries() -> list[dict[str, Any]]:
        """Every wallet movement, oldest first."""
        return daemon.view["ledger"]

    @app.get("/auctions", response_model=list[models.Auction], tags=["market"])
    def auction_list() -> list[dict[str, Any]]:
        """Every listing of the robot's paintings, newest first."""
        return [_auction(lot) for lot in reversed(daemon.view["auctions"])]

    @app.get("/auctions/{token_id}", response_model=models.AuctionDetail, tags=["market"],
             responses={404: {"model": models.ErrorAnswer}})
    def auction_detail(token_id: str) -> dict[str, Any]:
        """The latest listing of a token, with its bids."""
        lots = [lot for lot in daemon.view["auctions"] if lot["token_id"] == token_id]
        if not lots:
            raise HTTPException(404, f"no auction for token {token_id}")
        return {**_auction(lots[-1]), "history": lots[-1]["bids"]}

    @app.get("/paintings", response_model=list[models.Painting], tags=["market"])
    def painting_list() -> list[models.Painting]:
        """Every cycle's painting, newest first (unminted ones have no token id yet)."""
        return [_painting(r) for r in journal.all_cycles()]

    @app.get("/paintings/{token_id}", response_model=models.Painting, tags=["market"],
             responses={404: {"model": models.ErrorAnswer}})
    def painting_detail(token_id: str) -> models.Painting:
        """One painting: image, film, plan and metadata CIDs."""
        rows = [r for r in journal.all_cycles() if r["token_id"] == token_id]
        if not rows:
            raise HTTPException(404, f"no painting with token {token_id}")
        return _painting(rows[0])

    @app.get("/supplies", response_model=models.Supplies, tags=["market"])
    def supply_list() -> dict[str, Any]:
        """Inventory, reorder thresholds and targets, supply orders."""
        return daemon.view["supplies"]

    @app.get("/investors", response_model=models.Investors, tags=["money"])
    def investor_list() -> dict[str, Any]:
        """What each investor lent and can claim; what the robot still owes."""
        return daemon.view["investors"]

    @app.get("/metrics", response_class=PlainTextResponse, tags=["robot"])
    def metrics() -> PlainTextResponse:
        """Prometheus text exposition."""
        return PlainTextResponse(generate_latest(registry).decode(),
                                 media_type="text/plain; version=0.0.4")

    @app.get("/events", tags=["robot"], response_class=StreamingResponse,
             responses={200: {"content": {"text/event-stream": {}}}})
    async def events(request: Request) -> StreamingResponse:
        """Server-sent events: the status whenever anything changes (and every 15 s)."""
        async def stream() -> Any:
            seen, last = -1, 0.0
            while not await request.is_disconnected() and not daemon.stop.is_set():
                now = time.monotonic()
                if daemon.version != seen or now - last > 15:
                    seen, last = daemon.version, now
                    yield f"data: {json.dumps(daemon.status())}\n\n"
                await asyncio.sleep(0.25)
        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    def mutation(path: str, summary: str) -> Any:
        return app.post(path, response_model=models.Done, tags=["control"], summary=summary,
                        dependencies=[Depends(authorized)],
                        responses={401: {"model": models.ErrorAnswer}})

    @mutation("/pause", "Pause: finish the current step, start nothing new")
    def pause() -> dict[str, Any]:
        daemon.set_paused(True)
        return {"ok": True, "state": daemon.status()["state"]}

    @mutation("/resume", "Resume after a pause")
    def resume() -> dict[str, Any]:
        daemon.set_paused(False)
        return {"ok": True, "state": daemon.status()["state"]}

    @mutation("/canvas", "A fresh canvas is on the easel")
    def canvas() -> dict[str, Any]:
        daemon.canvas_loaded()
        return {"ok": True, "state": daemon.status()["state"]}

    @mutation("/settle", "Settle due auctions now")
    def settle() -> dict[str, Any]:
        if settle_now is not None:
            settle_now()
        return {"ok": True, "state": daemon.status()["state"]}

    app.router.routes.append(Mount("/ipfs", app=gateway_app(daemon.store, prefix="")))
    return app
