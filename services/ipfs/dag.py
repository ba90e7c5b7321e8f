"""UnixFS files as Kubo lays them out: dag-pb nodes, fixed-size chunks, a balanced DAG.

`build_file` turns a byte stream into blocks (children before parents, root last) exactly as
`ipfs add` does with its defaults (CIDv0, 256 KiB chunks, dag-pb leaves, at most 174 links a
node) or with `--cid-version 1` (raw leaves, CIDv1). `FileReader` walks such a DAG back
through any `get_block`, checking every block against its CID.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from services.ipfs.cid import CID, DAG_PB, RAW, read_varint, varint
from services.ipfs.errors import IpfsError, NotAFile

CHUNK_SIZE = 256 * 1024
MAX_LINKS = 174
# UnixFS Data.Type values.
T_RAW, T_DIRECTORY, T_FILE, T_METADATA, T_SYMLINK, T_HAMT = range(6)
_FILE_TYPES = (T_RAW, T_FILE)

Block = tuple[CID, bytes]


@dataclass(frozen=True)
class Link:
    """A dag-pb link: child CID, name ("" inside files) and cumulative size (Tsize)."""

    cid: CID
    name: str = ""
    tsize: int = 0


@dataclass(frozen=True)
class UnixFS:
    """The UnixFS `Data` message carried in a dag-pb node."""

    type: int
    data: bytes = b""
    filesize: int | None = None
    blocksizes: tuple[int, ...] = ()


@dataclass(frozen=True)
class PBNode:
    links: tuple[Link, ...] = ()
    data: bytes | None = None


def _field_bytes(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + varint(len(value)) + value


def encode_unixfs(fs: UnixFS) -> bytes:
    out = [b"\x08", varint(fs.type)]
    if fs.data:
        out.append(_field_bytes(0x12, fs.data))
    if fs.filesize is not None:
        out += [b"\x18", varint(fs.filesize)]
    for size in fs.blocksizes:
        out += [b"\x20", varint(size)]
    return b"".join(out)


def encode_node(node: PBNode) -> bytes:
    """Canonical dag-pb: links first (Hash, Name, Tsize), then Data."""
    out = []
    for link in node.links:
        body = (_field_bytes(0x0A, link.cid.to_bytes()) + _field_bytes(0x12, link.name.encode())
                + b"\x18" + varint(link.tsize))
        out.append(_field_bytes(0x12, body))
    if node.data is not None:
        out.append(_field_bytes(0x0A, node.data))
    return b"".join(out)


def leaf_block(chunk: bytes) -> bytes:
    """encode_node(PBNode(data=encode_unixfs(UnixFS(T_FILE, chunk, len(chunk))))) with one
    copy of the chunk instead of several: CIDv0 hashing speed depends on it."""
    n = len(chunk)
    head = b"\x08\x02" + (b"\x12" + varint(n) if n else b"")
    tail = b"\x18" + varint(n)
    return b"".join((b"\x0a", varint(len(head) + n + len(tail)), head, chunk, tail))


def _fields(buf: bytes) -> Iterator[tuple[int, int, bytes | int]]:
    """(field number, wire type, value) of a protobuf message; only varint and bytes."""
    pos = 0
    while pos < len(buf):
        key, pos = read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = read_varint(buf, pos)
            yield number, wire, value
        elif wire == 2:
            size, pos = read_varint(buf, pos)
            if pos + size > len(buf):
                raise ValueError("truncated field")
            yield number, wire, buf[pos : pos + size]
            pos += size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")


def decode_node(block: bytes) -> PBNode:
    """Parse a dag-pb block (raises IpfsError on malformed input)."""
    links, data = [], None
    try:
        for number, _, value in _fields(block):
            if number == 1 and isinstance(value, bytes):
                data = value
            elif number == 2 and isinstance(value, bytes):
                cid, name, tsize = None, "", 0
                for n, _, v in _fields(value):
                    if n == 1 and isinstance(v, bytes):
                        cid = CID.from_bytes(v)
                    elif n == 2 and isinstance(v, bytes):
                        name = v.decode()
                    elif n == 3 and isinstance(v, int):
                        tsize = v
                if cid is None:
                    raise ValueError("link without a hash")
                links.append(Link(cid, name, tsize))
    except (ValueError, UnicodeDecodeError, IpfsError) as exc:
        raise IpfsError(f"malformed dag-pb block: {exc}") from None
    return PBNode(tuple(links), data)


def decode_unixfs(data: bytes | None) -> UnixFS:
    if data is None:
        raise NotAFile("dag-pb node without UnixFS data")
    kind, payload, filesize, sizes = None, b"", None, []
    try:
        for number, _, value in _fields(data):
            if number == 1 and isinstance(value, int):
                kind = value
            elif number == 2 and isinstance(value, bytes):
                payload = value
            elif number == 3 and isinstance(value, int):
                filesize = value
            elif number == 4 and isinstance(value, int):
                sizes.append(value)
            elif number == 4 and isinstance(value, bytes):  # packed, as some writers do
                pos = 0
                while pos < len(value):
                    size, pos = read_varint(value, pos)
                    sizes.append(size)
    except ValueError as exc:
        raise IpfsError(f"malformed UnixFS data: {exc}") from None
    if kind is None:
        raise IpfsError("UnixFS data without a type")
    return UnixFS(kind, payload, filesize, tuple(sizes))


# ------------------------------------------------------------------------------- building


@dataclass
class _Child:
    cid: CID
    tsize: int
    filesize: int


@dataclass
class _Builder:
    cid_version: int
    emit: Callable[[CID, bytes], None]
    levels: list[list[_Child]] = field(default_factory=list)

    def leaf(self, chunk: bytes) -> _Child:
        if self.cid_version == 1:
            cid = CID.for_block(chunk, 1, RAW)
            self.emit(cid, chunk)
            return _Child(cid, len(chunk), len(chunk))
        block = leaf_block(chunk)
        cid = CID.for_block(block, 0, DAG_PB)
        self.emit(cid, block)
        return _Child(cid, len(block), len(chunk))

    def parent(self, children: list[_Child]) -> _Child:
        total = sum(c.filesize for c in children)
        fs = UnixFS(T_FILE, filesize=total, blocksizes=tuple(c.filesize for c in children))
        node = PBNode(tuple(Link(c.cid, "", c.tsize) for c in children), encode_unixfs(fs))
        block = encode_node(node)
        cid = CID.for_block(block, self.cid_version, DAG_PB)
        self.emit(cid, block)
        return _Child(cid, len(block) + sum(c.tsize for c in children), total)

    def push(self, level: int, child: _Child) -> None:
        if level == len(self.levels):
            self.levels.append([])
        self.levels[level].append(child)
        if len(self.levels[level]) == MAX_LINKS:
            full, self.levels[level] = self.levels[level], []
            self.push(level + 1, self.parent(full))

    def finish(self) -> _Child:
        """Close the partial groups bottom-up; a lone node at the top is the root."""
        level = 0
        while True:
            nodes = self.levels[level]
            higher = any(self.levels[level + 1 :])
            if not higher and len(nodes) == 1:
                return nodes[0]
            self.levels[level] = []
            if nodes:
                self.push(level + 1, self.parent(nodes))
            level += 1


def chunks_of(stream: BinaryIO, size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Fixed-size chunks (the last one shorter); an empty stream gives one empty chunk."""
    first = True
    while True:
        chunk = stream.read(size)
        while chunk and len(chunk) < size:  # short reads from pipes: fill the chunk
            more = stream.read(size - len(chunk))
            if not more:
                break
            chunk += more
        if not chunk and not first:
            return
        first = False
        yield chunk
        if len(chunk) < size:
            return


