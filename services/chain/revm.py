"""An in-process, in-memory EVM (Rust revm through pyrevm): the fastest chain, gone at exit.

One block per transaction, `block_time_s` apart from a configurable genesis time, except for
`execute_block`, which mines many senders' transactions as one block with little Python per
transaction; the same dev accounts as the embedded chain; receipts and logs built from revm's
execution result. revm runs transactions without charging gas, so every effectiveGasPrice here
is 0.

pyrevm never finalises a transaction: its journal stays open, so every account and slot touched
once stays warm and keeps its first-seen "original" value, and gas drifts from a real chain.
Each transaction therefore runs inside a journal checkpoint; afterwards its effects are read
off, the checkpoint is reverted (which empties the journal) and the effects are written to
revm's database. Every transaction then starts cold, and gas equals a real node's. Callers
that never read gas (the swarm simulator) may turn this off (`exact_gas=False`): pyrevm then
runs as it is, about four times faster on large batches, without snapshots.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import rlp
from eth_abi import decode as abi_decode
from eth_utils import keccak, to_canonical_address, to_checksum_address
from eth_utils.abi import get_abi_output_types
from pyrevm import EVM, AccountInfo, BlockEnv, CfgEnv, Env
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction

from services.chain.abi import checksummed
from services.chain.compiler import Artifact, compiler_config
from services.chain.errors import ChainError, ContractReverted, TransactionRejected
from services.chain.events import EventDecoder
from services.chain.protocol import (
    Block,
    BlockTx,
    Call,
    Event,
    Journal,
    Log,
    Outcome,
    Receipt,
)
from services.chain.revert import bind_contract, decode_revert

DEFAULT_GENESIS_TIME = 1_700_000_000
DEFAULT_CHAIN_ID = 1337
DEV_BALANCE_WEI = 10**24  # what eth-tester gives each dev account of the embedded chain
BLOCK_GAS_LIMIT = 30_000_000
_REVERT = re.compile(r"^Revert \{ gas_used: (\d+), output: (0x[0-9a-fA-F]*) \}")
_HALT = re.compile(r"^Halt \{ reason: ([A-Za-z]+)")
_ACCOUNT = re.compile(r"(0x[0-9a-f]{40}): Account \{")
# Anchored on the separator before the key: a bare (\d+) backtracks quadratically through the
# long digit runs of the bytecode jump maps in the same dump.
_SLOT = re.compile(
    r"[{ ](\d+): StorageSlot \{ previous_or_original_value: (\d+), present_value: (\d+)")
# A helper placed at genesis: returns EXTCODESIZE of the address in its calldata
# (PUSH0 CALLDATALOAD EXTCODESIZE PUSH0 MSTORE PUSH1 32 PUSH0 RETURN).
_CODE_SIZE_PROBE = to_checksum_address(keccak(text="gaka revm code size probe")[-20:])
_CODE_SIZE_CODE = bytes.fromhex("5f353b5f5260205ff3")
# Checksumming hashes the address; the same few addresses come back on every transaction.
_checksum = lru_cache(maxsize=65536)(to_checksum_address)


def calldata_floor(data: bytes) -> int:
    """Prague's calldata floor (EIP-7623), which pyrevm's revm predates: a transaction pays at
    least 21,000 + 10 gas per calldata token (a zero byte is one token, any other byte four)."""
    return 21_000 + 10 * (len(data) + 3 * (len(data) - data.count(0)))


def written_slots(journal: str) -> list[tuple[str, int, int, int]]:
    """(address, slot, before, after) of every slot changed, read from revm's journal dump."""
    state = journal.split(", logs: [", 1)[0]
    accounts = [(m.start(), m.group(1)) for m in _ACCOUNT.finditer(state)]
    starts = [at for at, _ in accounts]
    out = []
    for m in _SLOT.finditer(state):
        before, after = int(m.group(2)), int(m.group(3))
        if before != after:
            owner = accounts[bisect.bisect_right(starts, m.start()) - 1][1]
            out.append((owner, int(m.group(1)), before, after))
    return out


