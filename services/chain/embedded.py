"""An in-process py-evm chain whose state lives in one sqlite file and survives kill -9."""

from __future__ import annotations

import fcntl
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from eth.abc import AtomicWriteBatchAPI
from eth.chains.base import MiningChain
from eth.db.atomic import AtomicDBWriteBatch
from eth.db.backends.base import BaseAtomicDB, BaseDB
from eth.db.chain import ChainDB
from eth.exceptions import CanonicalHeadNotFound, TransactionNotFound
from eth.vm.forks import PragueVM
from eth_tester.backends.pyevm.main import (
    PyEVMBackend,
    generate_genesis_state_for_keys,
    get_default_account_keys,
    get_default_genesis_params,
)
from eth_tester.backends.pyevm.serializers import (
    serialize_transaction,
    serialize_transaction_receipt,
)
from eth_tester.exceptions import TransactionNotFound as TesterTransactionNotFound
from eth_utils import to_dict

from services.chain.errors import ChainError

# web3.EthereumTesterProvider answers eth_chainId with this fixed value.
EMBEDDED_CHAIN_ID = 131277322940537
DEV_ACCOUNTS = 10


class _SqliteKV(BaseDB):
    """Plain key-value view of the sqlite table (writes join any open transaction)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __getitem__(self, key: bytes) -> bytes:
        row = self._conn.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        return row[0]

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._conn.execute("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", (key, value))

    def __delitem__(self, key: bytes) -> None:
        if self._conn.execute("DELETE FROM kv WHERE k = ?", (key,)).rowcount == 0:
            raise KeyError(key)

    def _exists(self, key: bytes) -> bool:
        return self._conn.execute("SELECT 1 FROM kv WHERE k = ?", (key,)).fetchone() is not None


class SqliteAtomicDB(BaseAtomicDB):
    """py-evm's atomic DB over sqlite: each atomic batch is one sqlite transaction."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # sqlite's own locks do not stop a second chain process from forking history.
        self._lock = path.with_suffix(".lock").open("w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise ChainError(f"embedded chain {path} is in use by another process") from None
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL)")
        self._kv = _SqliteKV(self._conn)
        self._depth = 0

    def __getitem__(self, key: bytes) -> bytes:
        return self._kv[key]

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._kv[key] = value

    def __delitem__(self, key: bytes) -> None:
        del self._kv[key]

    def _exists(self, key: bytes) -> bool:
        return key in self._kv

    @contextmanager
    def atomic_batch(self) -> Iterator[AtomicWriteBatchAPI]:
        outermost = self._depth == 0
        if outermost:
            self._conn.execute("BEGIN IMMEDIATE")
        self._depth += 1
        try:
            with AtomicDBWriteBatch._commit_unless_raises(self._kv) as batch:
                yield batch
        except BaseException:
            if outermost:
                self._conn.execute("ROLLBACK")
            raise
        else:
            if outermost:
                self._conn.execute("COMMIT")
        finally:
            self._depth -= 1

    def close(self) -> None:
        self._conn.close()
        fcntl.flock(self._lock, fcntl.LOCK_UN)
        self._lock.close()


class _EmbeddedChain(MiningChain):
    chain_id = EMBEDDED_CHAIN_ID
    vm_configuration = ((0, PragueVM),)

    def create_header_from_parent(self, parent_header: Any, **header_params: Any) -> Any:
        # Keep the gas limit constant, as eth-tester's chain does.
        header_params["gas_limit"] = parent_header.gas_limit
        return super().create_header_from_parent(parent_header, **header_params)

    def get_transaction_builder(self) -> Any:
        return super().get_vm().get_transaction_builder()


class PersistentPyEVMBackend(PyEVMBackend):
    """eth-tester's py-evm backend, reopened from disk instead of rebuilt at genesis."""

    def __init__(self, db_path: Path) -> None:
        self._db_path = db_path
        self._db: SqliteAtomicDB | None = None
        super().__init__()

    def reset_to_genesis(self, *args: Any, **kwargs: Any) -> None:
        if self._db is None:
            self._db = SqliteAtomicDB(self._db_path)
        self.account_keys = get_default_account_keys(quantity=DEV_ACCOUNTS)
        try:
            ChainDB(self._db).get_canonical_head()
        except CanonicalHeadNotFound:
            # Only a new database gets a genesis: its timestamp differs at every start.
            self.chain = _EmbeddedChain.from_genesis(
                self._db,
                get_default_genesis_params(),
                generate_genesis_state_for_keys(self.account_keys),
            )
        else:
            self.chain = _EmbeddedChain(self._db)

    def _locate(self, transaction_hash: bytes) -> tuple[Any, Any, int] | None:
        # eth-tester scans blocks backwards; the chain's own index is O(1).
        try:
            number, index = self.chain.chaindb.get_transaction_index(transaction_hash)
        except TransactionNotFound:
            return None
        # The index (and the number -> block map above the head) outlive a reverted snapshot:
        # trust them only if the canonical chain still holds the transaction there.
        if number > self.chain.get_canonical_head().block_number:
            return None
        block = self.chain.get_canonical_block_by_number(number)
        if index >= len(block.transactions) or block.transactions[index].hash != transaction_hash:
            return None
        return block, block.transactions[index], index

    @to_dict
    def _serialized(self, found: tuple[Any, Any, int], receipt: bool) -> Iterator[Any]:
        block, transaction, index = found
        if receipt:
            yield from serialize_transaction_receipt(
                block, block.get_receipts(self.chain.chaindb), transaction, index,
                False, self.chain.get_vm(),
            ).items()
        else:
            yield from serialize_transaction(block, transaction, index, False).items()

    def get_transaction_by_hash(self, transaction_hash: bytes) -> Any:
        found = self._locate(transaction_hash)
        if found is None:
            # eth-tester's fallback scans every block backwards: an unknown hash costs O(chain).
            raise TesterTransactionNotFound(f"transaction 0x{transaction_hash.hex()} not found")
        return self._serialized(found, receipt=False)

    def get_transaction_receipt(self, transaction_hash: bytes) -> Any:
        found = self._locate(transaction_hash)
        if found is None:
            raise TesterTransactionNotFound(f"transaction 0x{transaction_hash.hex()} not found")
        return self._serialized(found, receipt=True)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
