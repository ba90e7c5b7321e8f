"""The token-economy contracts on a real EVM, each attack next to the same attack on the first
contracts (SwarmDecision, SwarmEstimate), where it succeeds."""

from __future__ import annotations

import numpy as np
import pytest
from eth_abi import encode
from eth_utils import keccak, to_checksum_address

from services.chain.backends import ChainSpec, open_chain
from services.chain.errors import ContractReverted
from services.chain.events import EventDecoder
from swarm_sim.ledger import (
    DecisionLedger,
    EstimateLedger,
    Robots,
    TokenDecisionLedger,
    TokenEstimateLedger,
    open_backend,
)

FLAGGED = 255
STAKE, BOND = 10**12, 20 * 10**12
DEPOSIT = 100 * STAKE
NONE = np.empty(0, dtype=np.int64)


def _token_decision(chain, robots: int, audit: float = 0.0, audits: int = 1,
                    first: list[int] | None = None, rule: str = "dmvd"
                    ) -> tuple[TokenDecisionLedger, Robots]:
    ledger = TokenDecisionLedger(chain, rule, stable_depth=2, reveal_delay=2, freshness=50,
                                 contingent=50, unanimity=4, audit=audit, audits=audits,
                                 bond_wei=BOND, stake_wei=STAKE)
    team = Robots(chain, Robots.keys(b"test", robots))
    team.fund([BOND + DEPOSIT] * robots)
    ledger.open(1)
    first = first if first is not None else [i % 2 for i in range(robots)]
    for address, colour in zip(team.addresses, first, strict=True):
        data = ledger.contract.data("register", [0, colour])
        assert ledger.contract.send(address, data, value=BOND + DEPOSIT) is not None
    return ledger, team


def _heights(ledger: TokenDecisionLedger, team: Robots, n: int) -> None:
    """Advance n heights, resolving whatever came due."""
    for _ in range(n):
        ledger.tick()
        ledger.resolve(team.addresses)


def _old_decision(rule: str = "dmvd") -> DecisionLedger:
    return DecisionLedger(open_backend("revm"), rule, stable_depth=2, freshness=50,
                          contingent=50)


def _ids(*robots: int) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(len(robots), dtype=np.int64), np.array(robots, dtype=np.int64)


def _votes(robots: list[int], opinions: list[int], quality: int = 30000):
    swarm, robot = _ids(*robots)
    return swarm, robot, np.array(opinions, dtype=np.uint8), np.full(len(robots), quality)


# ---- framing an honest robot -----------------------------------------------------------------

def test_old_contract_lets_anyone_frame_an_honest_robot() -> None:
    ledger = _old_decision()
    ledger.register([7], *_ids(0), np.array([0], dtype=np.uint8))
    # Anybody may send a batch; a vote "from robot 0" with the wrong colour flags it for good.
    ledger.step((NONE, NONE, NONE), _votes([0], [1]))
    assert ledger.opinions(*_ids(0)).tolist() == [FLAGGED]


def test_nobody_can_vote_or_ask_in_another_robots_name() -> None:
    chain = open_backend("revm")
    ledger, team = _token_decision(chain, 3)
    _heights(ledger, team, 3)
    honest, liar = team.addresses[0], team.addresses[1]
    outsider = "0x" + "ab" * 20
    # An outsider's transactions are refused outright; a registered liar only hurts itself.
    assert not ledger.vote(outsider, 1) and not ledger.request(outsider)
    assert ledger.vote(liar, 0)  # robot 1 holds black: voting white flags it, nobody else
    assert ledger.opinions([honest, liar]).tolist() == [0 | 0 << 1, FLAGGED]
    assert ledger.vote(honest, 0)
    assert ledger.tokens(honest) == (DEPOSIT - STAKE, STAKE, BOND)


# ---- unbonded Sybil identities -------------------------------------------------------------

def test_old_contract_registers_unlimited_free_identities() -> None:
    ledger = _old_decision()
    many = np.arange(500)
    ledger.register([1], np.zeros(500, dtype=np.int64), many, np.ones(500, dtype=np.uint8))
    ledger.step((NONE, NONE, NONE), _votes(list(range(500)), [1] * 500))
    assert ledger.counters()["accepted"] == 500
    assert ledger.contract.chain.balance(ledger.contract.address) == 0


