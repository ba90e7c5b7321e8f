"""Deterministic test data and an embedded store per test."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from services.ipfs.embedded import EmbeddedStore

KIB = 1024
MIB = 1024 * KIB


def payload(size: int, seed: str = "gaka") -> bytes:
    """`size` pseudo-random bytes (SHAKE-256 of the seed): no two chunks alike, so a DAG that
    misorders or drops a leaf cannot hide behind deduplication."""
    return hashlib.shake_256(seed.encode()).digest(size) if size else b""


@pytest.fixture
def store(tmp_path: Path) -> EmbeddedStore:
    return EmbeddedStore(tmp_path / "ipfs")
