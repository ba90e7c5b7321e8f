"""The daemon's durable journal: cycles, side effects and flags, in one SQLite file.

A cycle's state moves on only after its step's result is durable. Each side effect the
daemon sends itself (the mint) is recorded *before* it is sent, with the sender's nonce and
the block height, and again *after*, with its transaction; the economy keeps its own
actions and ledger in its store (services/economy). Writes that belong together share one
SQL transaction, so a crash leaves all of them or none.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    insert,
    select,
    update,
)

metadata = MetaData()

cycles = Table(
    "cycles", metadata,
    Column("id", Integer, primary_key=True),
    Column("state", String, nullable=False),
    Column("folder", String, nullable=False),
    Column("token_id", String),
    Column("progress", Float, nullable=False, default=0.0),
    Column("detail", Text, nullable=False, default=""),
    Column("error", Text),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

effects = Table(
    "effects", metadata,
    Column("key", String, primary_key=True),
    Column("cycle_id", Integer),
    Column("kind", String, nullable=False),
    Column("status", String, nullable=False),  # started | done | reverted
    Column("sender", String, nullable=False),
    Column("nonce", Integer, nullable=False),
    Column("from_block", Integer, nullable=False),
    Column("tx_hash", String),
    Column("result", Text),
    Column("attempts", Integer, nullable=False, default=1),
    Column("started_at", Float, nullable=False),
    Column("done_at", Float),
)

kv = Table(
    "kv", metadata,
    Column("key", String, primary_key=True),
    Column("value", Text, nullable=False),
)


def _pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # FULL: a committed journal entry survives a power cut, not only a process crash.
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


@dataclass(frozen=True)
class Effect:
    """One side effect as the journal knows it."""

    key: str
    kind: str
    status: str
    sender: str
    nonce: int
    from_block: int
    tx_hash: str | None
    result: dict[str, Any] | None
    cycle_id: int | None


class Journal:
    """The daemon's SQLite journal (one file under the data dir)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.engine: Engine = create_engine(f"sqlite:///{path}",
                                            connect_args={"check_same_thread": False})
        event.listen(self.engine, "connect", _pragmas)
        metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def tx(self) -> Iterator[Connection]:
        """One SQL transaction: committed on success, rolled back on any exception."""
        with self.engine.begin() as conn:
            yield conn

    # ------------------------------------------------------------------ flags

    def get(self, key: str, default: Any = None) -> Any:
        with self.engine.connect() as c:
            row = c.execute(select(kv.c.value).where(kv.c.key == key)).first()
        return default if row is None else json.loads(row[0])

    def put(self, key: str, value: Any, conn: Connection | None = None) -> None:
        text = json.dumps(value)

        def write(c: Connection) -> None:
            if c.execute(update(kv).where(kv.c.key == key).values(value=text)).rowcount == 0:
                c.execute(insert(kv).values(key=key, value=text))
        if conn is not None:
            write(conn)
        else:
            with self.tx() as c:
                write(c)

    # ------------------------------------------------------------------ cycles

    def new_cycle(self, folder_root: Path, conn: Connection) -> int:
        now = time.time()
        next_id = (conn.execute(select(func.max(cycles.c.id))).scalar() or 0) + 1
        conn.execute(insert(cycles).values(id=next_id, state="capture",
                                           folder=str(folder_root / f"cycle-{next_id:05d}"),
                                           progress=0.0, detail="", created_at=now,
                                           updated_at=now))
        return next_id

    def cycle(self, cycle_id: int) -> dict[str, Any]:
        with self.engine.connect() as c:
            row = c.execute(select(cycles).where(cycles.c.id == cycle_id)).mappings().one()
        return dict(row)

    def cycles_in(self, states: tuple[str, ...]) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            rows = c.execute(select(cycles).where(cycles.c.state.in_(states))
                             .order_by(cycles.c.id)).mappings().all()
        return [dict(r) for r in rows]

    def all_cycles(self) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            rows = c.execute(select(cycles).order_by(cycles.c.id.desc())).mappings().all()
        return [dict(r) for r in rows]

    def set_cycle(self, cycle_id: int, **values: Any) -> None:
        with self.tx() as c:
            c.execute(update(cycles).where(cycles.c.id == cycle_id)
                      .values(updated_at=time.time(), **values))

    # ------------------------------------------------------------------ effects

    def effect(self, key: str) -> Effect | None:
        with self.engine.connect() as c:
            row = c.execute(select(effects).where(effects.c.key == key)).mappings().first()
        if row is None:
            return None
        return Effect(row["key"], row["kind"], row["status"], row["sender"], row["nonce"],
                      row["from_block"], row["tx_hash"],
                      json.loads(row["result"]) if row["result"] else None, row["cycle_id"])

    def begin_effect(self, key: str, kind: str, cycle_id: int | None, sender: str, nonce: int,
                     from_block: int) -> None:
        """Record an effect before its transaction is sent (or again, with a fresh nonce,
        when the earlier attempt is known never to have been mined)."""
        with self.tx() as c:
            # Other unfinished effects recorded with this nonce or a later one were never
            # mined (the nonce is still free): forget their nonce, or a later search for it
            # would find this effect's transaction.
            c.execute(update(effects).where(effects.c.status == "started")
                      .where(effects.c.sender == sender).where(effects.c.nonce >= nonce)
                      .where(effects.c.key != key).values(nonce=-1))
            changed = c.execute(update(effects).where(effects.c.key == key).values(
                status="started", nonce=nonce, from_block=from_block,
                attempts=effects.c.attempts + 1)).rowcount
            if not changed:
                c.execute(insert(effects).values(key=key, kind=kind, cycle_id=cycle_id,
                                                 status="started", sender=sender, nonce=nonce,
                                                 from_block=from_block,
                                                 started_at=time.time()))

    def finish_effect(self, key: str, status: str, tx_hash: str | None,
                      result: dict[str, Any]) -> None:
        with self.tx() as c:
            c.execute(update(effects).where(effects.c.key == key).values(
                status=status, tx_hash=tx_hash, result=json.dumps(result),
                done_at=time.time()))