def test_every_identity_pays_a_bond_and_unregistered_ones_cannot_vote() -> None:
    chain = open_backend("revm")
    ledger, team = _token_decision(chain, 2)
    sybils = Robots(chain, Robots.keys(b"sybil", 5))
    sybils.fund([BOND + DEPOSIT] * 5)
    for address in sybils.addresses:
        cheap = ledger.contract.data("register", [0, 1])
        assert ledger.contract.send(address, cheap, value=BOND) is None  # no stake: refused
        assert not ledger.vote(address, 1)
    _heights(ledger, team, 3)
    assert [ledger.tokens(a)[2] for a in sybils.addresses] == [0] * 5
    assert chain.balance(ledger.contract.address) == 2 * (BOND + DEPOSIT)


# ---- grinding the draw -----------------------------------------------------------------------

def _old_draw(seed: int, robot: int, height: int, pool: int) -> int:
    """What SwarmDecision will answer, computable by anyone before asking."""
    rnd = int.from_bytes(keccak(encode(["bytes32", "uint256", "uint64"],
                                       [seed.to_bytes(32, "big"), robot, height])), "big")
    return rnd % pool


def test_old_contract_draw_is_known_before_asking() -> None:
    ledger = _old_decision()
    seed = 99
    ledger.register([seed], *_ids(0, 1, 2, 3, 9), np.array([1, 1, 0, 0, 0], dtype=np.uint8))
    pool = _votes([0, 1, 2, 3], [1, 1, 0, 0])  # every height: black, black, white, white
    grinds = 0
    for height in range(1, 30):
        # Robot 9 asks only at heights where its draw (pool index 0 or 1) is sure to be black.
        if height >= 3 and _old_draw(seed, 9, height, 4) < 2:
            out = ledger.step((*_ids(9), np.array([1000])), pool)
            assert out.tolist() == [1]
            grinds += 1
        else:
            ledger.step((NONE, NONE, NONE), pool)
    assert grinds > 5  # every grind paid off


def test_draw_depends_on_a_block_that_does_not_exist_when_asking() -> None:
    """Same request, same contract state: two futures that differ only in one unrelated
    transaction before the seed height give different answers (embedded py-evm: real block
    hashes), so nothing known at request time fixes the outcome."""
    chain = open_backend("embedded")
    try:
        robots = 12
        ledger, team = _token_decision(chain, robots, first=[1] * 6 + [0] * 6)
        _heights(ledger, team, 3)
        for address in team.addresses:  # height 3: six black votes, six white
            assert ledger.vote(address, int(ledger.opinions([address])[0] & 1))
        _heights(ledger, team, 2)
        for address in team.addresses:
            assert ledger.request(address)
        snapshot = chain.snapshot()
        _heights(ledger, team, 2)
        future_a = ledger.opinions(team.addresses) & 1
        chain.revert(snapshot)
        chain.send_eth("0x" + "cd" * 20, 1)  # an unrelated transfer moves the seed's block
        _heights(ledger, team, 2)
        future_b = ledger.opinions(team.addresses) & 1
    finally:
        chain.close()
    assert (future_a != future_b).any()


def test_a_decision_cannot_be_rerolled() -> None:
    chain = open_backend("revm")
    ledger, team = _token_decision(chain, 2)
    _heights(ledger, team, 3)
    assert ledger.request(team.addresses[0])
    assert not ledger.request(team.addresses[0])  # pending: no second draw
    assert not ledger.vote(team.addresses[0], 1)  # and no vote before it is resolved


# ---- claiming maximum quality ----------------------------------------------------------------

