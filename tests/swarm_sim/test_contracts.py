"""The consensus contracts on a real EVM: flagging liars, Sybil resistance, backend parity."""

from __future__ import annotations

import numpy as np
import pytest

from services.chain.abi import calldata
from services.chain.errors import ContractReverted
from swarm_sim.config import ByzantineSpec, LedgerSpec, Scenario, Timing
from swarm_sim.errors import SwarmError
from swarm_sim.ledger import DecisionLedger, EstimateLedger, open_backend
from swarm_sim.rng import run_seed
from swarm_sim.simulation import simulate
from tests.swarm_sim.helpers import same

FLAGGED = 255
NONE = np.empty(0, dtype=np.int64)


def _ids(*robots: int) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(len(robots), dtype=np.int64), np.array(robots, dtype=np.int64)


def _votes(robots: list[int], opinions: list[int]):
    swarm, robot = _ids(*robots)
    return swarm, robot, np.array(opinions, dtype=np.uint8), np.full(len(robots), 30000)


def _no_decisions():
    return NONE, NONE, NONE


def test_contract_flags_and_then_ignores_a_robot_that_lies_about_its_rules_outcome() -> None:
    ledger = DecisionLedger(open_backend("revm"), "dmvd", stable_depth=2, freshness=50,
                            contingent=50)
    # Robots 0-3 hold black, robot 9 registers white.
    ledger.register([12345], *_ids(0, 1, 2, 3, 9), np.array([1, 1, 1, 1, 0], dtype=np.uint8))
    ledger.step(_no_decisions(), _votes([0, 1, 2, 3], [1, 1, 1, 1]))  # only black in the pool
    ledger.step(_no_decisions(), _votes([], []))
    # Two blocks later that block is stable: the voter model can only answer black.
    swarm, robot = _ids(9)
    assert ledger.step((swarm, robot, np.array([1000])), _votes([], [])).tolist() == [1]
    before = ledger.counters()
    # Robot 9 keeps announcing white although the contract told it black: flagged.
    ledger.step(_no_decisions(), _votes([9, 0], [0, 1]))
    after = ledger.counters()
    assert ledger.opinions(swarm, robot).tolist() == [FLAGGED]
    assert after["flagged"] == before["flagged"] + 1
    assert after["accepted"] == before["accepted"] + 1  # robot 0's honest vote
    # From now on it is ignored: its votes are not counted, even when they would agree.
    ledger.step(_no_decisions(), _votes([9], [1]))
    assert ledger.counters()["accepted"] == after["accepted"]
    assert ledger.step((swarm, robot, np.array([1000])), _votes([], [])).tolist() == [FLAGGED]
    # An honest robot announcing what the contract computed is never flagged.
    assert ledger.opinions(*_ids(0)).tolist() == [1]


def test_stale_and_unregistered_votes_are_rejected_without_flagging() -> None:
    ledger = DecisionLedger(open_backend("revm"), "dmmd", stable_depth=1, freshness=2, contingent=5)
    ledger.register([1], *_ids(0), np.array([1], dtype=np.uint8))
    for _ in range(3):
        ledger.step(_no_decisions(), _votes([], []))
    ledger.step(_no_decisions(), _votes([0, 7], [1, 1]))  # robot 0: stale; robot 7: unknown
    assert ledger.counters() == {"accepted": 0, "rejected": 2, "flagged": 0}
    assert ledger.opinions(*_ids(0)).tolist() == [1]


