"""Decoding logs against an ABI, and a watcher that follows events with reorg detection."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak

from services.chain.abi import abi_types, checksummed
from services.chain.protocol import Chain, Event, Log


def event_topic(item: dict[str, Any]) -> bytes:
    """topic0 of an event ABI entry."""
    return keccak(text=f"{item['name']}({','.join(abi_types(item['inputs']))})")


class EventDecoder:
    """Decodes the logs of one ABI's events (anonymous events are not used here)."""

    def __init__(self, abi: list[dict[str, Any]]) -> None:
        self._by_topic = {event_topic(item): item for item in abi
                          if item.get("type") == "event" and not item.get("anonymous")}

    def topic(self, name: str) -> bytes:
        for topic, item in self._by_topic.items():
            if item["name"] == name:
                return topic
        raise KeyError(f"the ABI has no event {name}")

    def decode(self, log: Log) -> Event | None:
        """The decoded event, or None when the log is not one of this ABI's events."""
        if not log.topics or log.topics[0] not in self._by_topic:
            return None
        item = self._by_topic[log.topics[0]]
        indexed = [i for i in item["inputs"] if i.get("indexed")]
        plain = [i for i in item["inputs"] if not i.get("indexed")]
        args: dict[str, Any] = {}
        for inp, topic in zip(indexed, log.topics[1:], strict=False):
            kind = abi_types([inp])[0]
            dynamic = kind in ("string", "bytes") or kind.endswith("]") or kind.startswith("(")
            # Indexed dynamic values are stored as their hash only.
            args[inp["name"]] = topic if dynamic else abi_decode([kind], topic)[0]
        values = abi_decode(abi_types(plain), log.data) if plain else ()
        args.update({inp["name"]: v for inp, v in zip(plain, values, strict=True)})
        return Event(item["name"], {k: checksummed(v) for k, v in args.items()}, log)

    def decode_all(self, logs: Iterable[Log], names: tuple[str, ...] = ()) -> list[Event]:
        out = []
        for log in logs:
            event = self.decode(log)
            if event is not None and (not names or event.name in names):
                out.append(event)
        return out


@dataclass(frozen=True)
class Reorg:
    """Blocks from `from_block` to `to_block` (inclusive) were replaced on chain."""

    from_block: int
    to_block: int


@dataclass
class Batch:
    """What one poll found: a reorg to roll back first (if any), then new events in order;
    `more` when confirmed blocks beyond `to_block` are left for the next poll."""

    reorg: Reorg | None
    events: list[Event]
    to_block: int
    more: bool = False


@dataclass
class EventWatcher:
    """Follows a contract's (or every contract's) events, `confirmations` blocks behind the head.

    It remembers the hash of every block it has processed (a bounded window); when one of them
    changes, the range from the first changed block is reported as a reorg and fetched again,
    so a consumer rolls back what it derived from that range and re-applies the new events.
    One poll reads at most `max_blocks` blocks (None: all), so a consumer that persists
    `next_block` after each poll keeps its progress through a long history.
    """

    chain: Chain
    address: str | None  # None: every contract's logs (decoded with one merged ABI)
    abi: list[dict[str, Any]]
    start_block: int = 0
    confirmations: int = 0
    window: int = 64
    max_blocks: int | None = None
    _hashes: dict[int, bytes] = field(default_factory=dict)
    _next: int | None = None

    def __post_init__(self) -> None:
        self._decoder = EventDecoder(self.abi)
        if self._next is None:
            self._next = self.start_block

    @property
    def next_block(self) -> int:
        """The first block the next poll will read (persist it to resume after a restart)."""
        return int(self._next or 0)

    def _first_changed(self) -> int | None:
        # Compare newest to oldest: a reorg replaces a suffix of the chain.
        first = None
        head = self.chain.block_number()
        for number in sorted(self._hashes, reverse=True):
            if number > head or self.chain.block_hash(number) != self._hashes[number]:
                first = number
            else:
                break
        return first

    def poll(self) -> Batch:
        """Check the remembered blocks, then read every confirmed block not yet read."""
        reorg = None
        changed = self._first_changed()
        if changed is not None:
            last = max(self._hashes)
            reorg = Reorg(changed, last)
            for number in [n for n in self._hashes if n >= changed]:
                del self._hashes[number]
            self._next = changed
        confirmed = self.chain.block_number() - self.confirmations
        start = self.next_block
        if confirmed < start:
            return Batch(reorg, [], start - 1)
        head = confirmed if self.max_blocks is None else min(confirmed,
                                                             start + self.max_blocks - 1)
        hashes = {n: self.chain.block_hash(n)
                  for n in range(max(start, head - self.window + 1), head + 1)}
        logs = self.chain.get_logs(start, head, address=self.address)
        # A reorg between reading the hashes and the logs would pair old hashes with new logs
        # (or the reverse): then read nothing now and let the next poll see the new chain.
        if any(log.block_number in hashes and log.block_hash != hashes[log.block_number]
               for log in logs) or self.chain.block_hash(head) != hashes[head]:
            return Batch(reorg, [], start - 1)
        events = self._decoder.decode_all(logs)
        self._hashes.update(hashes)
        for number in [n for n in self._hashes if n <= head - self.window]:
            del self._hashes[number]
        self._next = head + 1
        return Batch(reorg, events, head, head < confirmed)


def receipt_events(abi: list[dict[str, Any]], receipt: dict[str, Any],
                   names: tuple[str, ...] = ()) -> list[Event]:
    """The events of one ABI that a transaction emitted, in log order."""
    return EventDecoder(abi).decode_all(receipt["logs"], names)
