"""Content identifiers: CIDv0 (base58btc dag-pb) and CIDv1 (base32), sha2-256 only.

Kubo and js-ipfs name every block by a CID: a version, a codec (dag-pb 0x70 or raw 0x55)
and a multihash (here always sha2-256, code 0x12, 32 bytes).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from services.ipfs.errors import InvalidCid

DAG_PB = 0x70
RAW = 0x55
SHA2_256 = 0x12
_DIGEST_LEN = 32
_CODECS = {DAG_PB: "dag-pb", RAW: "raw"}
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58)}


def varint(n: int) -> bytes:
    """Unsigned LEB128, as protobuf and multiformats write integers."""
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def read_varint(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    """Decode a varint at `pos`; returns (value, position after it)."""
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ValueError("truncated or oversized varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def b58encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = []
    while n:
        n, r = divmod(n, 58)
        out.append(_B58[r])
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(out))


def b58decode(text: str) -> bytes:
    n = 0
    for c in text:
        if c not in _B58_INDEX:
            raise ValueError(f"invalid base58 character {c!r}")
        n = n * 58 + _B58_INDEX[c]
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body


def b32encode(data: bytes) -> str:
    """RFC 4648 base32, lower case, unpadded (multibase 'b')."""
    return base64.b32encode(data).decode().rstrip("=").lower()


def b32decode(text: str) -> bytes:
    return base64.b32decode(text.upper() + "=" * (-len(text) % 8))


@dataclass(frozen=True)
class CID:
    """A parsed CID; `str()` prints it the way IPFS does."""

    version: int
    codec: int
    digest: bytes

    def __post_init__(self) -> None:
        if self.version == 0 and self.codec != DAG_PB:
            raise InvalidCid("CIDv0 is always dag-pb")
        if self.codec not in _CODECS:
            raise InvalidCid(f"unsupported codec 0x{self.codec:x}")
        if len(self.digest) != _DIGEST_LEN:
            raise InvalidCid("only 32-byte sha2-256 multihashes are supported")

    @property
    def multihash(self) -> bytes:
        return bytes([SHA2_256, _DIGEST_LEN]) + self.digest

    @property
    def codec_name(self) -> str:
        return _CODECS[self.codec]

    def to_bytes(self) -> bytes:
        """Binary form, as dag-pb links carry it."""
        if self.version == 0:
            return self.multihash
        return varint(1) + varint(self.codec) + self.multihash

    def __str__(self) -> str:
        if self.version == 0:
            return b58encode(self.multihash)
        return "b" + b32encode(self.to_bytes())

    def verify(self, block: bytes | memoryview) -> bool:
        """Whether `block` hashes to this CID's digest."""
        return hashlib.sha256(block).digest() == self.digest

    @classmethod
    def for_block(cls, block: bytes | memoryview, version: int, codec: int) -> CID:
        return cls(version, codec, hashlib.sha256(block).digest())

    @classmethod
    def from_bytes(cls, raw: bytes) -> CID:
        if len(raw) == 34 and raw[0] == SHA2_256:
            return cls(0, DAG_PB, _multihash_digest(raw))
        try:
            version, pos = read_varint(raw, 0)
            codec, pos = read_varint(raw, pos)
        except ValueError as exc:
            raise InvalidCid(f"malformed binary CID: {exc}") from None
        if version != 1:
            raise InvalidCid(f"unsupported CID version {version}")
        return cls(1, codec, _multihash_digest(raw[pos:]))

    @classmethod
    def parse(cls, text: str) -> CID:
        """Parse `Qm…` (v0) or `b…` (v1, base32); anything else raises InvalidCid."""
        text = text.strip()
        if not text:
            raise InvalidCid("empty CID")
        try:
            if len(text) == 46 and text.startswith("Qm"):
                return cls(0, DAG_PB, _multihash_digest(b58decode(text)))
            if text[0] == "b":
                return cls.from_bytes(b32decode(text[1:]))
            if text[0] == "B":
                return cls.from_bytes(b32decode(text[1:].lower()))
            if text[0] == "z":  # base58btc CIDv1, js-ipfs's RPC default
                return cls.from_bytes(b58decode(text[1:]))
        except (ValueError, InvalidCid) as exc:
            raise InvalidCid(f"{text!r} is not a valid CID: {exc}") from None
        raise InvalidCid(f"{text!r} is not a CID "
                         "(expected Qm…, or a CIDv1 in base32 b… or base58btc z…)")


def _multihash_digest(mh: bytes) -> bytes:
    if len(mh) != 2 + _DIGEST_LEN or mh[0] != SHA2_256 or mh[1] != _DIGEST_LEN:
        raise InvalidCid("only sha2-256 multihashes are supported")
    return bytes(mh[2:])