def build_file(chunks: Iterable[bytes], cid_version: int,
               emit: Callable[[CID, bytes], None]) -> CID:
    """Emit every block of the file (children first) and return the root CID."""
    if cid_version not in (0, 1):
        raise IpfsError(f"cid version must be 0 or 1, got {cid_version}")
    builder = _Builder(cid_version, emit)
    for chunk in chunks:
        builder.push(0, builder.leaf(chunk))
    return builder.finish().cid


# -------------------------------------------------------------------------------- reading


GetBlock = Callable[[CID], bytes]


@dataclass(frozen=True)
class FileInfo:
    """What a CID names: its file size, type and how many links its root has."""

    cid: CID
    type: str
    size: int
    links: int
    block_size: int


def resolve(get_block: GetBlock, root: CID, path: str = "") -> CID:
    """Follow named links through UnixFS directories (`cid/a/b.png`)."""
    cid = root
    for name in (p for p in path.split("/") if p):
        if cid.codec != DAG_PB:
            raise NotAFile(f"{cid} is a raw block, it has no entry {name!r}")
        node = decode_node(get_block(cid))
        fs = decode_unixfs(node.data)
        if fs.type == T_HAMT:
            raise NotAFile(f"{cid} is a sharded directory; those are not supported")
        if fs.type != T_DIRECTORY:
            raise NotAFile(f"{cid} is not a directory, it has no entry {name!r}")
        match = [link for link in node.links if link.name == name]
        if not match:
            raise NotAFile(f"{cid} has no entry {name!r}")
        cid = match[0].cid
    return cid


