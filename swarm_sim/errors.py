"""The swarm simulator's exception: bad parameters and failed ledger calls."""

from __future__ import annotations

from gaka.errors import GakaError


class SwarmError(GakaError, ValueError):
    """A swarm parameter or simulation request that cannot be honoured; the message says why."""
