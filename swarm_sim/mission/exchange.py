"""Proof exchange between robots in range: query → proofs → verify → accept or reject.

A robot broadcasts a query saying what it knows (the last completed step of an ordered mission,
a bitmap of completed steps otherwise); a neighbour that knows more answers with proof messages,
which the querier checks in arrival order. Only a proof that decodes, is not known yet, is the
next step of an ordered mission and verifies against the robot's own root is accepted: forged
proofs, replays, out-of-order proofs and proofs built for another root are all rejected.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import StrEnum

from swarm_sim.mission.blueprint import Blueprint, MissionError
from swarm_sim.mission.proofs import MSG_QUERY, Proof, decode_proof, verify

_QUERY_HEAD = struct.Struct(">BHI")  # type, sender, last completed (ordered) or known count


class Verdict(StrEnum):
    ACCEPTED = "accepted"
    REPLAYED = "replayed"  # a step this robot already knows
    OUT_OF_ORDER = "out-of-order"  # an ordered mission's step other than last + 1
    INVALID = "invalid"  # does not hash up to this robot's root: forged or another mission's
    MALFORMED = "malformed"  # not a proof message


@dataclass
class Knowledge:
    """What one robot holds as verified: the completed steps and the proofs that showed them."""

    blueprint: Blueprint
    proofs: dict[int, Proof] = field(default_factory=dict)

    @property
    def last(self) -> int:
        """Last completed step of an ordered mission (steps are learnt only in order)."""
        return len(self.proofs)

    def knows(self, index: int) -> bool:
        return index in self.proofs

    def judge(self, proof: Proof) -> Verdict:
        """Verdict on a decoded proof, cheapest checks first; accepted proofs are recorded."""
        if proof.index in self.proofs:
            return Verdict.REPLAYED
        if self.blueprint.ordered and proof.index != self.last + 1:
            return Verdict.OUT_OF_ORDER
        if not verify(proof, self.blueprint):
            return Verdict.INVALID
        self.proofs[proof.index] = proof
        return Verdict.ACCEPTED

    def receive(self, message: bytes) -> tuple[Verdict, Proof | None]:
        """Judge one proof message from the wire."""
        try:
            _, proof = decode_proof(message)
        except MissionError:
            return Verdict.MALFORMED, None
        return self.judge(proof), proof

    def query(self, sender: int) -> bytes:
        """What this robot broadcasts to ask its neighbours for news."""
        if self.blueprint.ordered:
            return _QUERY_HEAD.pack(MSG_QUERY, sender, self.last)
        bitmap = bytearray((self.blueprint.size + 7) // 8)
        for index in self.proofs:
            bitmap[(index - 1) // 8] |= 1 << ((index - 1) % 8)
        return _QUERY_HEAD.pack(MSG_QUERY, sender, len(self.proofs)) + bytes(bitmap)

    def known_by(self, query: bytes) -> tuple[int, set[int]]:
        """(sender, steps the querier knows) from its query; MissionError if malformed."""
        if len(query) < _QUERY_HEAD.size:
            raise MissionError("truncated query")
        kind, sender, count = _QUERY_HEAD.unpack_from(query)
        bitmap = query[_QUERY_HEAD.size:]
        if kind != MSG_QUERY:
            raise MissionError(f"not a query (type {kind})")
        if self.blueprint.ordered:
            if bitmap:
                raise MissionError("malformed query")
            return sender, set(range(1, count + 1))
        if len(bitmap) != (self.blueprint.size + 7) // 8:
            raise MissionError("malformed query")
        known = {i + 1 for i in range(self.blueprint.size) if bitmap[i // 8] >> (i % 8) & 1}
        return sender, known

    def answer(self, query: bytes, me: int, limit: int = 4) -> list[bytes]:
        """Proof messages for up to `limit` steps the querier lacks, in index order."""
        _, known = self.known_by(query)
        missing = sorted(set(self.proofs) - known)[:limit]
        return [self.proofs[i].encode(me) for i in missing]
