"""Fixtures shared by the chain tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.chain.backends import Chain, ChainSpec, open_chain


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Chain]:
    """A fresh embedded py-evm chain in the test's own directory."""
    chain = open_chain(ChainSpec("embedded", data_dir=tmp_path))
    yield chain
    chain.close()
