"""Socket helpers: free loopback ports for tests and benchmarks, and the check every server
makes before it starts listening."""

from __future__ import annotations

import socket

from gaka.errors import GakaError


class ListenError(GakaError, RuntimeError):
    """A server cannot listen where it was told to."""


def check_listen(host: str, port: int) -> None:
    """Refuse, in one line, a host:port a server could not bind (busy, not ours), before the
    server starts and reports it its own way."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
