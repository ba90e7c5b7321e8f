"""The node backend against a real js-ipfs node: add, migrate, pins, clear failures."""

from __future__ import annotations

import io
import subprocess

import pytest

from services.ipfs.errors import NodeFailed, NodeUnavailable
from services.ipfs.node import NodeStore, to_multiaddr
from services.ipfs.store import local_cid, migrate
from tests.conftest import GAKA, free_port
from tests.services.ipfs.conftest import KIB, payload


@pytest.mark.ipfs_node
def test_migrate_embedded_to_node_keeps_cids_and_bytes(store, jsipfs, gaka_env):
    files = {v: payload(300 * KIB + v, f"migrate {v}") for v in (0, 1)}
    roots = {v: store.add(data, cid_version=v) for v, data in files.items()}
    small = store.add(b"a small file\n", cid_version=0)
    node = NodeStore(jsipfs.api)
    assert migrate(store, node) == sorted([*roots.values(), small], key=str)
    pinned = {str(c) for c in node.pins()}
    for version, data in files.items():
        cid = str(roots[version])
        assert node._client.cat(cid) == data  # the node's own reader, not ours
        assert node.cat(cid) == data
        assert cid in pinned and cid == str(local_cid(data, version))
    # The CLI does the same, and a rerun is harmless.
    out = subprocess.run([str(GAKA), "ipfs", "migrate", "--to", jsipfs.url], env=gaka_env,
                         capture_output=True, timeout=120)
    assert out.returncode == 0 and out.stdout.decode().endswith(f"to {jsipfs.url}\n")


@pytest.mark.ipfs_node
def test_node_add_pin_unpin(jsipfs):
    node = NodeStore(jsipfs.url)
    data = payload(257 * KIB, "node add")
    cid = node.add(data, cid_version=1)
    assert cid == local_cid(data, 1)
    assert node.cat(str(cid)) == data and b"".join(node.read(str(cid), 256 * KIB, 5)) == \
        data[256 * KIB : 256 * KIB + 5]
    node.unpin(cid)
    assert cid not in node.pins()
    node.pin(cid)
    assert cid in node.pins()
    with pytest.raises(NodeFailed, match=jsipfs.url):
        node.unpin(local_cid(b"never added", 1))


@pytest.mark.ipfs_node
def test_node_stream_source(jsipfs):
    node = NodeStore(jsipfs.api)
    assert node.add(io.BytesIO(b"hello world\n")) == local_cid(b"hello world\n", 0)


def test_node_down_is_a_clear_error(gaka_env, tmp_path):
    address = f"http://127.0.0.1:{free_port()}"
    node = NodeStore(address, timeout_s=2, retries=2)
    with pytest.raises(NodeUnavailable, match=f"IPFS node at {address} is unavailable"):
        node.add(b"x")
    src = tmp_path / "f"
    src.write_bytes(b"x")
    out = subprocess.run([str(GAKA), "ipfs", "--api", address, "add", str(src)], env=gaka_env,
                         capture_output=True, timeout=120)
    assert out.returncode == 1
    assert out.stderr.decode().splitlines()[-1].startswith(
        f"error: IPFS node at {address} is unavailable: add connection failed after 3 tries")


@pytest.mark.parametrize(("given", "expected"), [
    ("http://127.0.0.1:5001", "/ip4/127.0.0.1/tcp/5001/http"),
    ("127.0.0.1:5001", "/ip4/127.0.0.1/tcp/5001/http"),
    ("https://ipfs.example.org:443", "/dns/ipfs.example.org/tcp/443/https"),
    ("http://[::1]:5001", "/ip6/::1/tcp/5001/http"),
    ("/ip4/10.0.0.1/tcp/5001/http", "/ip4/10.0.0.1/tcp/5001/http"),
])
def test_addresses(given, expected):
    assert to_multiaddr(given) == expected
