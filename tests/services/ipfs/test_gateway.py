"""The gateway app served by a real uvicorn on loopback: types, ranges, paths, errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import numpy as np
import pytest
import uvicorn

from robot.film import FilmRecorder, FilmSpec
from services.ipfs.embedded import block_key
from services.ipfs.gateway import gateway_app, parse_range
from services.ipfs.node import NodeStore
from services.ipfs.store import ContentStore
from tests.conftest import free_port
from tests.services.ipfs.conftest import KIB, payload


@contextmanager
def serving(store: ContentStore) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(gateway_app(store), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    end = time.monotonic() + 20
    while not server.started and time.monotonic() < end:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def film(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("film") / "f.mp4"
    with FilmRecorder(path, FilmSpec(64, 48, 10.0)) as rec:
        for i in range(20):
            rec.write(np.full((48, 64, 3), i * 12, np.uint8))
    return path.read_bytes()


def test_files_ranges_and_errors(store, film):
    big = payload(700 * KIB, "gateway")
    cids = {"big": store.add(big), "film": store.add(film, cid_version=1),
            "json": store.add(b'{"name": "x"}', cid_version=1)}
    with serving(store) as url, httpx.Client(base_url=url, timeout=30) as http:
        r = http.get(f"/ipfs/{cids['big']}")
        assert r.status_code == 200 and r.content == big
        assert r.headers["content-type"] == "application/octet-stream"
        assert r.headers["etag"] == f'"{cids["big"]}"' and r.headers["accept-ranges"] == "bytes"
        r = http.get(f"/ipfs/{cids['big']}", headers={"Range": "bytes=262140-524300"})
        assert r.status_code == 206 and r.content == big[262140:524301]
        assert r.headers["content-range"] == f"bytes 262140-524300/{len(big)}"
        r = http.get(f"/ipfs/{cids['big']}", headers={"Range": "bytes=-10"})
        assert r.status_code == 206 and r.content == big[-10:]
        r = http.get(f"/ipfs/{cids['big']}", headers={"Range": f"bytes={len(big)}-"})
        assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{len(big)}"
        r = http.get(f"/ipfs/{cids['film']}", headers={"Range": "bytes=0-99"})
        assert r.status_code == 206 and r.content == film[:100]
        assert r.headers["content-type"] == "video/mp4"
        r = http.head(f"/ipfs/{cids['film']}")
        assert r.status_code == 200 and int(r.headers["content-length"]) == len(film)
        assert r.content == b""
        assert http.get(f"/ipfs/{cids['json']}").headers["content-type"] == "application/json"
        r = http.get(f"/ipfs/{cids['film']}", headers={"If-None-Match": f'"{cids["film"]}"'})
        assert r.status_code == 304
        assert http.get("/ipfs/not-a-cid").status_code == 400
        missing = "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"
        r = http.get(f"/ipfs/{missing}")
        assert r.status_code == 404 and missing in r.text
        cid = cids["json"]  # a one-block file: caught before any byte is sent
        block = next((store.root / "blocks").glob(f"*/{block_key(cid)}.data"))
        block.write_bytes(b"[" + block.read_bytes()[1:])
        r = http.get(f"/ipfs/{cid}")
        assert r.status_code == 502 and f"block {cid}" in r.text and "corrupt" in r.text


@pytest.mark.ipfs_node
def test_paths_through_a_directory_on_a_node(jsipfs, film, tmp_path):
    """js-ipfs builds the directory (`add -w`); the gateway resolves names through it."""
    (tmp_path / "film.mp4").write_bytes(film)
    node = NodeStore(jsipfs.api)
    added = node._client.add(str(tmp_path / "film.mp4"), wrap_with_directory=True,
                             cid_version=1, raw_leaves=True)
    root = next(a["Hash"] for a in added if a["Name"] == "")
    with serving(node) as url, httpx.Client(base_url=url, timeout=30) as http:
        r = http.get(f"/ipfs/{root}/film.mp4", headers={"Range": "bytes=10-"})
        assert r.status_code == 206 and r.content == film[10:]
        assert r.headers["content-type"] == "video/mp4"
        assert http.get(f"/ipfs/{root}").status_code == 404  # a directory, not a file
        r = http.get(f"/ipfs/{root}/nope.mp4")
        assert r.status_code == 404 and "no entry 'nope.mp4'" in r.text


@pytest.mark.parametrize(("header", "size", "span"), [
    ("bytes=0-0", 10, (0, 0)), ("bytes=5-", 10, (5, 9)), ("bytes=-3", 10, (7, 9)),
    ("bytes=3-100", 10, (3, 9)), ("bytes=10-", 10, None), ("bytes=-0", 10, None),
    ("bytes=4-2", 10, None), ("items=0-1", 10, None), ("bytes=0-1,3-4", 10, None),
    ("bytes=0-", 0, None),
])
def test_parse_range(header, size, span):
    assert parse_range(header, size) == span
