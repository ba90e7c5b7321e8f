"""The chain backends behind one `Chain` protocol: embedded py-evm, in-process revm, JSON-RPC.

`open_chain` is the only way in; nothing else in the project constructs an EVM.
"""

from __future__ import annotations

import ast
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import requests
from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_tester import EthereumTester
from eth_tester.exceptions import TransactionFailed
from eth_tester.exceptions import ValidationError as TesterValidationError
from eth_utils import ValidationError as EthValidationError
from eth_utils import to_checksum_address
from web3 import EthereumTesterProvider, HTTPProvider, Web3
from web3.contract.contract import Contract, ContractFunction
from web3.exceptions import (
    BlockNotFound,
    ContractCustomError,
    ContractLogicError,
    TimeExhausted,
    TransactionNotFound,
    Web3RPCError,
)
from web3.types import RPCEndpoint

from services.chain.compiler import Artifact
from services.chain.embedded import DEV_ACCOUNTS, PersistentPyEVMBackend
from services.chain.errors import (
    ChainError,
    ContractReverted,
    RPCUnavailable,
    TransactionRejected,
    TransactionTimeout,
)
from services.chain.events import EventDecoder
from services.chain.keystore import embedded_dev_accounts, hardhat_dev_accounts
from services.chain.protocol import (
    Block,
    BlockTx,
    Call,
    Chain,
    Event,
    Journal,
    Log,
    Outcome,
    Receipt,
    SignedTx,
)
from services.chain.revert import bind_contract, decode_revert
from services.chain.revm import DEFAULT_CHAIN_ID, DEFAULT_GENESIS_TIME, RevmChain

log = logging.getLogger(__name__)
T = TypeVar("T")

HARDHAT_CHAIN_ID = 31337
# HTTP errors (429 rate limits, 502/503 from a gateway) are as passing as a dropped connection.
_TRANSIENT = (requests.ConnectionError, requests.Timeout, requests.HTTPError, ConnectionError,
              TimeoutError)


def is_internal_error(exc: Web3RPCError) -> bool:
    """A node's "internal error" without revert data: the node failed, the call may not."""
    if isinstance(exc, ContractLogicError | ContractCustomError):
        return False
    error = (exc.rpc_response or {}).get("error")
    if not isinstance(error, dict) and exc.args:
        try:  # some web3 paths keep only the error object's repr
            error = ast.literal_eval(str(exc.args[0]))
        except (ValueError, SyntaxError):
            return False
    return isinstance(error, dict) and error.get("code") == -32603 and not error.get("data")


@dataclass
class ChainSpec:
    """Where to connect and how long to wait."""

    network: str = "embedded"
    data_dir: Path | None = None
    rpc_url: str | None = None
    signer: LocalAccount | None = None
    rpc_timeout_s: float = 10.0
    receipt_timeout_s: float = 120.0
    retries: int = 3
    # revm only: chain id, genesis time, seconds between blocks, whether to keep logs, and
    # whether gas must equal a real node's (see services.chain.revm).
    chain_id: int = DEFAULT_CHAIN_ID
    genesis_time: int = DEFAULT_GENESIS_TIME
    block_time_s: int = 1
    keep_logs: bool = True
    exact_gas: bool = True
    # JSON-RPC only: blocks per eth_getLogs request (hosted nodes cap the range or the result
    # count; a refused request is split in halves, and the size that worked is kept).
    log_chunk_blocks: int = 2000


def _revert_data(exc: Exception) -> str | None:
    data = getattr(exc, "data", None)
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        return data
    if isinstance(exc, TransactionFailed) and exc.args:
        raw = exc.args[0]
        if isinstance(raw, bytes):
            return "0x" + raw.hex()
        if isinstance(raw, str) and raw.startswith("execution reverted: "):
            text = raw.removeprefix("execution reverted: ")
            if text.startswith("0x"):
                return text
            # eth-tester renders undecodable revert data as a bytes literal.
            if text[:2] in ("b'", 'b"'):
                return "0x" + ast.literal_eval(text).hex()
            # It decodes Error(string) itself; encode it back so every backend carries the data.
            return "0x08c379a0" + abi_encode(["string"], [text]).hex()
    return None


