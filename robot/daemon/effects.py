"""Side effects exactly once: journal before, send, journal after; find lost ones by nonce.

A transaction's fate is unknown when the daemon dies between recording an effect and
recording its receipt (or when a flaky RPC swallows the answer). The journal then holds the
sender's nonce and the block height from before the send. On the next attempt:

- the sender's mined nonce is past the recorded one: the transaction with that nonce was
  mined (every robot transaction goes through one lock, so that nonce is ours); it is found
  by scanning the blocks since, and its receipt is journaled as if nothing had happened;
- the nonce is still free and nothing is pending: it never reached the chain, so it is
  sent again (the caller's probe first checks the chain for the effect itself);
- a transaction is pending with that nonce: wait, never send a second one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from eth_utils import to_checksum_address

from robot.daemon.journal import Journal
from services.chain.errors import ChainError, ContractReverted
from services.chain.protocol import Chain, Receipt

log = logging.getLogger(__name__)

# What to journal with the receipt (None when the probe found the effect already there).
OnDone = Callable[[Receipt | None], dict[str, Any]]


class EffectPending(ChainError):
    """A transaction of this effect is in the mempool; try again later."""


def hex_hash(value: Any) -> str:
    return "0x" + bytes(value).hex().removeprefix("0x")


def find_by_nonce(chain: Chain, sender: str, nonce: int, from_block: int,
                  to: str | None = None) -> Receipt | None:
    """The receipt of `sender`'s transaction with `nonce`, mined at or after `from_block`;
    None when that nonce went to a transaction to another address than `to`."""
    w3 = getattr(chain, "w3", None)
    if w3 is None:
        raise ChainError(f"cannot search transactions on a {chain.network} chain")
    sender = to_checksum_address(sender)
    for number in range(max(0, from_block), chain.block_number() + 1):
        block = w3.eth.get_block(number, full_transactions=True)
        for tx in block["transactions"]:
            if to_checksum_address(tx["from"]) == sender and int(tx["nonce"]) == nonce:
                if to is not None and to_checksum_address(tx["to"] or "0x" + "0" * 40) != \
                        to_checksum_address(to):
                    return None
                return chain.receipt(bytes(tx["hash"]))
    return None


class TxRunner:
    """Runs the robot's transactions as journaled effects, one at a time."""

    def __init__(self, journal: Journal, chain: Chain, sender: str,
                 lock: threading.RLock) -> None:
        self.journal = journal
        self.chain = chain
        self.sender = sender
        self.lock = lock

    def run(self, key: str, kind: str, cycle_id: int | None, to: str,
            send: Callable[[], Receipt | None], on_done: OnDone) -> dict[str, Any]:
        """Perform effect `key` once: `send` probes the chain and sends (or returns None
        when the effect is already there) to contract `to`; `on_done` gives what to
        journal with it.
        Returns the journaled result."""
        done = self.journal.effect(key)
        if done is not None and done.status == "done":
            return done.result or {}
        with self.lock:
            rec = self.journal.effect(key)
            if rec is not None and rec.status == "done":
                return rec.result or {}
            if rec is not None and rec.status == "started":
                receipt = self._recover(rec, to)
                if receipt is not None:
                    log.info("effect %s: found its transaction by nonce %d", key, rec.nonce)
                    return self._finish(key, receipt, on_done)
            # A reverted attempt (status "reverted") paid its gas and is tried again.
            self.journal.begin_effect(key, kind, cycle_id, self.sender,
                                      self.chain.nonce(self.sender), self.chain.block_number())
            try:
                receipt = send()
            except ContractReverted as exc:
                if exc.tx_hash is None:
                    raise
                # Mined and reverted: the gas is spent and must reach the ledger.
                mined = self.chain.receipt(bytes.fromhex(exc.tx_hash.removeprefix("0x")))
                if mined is not None:
                    self._finish(key, mined, on_done)
                raise
            return self._finish(key, receipt, on_done)

    def _recover(self, rec: Any, to: str) -> Receipt | None:
        if rec.nonce < 0:
            return None  # known never to have been mined
        mined_nonce = self.chain.nonce(rec.sender)
        if mined_nonce > rec.nonce:
            # None: another transaction took the nonce, so this one was never sent.
            return find_by_nonce(self.chain, rec.sender, rec.nonce, rec.from_block, to)
        if self.chain.pending_nonce(rec.sender) > rec.nonce:
            raise EffectPending(f"effect {rec.key}: transaction with nonce {rec.nonce} pending")
        return None

    def _finish(self, key: str, receipt: Receipt | None, on_done: OnDone) -> dict[str, Any]:
        result = on_done(receipt)
        if receipt is not None:
            result = {**result, "tx_hash": hex_hash(receipt["transactionHash"]),
                      "block": int(receipt["blockNumber"]), "status": int(receipt["status"])}
        status = "done" if receipt is None or receipt["status"] == 1 else "reverted"
        self.journal.finish_effect(key, status, result.get("tx_hash"), result)
        return result
