"""The content-store interface both backends implement, with the reading half shared.

A backend supplies blocks (`get_block`, `put_block`), adding, pinning and garbage
collection; reading files, ranges, paths and whole DAGs is built here on `get_block`,
so a wrong block is caught the same way whatever the backend.
"""

from __future__ import annotations

import contextlib
import io
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from gaka.files import atomic_writer
from services.ipfs import dag
from services.ipfs.cid import CID
from services.ipfs.errors import CorruptBlock, IpfsError

Source = bytes | Path | BinaryIO


def split_path(path: str) -> tuple[CID, str]:
    """`/ipfs/<cid>/a/b`, `ipfs://<cid>/a` or `<cid>/a` → (CID, "a/b")."""
    text = path.strip()
    for prefix in ("ipfs://", "/ipfs/"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    head, _, rest = text.partition("/")
    return CID.parse(head), rest


def open_source(source: Source) -> contextlib.AbstractContextManager[BinaryIO]:
    """A readable stream over `source`; a stream the caller passed in is left open."""
    if isinstance(source, bytes | bytearray | memoryview):
        return io.BytesIO(bytes(source))
    if isinstance(source, Path):
        try:
            return source.open("rb")
        except OSError as exc:
            raise IpfsError(f"cannot read {source}: {exc.strerror or exc}") from None
    return contextlib.nullcontext(source)


def local_cid(source: Source, cid_version: int) -> CID:
    """The CID `ipfs add` would give `source`, computed without storing anything."""
    with open_source(source) as stream:
        return dag.build_file(dag.chunks_of(stream), cid_version, lambda _cid, _block: None)


class ContentStore(ABC):
    """An IPFS block store holding UnixFS files, with recursive pins."""

    where: str

    @abstractmethod
    def _load_block(self, cid: CID) -> bytes:
        """The stored bytes of a block, unchecked (BlockNotFound when absent)."""

    @abstractmethod
    def _store_block(self, cid: CID, block: bytes) -> None:
        """Store a block already checked against its CID."""

    def get_block(self, cid: CID) -> bytes:
        """The block's bytes, checked against its CID: wrong bytes raise CorruptBlock."""
        block = self._load_block(cid)
        if not cid.verify(block):
            raise CorruptBlock(str(cid), self.where)
        return block

    def put_block(self, cid: CID, block: bytes) -> None:
        """Store a block under its CID; bytes that do not hash to it are refused."""
        if not cid.verify(block):
            raise CorruptBlock(str(cid), "the data to store")
        self._store_block(cid, block)

    @abstractmethod
    def add(self, source: Source, cid_version: int = 0, pin: bool = True) -> CID:
        """Import a file the way `ipfs add` does; returns its root CID."""

    @abstractmethod
    def pin(self, cid: CID) -> None:
        """Pin a DAG recursively (every block must be present)."""

    @abstractmethod
    def unpin(self, cid: CID) -> None:
        """Remove a recursive pin (its blocks go at the next gc)."""

    @abstractmethod
    def pins(self) -> list[CID]:
        """Every recursively pinned root."""

    @abstractmethod
    def gc(self) -> list[CID]:
        """Delete every block no pin reaches; returns what was removed."""

    def resolve(self, path: str) -> CID:
        root, rest = split_path(path)
        return dag.resolve(self.get_block, root, rest)

    def stat(self, path: str) -> dag.FileInfo:
        return dag.stat(self.get_block, self.resolve(path))

    def read(self, path: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """A file's bytes as a stream of pieces; every block verified before it is used."""
        return dag.read_range(self.get_block, self.resolve(path), offset, length)

    def cat(self, path: str) -> bytes:
        return b"".join(self.read(path))

    def get(self, path: str, dest: Path) -> int:
        """Write a file to `dest` (atomically: nothing is left behind on error)."""
        size = 0
        with atomic_writer(dest) as fh:
            for piece in self.read(path):
                fh.write(piece)
                size += len(piece)
        return size

    def blocks(self, cid: CID) -> Iterator[dag.Block]:
        """Every block of a DAG (parents first), each verified."""
        return dag.walk(self.get_block, cid)


def migrate(source: ContentStore, target: ContentStore,
            progress: Callable[[CID], None] | None = None) -> list[CID]:
    """Copy every pinned DAG of `source` block by block to `target` and pin it there under
    the same CID. Safe to re-run after a failure: a block put twice is stored once."""
    roots = source.pins()
    for root in roots:
        for cid, block in source.blocks(root):
            target.put_block(cid, block)
        target.pin(root)
        if progress is not None:
            progress(root)
    return roots