def _as_revert(exc: Exception, abi: list[dict[str, Any]] | None) -> ContractReverted:
    data = _revert_data(exc)
    if data is not None:
        return ContractReverted(decode_revert(data, abi), data)
    message = str(exc.args[0]) if exc.args else str(exc)
    return ContractReverted(message.removeprefix("execution reverted: "))


_REVERTS = (ContractLogicError, ContractCustomError, TransactionFailed)
_INVALID = (TransactionFailed, ValueError, EthValidationError, TesterValidationError)


def _mined_revert(exc: Web3RPCError, abi: list[dict[str, Any]] | None) -> ContractReverted | None:
    """Hardhat automines a reverting transaction and reports it as an RPC error."""
    error = (exc.rpc_response or {}).get("error") or {}
    data = error.get("data") if isinstance(error, dict) else None
    if not isinstance(data, dict) or "txHash" not in data:
        return None
    revert = data.get("data")
    reason = decode_revert(revert, abi) if isinstance(revert, str) else str(data.get("message"))
    return ContractReverted(reason, revert, data["txHash"])


@dataclass
class Web3Chain:
    """A web3 chain (embedded py-evm or JSON-RPC) with local signers; reverts raise
    ContractReverted."""

    w3: Web3
    network: str
    signers: list[LocalAccount]
    spec: ChainSpec
    backend: PersistentPyEVMBackend | None = None
    _nonces: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _log_chunk: int = 0  # blocks per eth_getLogs the node accepted; 0: spec.log_chunk_blocks

    @property
    def accounts(self) -> list[str]:
        return [s.address for s in self.signers]

    @property
    def chain_id(self) -> int:
        return self._rpc(lambda: self.w3.eth.chain_id)

    def _rpc(self, fn: Callable[[], T]) -> T:
        """Run an RPC call, retrying transient network errors `spec.retries` times in all.

        This is the only retry layer (the HTTP provider's own is off), so a node that never
        answers fails after retries x rpc_timeout_s plus the backoff sleeps in between.
        """
        for attempt in range(self.spec.retries):
            try:
                return fn()
            except _TRANSIENT as exc:
                if attempt == self.spec.retries - 1:
                    raise self._unavailable(exc) from None
                time.sleep(_backoff(attempt))
            except Web3RPCError as exc:
                if not is_internal_error(exc) or attempt == self.spec.retries - 1:
                    raise
                time.sleep(_backoff(attempt))
        raise AssertionError("unreachable")

    def _unavailable(self, exc: Exception) -> RPCUnavailable:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        what = f"HTTP {status}" if status else exc.__class__.__name__
        return RPCUnavailable(self.spec.rpc_url or self.network,
                              f"{what} after {self.spec.retries} tries "
                              f"of {self.spec.rpc_timeout_s:g} s")

    def _signer(self, sender: str | None) -> LocalAccount:
        if not self.signers:
            raise ChainError(f"no signer for network {self.network}: configure a keystore")
        if sender is None:
            return self.signers[0]
        for s in self.signers:
            if s.address.lower() == sender.lower():
                return s
        raise ChainError(f"no local signer for {sender}")

    def _fees(self) -> dict[str, int]:
        block = self._rpc(lambda: self.w3.eth.get_block("latest"))
        base = int(block.get("baseFeePerGas") or 0)
        tip = 10**9 if self.network != "embedded" else 0
        return {"maxFeePerGas": 2 * base + tip, "maxPriorityFeePerGas": tip}

    def _next_nonce(self, address: str) -> int:
        chain_nonce = self._rpc(lambda: self.w3.eth.get_transaction_count(address, "pending"))
        nonce = max(chain_nonce, self._nonces.get(address, 0))
        self._nonces[address] = nonce + 1
        return nonce

    def _send(self, tx: dict[str, Any], abi: list[dict[str, Any]] | None,
              sender: str | None, journal: Journal | None = None) -> dict[str, Any]:
        signer = self._signer(sender)
        tx = {**tx, "from": signer.address, "chainId": self.chain_id, **self._fees()}
        try:
            if "gas" not in tx:
                estimate = self._rpc(lambda: self.w3.eth.estimate_gas(tx))
                tx["gas"] = min(int(estimate * 1.25) + 10_000, 30_000_000)
        except _REVERTS as exc:
            raise _as_revert(exc, abi) from None
        except (ChainError, *_TRANSIENT):
            raise
        except Exception as exc:  # noqa: BLE001 - e.g. py-evm's OutOfGas past the block limit
            raise TransactionRejected(
                f"gas estimation failed: {exc.__class__.__name__}: {exc}") from None
        with self._lock:
            tx["nonce"] = self._next_nonce(signer.address)
            signed = signer.sign_transaction(tx)
            if journal is not None:
                journal(SignedTx(signer.address, tx["nonce"], "0x" + signed.hash.hex(),
                                 "0x" + signed.raw_transaction.hex()))
            try:
                tx_hash = self._broadcast(signed.raw_transaction, signed.hash, abi)
            except BaseException:
                # Accepted or not, the node's pending count is the truth: ask it next time.
                self._nonces.pop(signer.address, None)
                raise
        receipt = self.wait(tx_hash)
        if receipt["status"] != 1:
            raise self._replay_revert(tx, receipt, abi)
        return receipt

    def _broadcast(self, raw: bytes, tx_hash: bytes, abi: list[dict[str, Any]] | None) -> bytes:
        """Send one signed transaction; retries resend the same bytes, so never twice."""
        for attempt in range(self.spec.retries):
            try:
                return self.w3.eth.send_raw_transaction(raw)
            except _TRANSIENT as exc:
                if attempt == self.spec.retries - 1:
                    raise self._unavailable(exc) from None
            except Web3RPCError as exc:
                mined = _mined_revert(exc, abi)
                if mined is not None:
                    raise mined from None
                text = str(exc).lower()
                # geth, Erigon and Besu say "already known"/"imported", Hardhat (EDR) says
                # "Known transaction": the node holds these very bytes (same hash), which
                # a node lagging behind a load balancer might not confirm. A mined one
                # makes its nonce "too low", which another transaction could too: ask.
                if any(m in text for m in ("already known", "already imported",
                                           "known transaction")):
                    return tx_hash
                if "nonce too low" in text and self._known(tx_hash):
                    return tx_hash
                if not is_internal_error(exc):
                    raise ChainError(f"transaction rejected by the node: {exc}") from None
                # A node that failed ("internal error") may or may not have taken the bytes:
                # sending them again is safe (answered "already known" if it had).
                if attempt == self.spec.retries - 1:
                    raise RPCUnavailable(
                        self.spec.rpc_url or self.network,
                        f"internal error on every one of {self.spec.retries} sends; the "
                        f"node may hold transaction 0x{tx_hash.hex()}: {exc}") from None
            except _REVERTS:
                raise
            except _INVALID as exc:
                raise ChainError(f"transaction rejected: {exc}") from None
            # A resend of bytes the node already has is answered "already known".
            time.sleep(_backoff(attempt))
        raise AssertionError("unreachable")

    def _known(self, tx_hash: bytes) -> bool:
        """Whether the node has the transaction. A node that cannot be asked raises its
        error: a resend answered "nonce too low" may well have been mined, and calling it
        rejected would fail the caller for good over a lost answer."""
        try:
            self._rpc(lambda: self.w3.eth.get_transaction(tx_hash))
        except TransactionNotFound:
            return False
        except Web3RPCError as exc:  # e.g. geth's "transaction indexing is in progress"
            raise RPCUnavailable(self.spec.rpc_url or self.network,
                                 f"cannot tell whether it holds transaction "
                                 f"0x{tx_hash.hex()}: {exc}") from None
        return True

    def _replay_revert(self, tx: dict[str, Any], receipt: dict[str, Any],
                       abi: list[dict[str, Any]] | None) -> ContractReverted:
        call = {k: tx[k] for k in ("from", "to", "data", "value") if k in tx}
        tx_hash = bytes(receipt["transactionHash"])
        try:
            self.w3.eth.call(call, receipt["blockNumber"] - 1)
        except _REVERTS as exc:
            err = _as_revert(exc, abi)
            return ContractReverted(err.reason, err.data, "0x" + tx_hash.hex())
        return ContractReverted("reverted (out of gas?)", None, "0x" + tx_hash.hex())

    def wait(self, tx_hash: bytes) -> Receipt:
        """Wait for a receipt, bounded by the receipt timeout."""
        try:
            raw = self._rpc(lambda: self.w3.eth.wait_for_transaction_receipt(
                tx_hash, timeout=self.spec.receipt_timeout_s, poll_latency=0.05))
        except TimeExhausted:
            raise TransactionTimeout(
                f"transaction {tx_hash.hex()} not mined within {self.spec.receipt_timeout_s} s"
            ) from None
        return _receipt(raw)

    def resend(self, signed: SignedTx) -> Receipt:
        """Broadcast a journaled transaction again (a no-op if the node has it); its receipt."""
        tx_hash = bytes.fromhex(signed.tx_hash.removeprefix("0x"))
        with self._lock:
            self._broadcast(bytes.fromhex(signed.raw_tx.removeprefix("0x")), tx_hash, None)
        return self.wait(tx_hash)

    def receipt(self, tx_hash: bytes) -> Receipt | None:
        """The receipt of a mined transaction, or None when the chain does not know it."""
        try:
            raw = self._rpc(lambda: self.w3.eth.get_transaction_receipt(tx_hash))
        except TransactionNotFound:
            return None
        return _receipt(raw)

    def deploy(self, artifact: Artifact, *args: Any, sender: str | None = None,
               value: int = 0, journal: Journal | None = None) -> Contract:
        """Deploy a compiled contract and return a bound web3 contract.

        `journal` gets the signed transaction before it is broadcast (a write-ahead log).
        """
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        data = factory.constructor(*args).data_in_transaction
        receipt = self._send({"data": data, "value": value}, artifact.abi, sender, journal)
        return self.at(artifact, receipt["contractAddress"], receipt=receipt)

    def at(self, artifact: Artifact, address: str, receipt: dict[str, Any] | None = None
           ) -> Contract:
        """A contract bound to an existing address."""
        return bind_contract(self.w3, artifact, address, receipt)

    def transact(self, fn: ContractFunction, sender: str | None = None, value: int = 0,
                 gas: int | None = None, journal: Journal | None = None) -> Receipt:
        """Sign, send and wait for a contract call; raises ContractReverted on revert."""
        tx: dict[str, Any] = {"to": fn.address, "data": fn._encode_transaction_data(),
                              "value": value}
        if gas is not None:
            tx["gas"] = gas
        return self._send(tx, fn.contract_abi, sender, journal)

    def raw_transact(self, to: str, data: bytes, sender: str | None = None, value: int = 0,
                     abi: list[dict[str, Any]] | None = None) -> Receipt:
        """Send calldata as is (callers that encode their own)."""
        return self._send({"to": to_checksum_address(to), "data": "0x" + bytes(data).hex(),
                           "value": value}, abi, sender)

    def raw_call(self, to: str, data: bytes, sender: str | None = None,
                 abi: list[dict[str, Any]] | None = None) -> bytes:
        """Read-only call with raw calldata; returns the raw output."""
        tx = {"to": to_checksum_address(to), "data": "0x" + bytes(data).hex()}
        sender = sender or (self.accounts[0] if self.signers else None)
        if sender:
            tx["from"] = to_checksum_address(sender)
        try:
            return bytes(self._rpc(lambda: self.w3.eth.call(tx)))
        except _REVERTS as exc:
            raise _as_revert(exc, abi) from None

    def execute_block(self, calls: Sequence[Call], abi: list[dict[str, Any]] | None = None,
                      logs: bool = True) -> list[Outcome]:
        """The calls one by one (see `one_by_one`)."""
        return one_by_one(self, calls, abi, logs)

    def send_eth(self, to: str, value: int, sender: str | None = None) -> Receipt:
        """Plain ether transfer."""
        # Estimated, not a fixed 21,000: a contract's receive() needs more.
        return self._send({"to": to_checksum_address(to), "value": value}, None, sender)

    def call(self, fn: ContractFunction, sender: str | None = None) -> Any:
        """Read-only call; raises ContractReverted on revert."""
        opts = {"from": sender or (self.accounts[0] if self.signers else None)}
        try:
            return self._rpc(lambda: fn.call({k: v for k, v in opts.items() if v}))
        except _REVERTS as exc:
            raise _as_revert(exc, fn.contract_abi) from None

    def balance(self, address: str, block: int | None = None) -> int:
        at = "latest" if block is None else block
        return self._rpc(lambda: self.w3.eth.get_balance(to_checksum_address(address), at))

    def get_code(self, address: str) -> bytes:
        return bytes(self._rpc(lambda: self.w3.eth.get_code(to_checksum_address(address))))

    def nonce(self, address: str) -> int:
        return self._rpc(lambda: self.w3.eth.get_transaction_count(
            to_checksum_address(address), "latest"))

    def pending_nonce(self, address: str) -> int:
        """Transactions sent by `address`, counting those the node holds but has not mined."""
        return self._rpc(lambda: self.w3.eth.get_transaction_count(
            to_checksum_address(address), "pending"))

    def block_number(self) -> int:
        return int(self._rpc(lambda: self.w3.eth.block_number))

    def block_hash(self, number: int) -> bytes:
        try:
            return bytes(self._rpc(lambda: self.w3.eth.get_block(number))["hash"])
        except BlockNotFound:
            raise ChainError(f"block {number} does not exist on {self.network}") from None

    def block(self, number: int | None = None) -> Block:
        at = "latest" if number is None else number
        try:
            raw = self._rpc(lambda: self.w3.eth.get_block(at, full_transactions=True))
        except BlockNotFound:
            raise ChainError(f"block {number} does not exist on {self.network}") from None
        txs = tuple(BlockTx(bytes(tx["hash"]), to_checksum_address(tx["from"]),
                            to_checksum_address(tx["to"]) if tx.get("to") else None,
                            int(tx["value"])) for tx in raw["transactions"])
        return Block(int(raw["number"]), bytes(raw["hash"]), int(raw["timestamp"]),
                     int(raw.get("baseFeePerGas") or 0), txs)

    def now(self) -> int:
        """Timestamp of the latest block."""
        return int(self._rpc(lambda: self.w3.eth.get_block("latest"))["timestamp"])

    def get_logs(self, from_block: int, to_block: int, address: str | None = None,
                 topics: list[bytes | None] | None = None) -> list[Log]:
        """Logs of the range, asked for in chunks; a chunk the node refuses as too large is
        split in halves, down to one block, and the size that worked is kept."""
        query: dict[str, Any] = {}
        if address:
            query["address"] = to_checksum_address(address)
        if topics:
            query["topics"] = [None if t is None else "0x" + t.hex() for t in topics]
        out: list[Log] = []
        start = from_block
        while start <= to_block:
            end = min(to_block, start + (self._log_chunk or self.spec.log_chunk_blocks) - 1)
            chunk = {**query, "fromBlock": start, "toBlock": end}
            try:
                found = self._rpc(lambda chunk=chunk: self.w3.eth.get_logs(chunk))
            except Web3RPCError as exc:
                if end == start or not _too_large(exc):
                    raise ChainError(f"eth_getLogs of blocks {start}-{end} refused by "
                                     f"{self.network}: {exc}") from None
                self._log_chunk = (end - start + 1) // 2
                log.info("eth_getLogs: %s refuses %d blocks at once; asking for %d",
                         self.network, end - start + 1, self._log_chunk)
                continue
            out += [_log(entry) for entry in found]
            start = end + 1
        return out

    def events(self, contract: Contract, from_block: int = 0, to_block: int | None = None,
               names: tuple[str, ...] = ()) -> list[Event]:
        end = self.block_number() if to_block is None else to_block
        logs = self.get_logs(from_block, end, address=contract.address)
        return EventDecoder(contract.abi).decode_all(logs, names)

    def _local(self, method: str, params: list[Any]) -> Any:
        if self.network != "localhost":
            raise ChainError(f"{method} is only available on local chains, not {self.network}")
        answer = self._rpc(lambda: self.w3.provider.make_request(method, params))
        if "error" in answer:
            raise ChainError(f"{method} failed: {answer['error']}")
        return answer.get("result")

    def increase_time(self, seconds: int) -> None:
        """Move chain time forward and mine a block (local chains only)."""
        if self.backend is not None:
            # eth-tester's time_travel mines its block one second before the target.
            self.backend.time_travel(self.now() + seconds + 1)
        else:
            self._local("evm_increaseTime", [seconds])
            self._local("evm_mine", [])

    def mine(self, blocks: int = 1) -> None:
        """Mine empty blocks (local chains only)."""
        if self.backend is not None:
            self.w3.provider.ethereum_tester.mine_blocks(blocks)
        else:
            self._local("hardhat_mine", [hex(blocks)])

    def snapshot(self) -> Any:
        """Remember the chain state (local chains only); `revert` returns to it."""
        if self.backend is not None:
            return self.w3.provider.ethereum_tester.take_snapshot()
        return self._local("evm_snapshot", [])

    def revert(self, snapshot_id: Any) -> None:
        """Return to a snapshot; it and every later snapshot are used up."""
        if self.backend is not None:
            self.w3.provider.ethereum_tester.revert_to_snapshot(snapshot_id)
        elif not self._local("evm_revert", [snapshot_id]):
            raise ChainError(f"unknown snapshot {snapshot_id}")
        self._nonces.clear()

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()
            self.backend = None