def stat(get_block: GetBlock, cid: CID) -> FileInfo:
    block = get_block(cid)
    if cid.codec == RAW:
        return FileInfo(cid, "file", len(block), 0, len(block))
    node = decode_node(block)
    fs = decode_unixfs(node.data)
    kinds = {T_RAW: "file", T_FILE: "file", T_DIRECTORY: "directory", T_HAMT: "directory",
             T_SYMLINK: "symlink", T_METADATA: "metadata"}
    size = fs.filesize if fs.filesize is not None else len(fs.data)
    return FileInfo(cid, kinds.get(fs.type, "unknown"), size, len(node.links), len(block))


def read_range(get_block: GetBlock, cid: CID, offset: int = 0,
               length: int | None = None) -> Iterator[bytes]:
    """The file's bytes [offset, offset + length), block by block, skipping unneeded children."""
    end = None if length is None else offset + length
    yield from _read(get_block, cid, offset, end)


def _read(get_block: GetBlock, cid: CID, start: int, end: int | None) -> Iterator[bytes]:
    block = get_block(cid)
    if cid.codec == RAW:
        yield block[start:end]
        return
    node = decode_node(block)
    fs = decode_unixfs(node.data)
    if fs.type not in _FILE_TYPES:
        raise NotAFile(f"{cid} is not a file")
    pos = 0
    if start < len(fs.data):
        yield fs.data[start:end]
    pos = len(fs.data)
    if node.links and len(fs.blocksizes) != len(node.links):
        raise IpfsError(f"{cid}: {len(node.links)} links but {len(fs.blocksizes)} block sizes")
    for link, size in zip(node.links, fs.blocksizes, strict=False):
        lo, hi = pos, pos + size
        pos = hi
        if hi <= start:
            continue
        if end is not None and lo >= end:
            return
        yield from _read(get_block, link.cid, max(0, start - lo),
                         None if end is None or end >= hi else end - lo)


def walk(get_block: GetBlock, root: CID) -> Iterator[Block]:
    """Every block of a DAG, each once, parents before children."""
    seen: set[bytes] = set()
    stack = [root]
    while stack:
        cid = stack.pop()
        if cid.multihash in seen:
            continue
        seen.add(cid.multihash)
        block = get_block(cid)
        yield cid, block
        if cid.codec == DAG_PB:
            stack.extend(reversed([link.cid for link in decode_node(block).links]))
