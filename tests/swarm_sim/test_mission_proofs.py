"""Mission proofs in Python: pymerkle is the oracle, the fast verifier must agree with it.

The property tests together generate well over 10,000 cases: every genuine proof verifies, and
every proof with one bit flipped in its leaf, a sibling, its index or the root is rejected by
both verifiers.
"""

from __future__ import annotations

import hashlib
import itertools
from functools import lru_cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymerkle import InmemoryTree, InvalidProof, verify_inclusion

from swarm_sim.mission.blueprint import (
    Blueprint,
    MissionError,
    MissionSpec,
    Operation,
    build,
    foraging_spec,
    leaf_data,
    leaf_hash,
    load_spec,
)
from swarm_sim.mission.proofs import (
    Proof,
    decode_proof,
    prove,
    rule_for,
    verify,
    verify_fast,
    verify_many,
    verify_reference,
)


def cases(n: int) -> settings:
    return settings(max_examples=n, deadline=None, suppress_health_check=[HealthCheck.too_slow])
COLOURS = ["red", "orange", "yellow", "green", "cyan", "blue", "violet", "black"]


@lru_cache(maxsize=2048)
def _mission(size: int, seed: int) -> tuple[MissionSpec, Blueprint, list[Proof]]:
    spec = MissionSpec("t", True, tuple(Operation(f"s{seed}:{i}", "a") for i in range(size)))
    built = build(spec, seed.to_bytes(8, "big"))
    bp = built.blueprint
    return spec, bp, [prove(built.step_secret(i), size, spec.operations[i - 1])
                      for i in range(1, size + 1)]


def _flip(value: bytes, bit: int) -> bytes:
    out = bytearray(value)
    out[(bit // 8) % len(out)] ^= 1 << (bit % 8)
    return bytes(out)


def _both(leaf: bytes, root: bytes, p: Proof, bp: Blueprint) -> tuple[bool, bool]:
    """(pymerkle, fast) verdicts on a proof given as its leaf hash and fields."""
    ref = Proof(p.index, p.size, p.rule, p.siblings, b"").to_pymerkle()
    ref.path[0] = leaf
    try:
        verify_inclusion(leaf, root, ref, size=bp.size, algorithm="keccak_256")
        reference = True
    except (InvalidProof, ValueError):
        reference = False
    return reference, verify_fast(leaf, root, p.index, p.size, p.rule, p.siblings)


@pytest.mark.slow
@cases(10_000)
@given(size=st.integers(1, 70), pick=st.integers(0, 10**6), seed=st.integers(0, 15),
       target=st.sampled_from(["leaf", "sibling", "index", "root"]), bit=st.integers(0, 255),
       index_bit=st.integers(0, 40))
def test_genuine_proofs_verify_and_every_flipped_bit_is_rejected(
        size: int, pick: int, seed: int, target: str, bit: int, index_bit: int) -> None:
    _, bp, proofs = _mission(size, seed)
    p = proofs[pick % size]
    assert verify_reference(p, bp) and verify(p, bp)

    leaf, root = p.leaf_hash, bp.root
    if target == "leaf":
        leaf = _flip(leaf, bit)
    elif target == "root":
        root = _flip(root, bit)
    elif target == "sibling" and p.siblings:
        i = bit % len(p.siblings)
        p = Proof(p.index, p.size, p.rule,
                  p.siblings[:i] + (_flip(p.siblings[i], bit),) + p.siblings[i + 1:], p.leaf)
    else:
        p = Proof(p.index ^ (1 << index_bit), p.size, p.rule, p.siblings, p.leaf)
    assert _both(leaf, root, p, bp) == (False, False)


@cases(300)
@given(size=st.integers(1, 70), seed=st.integers(0, 15),
       flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 63), st.integers(0, 255)),
                      max_size=12))
def test_batch_verifier_gives_pymerkles_verdict_on_every_proof_of_a_batch(
        size: int, seed: int, flips: list[tuple[int, int, int]]) -> None:
    """Genuine proofs and tampered copies of them in one batch (so they share the memo of
    node hashes): every verdict is pymerkle's."""
    _, bp, proofs = _mission(size, seed)
    batch = list(proofs)
    for pick, where, bit in flips:
        p = proofs[pick % size]
        if where < len(p.siblings):
            siblings = p.siblings[:where] + (_flip(p.siblings[where], bit),) \
                + p.siblings[where + 1:]
            batch.append(Proof(p.index, p.size, p.rule, siblings, p.leaf))
        else:
            batch.append(Proof(p.index, p.size, p.rule, p.siblings, _flip(p.leaf, bit)))
    batch += proofs
    got = verify_many([(p.leaf_hash, bp.root, p.index, p.size, p.rule, p.siblings)
                       for p in batch])
    assert got == [verify_reference(p, bp) for p in batch]
    assert got.count(True) == 2 * size


@cases(2_000)
@given(size=st.integers(1, 40), pick=st.integers(0, 10**6),
       index=st.integers(-2, 80), claimed_size=st.integers(-1, 80),
       rule=st.lists(st.integers(0, 1), max_size=9), cut=st.integers(0, 9))
