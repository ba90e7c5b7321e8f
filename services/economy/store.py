"""Economy state in one SQLite file: chain facts read so far, the robot's actions, supplies.

Chain facts (events, wallet transactions, ledger entries, balances) carry their block number,
so a reorganised range is deleted and read again; what the robot did off chain (paintings'
consumption) and what it set out to do (actions with idempotency keys) carry none. The meta
table holds the read cursor, the store's identity and the inventory the robot last computed
(for `gaka supplies` in another process). Wei are
stored as decimal text: they do not fit SQLite's 64-bit integers.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
  block INTEGER NOT NULL, log_index INTEGER NOT NULL, tx_hash TEXT NOT NULL,
  address TEXT NOT NULL, name TEXT NOT NULL, args TEXT NOT NULL, time INTEGER NOT NULL,
  PRIMARY KEY (block, log_index));
CREATE TABLE IF NOT EXISTS entries (
  id INTEGER PRIMARY KEY AUTOINCREMENT, block INTEGER NOT NULL, time INTEGER NOT NULL,
  tx_hash TEXT NOT NULL, category TEXT NOT NULL, amount TEXT NOT NULL, memo TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS entries_block ON entries (block);
CREATE TABLE IF NOT EXISTS balances (block INTEGER PRIMARY KEY, time INTEGER NOT NULL,
  balance TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS actions (
  key TEXT PRIMARY KEY, kind TEXT NOT NULL, status TEXT NOT NULL, intent_block INTEGER NOT NULL,
  tx_hash TEXT, detail TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS consumption (painting TEXT PRIMARY KEY, detail TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Action:
    """One economic action the robot set out to do, under a key that makes it happen once."""

    key: str
    kind: str
    status: str  # intent (maybe sent), done, failed
    intent_block: int
    tx_hash: str | None
    detail: dict[str, Any]


class Store:
    """The SQLite file (WAL; every change in one transaction, so a crash loses none half-done).

    One connection, usable from any thread but by one at a time: callers serialise (the
    daemon holds its lock); other processes open their own, or look in `readonly`."""

    def __init__(self, path: Path | str, readonly: bool = False) -> None:
        self.readonly = readonly
        if readonly:
            self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None,
                                      timeout=30, check_same_thread=False)
            self.db.row_factory = sqlite3.Row
            return
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), isolation_level=None, timeout=30,
                                  check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One atomic transaction."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()

    # -- meta -------------------------------------------------------------------------------
    def get_meta(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return default if row is None else json.loads(row["value"])

    def set_meta(self, db: sqlite3.Connection, key: str, value: Any) -> None:
        db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    # -- chain facts ------------------------------------------------------------------------
    def events(self, name: str | tuple[str, ...] | None = None,
               address: str | None = None) -> list[dict[str, Any]]:
        """Stored events in chain order, each a dict with block, tx_hash, name, args, …"""
        sql, params = "SELECT * FROM events WHERE 1=1", []
        if name is not None:
            names = (name,) if isinstance(name, str) else name
            sql += f" AND name IN ({','.join('?' * len(names))})"
            params += list(names)
        if address is not None:
            sql += " AND address=?"
            params.append(address)
        rows = self.db.execute(sql + " ORDER BY block, log_index", params).fetchall()
        return [{**dict(r), "args": _loads_args(r["args"])} for r in rows]

    def entries(self) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT * FROM entries ORDER BY block, id").fetchall()
        return [{**dict(r), "amount": int(r["amount"])} for r in rows]

    def balances(self) -> list[tuple[int, int, int]]:
        rows = self.db.execute("SELECT * FROM balances ORDER BY block").fetchall()
        return [(r["block"], r["time"], int(r["balance"])) for r in rows]

    def drop_from(self, db: sqlite3.Connection, block: int) -> None:
        """Forget every chain fact from `block` on (a reorganised range)."""
        for table in ("events", "entries", "balances"):
            db.execute(f"DELETE FROM {table} WHERE block >= ?", (block,))

    # -- actions ----------------------------------------------------------------------------
    def action(self, key: str) -> Action | None:
        row = self.db.execute("SELECT * FROM actions WHERE key=?", (key,)).fetchone()
        if row is None:
            return None
        return Action(row["key"], row["kind"], row["status"], row["intent_block"],
                      row["tx_hash"], json.loads(row["detail"]))

    def actions(self, kind: str | None = None) -> list[Action]:
        rows = self.db.execute("SELECT key FROM actions" + (" WHERE kind=?" if kind else ""),
                               (kind,) if kind else ()).fetchall()
        return [a for a in (self.action(r["key"]) for r in rows) if a is not None]

    def unconfirmed_actions(self) -> list[Action]:
        """Done actions whose transaction is not yet `confirmations` deep (see Economy.sync)."""
        rows = self.db.execute("SELECT key FROM actions WHERE status='done' "
                               "AND json_extract(detail, '$.unconfirmed')").fetchall()
        return [a for a in (self.action(r["key"]) for r in rows) if a is not None]

    def put_action(self, action: Action) -> None:
        with self.tx() as db:
            db.execute("INSERT OR REPLACE INTO actions VALUES (?, ?, ?, ?, ?, ?)",
                       (action.key, action.kind, action.status, action.intent_block,
                        action.tx_hash, json.dumps(action.detail, sort_keys=True)))

    def claimed_tx_hashes(self) -> set[str]:
        """Transactions an action did, or journaled and so may have done: an intent left by a
        crash before signing never takes another action's transaction for its own."""
        claimed = set()
        for action in self.actions():
            signed = action.detail.get("signed")
            claimed |= {h for h in (action.tx_hash, signed and signed["tx_hash"]) if h}
        return claimed

    # -- consumption ------------------------------------------------------------------------
    def consumption(self) -> dict[str, dict[str, float]]:
        rows = self.db.execute("SELECT * FROM consumption ORDER BY rowid").fetchall()
        return {r["painting"]: json.loads(r["detail"]) for r in rows}

    def add_consumption(self, painting: str, used: dict[str, float]) -> bool:
        """Record what one painting used; False when it was recorded before."""
        with self.tx() as db:
            cur = db.execute("INSERT OR IGNORE INTO consumption VALUES (?, ?)",
                             (painting, json.dumps(used, sort_keys=True)))
            return cur.rowcount == 1


def dumps_args(args: dict[str, Any]) -> str:
    """Event args as JSON: big integers and bytes as tagged strings, so nothing is rounded."""
    def enc(v: Any) -> Any:
        if isinstance(v, bool):
            return v
        if isinstance(v, int):
            return {"int": str(v)}
        if isinstance(v, bytes | bytearray):
            return {"hex": bytes(v).hex()}
        if isinstance(v, list | tuple):
            return [enc(x) for x in v]
        return v

    return json.dumps({k: enc(v) for k, v in args.items()}, sort_keys=True)


def _loads_args(text: str) -> dict[str, Any]:
    def dec(v: Any) -> Any:
        if isinstance(v, dict) and set(v) == {"int"}:
            return int(v["int"])
        if isinstance(v, dict) and set(v) == {"hex"}:
            return bytes.fromhex(v["hex"])
        if isinstance(v, list):
            return [dec(x) for x in v]
        return v

    return {k: dec(v) for k, v in json.loads(text).items()}