def test_old_direct_comparison_never_catches_a_liar_claiming_top_quality() -> None:
    ledger = _old_decision("dc")
    ledger.register([3], *_ids(0, 1, 2, 9), np.array([0, 0, 0, 1], dtype=np.uint8))
    for _ in range(40):
        # Honest robots vote white with fair quality; the liar black with quality 65535, and
        # asks for decisions claiming the top quality too: no white vote can beat it.
        ledger.step((*_ids(9), np.array([65535])),
                    (*_ids(0, 1, 2, 9)[0:2], np.array([0, 0, 0, 1], dtype=np.uint8),
                     np.array([40000, 40000, 40000, 65535])))
    assert ledger.opinions(*_ids(9)).tolist() == [1]
    assert ledger.counters()["flagged"] == 0


def test_a_robot_that_always_says_one_colour_is_caught_whatever_it_claims() -> None:
    """The token contract takes no quality from anyone; audits catch a robot that announces
    black whatever the contract tells it (half of the audits ask for white)."""
    chain = open_backend("revm")
    ledger, team = _token_decision(chain, 4, audit=1.0, first=[0, 0, 0, 1])
    liar = team.addresses[3]
    for _ in range(20):
        _heights(ledger, team, 3)
        for address in team.addresses[:3]:
            code = int(ledger.opinions([address])[0])
            assert ledger.vote(address, (code >> 1) & 1)
        if ledger.opinions([liar])[0] == FLAGGED:
            break
        ledger.vote(liar, 1)
        ledger.request(liar)
        for address in team.addresses[:3]:
            ledger.request(address)
    assert ledger.opinions([liar]).tolist() == [FLAGGED]
    assert ledger.tokens(liar) == (0, 0, 0)
    assert FLAGGED not in ledger.opinions(team.addresses[:3]).tolist()


# ---- token conservation and who ends up with the tokens ------------------------------------

def test_old_estimate_loses_track_of_tokens_when_a_round_does_not_split_evenly() -> None:
    stake = 10**15
    ledger = EstimateLedger(open_backend("revm"), stake, 0, round_size=7, swarms=1)
    ids = np.arange(7)
    ledger.deposit(np.zeros(7, dtype=np.int64), ids, np.full(7, 10 * stake))
    ledger.step(np.zeros(7, dtype=np.int64), ids, np.linspace(0.1, 0.7, 7))
    held = sum(ledger.balance(0, int(i)) for i in ids)
    assert held != ledger.contract.chain.balance(ledger.contract.address)


def _estimate_accounts(chain, ledger: TokenEstimateLedger, addresses: list[str]) -> int:
    """Everything the contract owes: balances, bonds, stakes of the open round, remainders."""
    _, rounds = ledger.estimates()
    swarm = ledger.contract.call("swarms", [0])
    open_votes, carry = swarm[1], swarm[4]
    held = 0
    for a in addresses:
        robot = ledger.contract.call("robots", [a])
        held += robot[4] + (ledger.bond if not robot[2] else 0)
    return held + open_votes * ledger.stake + carry


def test_estimate_tokens_are_conserved_and_liars_run_dry_while_honest_robots_gain() -> None:
    chain = open_backend("revm")
    ledger = TokenEstimateLedger(chain, BOND, STAKE, round_size=7, epsilon=0.05)
    team = Robots(chain, Robots.keys(b"estimate", 7))
    team.fund([BOND + DEPOSIT] * 7)
    ledger.open(1)
    for address in team.addresses:
        data = ledger.contract.data("register", [0])
        assert ledger.contract.send(address, data, value=BOND + DEPOSIT) is not None
    honest, liars = team.addresses[:4], team.addresses[4:]
    rng = np.random.default_rng(3)
    for _ in range(150):
        for address in honest:
            ledger.vote(address, float(np.clip(rng.normal(0.34, 0.01), 0, 1)))
        for address in liars:
            ledger.vote(address, 1.0)
        assert chain.balance(ledger.contract.address) == _estimate_accounts(chain, ledger,
                                                                            team.addresses)
    estimate, rounds = ledger.estimates()
    assert rounds[0] > 50 and estimate[0] == pytest.approx(0.34, abs=0.02)
    assert all(ledger.balance(a) < STAKE for a in liars)  # out of tokens: no more say
    assert all(ledger.balance(a) >= DEPOSIT - STAKE for a in honest)  # at most the open stake


