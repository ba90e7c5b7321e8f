"""The one interface every EVM backend offers (embedded py-evm, in-process revm, JSON-RPC)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from web3.contract import Contract
from web3.contract.contract import ContractFunction

from services.chain.compiler import Artifact

# A receipt is a plain dict with the same keys on every backend: status, gasUsed,
# effectiveGasPrice, blockNumber, blockHash, transactionHash (bytes), from, to,
# contractAddress and logs (a list of Log).
Receipt = dict[str, Any]


@dataclass(frozen=True)
class SignedTx:
    """A signed transaction as it is journaled before broadcast, so a crash can resend it."""

    sender: str
    nonce: int
    tx_hash: str
    raw_tx: str


# Called with the signed transaction after signing and before broadcast (a write-ahead log).
# Backends that mine at once and keep nothing across a crash (revm) never call it.
Journal = Callable[[SignedTx], None]


@dataclass(frozen=True)
class Log:
    """One log entry, as every backend reports it."""

    address: str
    topics: tuple[bytes, ...]
    data: bytes
    block_number: int
    block_hash: bytes
    tx_hash: bytes
    log_index: int


@dataclass(frozen=True)
class BlockTx:
    """One transaction of a block: who sent what to whom (`to` is None for a deployment)."""

    tx_hash: bytes
    sender: str
    to: str | None
    value: int


@dataclass(frozen=True)
class Block:
    """A mined block: the facts a wallet's books need."""

    number: int
    hash: bytes
    timestamp: int
    base_fee: int
    transactions: tuple[BlockTx, ...]


class Call(NamedTuple):
    """One transaction of a block sent with `execute_block`: calldata from `sender` to `to`."""

    sender: str
    to: str
    data: bytes
    value: int = 0


class Outcome(NamedTuple):
    """What one call of `execute_block` did. A refused call (reverted, or rejected before it ran,
    e.g. a value above its sender's balance) is not mined: `ok` is False, no gas is charged and
    `error` says why (what sending it on its own raises), and the block goes on. (A named
    tuple: one is built per transaction, and that is cheaper than a frozen dataclass.)"""

    ok: bool
    gas_used: int = 0
    logs: tuple[Log, ...] = ()
    error: str = ""


@dataclass(frozen=True)
class Event:
    """A log decoded against a contract ABI."""

    name: str
    args: dict[str, Any]
    log: Log = field(repr=False)

    @property
    def block_number(self) -> int:
        return self.log.block_number


class Chain(Protocol):
    """A connected chain with local signers; every revert raises ContractReverted."""

    network: str

    @property
    def accounts(self) -> list[str]: ...

    @property
    def chain_id(self) -> int: ...

    def deploy(self, artifact: Artifact, *args: Any, sender: str | None = None,
               value: int = 0, journal: Journal | None = None) -> Contract: ...

    def at(self, artifact: Artifact, address: str, receipt: Receipt | None = None
           ) -> Contract: ...

    def transact(self, fn: ContractFunction, sender: str | None = None, value: int = 0,
                 gas: int | None = None, journal: Journal | None = None) -> Receipt: ...

    def call(self, fn: ContractFunction, sender: str | None = None) -> Any: ...

    def raw_transact(self, to: str, data: bytes, sender: str | None = None, value: int = 0,
                     abi: list[dict[str, Any]] | None = None) -> Receipt: ...

    def raw_call(self, to: str, data: bytes, sender: str | None = None,
                 abi: list[dict[str, Any]] | None = None) -> bytes: ...

    def send_eth(self, to: str, value: int, sender: str | None = None) -> Receipt: ...

    def execute_block(self, calls: Sequence[Call], abi: list[dict[str, Any]] | None = None,
                      logs: bool = True) -> list[Outcome]:
        """Many senders' transactions in order, with the results (and gas) each would have had
        sent on its own. revm mines them as one block; web3 chains send them one by one.
        `logs=False`: the outcomes leave the logs out (callers that need only statuses)."""
        ...

    def receipt(self, tx_hash: bytes) -> Receipt | None: ...

    def balance(self, address: str, block: int | None = None) -> int:
        """Balance now, or at the end of `block`."""
        ...

    def get_code(self, address: str) -> bytes: ...

    def nonce(self, address: str) -> int: ...

    def pending_nonce(self, address: str) -> int: ...

    def block_number(self) -> int: ...

    def block_hash(self, number: int) -> bytes: ...

    def block(self, number: int | None = None) -> Block:
        """Block `number` (default: the latest) with its transactions; ChainError when it
        does not exist."""
        ...

    def now(self) -> int: ...

    def get_logs(self, from_block: int, to_block: int, address: str | None = None,
                 topics: list[bytes | None] | None = None) -> list[Log]:
        """Logs of a block range, in chain order (a node is asked in ranges it accepts)."""
        ...

    def events(self, contract: Contract, from_block: int = 0, to_block: int | None = None,
               names: tuple[str, ...] = ()) -> list[Event]: ...

    def increase_time(self, seconds: int) -> None: ...

    def mine(self, blocks: int = 1) -> None: ...

    def snapshot(self) -> Any: ...

    def revert(self, snapshot_id: Any) -> None: ...

    def close(self) -> None: ...
