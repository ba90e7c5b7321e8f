"""Errors of publishing a painting (pinning and minting)."""

from __future__ import annotations

from gaka.errors import GakaError


class PublishError(GakaError):
    """A painting folder, its metadata or the mint is not in a state we can publish."""
