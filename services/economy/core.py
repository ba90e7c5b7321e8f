"""The economy's context: chain, contracts, store, settings, the robot wallet; `sync()` and
`once()`, the two mechanisms every service builds on.

`sync()` follows the chain with the chain core's EventWatcher (confirmation depth, reorgs):
it stores the events of the economy's contracts, turns each block's wallet transactions and
the contracts' payments into ledger entries, and checks the sum against the balance the node
reports for the same block. A reorganised range is deleted and read again, so auctions, the
ledger and the orders (all derived from stored events) roll back and re-apply by themselves.

`once(key, …)` performs an economic action at most once across crashes: the intent is
written before the transaction is signed, the signed transaction (nonce, hash, bytes) before
it is broadcast. A rerun that finds an intent settles its journaled transaction first (mined:
done; its nonce taken by another: gone; else the same bytes again, never a new transaction)
and looks for the action's effect on chain (from the intent's block on) before it sends
anything again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from web3 import Web3
from web3.contract import Contract

from gaka.config import Settings
from services.chain.compiler import compile_project
from services.chain.deploy import deploy_command
from services.chain.errors import (
    ChainError,
    ContractReverted,
    RPCUnavailable,
    TransactionTimeout,
)
from services.chain.events import EventDecoder, EventWatcher
from services.chain.protocol import Chain, Journal, Receipt, SignedTx
from services.economy.errors import EconomyError
from services.economy.store import Action, Store, dumps_args
from services.ledger.entries import (
    OPENING,
    OTHER,
    Context,
    Entry,
    Roles,
    WalletTx,
    event_entries,
    tx_entries,
)

log = logging.getLogger(__name__)
CONTRACTS = ("PaintingNFT", "AuctionHouse", "SupplyShop", "InvestorPool")


@dataclass(frozen=True)
class Contracts:
    """The deployed contracts the economy uses, and the block to read from."""

    nft: Contract
    auction: Contract
    shop: Contract
    pool: Contract
    start_block: int
    deployer: str
    robot: str

    @property
    def roles(self) -> Roles:
        return Roles(self.auction.address, self.shop.address, self.pool.address)

    @property
    def followed(self) -> tuple[Contract, ...]:
        return (self.auction, self.shop, self.pool)


def load_contracts(chain: Chain, record: dict[str, Any]) -> Contracts:
    """Bind the contracts of a deployment record (`deployments/<network>.json`)."""
    artifacts = compile_project()
    try:
        entries = {name: record["contracts"][name] for name in CONTRACTS}
    except KeyError as exc:
        raise EconomyError(f"the deployment record lacks {exc.args[0]}: redeploy") from None
    for name, entry in entries.items():
        if not chain.get_code(entry["address"]):
            raise EconomyError(f"no {name} at {entry['address']} on {chain.network} "
                               "(chain reset?): run `gaka chain deploy` again")
    bound = {name: chain.at(artifacts[name], e["address"]) for name, e in entries.items()}
    start = min(int(e.get("block", 0)) for e in entries.values())
    return Contracts(bound["PaintingNFT"], bound["AuctionHouse"], bound["SupplyShop"],
                     bound["InvestorPool"], start, record["deployer"], record["robot"])


@dataclass(frozen=True)
class SyncReport:
    """What one `sync()` did."""

    from_block: int
    to_block: int
    events: int
    entries: int
    reorg: tuple[int, int] | None
    unattributed_wei: int


Hook = Callable[[str, str], None]


@dataclass
class Economy:
    """Everything the economy services need; build it with `open_economy`.

    `hook(point, key)` is called at `intent` (written, nothing sent yet) and at `sent` (the
    transaction was mined, its outcome not yet written); tests crash the robot there."""

    chain: Chain
    contracts: Contracts
    store: Store
    settings: Settings
    wallet: str
    sender: str | None = None
    hook: Hook | None = None
    _abi: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.wallet = Web3.to_checksum_address(self.wallet)
        seen: set[str] = set()
        for contract in self.contracts.followed:
            for item in contract.abi:
                if item.get("type") == "event" and item["name"] not in seen:
                    seen.add(item["name"])
                    self._abi.append(item)
        self._decoder = EventDecoder(self._abi)

    # -- reading the chain -------------------------------------------------------------------
    def call(self, fn: Any) -> Any:
        return self.chain.call(fn, sender=self.wallet)

    def chain_events(self, contract: Contract, names: tuple[str, ...],
                     from_block: int) -> list[dict[str, Any]]:
        """Events of `contract` from `from_block` to the head, read from the node (not the
        store), as store-shaped dicts; for finding an action's effect right after a crash."""
        head = self.chain.block_number()
        if from_block > head:
            return []
        logs = self.chain.get_logs(from_block, head, address=contract.address)
        times: dict[int, int] = {}
        out = []
        for e in self._decoder.decode_all(logs, names):
            number = e.log.block_number
            if number not in times:
                times[number] = self.chain.block(number).timestamp
            out.append({"block": number, "log_index": e.log.log_index,
                        "tx_hash": _hex(e.log.tx_hash), "name": e.name, "args": e.args,
                        "address": e.log.address, "time": times[number]})
        return out

    # -- following the chain ------------------------------------------------------------------
    def _watcher(self) -> EventWatcher:
        cursor = self.store.get_meta("cursor")
        # No address: every contract's logs; only the economy's are kept below.
        watcher = EventWatcher(self.chain, None, self._abi,
                               start_block=self.contracts.start_block,
                               confirmations=self.settings.confirmations,
                               max_blocks=self.settings.log_chunk_blocks)
        if cursor is not None:
            watcher._hashes = {int(k): bytes.fromhex(v) for k, v in cursor["hashes"].items()}
            watcher._next = int(cursor["next"])
        return watcher

    @property
    def synced_block(self) -> int:
        """The last block the store has read (the one before the first when none)."""
        cursor = self.store.get_meta("cursor")
        return (int(cursor["next"]) if cursor else self.contracts.start_block) - 1

    def _wallet_txs(self, number: int) -> tuple[int, list[WalletTx]]:
        block = self.chain.block(number)
        out = []
        for tx in block.transactions:
            if self.wallet not in (tx.sender, tx.to):
                continue
            receipt = self.chain.receipt(tx.tx_hash)
            if receipt is None:
                raise ChainError(f"no receipt for mined transaction {_hex(tx.tx_hash)}")
            names = tuple(e.name for e in self._decoder.decode_all(receipt["logs"]))
            out.append(WalletTx(_hex(tx.tx_hash), number, block.timestamp, tx.sender, tx.to,
                                tx.value,
                                int(receipt["gasUsed"]) * int(receipt["effectiveGasPrice"]),
                                receipt["status"] == 1, names))
        return block.timestamp, out

    def balance_at(self, block: int) -> int:
        return self.chain.balance(self.wallet, block)

    def sync(self) -> SyncReport:
        """Read every confirmed block not read yet (after rolling back a reorganised range),
        `log_chunk_blocks` at a time, each step committed with the cursor: a restart goes on
        from the last step, never from the deployment block."""
        steps = [self._sync_step()]
        while steps[-1][1]:
            steps.append(self._sync_step())
        reports = [report for report, _ in steps]
        return SyncReport(reports[0].from_block, reports[-1].to_block,
                          sum(r.events for r in reports), sum(r.entries for r in reports),
                          next((r.reorg for r in reports if r.reorg), None),
                          sum(r.unattributed_wei for r in reports))

    def _sync_step(self) -> tuple[SyncReport, bool]:
        """One poll of the watcher, stored in one transaction; True when more blocks wait."""
        watcher = self._watcher()
        first = watcher.next_block
        batch = watcher.poll()
        start = batch.reorg.from_block if batch.reorg else first
        followed = {c.address for c in self.contracts.followed}
        events = [e for e in batch.events if e.log.address in followed]
        times: dict[int, int] = {}
        txs: list[WalletTx] = []
        for number in range(start, batch.to_block + 1):
            times[number], found = self._wallet_txs(number)
            txs += found
        roles = self.contracts.roles
        payers = {Web3.to_checksum_address(p) for p in self.settings.ledger_royalty_payers}
        ctx = Context()
        for old in self.store.events():
            if old["block"] < start:
                event_entries(self.wallet, old, roles, ctx)
        rows = [{"block": e.log.block_number, "log_index": e.log.log_index,
                 "tx_hash": _hex(e.log.tx_hash), "address": e.log.address, "name": e.name,
                 "args": e.args, "time": times[e.log.block_number]} for e in events]
        new: list[Entry] = []
        for tx in txs:
            new += tx_entries(self.wallet, tx, roles, payers)
        for row in rows:
            new += event_entries(self.wallet, row, roles, ctx)
        new.sort(key=lambda e: e.block)
        # Before the cursor moves on: a crash in between checks again.
        self._recheck_actions(batch.reorg.from_block if batch.reorg else None, batch.to_block)
        with self.store.tx() as db:
            self.store.drop_from(db, start)
            before = sum(int(r[0]) for r in db.execute("SELECT amount FROM entries"))
            if start == self.contracts.start_block and batch.to_block >= start:
                opening = self.balance_at(start - 1) if start > 0 else 0
                new.insert(0, Entry(start, times.get(start, 0), "", OPENING, opening,
                                    f"balance before block {start}"))
            unattributed = 0
            if batch.to_block >= start:
                chain_balance = self.balance_at(batch.to_block)
                unattributed = chain_balance - before - sum(e.amount for e in new)
                if unattributed:
                    log.warning("wallet %s: %d wei moved without a known cause by block %d",
                                self.wallet, unattributed, batch.to_block)
                    new.append(Entry(batch.to_block, times[batch.to_block], "", OTHER,
                                     unattributed, "unattributed balance change"))
                db.execute("INSERT OR REPLACE INTO balances VALUES (?, ?, ?)",
                           (batch.to_block, times[batch.to_block], str(chain_balance)))
            db.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)",
                           [(r["block"], r["log_index"], r["tx_hash"], r["address"], r["name"],
                             dumps_args(r["args"]), r["time"]) for r in rows])
            db.executemany("INSERT INTO entries (block, time, tx_hash, category, amount, memo) "
                           "VALUES (?, ?, ?, ?, ?, ?)",
                           [(e.block, e.time, e.tx_hash, e.category, str(e.amount), e.memo)
                            for e in new])
            self.store.set_meta(db, "cursor", {
                "next": watcher.next_block,
                "hashes": {str(k): v.hex() for k, v in watcher._hashes.items()}})
        return SyncReport(start, batch.to_block, len(rows), len(new),
                          (batch.reorg.from_block, batch.reorg.to_block) if batch.reorg else None,
                          unattributed), batch.more

    def _recheck_actions(self, reorg_from: int | None, confirmed_to: int) -> None:
        """An action whose transaction left the chain, or failed there, is an intent again
        (looked for, then re-sent by the next call of its service). Checked: the actions not
        yet `confirmations` deep, which a shallower reorg can drop without the watcher seeing
        it, and after a reorg of read blocks those mined in or after its range."""
        if reorg_from is None:
            candidates = self.store.unconfirmed_actions()
        else:
            # An action's block is kept once it is confirmed; one without is not yet.
            candidates = [a for a in self.store.actions() if a.status == "done"
                          and a.detail.get("block", reorg_from) >= reorg_from]
        for action in candidates:
            if not action.tx_hash:
                continue
            receipt = self.chain.receipt(bytes.fromhex(action.tx_hash[2:]))
            if receipt is not None and receipt["status"] == 1:
                if action.detail.get("unconfirmed") and receipt["blockNumber"] <= confirmed_to:
                    self.store.put_action(replace(action, detail={
                        **_without(action.detail, "unconfirmed"),
                        "block": receipt["blockNumber"]}))
                continue
            if not self._gone(action, receipt, reorg_from is not None):
                log.warning("action %s: the node shows no receipt for %s, which is no proof "
                            "that it left the chain; checked again at the next sync",
                            action.key, action.tx_hash)
                continue
            log.warning("action %s: its transaction %s %s", action.key, action.tx_hash,
                        "failed" if receipt is not None else "left the chain in a reorg")
            since = action.intent_block if reorg_from is None else min(action.intent_block,
                                                                       reorg_from - 1)
            self.store.put_action(replace(action, status="intent", tx_hash=None,
                                          intent_block=since,
                                          detail=_without(action.detail, "unconfirmed")))

    def _gone(self, action: Action, receipt: Receipt | None, after_reorg: bool) -> bool:
        """Whether a done action's transaction did not happen after all. A missing receipt
        alone is no proof (a lagging or pruned node shows none for a mined transaction, and
        re-sending would pay twice): the robot's own journaled transaction must also have its
        nonce free again; one it only found on chain, a reorg the watcher saw."""
        if receipt is not None:
            return True  # mined and reverted: the action did not happen
        signed = action.detail.get("signed")
        if signed is not None and signed["tx_hash"] == action.tx_hash:
            return self.chain.nonce(signed["sender"]) <= signed["nonce"]
        return after_reorg

    # -- acting once ---------------------------------------------------------------------------
    def once(self, key: str, kind: str, send: Callable[[Journal], Receipt],
             find: Callable[[int, set[str]], str | None],
             detail: dict[str, Any] | None = None) -> Action:
        """Do an action at most once: `send(journal)` mines it, handing `journal` to the chain
        so the signed transaction is stored before broadcast; `find(from_block, claimed)`
        returns the hash of a transaction (not in `claimed`) that already did it, or None."""
        action = self.store.action(key)
        if action is not None and action.status == "done":
            return action
        if action is not None and action.status == "intent":
            resumed = self.resume(action, find)
            if resumed is not None:
                return resumed
        intent = Action(key, kind, "intent", self.chain.block_number(), None, detail or {})
        self.store.put_action(intent)
        if self.hook is not None:
            self.hook("intent", key)

        def journal(signed: SignedTx) -> None:
            self.store.put_action(replace(intent, detail={**intent.detail,
                                                          "signed": asdict(signed)}))

        try:
            receipt = send(journal)
        except ContractReverted as exc:
            self.store.put_action(replace(intent, status="failed",
                                          detail={**intent.detail, "error": exc.reason}))
            raise EconomyError(f"{kind} {key} reverted: {exc.reason}") from None
        if self.hook is not None:
            self.hook("sent", key)
        return self._done(self.store.action(key) or intent, _hex(receipt["transactionHash"]))

    def resume(self, action: Action, find: Callable[[int, set[str]], str | None]
               ) -> Action | None:
        """Settle an intent left by a crash or a timeout: the action, done, if its journaled
        transaction (or another found by `find`) did it; None when it is safe to send anew.
        While the journaled nonce is unmined the same bytes are broadcast again and waited
        for (TransactionTimeout if they stay pending): a new transaction could pay twice."""
        signed = action.detail.get("signed")
        if signed is not None:
            pending = SignedTx(**signed)
            mined = self.chain.nonce(pending.sender)  # before the receipt: see a late mining
            receipt = self.chain.receipt(bytes.fromhex(pending.tx_hash[2:]))
            if receipt is None and mined <= pending.nonce:
                receipt = self._rebroadcast(pending)
            if receipt is not None and receipt["status"] == 1:
                log.info("action %s: its journaled transaction %s was mined", action.key,
                         pending.tx_hash)
                return self._done(action, pending.tx_hash)
        # Its own journaled transaction is not another action's: a node that showed no
        # receipt for it a moment ago may show its events now.
        own = {h for h in (action.tx_hash, signed and signed["tx_hash"]) if h}
        found = find(action.intent_block + 1, self.store.claimed_tx_hashes() - own)
        if found is not None:
            log.info("action %s: already on chain in %s", action.key, found)
            return self._done(action, found)
        return None

    def _rebroadcast(self, pending: SignedTx) -> Receipt | None:
        """The receipt of a journaled transaction whose nonce is still free, sent again;
        None once its nonce went to another transaction."""
        resend = getattr(self.chain, "resend", None)
        if resend is None:
            raise EconomyError(f"transaction {pending.tx_hash} may still be pending, and the "
                               f"{self.chain.network} chain cannot resend it; wait for it")
        try:
            return resend(pending)
        except (RPCUnavailable, TransactionTimeout):
            raise
        except ChainError as exc:
            if self.chain.nonce(pending.sender) > pending.nonce:
                return self.chain.receipt(bytes.fromhex(pending.tx_hash[2:]))
            raise EconomyError(f"journaled transaction {pending.tx_hash} (nonce "
                               f"{pending.nonce}) is neither mined nor accepted again: {exc}"
                               ) from None

    def _done(self, action: Action, tx_hash: str) -> Action:
        done = replace(action, status="done", tx_hash=tx_hash,
                       detail={**action.detail, "unconfirmed": True})
        self.store.put_action(done)
        return done

    def transact(self, fn: Any, value: int = 0, journal: Journal | None = None) -> Receipt:
        return self.chain.transact(fn, sender=self.sender or self.wallet, value=value,
                                   journal=journal)