def _estimate_team(chain, robots: int, tag: bytes) -> tuple[TokenEstimateLedger, Robots]:
    ledger = TokenEstimateLedger(chain, BOND, STAKE, round_size=10, epsilon=0.05)
    team = Robots(chain, Robots.keys(tag, robots))
    team.fund([BOND + DEPOSIT] * robots)
    ledger.open(1)
    for address in team.addresses:
        data = ledger.contract.data("register", [0])
        assert ledger.contract.send(address, data, value=BOND + DEPOSIT) is not None
    return ledger, team


def test_estimate_ignores_45_percent_liars_at_one_extreme() -> None:
    """9 of 20 robots always vote 0, 11 honest ones vote 0.34 ± 0.04. While the liars still
    have tokens, a median of the latest votes sits on the honest votes' lower edge (this seed:
    an estimate of 0.28); the centre must sit on the honest votes, and starve the liars."""
    chain = open_backend("revm")
    ledger, team = _estimate_team(chain, 20, b"extreme")
    honest, liars = team.addresses[:11], team.addresses[11:]
    rng = np.random.default_rng(7)
    for passes in (20, 100):
        for _ in range(passes):
            for i in rng.permutation(20).tolist():  # rounds of liars and honest robots mixed
                value = 0.0 if i >= 11 else float(np.clip(rng.normal(0.34, 0.04), 0, 1))
                ledger.vote(team.addresses[i], value)
        estimate, _ = ledger.estimates()
        assert estimate[0] == pytest.approx(0.34, abs=0.03)
    assert chain.balance(ledger.contract.address) == _estimate_accounts(chain, ledger,
                                                                        team.addresses)
    assert all(ledger.balance(a) < STAKE for a in liars)
    assert sum(ledger.balance(a) for a in honest) > len(honest) * DEPOSIT


def test_estimate_rounds_before_a_majority_has_voted_pay_every_stake_back() -> None:
    """Liars voting first (with one honest robot) are a majority of the votes so far but not
    of the swarm: the round can tell nobody wrong, so nobody loses."""
    chain = open_backend("revm")
    ledger, team = _estimate_team(chain, 20, b"early")
    for address in team.addresses[11:]:
        ledger.vote(address, 0.0)
    ledger.vote(team.addresses[0], 0.34)
    _, rounds = ledger.estimates()
    assert rounds[0] == 1
    assert all(ledger.balance(a) == DEPOSIT for a in team.addresses)


