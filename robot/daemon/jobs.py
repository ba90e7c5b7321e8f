"""The scheduler's job entry point.

APScheduler's SQLAlchemy job store keeps jobs as a textual reference plus arguments, so a
job cannot hold the daemon object itself: it names the daemon by its data dir and finds it
in this registry, which the running daemon fills at start and empties at stop.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)
_running: dict[str, Any] = {}


def register(key: str, daemon: Any) -> None:
    _running[key] = daemon


def unregister(key: str) -> None:
    _running.pop(key, None)


def tick(key: str, lane: str) -> None:
    """Run one lane of the daemon registered under `key` (a no-op once it stopped)."""
    daemon = _running.get(key)
    if daemon is None or daemon.stop.is_set():
        return
    try:
        getattr(daemon, f"{lane}_tick")()
    except Exception:  # noqa: BLE001 - a failing lane is logged and retried next tick
        log.exception("%s tick failed", lane)
