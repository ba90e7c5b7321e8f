"""Shared paths for the vision tests."""

from __future__ import annotations

from pathlib import Path

ASSET = Path(__file__).resolve().parents[2] / "vision" / "assets" / "chelsea_96x72.png"
