"""The embedded store: add/cat/get/ranges/pins/gc, corruption never returns wrong bytes."""

from __future__ import annotations

import os
import subprocess

import pytest

from services.ipfs.cid import CID
from services.ipfs.embedded import EmbeddedStore
from services.ipfs.errors import BlockNotFound, CorruptBlock, IpfsError
from services.ipfs.store import local_cid
from tests.conftest import GAKA
from tests.services.ipfs.conftest import KIB, payload

DATA = payload(600 * KIB + 7, "embedded")  # three leaves, the last one short


def _block_files(store: EmbeddedStore) -> list:
    return sorted(p for p in (store.root / "blocks").glob("*/*.data"))


@pytest.mark.parametrize("version", [0, 1])
def test_add_then_cat_get_stat(store, tmp_path, version):
    cid = store.add(DATA, cid_version=version)
    assert cid == local_cid(DATA, version)
    assert store.cat(str(cid)) == DATA
    assert store.cat(f"/ipfs/{cid}") == store.cat(f"ipfs://{cid}") == DATA
    assert store.get(str(cid), tmp_path / "out.bin") == len(DATA)
    assert (tmp_path / "out.bin").read_bytes() == DATA
    info = store.stat(str(cid))
    assert (info.type, info.size, info.links) == ("file", len(DATA), 3)
    assert len(_block_files(store)) == 4 and store.pins() == [cid]


@pytest.mark.parametrize(("offset", "length"), [(0, 1), (5, 300 * KIB), (256 * KIB - 1, 2),
                                                (256 * KIB, 256 * KIB), (600 * KIB, 100),
                                                (len(DATA) - 1, None), (len(DATA), 10)])
def test_ranges_equal_slices(store, offset, length):
    cid = store.add(DATA, cid_version=0)
    got = b"".join(store.read(str(cid), offset, length))
    assert got == DATA[offset : None if length is None else offset + length]


def test_corrupt_block_is_never_returned(store, tmp_path):
    cid = store.add(DATA)
    leaf = _block_files(store)[0]
    raw = bytearray(leaf.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    leaf.write_bytes(bytes(raw))
    with pytest.raises(CorruptBlock, match="corrupt") as err:
        store.cat(str(cid))
    assert err.value.cid in str(err.value) and CID.parse(err.value.cid).verify(raw) is False
    with pytest.raises(CorruptBlock):
        store.get(str(cid), tmp_path / "out.bin")
    assert [p.name for p in tmp_path.iterdir() if "out.bin" in p.name] == []  # no partial file
    with pytest.raises(CorruptBlock):  # gc refuses to work from a damaged pin set
        store.gc()
    assert store.add(DATA) == cid  # re-adding repairs the block
    assert store.cat(str(cid)) == DATA


def test_cli_names_the_corrupt_cid(gaka_env, tmp_path):
    src = tmp_path / "hello.txt"
    src.write_bytes(b"hello world\n")
    run = lambda *a: subprocess.run([str(GAKA), "ipfs", *a], env=gaka_env,  # noqa: E731
                                    capture_output=True, timeout=120)
    added = run("add", str(src))
    assert added.returncode == 0 and added.stdout == \
        b"QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o\n"
    assert run("add", "--cid-version", "1", str(src)).stdout == \
        b"bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4\n"
    blocks = os.path.join(gaka_env["GAKA_DATA_DIR"], "ipfs", "blocks")
    for shard in os.listdir(blocks):
        for name in os.listdir(os.path.join(blocks, shard)):
            with open(os.path.join(blocks, shard, name), "r+b") as fh:
                fh.write(b"J")
    out = run("cat", "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o")
    assert out.returncode == 1 and out.stdout == b""
    assert out.stderr.decode().strip() == (
        "error: block QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o in the embedded store at "
        f"{gaka_env['GAKA_DATA_DIR']}/ipfs is corrupt: its bytes do not match the CID")
    bad = run("add", "--cid-version", "2", str(src))
    assert bad.returncode == 1 and bad.stderr.startswith(b"error: ")


def test_pins_and_gc(store):
    keep = store.add(b"keep me", cid_version=1)
    drop = store.add(DATA)
    loose = store.add(b"never pinned", pin=False)
    assert store.pins() == sorted([keep, drop], key=str)
    store.unpin(drop)
    with pytest.raises(IpfsError, match="not pinned"):
        store.unpin(drop)
    removed = store.gc()
    assert len(removed) == 5  # 4 blocks of DATA and the loose one
    assert {c.digest for c in removed} >= {drop.digest, loose.digest}
    assert store.cat(str(keep)) == b"keep me"
    with pytest.raises(BlockNotFound, match=str(drop)):
        store.cat(str(drop))
    with pytest.raises(BlockNotFound):
        store.pin(drop)  # the store cannot fetch what it lacks
    store.pin(keep)
    assert store.gc() == [] and store.pins() == [keep]


def test_stdin_and_a_second_process_share_the_store(gaka_env, tmp_path):
    run = lambda *a, **kw: subprocess.run([str(GAKA), "ipfs", *a], env=gaka_env,  # noqa: E731
                                          capture_output=True, timeout=120, **kw)
    cid = run("add", "-", input=DATA).stdout.decode().strip()
    assert cid == str(local_cid(DATA, 0))
    store = EmbeddedStore(tmp_path / "data" / "ipfs")
    assert store.cat(cid) == DATA and store.pins() == [CID.parse(cid)]
    assert run("ls").stdout.decode().split() == [cid]
    assert run("get", cid, "-o", str(tmp_path / "x")).returncode == 0
    assert (tmp_path / "x").read_bytes() == DATA
    assert run("unpin", cid).returncode == 0
    assert len(run("gc").stdout.decode().splitlines()) == 4
    missing = run("cat", cid)
    assert missing.returncode == 1 and f"block {cid} not found" in missing.stderr.decode()


@pytest.mark.parametrize("command", ["", "add", "cat", "get", "pin", "unpin", "ls", "stat",
                                     "gc", "migrate", "gateway"])
def test_every_command_has_help(command):
    from typer.testing import CliRunner

    from gaka.cli import app

    result = CliRunner().invoke(app, ["ipfs", *([command] if command else []), "--help"])
    assert result.exit_code == 0 and "Usage" in result.output
