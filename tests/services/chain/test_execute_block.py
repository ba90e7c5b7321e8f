"""`execute_block`: many senders' transactions as one revm block give what sending them one by
one gives, on revm and on the embedded py-evm chain (the independent oracle)."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_utils import keccak

from services.chain.abi import calldata
from services.chain.backends import Chain, ChainSpec, one_by_one, open_chain
from services.chain.compiler import compile_project
from services.chain.protocol import Call, Outcome

STAKE, BOND = 10**12, 2 * 10**12
ROBOTS = 5


@pytest.fixture(scope="module")
def artifact():
    return compile_project()["SwarmTokenEstimate"]


def _robots(chain: Chain) -> list[str]:
    """Five funded accounts that sign for themselves on web3 chains."""
    accounts = [Account.from_key(keccak(b"execute block" + bytes([i]))) for i in range(ROBOTS)]
    if chain.network != "revm":
        chain.signers.extend(accounts)  # type: ignore[attr-defined]
    for a in accounts:
        chain.send_eth(a.address, 10**18)
    return [a.address for a in accounts]


def _calls(abi: list, to: str, robots: list[str]) -> list[Call]:
    """Registrations (one twice, one with more ether than its sender has: rejected before it
    runs), rounds of three votes that close and pay out, a second vote in one round, an
    estimate out of range, a withdrawal and a vote after it: every kind of outcome, refused
    calls among accepted ones."""
    def call(who: int, fn: str, args: list, value: int = 0) -> Call:
        return Call(robots[who], to, calldata(abi, fn, args), value)

    calls = [call(i, "register", [0], BOND + 10 * STAKE) for i in range(ROBOTS)]
    calls.append(call(0, "register", [0], BOND + 10 * STAKE))
    calls.append(call(3, "register", [0], 10**30))
    for r in range(3):
        for i in range(ROBOTS):
            calls.append(call(i, "vote", [340_000 + 1000 * i + 7 * r if i < 3 else 900_000]))
            if i == 1:
                calls.append(call(i, "vote", [340_000]))
    calls += [call(2, "vote", [1_000_001]), call(0, "withdraw", []), call(0, "vote", [0])]
    return calls


def _deploy(chain: Chain, artifact) -> str:
    address = chain.deploy(artifact, BOND, STAKE, 3, 50_000).address
    chain.raw_transact(address, calldata(artifact.abi, "open", [1]))
    return address


def _seen(chain: Chain, outcomes: list[Outcome], to: str, robots: list[str], abi: list
          ) -> dict:
    """What a caller can observe: per call status, gas, errors and log contents; the
    contract's estimate view, its ether and every robot's nonce."""
    view = chain.raw_call(to, calldata(abi, "estimates", [1]))
    return {"calls": [(o.ok, o.gas_used, o.error,
                       [(lg.address, lg.topics, lg.data) for lg in o.logs]) for o in outcomes],
            "estimates": view, "ether": chain.balance(to),
            "nonces": [chain.nonce(r) for r in robots]}


def test_one_block_equals_one_by_one_on_revm_and_on_the_embedded_chain(artifact, embedded
                                                                        ) -> None:
    seen = {}
    for label, chain in (("block", open_chain(ChainSpec("revm"))),
                         ("revm", open_chain(ChainSpec("revm"))), ("embedded", embedded)):
        robots = _robots(chain)
        to = _deploy(chain, artifact)
        calls = _calls(artifact.abi, to, robots)
        before = chain.block_number()
        if label == "block":
            outcomes = chain.execute_block(calls, abi=artifact.abi)
            assert chain.block_number() == before + 1  # all of them in one block
            block = chain.block()
            assert [tx.sender for tx in block.transactions] == [
                c.sender for c, o in zip(calls, outcomes, strict=True) if o.ok]
        else:
            outcomes = one_by_one(chain, calls, artifact.abi)
        seen[label] = _seen(chain, outcomes, to, robots, artifact.abi)
    refused = [c[0] for c in seen["embedded"]["calls"]].count(False)
    # The second registration, the one beyond its sender's funds, two second votes in a round
    # (the third one's first vote closed the round, so it is the next round's), the estimate,
    # the vote after withdrawing.
    assert refused == 6
    assert any(len(c[3]) > 1 for c in seen["embedded"]["calls"])  # a vote that closed a round
    # Logs carry addresses as each chain spells them; the revm chains agree with each other
    # exactly and with the embedded chain up to the case of the address.
    assert seen["block"] == seen["revm"]
    # Each chain words its refusal of a transaction beyond the sender's funds its own way.
    rejected = ("transaction rejected by revm: ", "gas estimation failed: ")
    for got in (seen["block"], seen["embedded"]):
        for i, c in enumerate(got["calls"]):
            c[3][:] = [(a.lower(), t, d) for a, t, d in c[3]]
            if c[2].startswith(rejected):
                got["calls"][i] = (c[0], c[1], "rejected", c[3])
    assert seen["block"] == seen["embedded"]


def test_the_simulators_chain_gives_the_same_results_with_nonces_bumped_in_bulk(artifact
                                                                                 ) -> None:
    seen = []
    for bulk in (True, False):
        chain = open_chain(ChainSpec("revm", keep_logs=False, exact_gas=False))
        robots = _robots(chain)
        to = _deploy(chain, artifact)
        calls = _calls(artifact.abi, to, robots)
        outcomes = (chain.execute_block(calls, abi=artifact.abi) if bulk
                    else one_by_one(chain, calls, artifact.abi))
        got = _seen(chain, outcomes, to, robots, artifact.abi)
        got["calls"] = [(ok, error, logs) for ok, _, error, logs in got["calls"]]
        seen.append(got)
    assert seen[0] == seen[1]
    assert seen[0]["nonces"] == [5, 5, 4, 4, 4]  # register, votes, withdraw
