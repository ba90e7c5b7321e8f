"""The token-economy strategies: every robot identity is an account that registers itself with a
bond, stakes tokens on its votes and sends its own transactions (signed on web3 chains).

`token-<rule>` runs SwarmTokenDecision (the contract deals first opinions, draws later ones from
a stable height with block-hash randomness, flags and slashes robots that vote against the
opinion it holds for them, and pays stakes back once the swarm has settled); `token-estimate`
runs SwarmTokenEstimate (rounds of votes paid within epsilon of a centre that no minority of
the members can place).

Block hashes feed the draws, so unlike the other strategies a token run's draws depend on how
many transactions its batch sent before (on revm a block's hash is a function of its number
alone, which is fine for a simulation; on a public chain it is what makes draws ungrindable).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from services.chain.protocol import Chain
from swarm_sim.ledger import AccountContract, Robots, TokenDecisionLedger, TokenEstimateLedger

if TYPE_CHECKING:
    from swarm_sim.simulation import _Batch

FLAGGED, PENDING = 255, 254


@dataclass
class Identities:
    """The accounts of a batch: one per honest robot, up to `ids` per Sybil attacker."""

    owner: np.ndarray  # robot index of each identity
    swarm: np.ndarray
    addresses: list[str]
    registered: np.ndarray  # bool
    budget: np.ndarray  # wei each identity was funded with (bond + deposit)

    @property
    def size(self) -> int:
        return self.owner.size


def _identities(batch: _Batch, chain: Chain, bond: int, deposit: int, stake: int
                ) -> tuple[Identities, Robots]:
    """Every robot's identities, keyed by (run seed, robot, identity) so that a run's accounts
    do not depend on its batch. A Sybil attacker splits one robot's budget over as many
    identities as can each pay a bond and one stake."""
    s = batch.s
    swarm, local, owner = batch._identities(np.arange(s.size))
    per_robot = bond + deposit
    liar = s.byzantine[owner]
    affordable = max(1, min(batch.ids, per_robot // (bond + stake)))
    rank = np.zeros(owner.size, dtype=np.int64)
    rank[s.size:] = (local[s.size:] // s.n)  # the k-th extra identity of its owner
    registered = ~liar | (rank < affordable)
    budget = np.where(liar, per_robot // affordable, per_robot) * registered
    keys = []
    for o, k in zip(owner.tolist(), rank.tolist(), strict=True):
        tag = int(s.seeds[o]).to_bytes(8, "big") + int(s.local[o]).to_bytes(4, "big")
        keys.append(Robots.keys(tag + k.to_bytes(2, "big"), 1)[0])
    robots = Robots(chain, keys)
    return Identities(owner, swarm.astype(np.int64), robots.addresses, registered,
                      budget.astype(object)), robots


def _register(contract: AccountContract, ids: Identities, first: np.ndarray | None = None
              ) -> None:
    """Each identity registers itself, paying bond + deposit (and stating its first opinion);
    refused ones are dropped."""
    for i in np.flatnonzero(ids.registered).tolist():
        args = [int(ids.swarm[i])] + ([] if first is None else [int(first[i])])
        data = contract.data("register", args)
        if contract.send(ids.addresses[i], data, value=int(ids.budget[i])) is None:
            ids.registered[i] = False


class TokenDecision:
    """Drives SwarmTokenDecision for a batch: one keeper tick per block, then decisions that
    came due, requests of robots that ended their dissemination, and every robot's own vote."""

    def __init__(self, batch: _Batch, chain: Chain) -> None:
        spec, s = batch.sc.ledger, batch.s
        self.batch = batch
        stake = spec.token_stake_wei
        bond, deposit = stake * spec.token_bond_stakes, stake * spec.token_deposit_stakes
        self.ledger = TokenDecisionLedger(chain, spec.rule, spec.stable_depth, spec.reveal_delay,
                                          spec.freshness, spec.token_contingent, spec.unanimity,
                                          spec.audit, spec.audit_votes, bond, stake)
        self.ids, robots = _identities(batch, chain, bond, deposit, stake)
        robots.fund([int(b) for b in self.ids.budget])
        self.ledger.open(s.runs)
        # Honest robots start with their own opinion (half and half); Byzantine ones announce
        # their colour from the start.
        first = s.opinion[self.ids.owner].astype(np.int64)
        liars = np.flatnonzero(s.byzantine[self.ids.owner])
        first[liars] = batch._forged(-1, self.ids.owner[liars])[0].astype(np.int64)
        _register(self.ledger.contract, self.ids, first)
        n = self.ids.size
        self.opinion = np.full(n, -1, dtype=np.int16)  # what the contract holds; -1 unknown
        # Colour the next audit vote must announce: -1 none, -2 ask the contract (one of
        # several audit votes was just cast).
        self.audit = np.full(n, -1, dtype=np.int16)
        self.asked_at = np.where(self.ids.registered, 0, -1).astype(np.int64)
        self.flagged = ~self.ids.registered
        self.votes_left = np.zeros(n, dtype=np.int64)
        self.contingent = spec.token_contingent
        self.height = 0
        self.delay = spec.reveal_delay
        self.accepted = np.zeros(s.runs, dtype=np.int64)
        self.rejected = np.zeros(s.runs, dtype=np.int64)
        self.settled = np.zeros(s.runs, dtype=bool)
        self.check_every = max(1, spec.unanimity // 2)
        batch.pending[:] = True  # registering is a first request (it may bring an audit)

    def _rows(self, owners: np.ndarray) -> np.ndarray:
        """Identity rows of `owners` (registered and not flagged)."""
        rows = np.flatnonzero(np.isin(self.ids.owner, owners))
        return rows[~self.flagged[rows]]

    def block(self, tick: int, voting: np.ndarray) -> None:
        b, s = self.batch, self.batch.s
        self.ledger.tick()
        self.height += 1
        self._resolve()
        if self.height % self.check_every == 0:
            for r in np.flatnonzero(~self.settled).tolist():
                self.settled[r] = self.ledger.settle(r)
        # A settled swarm's contract takes no more votes; its robots go on moving.
        live = ~self.settled[s.run_of]
        asking = np.flatnonzero(b.pending & live)
        asking = asking[~b._jammed(asking)]
        for i in self._rows(asking).tolist():
            if self.asked_at[i] < 0 and self.ledger.request(self.ids.addresses[i]):
                self.asked_at[i] = self.height
        voting = voting[live[voting]]
        rows = self._rows(voting)
        rows = rows[(self.asked_at[rows] < 0) & (self.opinion[rows] >= 0)]
        if rows.size == 0:
            return
        ask = rows[self.audit[rows] == -2]
        if ask.size:
            self._read_audits(ask)
        said, _ = b._said(tick, self.ids.owner[rows])
        said = said.astype(np.int64)
        # Honest robots announce what an audit asks for; Byzantine ones keep to their script.
        audited = (self.audit[rows] >= 0) & ~s.byzantine[self.ids.owner[rows]]
        said[audited] = self.audit[rows][audited]
        listed, values = rows.tolist(), said.tolist()
        took = self.ledger.votes([self.ids.addresses[i] for i in listed], values)
        for i, v, ok in zip(listed, values, took, strict=True):
            run = int(self.ids.swarm[i])
            if ok:
                if self.audit[i] >= 0:
                    self.flagged[i] = v != self.audit[i]
                    self.audit[i] = -2
                elif v != self.opinion[i]:
                    self.flagged[i] = True
                else:
                    self.accepted[run] += 1
                    self.votes_left[i] -= 1
            else:
                self.rejected[run] += 1
        # A robot that has cast every vote its decision allows asks for the next one while it
        # goes on disseminating: votes stay backed by fresh decisions.
        spent = rows[(self.votes_left[rows] <= 0) & ~self.flagged[rows]]
        b.pending[self.ids.owner[spent]] = True

    def _resolve(self) -> None:
        b, s = self.batch, self.batch.s
        due = np.flatnonzero((self.asked_at >= 0) & (self.asked_at + self.delay <= self.height)
                             & ~self.flagged)
        if due.size == 0:
            return
        addresses = [self.ids.addresses[i] for i in due.tolist()]
        self.ledger.resolve(addresses)
        got = self.ledger.opinions(addresses)
        done = got < PENDING
        rows, code = due[done], got[done].astype(np.int16)
        value = code & 1
        self.opinion[rows] = value
        self.audit[rows] = _audit_colour(code)
        self.asked_at[rows] = -1
        self.votes_left[rows] = self.contingent
        owners = self.ids.owner[rows]
        b.pending[owners] = False
        honest = ~s.byzantine[owners]
        who = owners[honest]
        s.opinion[who] = value[honest].astype(np.int8)
        s.seen[who] = 0
        s.matched[who] = 0

    def _read_audits(self, rows: np.ndarray) -> None:
        code = self.ledger.opinions([self.ids.addresses[i] for i in rows.tolist()])
        self.audit[rows] = _audit_colour(code.astype(np.int16))

    def flagged_by_run(self, runs: np.ndarray) -> np.ndarray:
        """(2, runs) counts of flagged identities: row 0 Byzantine owners, row 1 honest."""
        s = self.batch.s
        out = np.zeros((2, s.runs), dtype=np.int64)
        hit = self.flagged & self.ids.registered
        np.add.at(out, (s.byzantine[self.ids.owner].astype(int) ^ 1, self.ids.swarm), hit)
        return out

    def holdings(self, runs: np.ndarray) -> dict[int, tuple[float, float]]:
        """Per run: token holdings (free + locked + bond; after settlement every identity has
        claimed) of honest and Byzantine robots relative to their start (nan if none)."""
        s = self.batch.s
        out = {}
        for r in runs.tolist():
            rows = np.flatnonzero((self.ids.swarm == r) & self.ids.registered)
            held = {True: [], False: []}
            for i in rows.tolist():
                if self.settled[r] and not self.flagged[i]:
                    self.ledger.claim(self.ids.addresses[i])
                free, locked, bond = self.ledger.tokens(self.ids.addresses[i])
                owner = self.ids.owner[i]
                held[bool(s.byzantine[owner])].append(
                    (free + locked + bond, int(self.ids.budget[i]), owner))
            out[r] = tuple(_relative(held[k]) for k in (False, True))
        return out


def _audit_colour(code: np.ndarray) -> np.ndarray:
    """From opinionsOf codes: the colour the next audit vote must announce, -1 when none."""
    return np.where(code & 4, (code >> 1) & 1, -1).astype(np.int16)


def _relative(entries: list[tuple[int, int, int]]) -> float:
    """Tokens per robot now over tokens per robot at the start (identities of one robot pooled)."""
    if not entries:
        return float("nan")
    now = sum(e[0] for e in entries)
    start = sum(e[1] for e in entries)
    return now / start if start else float("nan")


class TokenEstimate:
    """Drives SwarmTokenEstimate: disseminating robots vote their estimate once per round."""

    def __init__(self, batch: _Batch, chain: Chain) -> None:
        spec, s = batch.sc.ledger, batch.s
        self.batch = batch
        stake = spec.token_stake_wei
        bond = deposit = stake * spec.estimate_deposit_stakes
        self.ledger = TokenEstimateLedger(chain, bond, stake, spec.token_round_size,
                                          spec.epsilon)
        self.min_tiles = spec.estimate_min_tiles
        self.ids, robots = _identities(batch, chain, bond, deposit, stake)
        robots.fund([int(x) for x in self.ids.budget])
        self.ledger.open(s.runs)
        _register(self.ledger.contract, self.ids)
        n = self.ids.size
        self.voted_in = np.full(n, -1, dtype=np.int64)  # round of the last accepted vote
        self.refused_at = np.full(n, -1, dtype=np.int64)  # rounds closed at the last refusal
        self.rounds = np.zeros(s.runs, dtype=np.int64)
        self.accepted = np.zeros(s.runs, dtype=np.int64)
        self.rejected = np.zeros(s.runs, dtype=np.int64)

    def block(self, tick: int, voting: np.ndarray) -> None:
        b, s = self.batch, self.batch.s
        # Byzantine robots vote from their first tile on; honest ones once their reading rests
        # on enough tiles to be worth a stake.
        needed = np.where(s.byzantine[voting], 1, self.min_tiles)
        voting = voting[s.seen_total[voting] >= needed]
        rows = np.flatnonzero(np.isin(self.ids.owner, voting) & self.ids.registered)
        run = self.ids.swarm[rows]
        # One vote a round; an identity refused for want of tokens waits for a round to close.
        rows = rows[(self.voted_in[rows] < self.rounds[run])
                    & (self.refused_at[rows] < self.rounds[run])]
        if rows.size:
            owners = self.ids.owner[rows]
            value = b._sensed(owners)
            liars = np.flatnonzero(s.byzantine[owners])
            if liars.size:
                value[liars], _ = b._forged(tick, owners[liars])
            listed = rows.tolist()
            rounds = self.ledger.votes([self.ids.addresses[i] for i in listed], value.tolist())
            for i, got in zip(listed, rounds, strict=True):
                r = int(self.ids.swarm[i])
                if got is None:
                    self.refused_at[i] = self.rounds[r]
                    self.rejected[r] += 1
                else:
                    self.voted_in[i] = got
                    self.accepted[r] += 1
        estimate, self.rounds = self.ledger.estimates()
        s.estimate[b.honest] = estimate[s.run_of[b.honest]]

    def balances(self, runs: np.ndarray) -> dict[int, tuple[float, float]]:
        """Per run: honest and Byzantine token holdings relative to their start."""
        s = self.batch.s
        out = {}
        bond = self.ledger.bond
        for r in runs.tolist():
            held = {True: [], False: []}
            for i in np.flatnonzero((self.ids.swarm == r) & self.ids.registered).tolist():
                owner = self.ids.owner[i]
                now = self.ledger.balance(self.ids.addresses[i]) + bond
                held[bool(s.byzantine[owner])].append((now, int(self.ids.budget[i]), owner))
            out[r] = tuple(_relative(held[k]) for k in (False, True))
        return out