def _without(detail: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in detail.items() if k != key}


def _hex(value: Any) -> str:
    return "0x" + bytes(value).hex().removeprefix("0x")


def read_record(settings: Settings, target_name: str) -> dict[str, Any]:
    """The deployment record of a network, or a clear error."""
    path = settings.deployments_dir / f"{target_name}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        raise EconomyError(f"no deployment record {path}: run {deploy_command(target_name)} "
                           "first") from None


def store_path(settings: Settings, chain: Chain, wallet: str, auction: str) -> Path:
    """Where the economy state of `wallet` on this chain and deployment (named by its auction
    house) lives, under the data dir."""
    name = f"{chain.network}-{chain.chain_id}-{wallet}-{auction[:10]}.sqlite"
    return settings.data_dir / "economy" / name


def view_path(settings: Settings, chain: Chain, wallet: str, contracts: Contracts) -> Path:
    """Where a reader other than the robot (the CLI) keeps what it has read of the chain, so
    its next run reads on from there. Named also by the deployment block's hash: a fresh dev
    chain with the same addresses gets a fresh view."""
    start = chain.block_hash(contracts.start_block).hex()[:8]
    name = (f"{chain.network}-{chain.chain_id}-{wallet}-{contracts.auction.address[:10]}-"
            f"{start}.sqlite")
    return settings.data_dir / "economy" / "views" / name


def open_economy(chain: Chain, record: dict[str, Any], settings: Settings,
                 store: Store | None = None, wallet: str | None = None,
                 hook: Hook | None = None, view: bool = False) -> Economy:
    """The economy of `wallet` (default: the deployment's robot) on `chain`, over `store`
    (default: the robot's store of that wallet, or with `view` a reader's own)."""
    contracts = load_contracts(chain, record)
    wallet = wallet or contracts.robot
    if not Web3.is_address(wallet):
        raise EconomyError(f"{wallet!r} is not an Ethereum address (0x and 40 hex digits)")
    wallet = Web3.to_checksum_address(wallet)
    if store is None and view:
        store = Store(view_path(settings, chain, wallet, contracts))
    elif store is None:
        store = Store(store_path(settings, chain, wallet, contracts.auction.address))
    meta = {"chain_id": chain.chain_id, "wallet": wallet, "auction": contracts.auction.address}
    known = store.get_meta("identity")
    if known is None:
        with store.tx() as db:
            store.set_meta(db, "identity", meta)
    elif known != meta:
        raise EconomyError(f"economy state in this store belongs to {known}, not {meta}")
    return Economy(chain, contracts, store, settings, wallet, hook=hook)