def test_fast_verifier_agrees_with_pymerkle_on_malformed_proofs(
        size: int, pick: int, index: int, claimed_size: int, rule: list[int], cut: int) -> None:
    """Wrong index, size, rule or path length: the two verifiers give the same verdict."""
    _, bp, proofs = _mission(size, 7)
    p = proofs[pick % size]
    for forged in (Proof(index, p.size, p.rule, p.siblings, p.leaf),
                   Proof(p.index, claimed_size, p.rule, p.siblings, p.leaf),
                   Proof(p.index, p.size, tuple(rule), p.siblings, p.leaf),
                   Proof(p.index, p.size, p.rule[:cut + 1], p.siblings[:cut], p.leaf)):
        fast = forged.size == bp.size and verify_fast(
            forged.leaf_hash, bp.root, forged.index, forged.size, forged.rule, forged.siblings)
        assert fast == verify_reference(forged, bp)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 6, 7, 8, 9, 31, 33, 100])
def test_rule_bits_are_pymerkles_for_every_leaf(size: int) -> None:
    tree = InmemoryTree(algorithm="keccak_256")
    for i in range(size):
        tree.append_entry(i.to_bytes(4, "big"))
    for index in range(1, size + 1):
        assert rule_for(index, size) == tuple(tree.prove_inclusion(index).rule)


def test_the_tree_is_ethereum_keccak_with_rfc6962_prefixes() -> None:
    """Known vector: keccak256("") of Ethereum, not FIPS SHA3-256; leaves hash 0x00 || data."""
    from eth_utils import keccak

    assert leaf_hash(b"") == keccak(b"\x00")
    assert leaf_hash(b"") != hashlib.sha3_256(b"\x00").digest()
    spec = foraging_spec(COLOURS[:2])
    built = build(spec, b"m")
    left, right = (keccak(b"\x00" + built.leaf(i)) for i in (1, 2))
    assert built.blueprint.root == keccak(b"\x01" + left + right)


def test_wire_format_round_trips_and_rejects_truncation() -> None:
    _, bp, proofs = _mission(37, 3)
    for p in proofs:
        sender, q = decode_proof(p.encode(sender=513))
        assert sender == 513 and q == p and verify(q, bp)
    raw = proofs[5].encode()
    for cut in (1, 10, len(raw) - 1):
        with pytest.raises(MissionError):
            decode_proof(raw[:cut])
    with pytest.raises(MissionError):
        decode_proof(raw + b"\x00")


def test_salting_hides_the_missing_leaf_from_brute_force() -> None:
    """Root + every other leaf (salts included) + the whole input space: no candidate fits.
    The same search on an unsalted tree finds the leaf, so the search itself works."""
    actions = ["deliver", "skip", "hold", "drop"]
    space = [Operation(f"colour:{c}", a) for c, a in itertools.product(COLOURS, actions)]
    order = [1, 4, 6, 0, 7, 3, 5, 2]
    spec = foraging_spec([COLOURS[i] for i in order])
    built = build(spec)
    bp = built.blueprint
    missing = 5
    known = {i: built.leaf(i) for i in range(1, 9) if i != missing}

    def root_with(candidate: bytes, known_leaves: dict[int, bytes]) -> bytes:
        tree = InmemoryTree(algorithm="keccak_256")
        for i in range(1, 9):
            tree.append_entry(candidate if i == missing else known_leaves[i])
        return tree.get_root()

    salt_guesses = [b"", bytes(32), *(v[:32] for v in known.values())]
    salt_guesses += [i.to_bytes(32, "big") for i in range(256)]
    found = [op for op in space for salt in salt_guesses
             if root_with(leaf_data(salt, op), known) == bp.root]
    assert found == []

    unsalted = {i: leaf_data(b"", op) for i, op in enumerate(spec.operations, 1)}
    tree = InmemoryTree(algorithm="keccak_256")
    for i in range(1, 9):
        tree.append_entry(unsalted[i])
    naked_root = tree.get_root()
    hits = [op for op in space if root_with(leaf_data(b"", op), unsalted) == naked_root]
    assert hits == [spec.operations[missing - 1]]


def test_secrets_give_each_step_to_share_robots() -> None:
    built = build(foraging_spec(COLOURS), b"s")
    bundles = built.robot_secrets(robots=4, share=2)
    held = [sorted(s.index for s in b.steps) for b in bundles]
    assert all(len(h) == 4 for h in held)
    for index in range(1, 9):
        assert sum(index in h for h in held) == 2
    with pytest.raises(MissionError):
        built.robot_secrets(robots=4, share=5)


def test_spec_files_load_from_toml_and_json(tmp_path) -> None:
    toml = tmp_path / "m.toml"
    toml.write_text('name = "x"\nordered = false\n[[operations]]\nsensor = "cell:0,0"\n'
                    'action = "build"\n')
    spec = load_spec(toml)
    assert spec == MissionSpec("x", False, (Operation("cell:0,0", "build"),))
    js = tmp_path / "m.json"
    js.write_text('{"operations": [{"sensor": "a"}]}')
    with pytest.raises(MissionError, match="sensor"):
        load_spec(js)
    with pytest.raises(MissionError, match="no operations"):
        MissionSpec("x", True, ())