_LIMIT_WORDS = ("range", "limit", "too many", "too large", "exceed", "more than", "size")


def _too_large(exc: Web3RPCError) -> bool:
    """A node's refusal of an eth_getLogs as too wide or too many results (EIP-1474's "limit
    exceeded", or the wording of hosted providers)."""
    error = (exc.rpc_response or {}).get("error")
    code = error.get("code") if isinstance(error, dict) else None
    text = str(error.get("message") if isinstance(error, dict) else exc).lower()
    return code == -32005 or any(word in text for word in _LIMIT_WORDS)


def _log(entry: Any) -> Log:
    return Log(to_checksum_address(entry["address"]), tuple(bytes(t) for t in entry["topics"]),
               bytes(entry["data"]), int(entry["blockNumber"]), bytes(entry["blockHash"]),
               bytes(entry["transactionHash"]), int(entry["logIndex"]))


def _receipt(raw: Any) -> Receipt:
    """The same receipt dict on every backend (see services.chain.protocol)."""
    receipt = dict(raw)
    receipt["transactionHash"] = bytes(receipt["transactionHash"])
    receipt["blockHash"] = bytes(receipt["blockHash"])
    receipt["effectiveGasPrice"] = int(receipt.get("effectiveGasPrice") or 0)
    receipt["logs"] = [_log(entry) for entry in receipt.get("logs", [])]
    return receipt


