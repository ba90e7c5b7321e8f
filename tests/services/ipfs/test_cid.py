"""CIDs equal a real node's: known vectors, and js-ipfs on every chunking edge case."""

from __future__ import annotations

import io

import pytest

from services.ipfs.cid import CID, DAG_PB, RAW, b58encode
from services.ipfs.dag import build_file, chunks_of, decode_node, decode_unixfs
from services.ipfs.errors import InvalidCid
from services.ipfs.node import NodeStore
from services.ipfs.store import local_cid
from tests.services.ipfs.conftest import KIB, MIB, payload

# Kubo's own vectors (`echo "hello world" | ipfs add -q`, the empty file, --cid-version 1).
VECTORS = [
    (b"hello world\n", 0, "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"),
    (b"", 0, "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"),
    (b"hello world\n", 1, "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"),
]
SIZES = [0, 1, 256 * KIB - 1, 256 * KIB, 256 * KIB + 1, 5 * MIB]


@pytest.mark.parametrize(("data", "version", "expected"), VECTORS)
def test_known_vectors(data, version, expected):
    assert str(local_cid(data, version)) == expected


@pytest.mark.parametrize("text", [v[2] for v in VECTORS])
def test_cid_text_round_trips(text):
    cid = CID.parse(text)
    assert str(cid) == text
    assert CID.from_bytes(cid.to_bytes()) == cid
    if cid.version == 1:  # upper-case base32 and base58btc spell the same CID
        assert CID.parse("B" + text[1:].upper()) == cid
        assert CID.parse("z" + b58encode(cid.to_bytes())) == cid


@pytest.mark.parametrize("bad", ["", "Qm123", "hello", "bafkrei!!", "zzzz", "QmT78zSuBmuS4z925WZ"
                                 "frqQ1qHaJ56DQaTfyMUF7F8ff50"])
def test_garbage_is_not_a_cid(bad):
    with pytest.raises(InvalidCid):
        CID.parse(bad)


def test_two_level_dag_shape():
    """175 chunks need a second level: 174 leaves under one node, 1 under another."""
    blocks = []
    root = build_file(chunks_of(io.BytesIO(payload(174 * 256 * KIB + 5))), 1,
                      lambda cid, block: blocks.append((cid, block)))
    assert blocks[-1][0] == root and root.codec == DAG_PB
    top = decode_node(blocks[-1][1])
    fanout = [len(decode_node(dict(blocks)[link.cid]).links) for link in top.links]
    assert fanout == [174, 1]
    assert decode_unixfs(top.data).filesize == 174 * 256 * KIB + 5
    assert sum(1 for cid, _ in blocks if cid.codec == RAW) == 175


@pytest.mark.parametrize("size", SIZES, ids=[f"{s}B" for s in SIZES])
@pytest.mark.parametrize("version", [0, 1])
@pytest.mark.ipfs_node
def test_cids_equal_a_real_node(jsipfs, size, version):
    data = payload(size, f"size {size}")
    node = NodeStore(jsipfs.api)
    ours = local_cid(data, version)
    # Ask the node bare (NodeStore.add would compare for us): Kubo's --cid-version 1
    # implies raw leaves, which the RPC API wants spelled out.
    answer = node._client.add(io.BytesIO(data), cid_version=version, raw_leaves=version == 1,
                              pin=False)
    assert CID.parse(answer["Hash"]) == ours


@pytest.mark.slow
@pytest.mark.ipfs_node
def test_fifty_mib_equals_a_real_node(jsipfs, tmp_path):
    """The big case once, through files and the node's own CLI (`ipfs add -q`)."""
    path = tmp_path / "50mib.bin"
    path.write_bytes(payload(50 * MIB, "fifty"))
    for version in (0, 1):
        base = ["--cid-base=base32"] if version else []  # Kubo's v1 text; v0 is always Qm
        printed = jsipfs.cli("add", "-q", f"--cid-version={version}", *base, "--pin=false",
                             str(path)).strip()
        assert printed == str(local_cid(path, version))