@dataclass(frozen=True)
class _Saved:
    undo: int
    number: int
    time: int
    offset: int
    receipts: int
    logs: int


class RevmChain:
    """revm behind the Chain protocol."""

    network = "revm"

    def __init__(self, accounts: list[str], chain_id: int = DEFAULT_CHAIN_ID,
                 genesis_time: int = DEFAULT_GENESIS_TIME, block_time_s: int = 1,
                 keep_logs: bool = True, exact_gas: bool = True) -> None:
        spec = str(compiler_config()["settings"]["evmVersion"]).upper()
        self.evm = EVM(spec_id=spec, env=Env(cfg=CfgEnv(chain_id=chain_id)))
        self._floor = spec in ("PRAGUE", "OSAKA")
        self._chain_id = chain_id
        self._accounts = [_checksum(a) for a in accounts]
        self._block_time = block_time_s
        self._keep_logs = keep_logs
        self._exact = exact_gas
        self._w3 = Web3()
        self._number, self._time, self._offset = 0, genesis_time, 0
        self._receipts: dict[bytes, Receipt] = {}
        self._order: list[bytes] = []
        self._logs: list[Log] = []
        self._log_blocks: list[int] = []
        self._saved: list[_Saved] = []
        self._snapshot_ids: list[int] = []
        self._next_snapshot_id = 1
        self._hashes: list[bytes] = []
        self._times: list[int] = []
        self._block_txs: dict[int, list[BlockTx]] = {}
        # Balance after each block that changed it, per account (kept in exact mode only).
        self._balances: dict[str, list[tuple[int, int]]] = {}
        self._content = b""
        self._undo: list[tuple[Any, ...]] = []
        self._set_block(0, genesis_time)
        self._atomic(lambda: [self.evm.set_balance(a, DEV_BALANCE_WEI) for a in self._accounts])
        self.evm.insert_account_info(_CODE_SIZE_PROBE, AccountInfo(code=_CODE_SIZE_CODE))

    # -- identity -------------------------------------------------------------------------------
    @property
    def accounts(self) -> list[str]:
        return list(self._accounts)

    @property
    def chain_id(self) -> int:
        return self._chain_id

    # -- blocks ---------------------------------------------------------------------------------
    def _set_block(self, number: int, timestamp: int) -> None:
        """Make `number` the head (a new block, or an old one after a rollback)."""
        self._number, self._time = number, timestamp
        del self._hashes[number + 1:]
        del self._times[number + 1:]
        if len(self._hashes) <= number:
            # Chained like a real block hash: replaced history (a reverted snapshot followed
            # by other transactions) gets new hashes, so a watcher sees the reorg.
            parent = self._hashes[number - 1] if number else bytes(32)
            self._hashes.append(keccak(parent + number.to_bytes(32, "big")
                                       + timestamp.to_bytes(32, "big") + self._content))
            self._times.append(timestamp)
        self.evm.set_block_env(BlockEnv(number=number, timestamp=timestamp,
                                        gas_limit=BLOCK_GAS_LIMIT))

    def _next_block(self, content: bytes = b"") -> None:
        self._content = content
        self._set_block(self._number + 1, self._time + self._block_time + self._offset)
        self._offset = 0

    def block_number(self) -> int:
        return self._number

    def block_hash(self, number: int) -> bytes:
        """The block's hash as this chain reports it. (Contracts calling BLOCKHASH see revm's
        own value, which depends on the height only.)"""
        if not 0 <= number <= self._number:
            raise ChainError(f"block {number} does not exist (head is {self._number})")
        return self._hashes[number]

    def block(self, number: int | None = None) -> Block:
        number = self._number if number is None else number
        return Block(number, self.block_hash(number), self._times[number], 0,
                     tuple(self._block_txs.get(number, ())))

    def now(self) -> int:
        return self._time

    def increase_time(self, seconds: int) -> None:
        """Mine an empty block `seconds` later."""
        self._offset += seconds - self._block_time
        self.mine()

    def mine(self, blocks: int = 1) -> None:
        for _ in range(blocks):
            self._next_block()

    # -- state ----------------------------------------------------------------------------------
    def _peek(self, read: Any) -> Any:
        """Read without leaving the account loaded (warm) in revm's journal."""
        if not self._exact:
            return read()
        checkpoint = self.evm.snapshot()
        try:
            return read()
        finally:
            self.evm.revert(checkpoint)

    def _atomic(self, action: Any) -> Any:
        """Run one state change as a finished transaction (see the module docstring)."""
        if not self._exact:
            out = action()
            self.evm.reset_transient_storage()
            return out
        checkpoint = self.evm.snapshot()
        try:
            out = action()
        except BaseException:
            self.evm.revert(checkpoint)
            raise
        infos = self.evm.journal_state
        slots = written_slots(self.evm.journal_str)
        self.evm.revert(checkpoint)
        for address, info in infos.items():
            if self._saved:
                old = self._peek(lambda a=address: self.evm.basic(a))
                self._undo.append(("info", address, old))
            self.evm.insert_account_info(address, info)
        for address, slot, before, after in slots:
            if self._saved:
                self._undo.append(("slot", address, slot, before))
            self._put_slot(address, slot, after)
        self.evm.reset_transient_storage()
        for address, info in infos.items():
            self._record_balance(_checksum(address), int(info.balance))
        return out

    def _record_balance(self, address: str, balance: int) -> None:
        history = self._balances.setdefault(address, [])
        if history and history[-1][1] == balance:
            return
        if history and history[-1][0] == self._number:
            history[-1] = (self._number, balance)
        else:
            history.append((self._number, balance))

    def _put_slot(self, address: str, slot: int, value: int) -> None:
        # Inserting into a cold account writes the database, then loads the account: unload it.
        self._peek(lambda: self.evm.insert_account_storage(address, slot, value))

    def balance(self, address: str, block: int | None = None) -> int:
        if block is None or block == self._number:
            return int(self._peek(lambda: self.evm.get_balance(_checksum(address))))
        self.block_hash(block)  # ChainError past the head
        if not self._exact:
            raise ChainError("past balances need a revm chain opened with exact_gas=True")
        history = self._balances.get(_checksum(address), [])
        at = bisect.bisect_right(history, (block, float("inf"))) - 1
        return history[at][1] if at >= 0 else 0

    def get_code(self, address: str) -> bytes:
        # revm hands out its analysed copy, padded with zeros; EXTCODESIZE knows the true length.
        padded = bytes(self._peek(lambda: self.evm.get_code(_checksum(address))) or b"")
        if not padded:
            return b""
        word = self.raw_call(_CODE_SIZE_PROBE, bytes(12) + to_canonical_address(address))
        return padded[:int.from_bytes(word, "big")]

    def nonce(self, address: str) -> int:
        return int(self._peek(lambda: self.evm.basic(_checksum(address))).nonce)

    def pending_nonce(self, address: str) -> int:
        """revm mines every transaction at once: nothing is ever pending."""
        return self.nonce(address)

    def _bump_nonce(self, address: str) -> None:
        # Inside a transaction: revm's message_call leaves the caller's nonce alone. Senders are
        # accounts without code (revm refuses others), so no code goes with the new info.
        info = self.evm.basic(address)
        self.evm.insert_account_info(address, AccountInfo(nonce=info.nonce + 1))
        self.evm.set_balance(address, info.balance)

    # -- transactions ---------------------------------------------------------------------------
    def _sender(self, sender: str | None) -> str:
        if sender is None:
            return self._accounts[0]
        return _checksum(sender)

    def _failure(self, exc: RuntimeError, abi: list[dict[str, Any]] | None) -> ContractReverted:
        text = str(exc)
        found = _REVERT.match(text)
        if found:
            data = found.group(2)
            return ContractReverted(decode_revert(data, abi), data if data != "0x" else None)
        halted = _HALT.match(text)
        if halted:
            return ContractReverted(f"halted: {halted.group(1)}")
        raise TransactionRejected(f"transaction rejected by revm: {text}") from None

    def _gas(self, used: int, data: bytes) -> int:
        return max(used, calldata_floor(data)) if self._floor else used

    def _tx_hash(self, sender: str, nonce: int, to: str | None, data: bytes, value: int
                 ) -> bytes:
        target = to_canonical_address(to) if to else b""
        return keccak(rlp.encode([self._chain_id, to_canonical_address(sender), nonce, target,
                                  value, data]))

    def _execute(self, sender: str, to: str | None, data: bytes, value: int,
                 abi: list[dict[str, Any]] | None, gas: int | None = None) -> Receipt:
        """One transaction in one new block. Without a gas limit a revert mines nothing (as
        estimating gas on a node does); with one, the failed transaction is mined."""
        nonce = self.nonce(sender)
        tx_hash = self._tx_hash(sender, nonce, to, data, value)
        saved = (self._number, self._time, self._offset)
        self._next_block(tx_hash)

        def rollback() -> None:
            self._set_block(saved[0], saved[1])
            self._offset = saved[2]

        def run() -> str | None:
            if to is None:
                return _checksum(self.evm.deploy(sender, data, value=value, gas=gas))
            self.evm.message_call(sender, to, data, value=value, gas=gas)
            self._bump_nonce(sender)
            return None

        try:
            created = self._atomic(run)
        except RuntimeError as exc:
            try:
                failure = self._failure(exc, abi)
            except ChainError:
                rollback()  # rejected outright (e.g. funds): never in a block
                raise
            if gas is None:
                rollback()
                raise failure from None
            used = self._gas(int(self.evm.result.gas_used) if self.evm.result else 0, data)
            self._atomic(lambda: self._bump_nonce(sender))
            self._store(self._receipt(tx_hash, sender, to, None, 0, used, []), value)
            raise ContractReverted(failure.reason, failure.data, "0x" + tx_hash.hex()) from None
        result = self.evm.result
        logs = self._logs_of(result, tx_hash)
        receipt = self._receipt(tx_hash, sender, to, created, 1,
                                self._gas(int(result.gas_used), data), logs)
        self._store(receipt, value)
        return receipt

    def _logs_of(self, result: Any, tx_hash: bytes, block_hash: bytes = b"") -> list[Log]:
        return [Log(_checksum(entry.address), tuple(bytes.fromhex(t[2:]) for t in entry.topics),
                    bytes(entry.data[1]), self._number, block_hash, tx_hash, i)
                for i, entry in enumerate(result.logs)]

    def execute_block(self, calls: Sequence[Call], abi: list[dict[str, Any]] | None = None,
                      logs: bool = True) -> list[Outcome]:
        """Every call a transaction of its sender, in order, all in one new block. Each gets
        the status, gas and logs it would have got sent on its own (`raw_transact`); a refused
        one (reverted, or rejected before running, e.g. a value above the sender's balance) is
        not mined and bumps no nonce, as there, and the block goes on with the next call.

        On a chain that keeps exact gas, each call is finished as its own transaction and gets
        a receipt. Otherwise (the simulator's chain) the calls run back to back in revm with
        the Python per call cut to the message call itself: nonces are bumped in bulk after
        the block, and the logs carry no transaction hash (no receipts are kept)."""
        if not calls:
            return []
        self._next_block(keccak("".join(c.sender for c in calls).encode()
                                + b"".join(c.data for c in calls)))
        block_hash = self._hashes[self._number]
        if self._exact:
            done = [self._exact_call(c, abi, block_hash) for c in calls]
            return done if logs else [o._replace(logs=()) for o in done]
        evm, floor, out, keep = self.evm, self._floor, [], self._keep_logs
        # Without logs to report or keep, the per-call Python is the message call, the result's
        # gas and the outcome: building Log objects would double it.
        want = logs or keep
        sent: Counter[str] = Counter()
        try:
            for c in calls:
                sender = _checksum(c.sender)
                try:
                    evm.message_call(sender, c.to, c.data, value=c.value)
                except RuntimeError as exc:
                    out.append(self._refused(exc, abi))
                    continue
                finally:
                    evm.reset_transient_storage()
                sent[sender] += 1
                result = evm.result
                used = int(result.gas_used)
                made = tuple(self._logs_of(result, b"", block_hash)) if want else ()
                out.append(Outcome(True, max(used, calldata_floor(c.data)) if floor else used,
                                   made if logs else ()))
                if keep and made:
                    self._logs.extend(made)
                    self._log_blocks.extend([self._number] * len(made))
        finally:
            # revm's message call leaves nonces alone: one update per sender for the block.
            for sender, count in sent.items():
                info = evm.basic(sender)
                evm.insert_account_info(sender, AccountInfo(balance=info.balance,
                                                            nonce=info.nonce + count))
        return out

    def _refused(self, exc: RuntimeError, abi: list[dict[str, Any]] | None) -> Outcome:
        """The outcome of a call that reverted, or that revm rejected before running it: both
        leave the state alone, so the block goes on as one-by-one sending would."""
        try:
            return Outcome(False, error=self._failure(exc, abi).reason)
        except TransactionRejected as rejected:
            return Outcome(False, error=str(rejected))

    def _exact_call(self, call: Call, abi: list[dict[str, Any]] | None, block_hash: bytes
                    ) -> Outcome:
        sender, to = _checksum(call.sender), _checksum(call.to)
        tx_hash = self._tx_hash(sender, self.nonce(sender), to, call.data, call.value)

        def run() -> None:
            self.evm.message_call(sender, to, call.data, value=call.value)
            self._bump_nonce(sender)

        try:
            self._atomic(run)
        except RuntimeError as exc:
            return self._refused(exc, abi)
        result = self.evm.result
        logs = self._logs_of(result, tx_hash, block_hash)
        receipt = self._receipt(tx_hash, sender, to, None, 1,
                                self._gas(int(result.gas_used), call.data), logs)
        self._store(receipt, call.value)
        return Outcome(True, receipt["gasUsed"], tuple(receipt["logs"]))

    def _receipt(self, tx_hash: bytes, sender: str, to: str | None, created: str | None,
                 status: int, gas_used: int, logs: list[Log]) -> Receipt:
        block_hash = self.block_hash(self._number)
        logs = [Log(lg.address, lg.topics, lg.data, lg.block_number, block_hash, lg.tx_hash,
                    lg.log_index) for lg in logs]
        return {"status": status, "gasUsed": gas_used, "effectiveGasPrice": 0,
                "blockNumber": self._number, "blockHash": block_hash,
                "transactionHash": tx_hash, "from": sender, "to": to,
                "contractAddress": created, "logs": logs}

    def _store(self, receipt: Receipt, value: int) -> None:
        self._receipts[receipt["transactionHash"]] = receipt
        self._order.append(receipt["transactionHash"])
        self._block_txs.setdefault(receipt["blockNumber"], []).append(BlockTx(
            receipt["transactionHash"], receipt["from"], receipt["to"], value))
        if self._keep_logs:
            for log in receipt["logs"]:
                self._logs.append(log)
                self._log_blocks.append(log.block_number)

    def raw_transact(self, to: str, data: bytes, sender: str | None = None, value: int = 0,
                     abi: list[dict[str, Any]] | None = None) -> Receipt:
        """Send calldata as is: the fast path for callers that encode their own."""
        return self._execute(self._sender(sender), _checksum(to), data, value, abi,
                             gas=None)

    def raw_call(self, to: str, data: bytes, sender: str | None = None,
                 abi: list[dict[str, Any]] | None = None) -> bytes:
        try:
            return bytes(self._peek(lambda: self.evm.message_call(
                self._sender(sender), _checksum(to), data, is_static=True)))
        except RuntimeError as exc:
            raise self._failure(exc, abi) from None

    def deploy(self, artifact: Artifact, *args: Any, sender: str | None = None,
               value: int = 0, journal: Journal | None = None) -> Contract:
        factory = self._w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        data = bytes.fromhex(factory.constructor(*args).data_in_transaction[2:])
        receipt = self._execute(self._sender(sender), None, data, value, artifact.abi,
                                gas=None)
        return self.at(artifact, receipt["contractAddress"], receipt)

    def at(self, artifact: Artifact, address: str, receipt: Receipt | None = None) -> Contract:
        return bind_contract(self._w3, artifact, address, receipt)

    def transact(self, fn: ContractFunction, sender: str | None = None, value: int = 0,
                 gas: int | None = None, journal: Journal | None = None) -> Receipt:
        data = bytes.fromhex(fn._encode_transaction_data()[2:])
        return self._execute(self._sender(sender), _checksum(fn.address), data, value,
                             fn.contract_abi, gas)

    def call(self, fn: ContractFunction, sender: str | None = None) -> Any:
        data = bytes.fromhex(fn._encode_transaction_data()[2:])
        out = self.raw_call(fn.address, data, sender, fn.contract_abi)
        values = checksummed(abi_decode(get_abi_output_types(fn.abi), out))
        return values[0] if len(values) == 1 else values

    def send_eth(self, to: str, value: int, sender: str | None = None) -> Receipt:
        return self._execute(self._sender(sender), _checksum(to), b"", value, None,
                             gas=None)

    def receipt(self, tx_hash: bytes) -> Receipt | None:
        return self._receipts.get(bytes(tx_hash))

    def wait(self, tx_hash: bytes) -> Receipt:
        found = self.receipt(tx_hash)
        if found is None:
            raise ChainError(f"unknown transaction 0x{bytes(tx_hash).hex()}")
        return found

    # -- logs -----------------------------------------------------------------------------------
    def get_logs(self, from_block: int, to_block: int, address: str | None = None,
                 topics: list[bytes | None] | None = None) -> list[Log]:
        lo = bisect.bisect_left(self._log_blocks, from_block)
        hi = bisect.bisect_right(self._log_blocks, to_block)
        want = _checksum(address) if address else None
        out = []
        for log in self._logs[lo:hi]:
            if want and log.address != want:
                continue
            if topics and any(t is not None and (i >= len(log.topics) or log.topics[i] != t)
                              for i, t in enumerate(topics)):
                continue
            out.append(log)
        return out

    def events(self, contract: Contract, from_block: int = 0, to_block: int | None = None,
               names: tuple[str, ...] = ()) -> list[Event]:
        end = self._number if to_block is None else to_block
        logs = self.get_logs(from_block, end, address=contract.address)
        return EventDecoder(contract.abi).decode_all(logs, names)

    # -- snapshots ------------------------------------------------------------------------------
    def snapshot(self) -> int:
        if not self._exact:
            raise ChainError("snapshots need a revm chain opened with exact_gas=True")
        self._saved.append(_Saved(len(self._undo), self._number, self._time, self._offset,
                                  len(self._order), len(self._logs)))
        self._snapshot_ids.append(self._next_snapshot_id)
        self._next_snapshot_id += 1
        return self._snapshot_ids[-1]

    def revert(self, snapshot_id: int) -> None:
        """Return to a snapshot; it and every later snapshot are used up, as on Hardhat."""
        if snapshot_id not in self._snapshot_ids:
            raise ChainError(f"unknown or used-up snapshot {snapshot_id}")
        at = self._snapshot_ids.index(snapshot_id)
        saved = self._saved[at]
        del self._saved[at:]
        del self._snapshot_ids[at:]
        for entry in reversed(self._undo[saved.undo:]):
            if entry[0] == "info":
                self.evm.insert_account_info(entry[1], entry[2])
            else:
                self._put_slot(entry[1], entry[2], entry[3])
        del self._undo[saved.undo:]
        for tx_hash in self._order[saved.receipts:]:
            self._block_txs.pop(self._receipts.pop(tx_hash)["blockNumber"], None)
        del self._order[saved.receipts:]
        for history in self._balances.values():
            while history and history[-1][0] > saved.number:
                history.pop()
        del self._logs[saved.logs:]
        del self._log_blocks[saved.logs:]
        self._set_block(saved.number, saved.time)
        self._offset = saved.offset

    def close(self) -> None:
        """Nothing to release: the state lives in this process and goes with it."""
