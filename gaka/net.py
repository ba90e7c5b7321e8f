"""Network helpers: free loopback ports for tests and benchmarks, the check every server
makes before it starts listening, and URLs made safe to print."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

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


def redact_url(url: str) -> str:
    """The URL without what may hold a secret (user:password, the path and query where
    hosted nodes put API keys), for messages, logs and `config show`."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        return url
    hostname = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    host = hostname + (f":{parts.port}" if parts.port else "")
    hidden = "/…" if (parts.path.strip("/") or parts.query) else ""
    return f"{parts.scheme}://{host}{hidden}"