def test_sybil_identities_cannot_outvote_deposits() -> None:
    stake, bond, budget = 10**15, 40 * 10**15, 40 * 10**15
    ledger = EstimateLedger(open_backend("revm"), stake, bond, round_size=10, swarms=1)
    honest = np.arange(10)
    sybils = np.arange(100, 150)  # one attacker, fifty identities
    ledger.deposit(np.zeros(10, dtype=np.int64), honest, np.full(10, bond + budget))
    # The attacker owns as much as ten honest robots together, split over its identities.
    ledger.deposit(np.zeros(50, dtype=np.int64), sybils, np.full(50, 10 * (bond + budget) // 50))
    rng = np.random.default_rng(1)
    for _ in range(30):
        truth = np.clip(rng.normal(0.34, 0.02, 10), 0, 1)
        everyone = np.concatenate([honest, sybils])
        values = np.concatenate([truth, np.ones(50)])
        ledger.step(np.zeros(everyone.size, dtype=np.int64), everyone, values)
    mean, rounds = ledger.means()
    assert rounds[0] >= 20
    assert mean[0] == pytest.approx(0.34, abs=0.03)
    # None of the fifty identities could lock a bond, so none of their votes counted.
    assert all(ledger.balance(0, int(s)) == 10 * (bond + budget) // 50 for s in sybils)
    assert ledger.counters()["rejected"] >= 50 * 30


def test_no_ether_stays_locked_and_only_the_operator_moves_it() -> None:
    stake, bond = 10**15, 4 * 10**15
    backend = open_backend("revm")
    ledger = EstimateLedger(backend, stake, bond, round_size=4, swarms=1)
    ids = np.arange(6)
    ledger.deposit(np.zeros(6, dtype=np.int64), ids, np.full(6, bond + 8 * stake))
    for _ in range(4):
        ledger.step(np.zeros(6, dtype=np.int64), ids, np.linspace(0.2, 0.5, 6))
    outsider = "0x" + "ab" * 20
    data = calldata(ledger.contract.abi, "step", [b""])
    with pytest.raises(ContractReverted):
        backend.raw_transact(ledger.contract.address, data, sender=outsider)
    receiver = "0x" + "cd" * 20
    for robot in ids:
        ledger.withdraw(0, int(robot), receiver)
    assert backend.balance(receiver) == 6 * (bond + 8 * stake)
    assert backend.balance(ledger.contract.address) == 0


def test_the_same_attacker_with_real_deposits_does_move_the_mean() -> None:
    """Control for the Sybil test: it is the deposits, not the identities, that matter."""
    stake, bond, budget = 10**15, 40 * 10**15, 40 * 10**15
    ledger = EstimateLedger(open_backend("revm"), stake, bond, round_size=10, swarms=1)
    honest, rich = np.arange(3), np.arange(100, 110)
    ids = np.concatenate([honest, rich])
    ledger.deposit(np.zeros(13, dtype=np.int64), ids, np.full(13, bond + budget))
    for _ in range(20):
        ledger.step(np.zeros(13, dtype=np.int64), ids,
                    np.concatenate([np.full(3, 0.34), np.ones(10)]))
    assert ledger.means()[0][0] > 0.9


def test_a_bad_batch_is_a_clear_error() -> None:
    ledger = DecisionLedger(open_backend("revm"), "dmmd", 6, 10, 10)
    with pytest.raises(SwarmError, match="step failed"):
        ledger.contract.transact("step", [b"\x00" * 3, b""])


# Short phases so that robots vote, decide and get flagged within 20 blocks.
PARITY = Scenario(robots=12, strategy="blockchain", max_time_s=20,
                  byzantine=ByzantineSpec(count=3),
                  timing=Timing(explore_mean_s=1.5, dissemination_g_s=1.5,
                                dissemination_min_ticks=5, listen_ticks=5),
                  ledger=LedgerSpec(block_ticks=10, stable_depth=2))


def test_revm_and_the_embedded_chain_run_the_same_bytecode_to_the_same_decisions() -> None:
    seed = run_seed(99, 0)
    fast = simulate(PARITY, seed)
    chain = open_backend("embedded")
    try:
        slow = simulate(PARITY, seed, backend=chain)
    finally:
        chain.close()
    assert fast.accepted_votes > 0 and fast.rejected_votes > 0  # votes were judged
    assert same(fast, slow)


@pytest.mark.hardhat
def test_a_hardhat_node_over_json_rpc_reaches_the_same_decisions(hardhat_node: str) -> None:
    from services.chain.backends import ChainSpec, open_chain

    seed = run_seed(99, 1)
    chain = open_chain(ChainSpec(network="localhost", rpc_url=hardhat_node))
    assert same(simulate(PARITY, seed), simulate(PARITY, seed, backend=chain))
