"""Durable file replacement: a reader sees the old file or the new one, never a mix.

Every writer that must survive a crash or a power cut (deployment records, IPFS blocks, the
daemon's step outputs) goes through here: the content is written to a temporary file in the
same folder and fsynced, renamed over the target, and the folder is fsynced so the rename
itself is on disk.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


def fsync_dir(path: Path) -> None:
    """Make the entries of a folder (a rename into it) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_writer(path: Path) -> Iterator[BinaryIO]:
    """A binary file whose content replaces `path` when the block ends without an error.

    On an error the temporary file is removed and `path` is untouched. The temporary name is
    unique per process and thread, so concurrent writers of one path never mix their bytes.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with tmp.open("wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` by `data` durably and atomically (see `atomic_writer`)."""
    with atomic_writer(path) as fh:
        fh.write(data)
