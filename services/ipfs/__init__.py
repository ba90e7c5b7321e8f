"""IPFS: Kubo-identical CIDs, an on-disk embedded store, any Kubo-RPC node, a gateway app.

`open_store(settings)` gives the configured backend; both speak `ContentStore`.
"""

from __future__ import annotations

from gaka.config import Settings
from services.ipfs.embedded import EmbeddedStore
from services.ipfs.node import NodeStore
from services.ipfs.store import ContentStore


def open_store(settings: Settings, api: str | None = None) -> ContentStore:
    """The node at `api` (or the configured `ipfs_api`), else the embedded store."""
    address = api or settings.ipfs_api
    if address:
        return NodeStore(address, timeout_s=settings.ipfs_timeout_s)
    return EmbeddedStore(settings.data_dir / "ipfs")
