"""One exception family for both content-store backends; messages name the CID or the node."""

from __future__ import annotations

from gaka.errors import GakaError
from gaka.net import redact_url


class IpfsError(GakaError):
    """Base of every IPFS error; its message is safe to show a user."""


class InvalidCid(IpfsError):
    """A string or byte sequence that is not a CID this store understands."""


class BlockNotFound(IpfsError):
    """A block the DAG needs is not in the store."""

    def __init__(self, cid: str, where: str) -> None:
        super().__init__(f"block {cid} not found in {where}")
        self.cid = cid


class CorruptBlock(IpfsError):
    """A block's bytes do not hash to its CID: it is never returned."""

    def __init__(self, cid: str, where: str) -> None:
        super().__init__(f"block {cid} in {where} is corrupt: its bytes do not match the CID")
        self.cid = cid


class NotAFile(IpfsError):
    """A path or CID that names something other than a UnixFS file."""


class NodeUnavailable(IpfsError):
    """An IPFS node's RPC API could not be reached (after retries)."""

    def __init__(self, address: str, detail: str) -> None:
        super().__init__(f"IPFS node at {redact_url(address)} is unavailable: {detail}")
        self.address = address


class NodeFailed(IpfsError):
    """An IPFS node answered, but with an error or a result we cannot accept."""

    def __init__(self, address: str, detail: str) -> None:
        super().__init__(f"IPFS node at {redact_url(address)}: {detail}")
        self.address = address
