"""Errors of the economy services (each prints as one `error:` line)."""

from gaka.errors import GakaError


class EconomyError(GakaError):
    """An economic action could not be done; nothing was half-done."""