def test_estimate_payouts_pulled_later_equal_a_round_by_round_model() -> None:
    """Payouts are credited when a robot next votes or withdraws. A model that pays every round
    at once from the events (each Voted vote near the RoundClosed centre gets its stake and an
    equal share of the losers' stakes; a RoundVoid pays every stake back) must agree with the
    contract's balances: rounds of 14 (longer than the swarm word holds), robots that skip
    many rounds (their round's record is no longer in the swarm word), liars far off."""
    chain = open_chain(ChainSpec("revm"))  # keeps logs
    ledger = TokenEstimateLedger(chain, BOND, STAKE, round_size=14, epsilon=0.05)
    team = Robots(chain, Robots.keys(b"lazy", 24))
    team.fund([BOND + DEPOSIT] * 24)
    ledger.open(1)
    for address in team.addresses:
        assert ledger.contract.send(address, ledger.contract.data("register", [0]),
                                    value=BOND + DEPOSIT) is not None
    rng = np.random.default_rng(11)
    for step in range(40):
        for i in rng.permutation(24).tolist():
            if i >= 20 and step % 7:  # four robots vote only every seventh pass
                continue
            ledger.vote(team.addresses[i], 0.9 if i % 5 == 4 else rng.normal(0.34, 0.02))
    # A robot cannot leave while its last round is open, and leaves with that round credited.
    last_round = {}
    events = EventDecoder(ledger.contract.abi).decode_all(
        chain.get_logs(0, chain.block_number(), address=ledger.contract.address))
    balance = {a: DEPOSIT for a in team.addresses}
    votes: dict[int, list[tuple[str, int]]] = {}
    for e in events:
        if e.name == "Voted":
            word = e.args["robotSwarmRoundEstimate"]
            who = to_checksum_address((word >> 96).to_bytes(20, "big"))
            votes.setdefault((word >> 32) & 0xFFFFFFFF, []).append((who, word & 0xFFFFFFFF))
            balance[who] -= STAKE
            last_round[who] = (word >> 32) & 0xFFFFFFFF
        elif e.name in ("RoundClosed", "RoundVoid"):
            entries = votes.pop(e.args["round"] - 1)
            assert len(entries) == 14
            if e.name == "RoundVoid":
                for who, _ in entries:
                    balance[who] += STAKE
                continue
            centre, winners = e.args["centre"], e.args["winners"]
            near = [w for w, ppm in entries
                    if abs(ppm // 10_000 * 10_000 + 5_000 - centre) <= 50_000]
            assert len(near) == winners
            for who in near:
                balance[who] += STAKE + e.args["pot"] // winners
    assert len(events) > 100 and any(e.name == "RoundClosed" for e in events)
    for address in team.addresses:
        assert ledger.balance(address) == balance[address]
    _, rounds = ledger.estimates()
    waiting = [a for a in team.addresses if last_round.get(a, -1) == rounds[0]]
    done = [a for a in team.addresses if last_round.get(a, -1) < rounds[0]]
    assert waiting and done
    assert ledger.contract.send(waiting[0], ledger.contract.data("withdraw", [])) is None
    before = chain.balance(done[0])
    assert ledger.contract.send(done[0], ledger.contract.data("withdraw", [])) is not None
    assert chain.balance(done[0]) - before == balance[done[0]] + BOND
    assert chain.balance(ledger.contract.address) == _estimate_accounts(chain, ledger,
                                                                        team.addresses)


def test_old_estimate_drains_honest_robots_even_without_liars() -> None:
    stake = 10**15
    ledger = EstimateLedger(open_backend("revm"), stake, 0, round_size=10, swarms=1)
    ids = np.arange(10)
    ledger.deposit(np.zeros(10, dtype=np.int64), ids, np.full(10, 40 * stake))
    rng = np.random.default_rng(1)
    for _ in range(40):
        ledger.step(np.zeros(10, dtype=np.int64), ids, np.clip(rng.normal(0.34, 0.01, 10), 0, 1))
    # Half of every round loses its stake whatever its error: honest robots fall below their
    # start (a random walk that ends at zero given time).
    assert min(ledger.balance(0, int(i)) for i in ids) < 40 * stake


def _decision_accounts(ledger: TokenDecisionLedger, addresses: list[str]) -> int:
    held = sum(sum(ledger.tokens(a)) for a in addresses)
    pot = ledger.contract.call("payouts", [0])[0]
    return held + ledger.contract.call("slashed", [0]) + pot


def test_decision_tokens_are_conserved_liars_end_with_nothing_and_honest_robots_gain() -> None:
    chain = open_backend("revm")
    robots = 8
    # Honest robots keep their first (white) decision and only the liars ask again, so audits
    # catch the liars whatever the draws: the test is about the money, not the dynamics.
    ledger, team = _token_decision(chain, robots, audit=1.0, audits=2, first=[0] * 5 + [1] * 3)
    honest, liars = team.addresses[:5], team.addresses[5:]
    settled = False
    for _ in range(60):
        _heights(ledger, team, 3)
        for address in team.addresses:
            code = int(ledger.opinions([address])[0])
            if code >= 254:
                continue
            # Audits first (unstaked), then the staked vote: bit 1 of the code is always the
            # colour the next vote must announce.
            for _ in range(3):
                code = int(ledger.opinions([address])[0])
                if code < 254:
                    ledger.vote(address, 1 if address in liars else (code >> 1) & 1)
            if address in liars:
                ledger.request(address)
        assert chain.balance(ledger.contract.address) == _decision_accounts(ledger,
                                                                           team.addresses)
        settled = settled or ledger.settle(0)
        if settled:
            break
    assert settled
    for address in team.addresses:
        ledger.claim(address)
    assert chain.balance(ledger.contract.address) == _decision_accounts(ledger, team.addresses)
    assert all(sum(ledger.tokens(a)) == 0 for a in liars)
    assert all(sum(ledger.tokens(a)) >= BOND + DEPOSIT for a in honest)
    # Leaving pays everything out: nothing stays in the contract.
    for address in team.addresses:
        ledger.contract.send(address, ledger.contract.data("withdraw", []))
    assert chain.balance(ledger.contract.address) == 0


# ---- SwarmTokenEstimate: the majority a round needs, limits, remainders, the estimate --------

def _joined(ledger: TokenEstimateLedger, team: Robots, value: int = BOND + DEPOSIT) -> None:
    for address in team.addresses:
        assert ledger.contract.send(address, ledger.contract.data("register", [0]),
                                    value=value) is not None


def test_registering_just_before_the_closing_vote_does_not_void_the_round() -> None:
    """Three honest robots and two liars are the members when the round opens (need: 3). A liar
    who sees the closing vote coming registers four more identities first: counted at the
    close, they would raise the need to 5 and void the round, then leave with a full refund.
    They count from the next round only: the round closes, the liar's stake goes to the
    honest robots, and the new identities leave with what they paid and nothing more."""
    chain = open_chain(ChainSpec("revm"))
    ledger = TokenEstimateLedger(chain, BOND, STAKE, round_size=4, epsilon=0.05)
    team = Robots(chain, Robots.keys(b"front-run", 5))
    sybils = Robots(chain, Robots.keys(b"front-run sybils", 4))
    team.fund([BOND + DEPOSIT] * 5)
    sybils.fund([BOND + DEPOSIT] * 4)
    ledger.open(1)
    _joined(ledger, team)
    honest, liar = team.addresses[:3], team.addresses[3]
    ledger.vote(honest[0], 0.34)
    ledger.vote(honest[1], 0.35)
    ledger.vote(liar, 0.9)
    _joined(ledger, sybils)
    assert ledger.vote(honest[2], 0.34) == 0  # the closing vote
    estimate, rounds = ledger.estimates()
    assert rounds[0] == 1 and estimate[0] == pytest.approx(0.34, abs=0.01)
    assert ledger.balance(liar) == DEPOSIT - STAKE
    assert all(ledger.balance(a) == DEPOSIT + STAKE // 3 for a in honest)
    assert ledger.contract.call("swarms", [0])[6] == 9  # members from the next round on
    for address in sybils.addresses:
        before = chain.balance(address)
        assert ledger.contract.send(address, ledger.contract.data("withdraw", [])) is not None
        assert chain.balance(address) - before == BOND + DEPOSIT
    assert chain.balance(ledger.contract.address) == _estimate_accounts(
        chain, ledger, team.addresses + sybils.addresses)


def test_idle_identities_void_rounds_only_while_they_and_the_liars_outnumber_the_honest() -> None:
    """Idle identities count as members (see the contract): 6 honest robots against 2 liars
    and 5 idle identities (7) cannot decide, every stake goes back; once 3 idle ones leave, the
    honest robots are a majority of the bonded identities and rounds close again."""
    chain = open_backend("revm")
    ledger = TokenEstimateLedger(chain, BOND, STAKE, round_size=4, epsilon=0.05)
    team = Robots(chain, Robots.keys(b"idle", 13))
    team.fund([BOND + DEPOSIT] * 13)
    ledger.open(1)
    _joined(ledger, team)
    honest, liars, idle = team.addresses[:6], team.addresses[6:8], team.addresses[8:]
    for _ in range(5):
        for address in honest + liars:
            ledger.vote(address, 0.9 if address in liars else 0.34)
    estimate, rounds = ledger.estimates()
    assert rounds[0] == 10 and estimate[0] == 0  # ten void rounds: no estimate, all back
    assert all(ledger.balance(a) == DEPOSIT for a in honest + liars)
    for address in idle[:3]:
        assert ledger.contract.send(address, ledger.contract.data("withdraw", [])) is not None
    for _ in range(5):
        for address in honest + liars:
            ledger.vote(address, 0.9 if address in liars else 0.34)
    assert ledger.estimates()[0][0] == pytest.approx(0.34, abs=0.01)
    assert all(ledger.balance(a) < DEPOSIT - 2 * STAKE for a in liars)


def _head_slot(swarm: int) -> int:
    """Storage slot of the swarm word: mapping `head` is the contract's third slot."""
    return int.from_bytes(keccak(swarm.to_bytes(32, "big") + (2).to_bytes(32, "big")), "big")


def test_a_swarm_stops_at_its_last_round_instead_of_wrapping_the_counter() -> None:
    """The round counter is 24 bits wide. Poked to the last round but one, that round still
    closes; then a new round is refused, and the members and estimate stay intact."""
    chain = open_backend("revm")
    ledger, team = _estimate_team(chain, 10, b"last round")
    for address in team.addresses:
        ledger.vote(address, 0.34)
    word = chain.evm.storage(ledger.contract.address, _head_slot(0))
    assert (word >> 6) & 0xFFFFFF == 1 and word & 0x3F == 0
    last = (1 << 24) - 1
    chain.evm.insert_account_storage(ledger.contract.address, _head_slot(0),
                                     word & ~(0xFFFFFF << 6) | (last - 1) << 6)
    for address in team.addresses:
        assert ledger.vote(address, 0.36) == last - 1
    estimate, rounds = ledger.estimates()
    assert rounds[0] == last and estimate[0] == pytest.approx(0.365, abs=0.001)
    data = ledger.contract.data("vote", [340_000])
    with pytest.raises(ContractReverted, match="RoundLimit"):
        chain.raw_transact(ledger.contract.address, data, sender=team.addresses[0],
                           abi=ledger.contract.abi)
    assert ledger.contract.call("swarms", [0])[6] == 10
    assert ledger.balance(team.addresses[0]) == DEPOSIT  # rounds without losers: all back
    assert ledger.contract.send(team.addresses[0], ledger.contract.data("withdraw", []))


def test_a_deposit_that_would_outgrow_the_96_bit_balances_is_refused() -> None:
    """Two deposits of 2^95 wei each fit a 96-bit balance, but the winner of a round between
    them would be owed more than 2^96: the contract holds at most 2^96 - 1 wei in all."""
    chain = open_backend("revm")
    big = 1 << 95
    ledger = TokenEstimateLedger(chain, 0, big // 4, round_size=3, epsilon=0.05)
    team = Robots(chain, Robots.keys(b"whales", 3))
    for address in team.addresses:
        chain.evm.set_balance(address, big + 10**18)
    ledger.open(1)
    data = ledger.contract.data("register", [0])
    assert ledger.contract.send(team.addresses[0], data, value=big) is not None
    assert ledger.contract.send(team.addresses[1], data, value=big - 1) is not None
    with pytest.raises(ContractReverted, match="BalanceOverflow"):
        chain.raw_transact(ledger.contract.address, data, sender=team.addresses[2],
                           value=big // 4, abi=ledger.contract.abi)
    assert chain.balance(ledger.contract.address) == (1 << 96) - 1


def test_remainders_go_into_later_pots_and_nothing_stays_behind() -> None:
    """A stake of 1,001 wei split among 2, 3 or 4 winners leaves a few wei each round. They
    stay in the swarm (below 64 wei whatever the rounds), go to later winners, and after
    everyone leaves the contract holds only the last remainder."""
    chain = open_backend("revm")
    stake = 1001
    ledger = TokenEstimateLedger(chain, BOND, stake, round_size=7, epsilon=0.05)
    team = Robots(chain, Robots.keys(b"remainder", 7))
    team.fund([BOND + 1000 * stake] * 7)
    ledger.open(1)
    _joined(ledger, team, BOND + 1000 * stake)
    rng = np.random.default_rng(5)
    for r in range(60):
        honest = 4 + r % 3 - (r % 5 == 0)  # 3 to 6 winners a round
        for i, address in enumerate(team.addresses):
            ledger.vote(address, 0.34 + rng.normal(0, 0.005) if i < honest else 0.9)
        carry = ledger.contract.call("swarms", [0])[4]
        assert carry < 64
        assert chain.balance(ledger.contract.address) == _estimate_accounts(
            chain, ledger, team.addresses)
    assert ledger.estimates()[1][0] == 60
    for address in team.addresses:
        assert ledger.contract.send(address, ledger.contract.data("withdraw", [])) is not None
    assert chain.balance(ledger.contract.address) == ledger.contract.call("swarms", [0])[4] < 64


def _reference_estimate(bins: list[int], members: int, epsilon_ppm: int) -> tuple[int, int]:
    """Shortest run of 0.01 bins holding a strict majority (the lowest on ties), its midpoint
    in half bins, and the integer mean of the votes whose bin centres lie within epsilon of it
    (exact arithmetic in ppm)."""
    need = members // 2 + 1
    order = sorted(bins)
    width, lo = min((order[i + need - 1] - order[i], order[i])
                    for i in range(len(order) - need + 1))
    centre2 = 2 * lo + width + 1
    near = [b for b in bins if abs((2 * b + 1) * 5_000 - centre2 * 5_000) <= epsilon_ppm]
    return centre2, sum(b * 10_000 + 5_000 for b in near) // len(near)


def test_the_estimate_averages_exactly_the_votes_the_round_pays_as_winners() -> None:
    """Random histograms and epsilons (not multiples of half a bin): the estimate is the mean
    of the bins whose centres lie within epsilon of the centre, the bins `RoundClosed` pays
    (a Python reference computes both from the votes)."""
    rng = np.random.default_rng(21)
    for trial in range(12):
        chain = open_backend("revm")
        epsilon_ppm = int(rng.integers(12_000, 90_000))
        ledger = TokenEstimateLedger(chain, BOND, STAKE, round_size=3,
                                     epsilon=epsilon_ppm / 1e6)
        team = Robots(chain, Robots.keys(b"reference %d" % trial, 15))
        team.fund([BOND + DEPOSIT] * 15)
        ledger.open(1)
        _joined(ledger, team)
        centre = rng.uniform(0.15, 0.85)
        ppm = [int(np.clip(rng.uniform(centre - 0.08, centre + 0.08), 0, 1) * 1e6)
               for _ in range(12)]
        ppm += [int(rng.uniform(0, 1) * 1e6) for _ in range(3)]
        bins = [p // 10_000 for p in ppm]
        centre2, expected = _reference_estimate(bins, 15, epsilon_ppm)
        # The last vote lies near the centre, so the last round closes and sets the estimate.
        last = next(i for i, b in enumerate(bins) if abs(2 * b + 1 - centre2) * 5_000
                    <= epsilon_ppm)
        for i in [i for i in range(15) if i != last] + [last]:
            ledger.vote(team.addresses[i], ppm[i] / 1e6)
        raw = ledger.contract.call("estimates", [1])
        assert int.from_bytes(raw[4:8], "big") == 5
        assert int.from_bytes(raw[:4], "big") == expected, (trial, epsilon_ppm, bins)


def test_robots_that_run_out_of_tokens_leave_the_members_with_an_event() -> None:
    chain = open_chain(ChainSpec("revm"))  # keeps logs
    ledger = TokenEstimateLedger(chain, BOND, STAKE, round_size=7, epsilon=0.05)
    team = Robots(chain, Robots.keys(b"run dry", 7))
    team.fund([BOND + 3 * STAKE] * 7)
    ledger.open(1)
    _joined(ledger, team, BOND + 3 * STAKE)
    for _ in range(5):
        for i, address in enumerate(team.addresses):
            ledger.vote(address, 0.34 if i < 4 else 0.9)
    events = EventDecoder(ledger.contract.abi).decode_all(
        chain.get_logs(0, chain.block_number(), address=ledger.contract.address))
    left = [e.args for e in events if e.name == "MembersLeft"]
    assert sum(e["count"] for e in left) == 3 and all(e["swarm"] == 0 for e in left)
    assert ledger.contract.call("swarms", [0])[6] == 4
