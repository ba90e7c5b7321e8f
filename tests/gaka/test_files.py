"""gaka.files: the one durable replace every crash-safe writer uses."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from gaka.files import atomic_write, atomic_writer


def test_replaces_the_content_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "record.json"
    atomic_write(target, b"old")
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["record.json"]


def test_an_error_keeps_the_old_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "record.json"
    atomic_write(target, b"old")
    with pytest.raises(RuntimeError), atomic_writer(target) as fh:
        fh.write(b"half of the new")
        raise RuntimeError("cut")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["record.json"]


def test_concurrent_writers_never_mix_their_bytes(tmp_path: Path) -> None:
    target = tmp_path / "block"
    payloads = [bytes([i]) * 1_000_000 for i in range(8)]
    seen: list[bytes] = []

    def write(data: bytes) -> None:
        for _ in range(5):
            atomic_write(target, data)
            seen.append(target.read_bytes())

    threads = [threading.Thread(target=write, args=(p,)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen and all(s in payloads for s in seen)
    assert [p.name for p in tmp_path.iterdir()] == ["block"]