def _backoff(attempt: int) -> float:
    """Seconds to sleep after failed try `attempt` (0-based): 0.2, 0.4, …"""
    return 0.2 * 2**attempt


def _http_web3(url: str, timeout: float) -> Web3:
    # web3's own retries would multiply Chain._rpc's: keep exactly one layer. Its validation
    # middleware asks the node for the chain id before every eth_call and eth_estimateGas,
    # and the signer asks before every send: a node's chain id never changes, so it is asked
    # once (per thread, web3 caches by thread), which halves the requests a robot makes.
    return Web3(HTTPProvider(url, request_kwargs={"timeout": timeout},
                             exception_retry_configuration=None,
                             cache_allowed_requests=True,
                             cacheable_requests={RPCEndpoint("eth_chainId")},
                             request_cache_validation_threshold=None))


def _check_alive(chain: Web3Chain, url: str) -> None:
    try:
        chain.chain_id  # noqa: B018 - the first request proves the node answers
    except RPCUnavailable:
        raise
    except Exception as exc:  # noqa: BLE001 - anything else means it is not a JSON-RPC node
        raise RPCUnavailable(url, f"not a JSON-RPC node ({exc.__class__.__name__})") from None


def open_chain(spec: ChainSpec) -> Chain:
    """Connect to the chain named by spec; the embedded one is opened from spec.data_dir."""
    if spec.network == "revm" and spec.rpc_url is None:
        return RevmChain([a.address for a in embedded_dev_accounts(DEV_ACCOUNTS)],
                         spec.chain_id, spec.genesis_time, spec.block_time_s, spec.keep_logs,
                         spec.exact_gas)
    if spec.network == "embedded" and spec.rpc_url is None:
        if spec.data_dir is None:
            raise ChainError("the embedded chain needs a data directory")
        backend = PersistentPyEVMBackend(Path(spec.data_dir) / "chain" / "embedded.sqlite")
        w3 = Web3(EthereumTesterProvider(EthereumTester(backend)))
        return Web3Chain(w3, "embedded", embedded_dev_accounts(DEV_ACCOUNTS), spec, backend)

    if spec.rpc_url is None:
        raise ChainError(f"network {spec.network} needs an RPC URL")
    chain = Web3Chain(_http_web3(spec.rpc_url, spec.rpc_timeout_s), spec.network, [], spec)
    _check_alive(chain, spec.rpc_url)
    if spec.signer is not None:
        chain.signers = [spec.signer]
    elif spec.network == "localhost":
        if chain.chain_id != HARDHAT_CHAIN_ID:
            raise ChainError(
                f"{spec.rpc_url} is chain {chain.chain_id}, not a local Hardhat node "
                f"({HARDHAT_CHAIN_ID}); use a keystore signer"
            )
        chain.signers = hardhat_dev_accounts(DEV_ACCOUNTS)
    return chain


def one_by_one(chain: Chain, calls: Sequence[Call], abi: list[dict[str, Any]] | None = None,
               logs: bool = True) -> list[Outcome]:
    """The calls as separate transactions, each signed by its sender and mined in its own
    block; one that reverts or is rejected (e.g. funds) is not mined and the next one goes
    on. What a block of the same calls must equal."""
    out = []
    for c in calls:
        try:
            receipt = chain.raw_transact(c.to, c.data, sender=c.sender, value=c.value, abi=abi)
        except ContractReverted as exc:
            out.append(Outcome(False, error=exc.reason))
            continue
        except TransactionRejected as exc:
            out.append(Outcome(False, error=str(exc)))
            continue
        out.append(Outcome(True, int(receipt["gasUsed"]),
                           tuple(receipt["logs"]) if logs else ()))
    return out
