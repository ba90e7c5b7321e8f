"""Inclusion proofs of mission steps: wire format, pymerkle's verifier and a fast one.

A proof carries the leaf data (beneficiary || salt || operation) rather than only its hash:
accepting it shows that the sender knew the salted step, which an outsider cannot guess.
pymerkle is the reference verifier; `verify_fast` walks the same RFC 6962 tree bottom-up (RFC
9162, 2.1.3.2), derives each sibling's side from the index and size, and insists that the
proof's rule bits say the same, so it accepts exactly what pymerkle accepts (the tests check
this side by side).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from hmac import compare_digest
from typing import Any

from pymerkle import InclusionProof, InvalidProof, MerkleProof, verify_inclusion

from swarm_sim.mission.blueprint import (
    ALGORITHM,
    Blueprint,
    MissionError,
    Operation,
    StepSecret,
    keccak_256,
    leaf_data,
    leaf_hash,
)

MSG_QUERY, MSG_PROOF = 1, 2
MAX_DEPTH = 63  # rule bits travel as one u64; trees of < 2^32 leaves need 33 of them
_PROOF_HEAD = struct.Struct(">BHIIQH")  # type, sender, index, size, rule bits, leaf length
_DIGEST = 32
_NODE = b"\x01"
_KECCAK = keccak_256()
_MEMO_LIMIT = 1 << 16  # node hashes one verify_many call keeps (about 17 MB at most)


@dataclass(frozen=True)
class Proof:
    """Step `index` (from 1) of a `size`-leaf tree: leaf data, pymerkle rule, sibling path."""

    index: int
    size: int
    rule: tuple[int, ...]
    siblings: tuple[bytes, ...]
    leaf: bytes

    @property
    def leaf_hash(self) -> bytes:
        return leaf_hash(self.leaf)

    @property
    def rule_bits(self) -> int:
        """The rule as an integer, bit i = rule[i] (what the contract takes)."""
        return sum((b & 1) << i for i, b in enumerate(self.rule))

    def to_pymerkle(self) -> InclusionProof:
        return InclusionProof(ALGORITHM, True, self.size, self.index, list(self.rule),
                              [self.leaf_hash, *self.siblings])

    def to_dict(self) -> dict[str, Any]:
        """pymerkle's JSON serialisation of the proof, plus the leaf data in hex."""
        return {"leaf": self.leaf.hex(), "proof": self.to_pymerkle().serialize()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Proof:
        try:
            ref = MerkleProof.deserialize(data["proof"])
            leaf = bytes.fromhex(data["leaf"])
        except (InvalidProof, KeyError, TypeError, ValueError) as exc:
            raise MissionError(f"not a mission proof ({exc})") from None
        if not isinstance(ref, InclusionProof) or not ref.path:
            raise MissionError("not an inclusion proof")
        if ref.path[0] != leaf_hash(leaf):
            raise MissionError("the proof's leaf hash does not match its leaf data")
        return cls(ref.index, ref.size, tuple(ref.rule), tuple(ref.path[1:]), leaf)

    def encode(self, sender: int = 0) -> bytes:
        """Wire bytes: type, sender, index, size, rule bits, leaf, sibling count, siblings."""
        if len(self.siblings) > MAX_DEPTH or len(self.rule) != len(self.siblings) + 1 or any(
                b not in (0, 1) for b in self.rule):
            raise MissionError("cannot encode a proof with a malformed rule or path")
        return (_PROOF_HEAD.pack(MSG_PROOF, sender, self.index, self.size, self.rule_bits,
                                 len(self.leaf)) + self.leaf + bytes([len(self.siblings)])
                + b"".join(self.siblings))


def decode_proof(message: bytes) -> tuple[int, Proof]:
    """(sender, proof) from wire bytes; MissionError if truncated, padded or not a proof."""
    if len(message) < _PROOF_HEAD.size + 1:
        raise MissionError("truncated proof message")
    kind, sender, index, size, bits, n_leaf = _PROOF_HEAD.unpack_from(message)
    if kind != MSG_PROOF:
        raise MissionError(f"not a proof message (type {kind})")
    at = _PROOF_HEAD.size + n_leaf
    if len(message) < at + 1:
        raise MissionError("truncated proof message")
    leaf, depth = message[_PROOF_HEAD.size:at], message[at]
    if depth > MAX_DEPTH or len(message) != at + 1 + depth * _DIGEST or bits >> (depth + 1):
        raise MissionError("malformed proof message")
    siblings = tuple(message[at + 1 + i * _DIGEST: at + 1 + (i + 1) * _DIGEST]
                     for i in range(depth))
    rule = tuple((bits >> i) & 1 for i in range(depth + 1))
    return sender, Proof(index, size, rule, siblings, bytes(leaf))


def prove(step: StepSecret, size: int, operation: Operation) -> Proof:
    """The proof a robot holding `step` sends once it has sensed `operation`."""
    return Proof(step.index, size, step.rule, step.siblings,
                 leaf_data(step.salt, operation, step.beneficiary))


def verify_reference(proof: Proof, blueprint: Blueprint) -> bool:
    """pymerkle's verdict on the proof against the blueprint's root and size."""
    try:
        verify_inclusion(proof.leaf_hash, blueprint.root, proof.to_pymerkle(),
                         size=blueprint.size, algorithm=ALGORITHM, security=True)
    except (InvalidProof, ValueError):
        return False
    return True


@lru_cache(maxsize=1 << 16)
def rule_for(index: int, size: int) -> tuple[int, ...]:
    """pymerkle's rule for leaf `index` of a `size`-leaf tree, walked bottom-up as in
    RFC 9162 2.1.3.2: bit i is 1 when the i-th sibling lies on the left."""
    fn, sn, bits = index - 1, size - 1, []
    while sn:
        if fn & 1 or fn == sn:
            bits.append(1)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            bits.append(0)
        fn >>= 1
        sn >>= 1
    bits.append(0)
    return tuple(bits)


def _checked_rule(index: int, size: int, rule: tuple[int, ...], siblings: tuple[bytes, ...],
                  base: bytes) -> bool:
    """The proof's shape is the one pymerkle requires for leaf `index` of `size` leaves."""
    if not (type(index) is int and type(size) is int and 0 < index <= size < (1 << 64)):
        return False
    if type(rule) is not tuple:
        rule = tuple(rule)
    return (rule_for(index, size) == rule and len(siblings) + 1 == len(rule)
            and len(base) == _DIGEST)


def verify_fast(base: bytes, root: bytes, index: int, size: int, rule: tuple[int, ...],
                siblings: tuple[bytes, ...]) -> bool:
    """True iff pymerkle would accept the inclusion proof (rule, [base, *siblings]) of leaf
    `index` in a `size`-leaf keccak-256 tree with root `root`."""
    if not _checked_rule(index, size, rule, siblings, base):
        return False
    k, node, r = _KECCAK, _NODE, base
    # zip stops before the last rule bit, which pairs with no sibling
    for bit, sibling in zip(rule, siblings, strict=False):
        if len(sibling) != _DIGEST:
            return False
        r = k(node + sibling + r if bit else node + r + sibling).digest()
    return compare_digest(r, root)


def verify_many(proofs: Iterable[tuple[bytes, bytes, int, int, tuple[int, ...],
                                       tuple[bytes, ...]]]) -> list[bool]:
    """verify_fast's verdict on each (base, root, index, size, rule, siblings), hashing each
    distinct node of the batch once: proofs of one tree share their upper levels (a robot
    that checks every proof it heard in a tick), so most levels become a dictionary lookup.
    The memo maps a hash input to its digest, so a hit returns exactly what hashing would."""
    k, node, memo, out = _KECCAK, _NODE, {}, []
    get = memo.get
    for base, root, index, size, rule, siblings in proofs:
        if not _checked_rule(index, size, rule, siblings, base):
            out.append(False)
            continue
        r = base
        for bit, sibling in zip(rule, siblings, strict=False):
            if len(sibling) != _DIGEST:
                r = b""
                break
            pair = node + sibling + r if bit else node + r + sibling
            h = get(pair)
            if h is None:
                if len(memo) >= _MEMO_LIMIT:
                    memo.clear()
                h = memo[pair] = k(pair).digest()
            r = h
        out.append(len(r) == _DIGEST and compare_digest(r, root))
    return out


def verify(proof: Proof, blueprint: Blueprint) -> bool:
    """The hot-path check: the fast verifier on the proof's own leaf hash."""
    return proof.size == blueprint.size and verify_fast(
        proof.leaf_hash, blueprint.root, proof.index, proof.size, proof.rule, proof.siblings)
