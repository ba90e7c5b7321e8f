"""One exception family for every chain backend."""

from __future__ import annotations

from gaka.errors import GakaError
from gaka.net import redact_url


class ChainError(GakaError):
    """Base of every chain-layer error; its message is safe to show a user."""


class CompileError(ChainError):
    """Solidity sources failed to compile, or no compiler could be found."""


class RPCUnavailable(ChainError):
    """The node at a URL could not be reached or answered garbage."""

    def __init__(self, url: str, detail: str) -> None:
        super().__init__(f"RPC node at {redact_url(url)} is unavailable: {detail}")
        self.url = url


class ContractReverted(ChainError):
    """A call or transaction reverted; `reason` is the decoded revert reason."""

    def __init__(self, reason: str, data: str | None = None, tx_hash: str | None = None) -> None:
        where = f" (tx {tx_hash})" if tx_hash else ""
        super().__init__(f"execution reverted: {reason}{where}")
        self.reason = reason
        self.data = data
        self.tx_hash = tx_hash


class TransactionRejected(ChainError):
    """A transaction refused before it ran (e.g. a value above the sender's balance): nothing
    was mined and no nonce was used."""


class TransactionTimeout(ChainError):
    """A sent transaction was not mined within the receipt timeout."""


class KeystoreError(ChainError):
    """A keystore is missing, unreadable, or its password is wrong."""


class DeploymentError(ChainError):
    """The deploy manifest is invalid or a deployment step failed."""
