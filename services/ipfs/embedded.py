"""The embedded store: blocks as files under the data dir, pins in sqlite, a gc lock.

Layout (like Kubo's flatfs): `<root>/blocks/<2 chars>/<BASE32 MULTIHASH>.data`, sharded by
the next-to-last two characters of the key; `<root>/pins.sqlite`; `<root>/lock`. Adds and
pins hold the lock shared, gc holds it exclusively, so gc never removes the blocks of an add
that is still running. Blocks are written to a temporary file, fsynced and renamed, so a crash
leaves either the whole block or none of it, and the rename is fsynced before the add
returns (so before anything is minted against it).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from gaka.files import atomic_write
from services.ipfs import dag
from services.ipfs.cid import CID, RAW, SHA2_256
from services.ipfs.errors import BlockNotFound, IpfsError
from services.ipfs.store import ContentStore, Source, open_source


def block_key(cid: CID) -> str:
    """Kubo's datastore key of a block: base32 of its multihash (codec-independent)."""
    return base64.b32encode(cid.multihash).decode().rstrip("=")


def _key_digest(key: str) -> bytes | None:
    try:
        mh = base64.b32decode(key + "=" * (-len(key) % 8))
    except ValueError:
        return None
    return mh[2:] if len(mh) == 34 and mh[0] == SHA2_256 else None


class EmbeddedStore(ContentStore):
    """An on-disk IPFS block store; one directory, safe to share between processes."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.where = f"the embedded store at {self.root}"
        self._blocks = self.root / "blocks"
        self._blocks.mkdir(parents=True, exist_ok=True)
        self._db_path = self.root / "pins.sqlite"
        with self._db() as db:
            db.execute("CREATE TABLE IF NOT EXISTS pins (cid TEXT PRIMARY KEY)")

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self._db_path, timeout=30)
        try:
            with db:
                yield db
        finally:
            db.close()

    @contextlib.contextmanager
    def _lock(self, exclusive: bool) -> Iterator[None]:
        with (self.root / "lock").open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _path(self, cid: CID) -> Path:
        key = block_key(cid)
        return self._blocks / key[-3:-1] / f"{key}.data"

    def has(self, cid: CID) -> bool:
        return self._path(cid).is_file()

    def _load_block(self, cid: CID) -> bytes:
        try:
            return self._path(cid).read_bytes()
        except FileNotFoundError:
            raise BlockNotFound(str(cid), self.where) from None
        except OSError as exc:
            raise IpfsError(f"cannot read block {cid}: {exc.strerror or exc}") from None

    def _store_block(self, cid: CID, block: bytes) -> None:
        path = self._path(cid)
        if path.is_file():
            try:
                if cid.verify(path.read_bytes()):
                    return
            except OSError:
                pass  # unreadable: overwrite it below
        atomic_write(path, block)

    def add(self, source: Source, cid_version: int = 0, pin: bool = True) -> CID:
        with self._lock(exclusive=False), open_source(source) as stream:
            root = dag.build_file(dag.chunks_of(stream), cid_version, self.put_block)
            if pin:
                self._record_pin(root)
        return root

    def _record_pin(self, cid: CID) -> None:
        with self._db() as db:
            db.execute("INSERT OR IGNORE INTO pins (cid) VALUES (?)", (str(cid),))

    def pin(self, cid: CID) -> None:
        with self._lock(exclusive=False):
            for _ in self.blocks(cid):  # every block present and intact, or raise
                pass
            self._record_pin(cid)

    def unpin(self, cid: CID) -> None:
        with self._db() as db:
            gone = db.execute("DELETE FROM pins WHERE cid = ?", (str(cid),)).rowcount
        if not gone:
            raise IpfsError(f"{cid} is not pinned in {self.where}")

    def pins(self) -> list[CID]:
        with self._db() as db:
            rows = db.execute("SELECT cid FROM pins ORDER BY cid").fetchall()
        return [CID.parse(row[0]) for row in rows]

    def gc(self) -> list[CID]:
        """Remove unpinned blocks. A pinned DAG with a missing or corrupt block stops the gc
        before anything is deleted."""
        with self._lock(exclusive=True):
            live = {block_key(cid) for root in self.pins() for cid, _ in self.blocks(root)}
            removed = []
            for path in sorted(self._blocks.glob("*/*")):
                key = path.name.removesuffix(".data")
                if key in live:
                    continue
                if path.suffix == ".tmp" or key == path.name:
                    path.unlink(missing_ok=True)  # an interrupted write
                    continue
                path.unlink(missing_ok=True)
                digest = _key_digest(key)
                if digest is not None:
                    # Blocks are keyed by multihash alone; like `ipfs repo gc`, name them
                    # as raw CIDv1.
                    removed.append(CID(1, RAW, digest))
            return removed

