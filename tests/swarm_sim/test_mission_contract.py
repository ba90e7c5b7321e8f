"""MissionRegistry on a real EVM: the contract must hash exactly as pymerkle does.

pymerkle is the oracle for every generated proof (10,000 hypothesis cases on revm); the
completion, reward and reclaim rules run on revm and, once, on the embedded py-evm chain.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymerkle import InvalidProof, verify_inclusion

from services.chain.backends import ChainSpec, open_chain
from services.chain.errors import ContractReverted
from services.chain.protocol import Chain
from swarm_sim.mission.blueprint import BuiltMission, MissionSpec, Operation, build, foraging_spec
from swarm_sim.mission.proofs import Proof, prove
from swarm_sim.mission.registry import MissionRegistry, refused

COLOURS = ["red", "orange", "yellow", "green", "cyan", "blue", "violet", "black"]
REWARD = 10**15


@pytest.fixture(scope="module")
def chain() -> Iterator[Chain]:
    chain = open_chain(ChainSpec(network="revm"))
    yield chain
    chain.close()


@pytest.fixture(scope="module")
def registry(chain: Chain) -> MissionRegistry:
    return MissionRegistry.deploy(chain)


@lru_cache(maxsize=512)
def _tree(size: int, seed: int) -> BuiltMission:
    return build(MissionSpec("t", True, tuple(Operation(f"{seed}:{i}", "a")
                                              for i in range(size))), seed.to_bytes(4, "big"))


def _proof(built: BuiltMission, index: int) -> Proof:
    return prove(built.step_secret(index), built.tree.get_size(),
                 built.spec.operations[index - 1])


def _pymerkle(leaf: bytes, root: bytes, p: Proof) -> bool:
    ref = p.to_pymerkle()
    ref.path[0] = leaf
    try:
        verify_inclusion(leaf, root, ref, algorithm="keccak_256")
    except (InvalidProof, ValueError):
        return False
    return True


def _flip(value: bytes, bit: int) -> bytes:
    out = bytearray(value)
    out[(bit // 8) % 32] ^= 1 << (bit % 8)
    return bytes(out)


@pytest.mark.slow
@settings(max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck))
@given(size=st.integers(1, 70), seed=st.integers(0, 7), pick=st.integers(0, 10**6),
       target=st.sampled_from(["leaf", "sibling", "index", "root", "rule"]),
       bit=st.integers(0, 255))
def test_contract_accepts_genuine_and_rejects_every_flipped_bit(
        registry: MissionRegistry, size: int, seed: int, pick: int, target: str,
        bit: int) -> None:
    built = _tree(size, seed)
    root, p = built.tree.get_root(), _proof(built, pick % size + 1)
    leaf, index, rule, siblings = p.leaf_hash, p.index, p.rule_bits, list(p.siblings)
    assert registry.verify_proof(root, size, index, leaf, rule, siblings)

    if target == "leaf":
        leaf = _flip(leaf, bit)
    elif target == "root":
        root = _flip(root, bit)
    elif target == "sibling" and siblings:
        siblings[bit % len(siblings)] = _flip(siblings[bit % len(siblings)], bit)
    elif target == "rule":
        rule ^= 1 << (bit % (len(siblings) + 1))
    else:
        index ^= 1 << bit
    assert not registry.verify_proof(root, size, index, leaf, rule, siblings)
    tampered = Proof(index, size, tuple((rule >> i) & 1 for i in range(len(siblings) + 1)),
                     tuple(siblings), b"")
    assert not _pymerkle(leaf, root, tampered)


def _wallets(*accounts: str) -> list[bytes]:
    return [bytes.fromhex(a[2:]) for a in accounts]


def _ordered(chain: Chain, registry: MissionRegistry, deadline_s: int = 1000
             ) -> tuple[int, BuiltMission]:
    """Foraging with odd steps bound to account 3, even steps to account 4."""
    built = build(foraging_spec(COLOURS), b"ordered", _wallets(*chain.accounts[3:5]))
    mission = registry.create(built.blueprint, REWARD, chain.now() + deadline_s)
    return mission, built


def _fails(call, error: str) -> None:
    with pytest.raises(ContractReverted) as exc:
        call()
    assert refused(exc.value) == error


def test_ordered_mission_accepts_steps_in_order_and_pays_by_pull(
        chain: Chain, registry: MissionRegistry) -> None:
    mission, built = _ordered(chain, registry)
    robot, other = chain.accounts[3], chain.accounts[4]
    proofs = [_proof(built, i) for i in range(1, 9)]
    _fails(lambda: registry.complete(mission, proofs[1], robot), "OutOfOrder")
    registry.complete(mission, proofs[0], robot)
    _fails(lambda: registry.complete(mission, proofs[0], other), "OutOfOrder")  # replay
    forged = Proof(2, 8, proofs[1].rule, proofs[1].siblings,
                   _wallets(other)[0] + b"\x00" * 32 + b"guess")
    _fails(lambda: registry.complete(mission, forged, other), "InvalidProof")
    foreign = _proof(build(foraging_spec(COLOURS), b"another mission", _wallets(robot, other)), 2)
    _fails(lambda: registry.complete(mission, foreign, other), "InvalidProof")
    for p in proofs[1:]:
        registry.complete(mission, p, robot if p.index % 2 else other)
    state = registry.mission(mission)
    assert (state.completed, state.escrow) == (8, 0)
    assert registry.is_completed(mission, 8) and not registry.is_completed(mission, 9)
    assert registry.owed(robot) == 4 * REWARD and registry.owed(other) == 4 * REWARD

    before = chain.balance(robot)
    registry.withdraw(robot)  # revm charges no gas, so the balance moves by the reward exactly
    assert chain.balance(robot) - before == 4 * REWARD and registry.owed(robot) == 0
    _fails(lambda: registry.withdraw(robot), "NothingToWithdraw")


def test_unordered_mission_takes_any_order_once(chain: Chain,
                                                registry: MissionRegistry) -> None:
    spec = MissionSpec("maze", False, tuple(Operation(f"cell:{i}", "build") for i in range(5)))
    built = build(spec, b"maze", _wallets(chain.accounts[5]))
    mission = registry.create(built.blueprint, REWARD, chain.now() + 1000)
    for index in (4, 1, 5):
        registry.complete(mission, _proof(built, index), chain.accounts[5])
    _fails(lambda: registry.complete(mission, _proof(built, 4), chain.accounts[6]),
           "AlreadyCompleted")
    assert [registry.is_completed(mission, i) for i in range(1, 6)] == [
        True, False, False, True, True]
    assert registry.mission(mission).escrow == 2 * REWARD


def test_owner_reclaims_the_rest_only_after_the_deadline(
        chain: Chain, registry: MissionRegistry) -> None:
    owner = chain.accounts[0]
    mission, built = _ordered(chain, registry, deadline_s=100)
    registry.complete(mission, _proof(built, 1), chain.accounts[3])
    _fails(lambda: registry.reclaim(mission, owner), "DeadlineNotReached")
    chain.increase_time(200)
    _fails(lambda: registry.complete(mission, _proof(built, 2), chain.accounts[7]),
           "MissionClosed")
    _fails(lambda: registry.reclaim(mission, chain.accounts[7]), "NotOwner")
    before = chain.balance(owner)
    registry.reclaim(mission, owner)
    assert chain.balance(owner) - before == 7 * REWARD
    assert registry.mission(mission).escrow == 0


def test_funding_must_match_the_rewards(chain: Chain, registry: MissionRegistry) -> None:
    built = build(foraging_spec(COLOURS), b"f")
    fn = "createMission"
    args = [built.blueprint.root, 8, True, REWARD, chain.now() + 100]
    data = registry._data(fn, args)
    with pytest.raises(ContractReverted, match="WrongFunding"):
        chain.raw_transact(registry.address, data, value=REWARD, abi=registry.abi)
    with pytest.raises(ContractReverted, match="DeadlinePassed"):
        registry.create(built.blueprint, 0, chain.now())


def test_the_embedded_chain_runs_the_same_rules(tmp_path) -> None:
    chain = open_chain(ChainSpec(network="embedded", data_dir=tmp_path))
    try:
        registry = MissionRegistry.deploy(chain)
        mission, built = _ordered(chain, registry)
        p1, p2 = _proof(built, 1), _proof(built, 2)
        assert registry.verify_step(mission, p1)
        assert not registry.verify_step(mission, Proof(2, 8, p1.rule, p1.siblings, p1.leaf))
        _fails(lambda: registry.complete(mission, p2, chain.accounts[4]), "OutOfOrder")
        _fails(lambda: registry.complete(mission, p1, chain.accounts[4]), "NotBeneficiary")
        receipt = registry.complete(mission, p1, chain.accounts[3])
        assert receipt["status"] == 1 and registry.owed(chain.accounts[3]) == REWARD
    finally:
        chain.close()


def test_a_copied_proof_earns_the_copier_nothing(chain: Chain,
                                                 registry: MissionRegistry) -> None:
    """A proof copied from the mempool or a peer, or rebuilt by the owner (who holds every leaf),
    is refused: only the wallet bound into the step's leaf may claim its reward."""
    owner, robot, thief = chain.accounts[0], chain.accounts[8], chain.accounts[9]
    built = build(foraging_spec(COLOURS), b"bound", [bytes.fromhex(robot[2:])])
    mission = registry.create(built.blueprint, REWARD, chain.now() + 1000, owner)
    proof = _proof(built, 1)
    for copier in (thief, owner):
        _fails(lambda c=copier: registry.complete(mission, proof, c), "NotBeneficiary")
    registry.complete(mission, proof, robot)
    assert registry.owed(robot) == REWARD
    assert registry.owed(thief) == registry.owed(owner) == 0
