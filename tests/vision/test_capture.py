"""Capture sources: one interface for files, folders, synthetic scenes and cameras."""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest

from vision.capture import (
    CameraSource,
    CaptureError,
    FileSource,
    FolderSource,
    SyntheticSource,
    check_source,
    open_source,
)

from .conftest import ASSET


def test_file_source_reads_the_image_and_hashes_its_bytes():
    with open_source(str(ASSET)) as src:
        assert isinstance(src, FileSource)
        frame = src.read()
    assert frame.image.shape == (72, 96, 3) and frame.image.dtype == np.uint8
    assert frame.sha256 == hashlib.sha256(ASSET.read_bytes()).hexdigest()


def test_folder_source_round_robins_and_skips_non_images(tmp_path):
    for name in ("b.png", "a.png"):
        shutil.copy(ASSET, tmp_path / name)
    (tmp_path / "notes.txt").write_text("not an image")
    src = open_source(str(tmp_path))
    assert isinstance(src, FolderSource)
    labels = [src.read().label.rsplit("/", 1)[-1] for _ in range(3)]
    assert labels == ["a.png", "b.png", "a.png"]


def test_folder_errors(tmp_path):
    with pytest.raises(CaptureError, match="holds no images"):
        FolderSource(tmp_path).read()
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(CaptureError, match="broken.png"):
        FolderSource(tmp_path).read()


def test_synthetic_source_is_deterministic_and_changes_per_frame():
    a, b = SyntheticSource(64, 48, seed=5), open_source("synthetic:64x48:5")
    first, again = a.read(), b.read()
    assert first.image.shape == (48, 64, 3)
    assert np.array_equal(first.image, again.image) and first.sha256 == again.sha256
    assert not np.array_equal(first.image, a.read().image)


@pytest.mark.parametrize("spec", ["camera:97", "97", "http://127.0.0.1:9/no-stream.mjpg"])
def test_missing_camera_is_a_clear_error(spec):
    with pytest.raises(CaptureError, match="could not be opened"):
        open_source(spec)


def test_bad_specs():
    with pytest.raises(CaptureError, match="no such image, folder or camera"):
        open_source("/definitely/not/here.png")
    with pytest.raises(CaptureError, match="empty"):
        open_source("  ")
    with pytest.raises(CaptureError, match="integer"):
        open_source("camera:front")
    with pytest.raises(CaptureError, match="is closed"):
        cam = CameraSource.__new__(CameraSource)
        cam.device, cam._cap = 0, None
        cam.read()


def test_check_source_refuses_only_missing_paths(tmp_path):
    for spec in ("camera:7", "3", "rtsp://127.0.0.1:1/none", "synthetic:8x8", str(tmp_path),
                 str(ASSET)):
        check_source(spec)  # devices and streams are not opened; existing paths pass
    for spec in (str(tmp_path / "gone.png"), str(tmp_path / "gone"), "  "):
        with pytest.raises(CaptureError):
            check_source(spec)
