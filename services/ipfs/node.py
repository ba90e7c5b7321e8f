"""A real IPFS node (Kubo, js-ipfs, any Kubo-RPC API) behind the content-store interface.

The client is `ipfshttpclient.Client(addr)` built directly: its `connect()` refuses every
daemon newer than 0.7. Calls have a timeout and bounded retries; every error names the
node. Adds ask the node for Kubo's defaults explicitly and are checked against the CID
computed locally, so a node configured with another chunker cannot silently hand out
different identifiers. Reads go block by block through the shared DAG reader, so a node
that returns wrong bytes is caught like a corrupt disk.
"""

from __future__ import annotations

import io
import ipaddress
import logging
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import ipfshttpclient
from ipfshttpclient import exceptions as ipfs_exc

from gaka.net import redact_url
from services.ipfs.cid import CID, DAG_PB
from services.ipfs.errors import (
    BlockNotFound,
    IpfsError,
    NodeFailed,
    NodeUnavailable,
)
from services.ipfs.store import ContentStore, Source, local_cid, open_source

# ipfshttpclient passes urllib3 a `strict` argument it no longer knows: noise on every call.
warnings.filterwarnings("ignore", message="The 'strict' parameter", category=FutureWarning)

log = logging.getLogger(__name__)
T = TypeVar("T")


def to_multiaddr(address: str) -> str:
    """`http://host:port`, `host:port` or a multiaddr → the multiaddr ipfshttpclient wants."""
    if address.startswith("/"):
        return address
    url = urlsplit(address if "://" in address else f"http://{address}")
    if not url.hostname or not url.port:
        raise IpfsError(f"IPFS API address {redact_url(address)!r} needs a host and a port "
                        "(e.g. http://127.0.0.1:5001 or /ip4/127.0.0.1/tcp/5001/http)")
    try:
        proto = f"ip{ipaddress.ip_address(url.hostname).version}"
    except ValueError:
        proto = "dns"
    scheme = "https" if url.scheme == "https" else "http"
    return f"/{proto}/{url.hostname}/tcp/{url.port}/{scheme}"


class NodeStore(ContentStore):
    """An IPFS node's RPC API used as a content store."""

    def __init__(self, address: str, timeout_s: float = 30.0, retries: int = 3) -> None:
        self.address = address
        self.where = f"the IPFS node at {redact_url(address)}"
        self.retries = max(1, retries)
        try:
            self._client = ipfshttpclient.Client(to_multiaddr(address), timeout=timeout_s)
        except ipfs_exc.AddressError as exc:
            raise IpfsError(f"invalid IPFS API address {redact_url(address)!r}: {exc}") \
                from None

    def close(self) -> None:
        self._client.close()

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        """Run one RPC call; connection failures and timeouts are retried with backoff."""
        for attempt in range(self.retries):
            try:
                return fn()
            except (ipfs_exc.ConnectionError, ipfs_exc.TimeoutError) as exc:
                last = exc
                # info, not warning: a command that fails after its tries says so in one line
                log.info("%s: %s failed (%s), attempt %d/%d", redact_url(self.address), what,
                            exc.__class__.__name__, attempt + 1, self.retries)
            except ipfs_exc.ErrorResponse as exc:
                raise NodeFailed(self.address, f"{what}: {exc}") from None
            except ipfs_exc.Error as exc:
                raise NodeFailed(self.address, f"{what}: {exc.__class__.__name__}: {exc}") \
                    from None
            if attempt + 1 < self.retries:
                time.sleep(0.2 * 2**attempt)
        kind = "timed out" if isinstance(last, ipfs_exc.TimeoutError) else "connection failed"
        raise NodeUnavailable(self.address, f"{what} {kind} after {self.retries} tries")

    def version(self) -> str:
        return str(self._call("version", self._client.version)["Version"])

    def _load_block(self, cid: CID) -> bytes:
        try:
            return self._call(f"block/get {cid}", lambda: self._client.block.get(str(cid)))
        except NodeFailed as exc:
            if "not found" in str(exc).lower():
                raise BlockNotFound(str(cid), self.where) from None
            raise

    def _store_block(self, cid: CID, block: bytes) -> None:
        opts = {"format": cid.codec_name, "cid-codec": cid.codec_name, "mhtype": "sha2-256",
                "version": str(cid.version if cid.codec == DAG_PB else 1)}
        answer = self._call(f"block/put {cid}",
                            lambda: self._client.block.put(io.BytesIO(block), opts=opts))
        stored = CID.parse(str(answer["Key"]))
        if stored.digest != cid.digest:
            raise NodeFailed(self.address, f"stored block {cid} as {stored}: hash mismatch")

    def add(self, source: Source, cid_version: int = 0, pin: bool = True) -> CID:
        if cid_version not in (0, 1):
            raise IpfsError(f"cid version must be 0 or 1, got {cid_version}")
        if not isinstance(source, bytes | bytearray | memoryview | Path):
            source = source.read()  # a stream is read twice below (local CID, upload)
        expected = local_cid(source, cid_version)
        opts = {"cid_version": cid_version, "raw_leaves": cid_version == 1,
                "chunker": "size-262144", "pin": pin}
        answer = self._call("add", lambda: self._add(source, opts))
        got = CID.parse(str(answer["Hash"]))
        if got != expected:
            raise NodeFailed(self.address, f"add returned {got}, expected {expected} "
                                           "(is the node's chunker or hash configured "
                                           "differently?)")
        return got

    def _add(self, source: Source, opts: dict[str, Any]) -> Any:
        with open_source(source) as stream:
            return self._client.add(stream, **opts)

    def pin(self, cid: CID) -> None:
        self._call(f"pin/add {cid}", lambda: self._client.pin.add(str(cid)))

    def unpin(self, cid: CID) -> None:
        self._call(f"pin/rm {cid}", lambda: self._client.pin.rm(str(cid)))

    def pins(self) -> list[CID]:
        answer = self._call("pin/ls", lambda: self._client.pin.ls(type="recursive"))
        return sorted((CID.parse(k) for k in answer["Keys"]), key=str)

    def gc(self) -> list[CID]:
        answer = self._call("repo/gc", lambda: self._client.repo.gc(quiet=True))
        return [CID.parse(str(item["Key"]["/"] if isinstance(item["Key"], dict)
                              else item["Key"])) for item in answer if item.get("Key")]

