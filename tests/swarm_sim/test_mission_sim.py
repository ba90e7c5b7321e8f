"""Proof exchange and simulated missions, with Byzantine robots and the ground truth."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from services.chain.backends import ChainSpec, open_chain
from swarm_sim.errors import SwarmError
from swarm_sim.mission import exchange
from swarm_sim.mission.blueprint import MissionSpec, Operation, build, foraging_spec
from swarm_sim.mission.exchange import Knowledge, Verdict
from swarm_sim.mission.experiments import MissionSweep, markdown_table, run_sweep, summarise
from swarm_sim.mission.proofs import Proof, prove
from swarm_sim.mission.sim import ATTACKS, COLOURS, MissionScenario, run_mission


def _proofs(master: bytes, ordered: bool = True) -> tuple[Knowledge, list[Proof]]:
    spec = foraging_spec(list(COLOURS))
    if not ordered:
        spec = MissionSpec("u", False, spec.operations)
    built = build(spec, master)
    return Knowledge(built.blueprint), [prove(built.step_secret(i), 8, spec.operations[i - 1])
                                        for i in range(1, 9)]


def test_query_proof_verify_accept_or_reject() -> None:
    alice, proofs = _proofs(b"m")
    bob = Knowledge(alice.blueprint)
    for p in proofs[:3]:
        assert alice.judge(p) is Verdict.ACCEPTED
    query = bob.query(7)
    assert len(query) == 7  # type, sender, last completed
    answers = alice.answer(query, me=2, limit=8)
    assert len(answers) == 3
    # header of 21 bytes (type, sender, index, size, rule bits, leaf length), the leaf
    # (32-byte salt + operation), the sibling count and 3 siblings of 32 bytes
    assert len(answers[0]) == 21 + len(proofs[0].leaf) + 1 + 3 * 32
    assert [bob.receive(m)[0] for m in answers] == [Verdict.ACCEPTED] * 3
    assert bob.receive(answers[0])[0] is Verdict.REPLAYED
    assert bob.receive(proofs[5].encode())[0] is Verdict.OUT_OF_ORDER
    _, foreign = _proofs(b"other mission")
    assert bob.receive(foreign[3].encode())[0] is Verdict.INVALID
    forged = Proof(4, 8, proofs[3].rule, proofs[3].siblings, proofs[2].leaf)
    assert bob.receive(forged.encode())[0] is Verdict.INVALID
    assert bob.receive(answers[0][:-1])[0] is Verdict.MALFORMED
    assert bob.receive(proofs[3].encode())[0] is Verdict.ACCEPTED and bob.last == 4


def test_unordered_queries_carry_a_bitmap() -> None:
    alice, proofs = _proofs(b"u", ordered=False)
    bob = Knowledge(alice.blueprint)
    for i in (6, 2, 8):
        assert alice.judge(proofs[i - 1]) is Verdict.ACCEPTED
    assert bob.judge(proofs[7]) is Verdict.ACCEPTED
    answers = alice.answer(bob.query(1), me=0)
    assert [bob.receive(m)[1].index for m in answers] == [2, 6]
    assert sorted(bob.proofs) == [2, 6, 8]


@pytest.mark.parametrize("seed", [1, 2])
def test_foraging_with_forgers_completes_in_order_and_accepts_no_forgery(seed: int) -> None:
    r = run_mission(MissionScenario(robots=6, byzantine=3), seed)
    assert r.success and r.steps_done == 8 and r.order_violations == 0
    assert r.forged_accepted == 0
    assert set(r.attacks_rejected) == set(ATTACKS)
    assert r.verdicts["invalid"] > 0 and r.verdicts["out-of-order"] > 0
    assert r.proof_bytes > 0 and r.query_bytes > 0


def test_a_verifier_that_accepts_anything_is_caught_by_the_ground_truth(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The metric is not vacuous: break verification and forged steps get accepted."""
    monkeypatch.setattr(exchange, "verify", lambda proof, blueprint: True)
    r = run_mission(MissionScenario(robots=6, byzantine=3), 1)
    assert r.forged_accepted > 0 and not r.success


def test_runs_are_reproducible_from_their_seed() -> None:
    s = MissionScenario(robots=4, byzantine=1, max_time_s=300)
    assert asdict(run_mission(s, 9)) == asdict(run_mission(s, 9))


def test_maze_formation_builds_every_secret_wall() -> None:
    r = run_mission(MissionScenario(task="maze", robots=8, byzantine=2), 4)
    assert r.success and r.steps_done == r.steps == 10 and r.forged_accepted == 0


def test_on_chain_registry_records_honest_steps_and_refuses_byzantine_claims() -> None:
    chain = open_chain(ChainSpec(network="revm"))
    r = run_mission(MissionScenario(robots=5, byzantine=2), 3, chain)
    assert r.success and r.chain_completions == 8
    assert r.chain_rejected > 0 and r.chain_forged_accepted == 0


def test_bad_scenarios_are_refused() -> None:
    with pytest.raises(SwarmError, match="honest"):
        MissionScenario(robots=2, byzantine=2)
    with pytest.raises(SwarmError, match="task"):
        MissionScenario(task="dance")  # type: ignore[arg-type]


def test_sweep_table_has_one_row_per_cell() -> None:
    sweep = MissionSweep(base=MissionScenario(max_time_s=600), robots=(1, 4),
                         byzantine_shares=(0.0, 0.5), seeds=2)
    assert sweep.cells() == [(1, 0), (4, 0), (4, 2)]
    summary = summarise(run_sweep(sweep, workers=1))
    assert list(summary["robots"]) == [1, 4, 4] and (summary["runs"] == 2).all()
    assert (summary["forged_accepted"] == 0).all()
    assert markdown_table(summary).count("\n") == 5


def test_operations_round_trip_through_specs() -> None:
    spec = MissionSpec("x", True, (Operation("a", "b"),))
    assert MissionSpec.from_dict(spec.to_dict()) == spec
