"""Metadata documents, their single-block CID, and the clear refusals of `gaka publish`."""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import replace

import pytest

from services.ipfs.cid import CID
from services.nft.errors import PublishError
from services.nft.metadata import Painting, build_metadata, metadata_bytes, metadata_cid
from tests.conftest import GAKA, ROOT
from tests.robot.conftest import random_plan


def test_metadata_document_and_its_cid():
    plan = replace(random_plan((300, 200), 1, 10.0, seed=1), metrics={"seed": 9})
    painting = Painting(plan, "bafkreiimage", "bafkreiplan", None, 12.3456, "scara")
    doc = build_metadata(painting)
    assert "animation_url" not in doc and doc["image"] == "ipfs://bafkreiimage"
    assert doc["plan"] == "ipfs://bafkreiplan" and "1 stroke of 3 paints" in doc["description"]
    attrs = {a["trait_type"]: a["value"] for a in doc["attributes"]}
    token = hashlib.sha256(plan.to_json().encode()).hexdigest()
    assert attrs == {"strokes": 1, "paints": 3, "painting seconds": 12.346, "arm": "scara",
                     "canvas mm": "300x200", "seed": 9, "provenance hash": f"0x{token}"}
    blob = metadata_bytes(doc)
    assert json.loads(blob) == doc and metadata_bytes(json.loads(blob)) == blob
    cid = metadata_cid(blob)
    assert str(cid).startswith("bafkrei") and cid.digest == hashlib.sha256(blob).digest()
    assert CID.parse(str(cid)) == cid
    with pytest.raises(PublishError, match="must fit one IPFS block"):
        metadata_cid(b" " * (256 * 1024 + 1))


def test_publish_refuses_clearly(gaka_env, tmp_path, painted):
    def publish(folder) -> subprocess.CompletedProcess:
        return subprocess.run([str(GAKA), "publish", str(folder)], env=gaka_env, cwd=ROOT,
                              text=True, capture_output=True, timeout=300)

    (tmp_path / "empty").mkdir()
    out = publish(tmp_path / "empty")
    assert out.returncode == 1 and out.stderr.startswith("error: ") and "plan.json" in out.stderr
    out = publish(painted)
    assert out.returncode == 1
    assert out.stderr.strip().endswith("run `gaka chain deploy --network embedded` first")
