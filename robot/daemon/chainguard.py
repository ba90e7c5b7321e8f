"""The daemon's view of the chain: one lock around it, and reads retried on a flaky node.

eth-tester is not thread-safe, and the robot's nonce must not move between journaling an
effect and sending it, so every call goes through one re-entrant lock. A node behind a bad
network drops connections, times out and answers "internal error" now and then; a read is
idempotent, so it is tried again (with a short backoff) before the error reaches a step.
Writes are never retried here: a send whose answer was lost is settled by the journal
(found again by nonce, or by its effect on chain), not by sending it twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from web3.exceptions import Web3RPCError

from services.chain.backends import is_internal_error
from services.chain.errors import ChainError, ContractReverted, RPCUnavailable
from services.chain.protocol import Chain

log = logging.getLogger(__name__)
T = TypeVar("T")

READS = frozenset({"call", "raw_call", "balance", "get_code", "nonce", "pending_nonce",
                   "block_number", "block_hash", "block", "now", "get_logs", "events",
                   "receipt"})
ATTEMPTS = 8


def flaky(exc: BaseException) -> bool:
    """An error a retry may cure: the network, or the node failing rather than refusing."""
    if isinstance(exc, RPCUnavailable | requests.ConnectionError | requests.Timeout |
                  ConnectionError | TimeoutError):
        return True
    if isinstance(exc, requests.HTTPError):
        return exc.response is not None and exc.response.status_code >= 500
    if isinstance(exc, Web3RPCError):
        return is_internal_error(exc)
    if isinstance(exc, ChainError) and not isinstance(exc, ContractReverted):
        # The chain layer wraps a failed estimate or a refused send; a revert it keeps apart.
        cause = str(exc)
        return "-32603" in cause or "unavailable" in cause.lower()
    return False


def retried(fn: Callable[[], T]) -> T:
    for attempt in range(ATTEMPTS):
        try:
            return fn()
        except Exception as exc:
            if attempt == ATTEMPTS - 1 or not flaky(exc):
                raise
            log.debug("read failed (%s), retrying", exc.__class__.__name__)
            time.sleep(min(2.0, 0.05 * 2**attempt))
    raise AssertionError("unreachable")


class GuardedChain:
    """A Chain behind one re-entrant lock, its reads retried on flaky errors."""

    def __init__(self, chain: Chain, lock: threading.RLock) -> None:
        self._chain = chain
        self._lock = lock

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._chain, name)
        if not callable(attr):
            return attr
        retry = name in READS

        def guarded(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                if retry:
                    return retried(lambda: attr(*args, **kwargs))
                return attr(*args, **kwargs)
        return guarded

    @property
    def accounts(self) -> list[str]:
        return self._chain.accounts

    @property
    def chain_id(self) -> int:
        with self._lock:
            return retried(lambda: self._chain.chain_id)
