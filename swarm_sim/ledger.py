"""The consensus contracts behind the project's one EVM layer (services.chain).

The simulator encodes its own calldata and uses the chain's raw path. Every backend mines exactly
one block per transaction, so a contract sees the same block heights, draws the same votes and
returns the same decisions on the in-process revm chain, the embedded chain or a Hardhat node.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Any

import numpy as np
from eth_abi import decode

from services.chain.abi import abi_item, abi_types, calldata
from services.chain.backends import ChainSpec, open_chain
from services.chain.errors import ChainError, ContractReverted
from services.chain.protocol import Call, Chain, Outcome
from swarm_sim.errors import SwarmError

# Set-up transactions are cut so that each fits a 30M-gas block on any chain; every backend cuts
# them the same way, so block heights stay aligned.
REGISTRATIONS_PER_TX = 800
DEPOSITS_PER_TX = 400
_RULE_CODES = {"dmvd": 0, "dmmd": 1, "dc": 2}
QUALITY_SCALE = 65535
ESTIMATE_SCALE = 1_000_000
# Block timestamps 12 s apart, as on Ethereum; the contracts only read block heights.
_BLOCK_TIME_S = 12


def open_backend(name: str) -> Chain:
    """A fresh private chain: 'revm' (in-process, fastest) or 'embedded' (py-evm via web3)."""
    if name == "revm":
        # The simulator never reads gas: skip revm's per-transaction finalisation.
        return open_chain(ChainSpec("revm", block_time_s=_BLOCK_TIME_S, keep_logs=False,
                                    exact_gas=False))
    if name == "embedded":
        data_dir = Path(tempfile.mkdtemp(prefix="gaka-swarm-"))
        chain = open_chain(ChainSpec("embedded", data_dir=data_dir))
        weakref.finalize(chain, shutil.rmtree, data_dir, True)
        return chain
    raise SwarmError(f"unknown ledger backend {name!r}; choose revm or embedded")


class _Contract:
    """One deployed contract driven through the chain's raw calldata path."""

    def __init__(self, chain: Chain, name: str, args: list[Any]) -> None:
        artifact = _artifact(name)
        self.chain, self.abi = chain, artifact.abi
        try:
            self.address = chain.deploy(artifact, *args).address
        except ChainError as exc:
            raise SwarmError(f"deploying {name} failed: {exc}") from None

    def transact(self, fn: str, args: list[Any], value: int = 0) -> Any:
        """Send one transaction from the chain's first account; returns its receipt."""
        try:
            return self.chain.raw_transact(self.address, calldata(self.abi, fn, args),
                                           value=value, abi=self.abi)
        except ChainError as exc:
            raise SwarmError(f"{fn} failed: {exc}") from None

    def call(self, fn: str, args: list[Any]) -> Any:
        try:
            out = self.chain.raw_call(self.address, calldata(self.abi, fn, args), abi=self.abi)
        except ChainError as exc:
            raise SwarmError(f"{fn} failed: {exc}") from None
        values = decode(abi_types(abi_item(self.abi, fn)["outputs"]), out)
        return values[0] if len(values) == 1 else values


def _artifact(name: str) -> Any:
    from services.chain.compiler import compile_project
    from services.chain.errors import ChainError

    try:
        return compile_project()[name]
    except (ChainError, KeyError) as exc:
        raise SwarmError(f"cannot compile the swarm contract {name}: {exc}") from None


def _pack(columns: list[tuple[np.ndarray, str]]) -> bytes:
    """Fixed-width big-endian records from parallel integer columns (dtype like '>u4')."""
    if not columns or columns[0][0].size == 0:
        return b""
    dtype = np.dtype([(f"f{i}", d) for i, (_, d) in enumerate(columns)])
    rec = np.empty(columns[0][0].size, dtype=dtype)
    for i, (col, _) in enumerate(columns):
        rec[f"f{i}"] = col
    return rec.tobytes()


class DecisionLedger:
    """SwarmDecision: the contract draws votes from a stable block and applies the rule."""

    def __init__(self, chain: Chain, rule: str, stable_depth: int, freshness: int,
                 contingent: int) -> None:
        self.contract = _Contract(chain, "SwarmDecision",
                                  [_RULE_CODES[rule], stable_depth, freshness, contingent])

    def register(self, seeds: list[int], swarm: np.ndarray, robot: np.ndarray,
                 opinion: np.ndarray) -> None:
        """Open one swarm per seed, register robots with their initial opinions, and start
        the contract's clock (height 0 is the block after the last registration)."""
        words = [int(s).to_bytes(32, "big") for s in seeds]
        for at in range(0, max(swarm.size, 1), REGISTRATIONS_PER_TX):
            part = slice(at, at + REGISTRATIONS_PER_TX)
            records = _pack([(swarm[part], ">u2"), (robot[part], ">u4"), (opinion[part], "u1")])
            self.contract.transact("register",
                                  [words if at == 0 else [], records])
        self.contract.transact("start", [])

    def step(self, decide: tuple[np.ndarray, np.ndarray, np.ndarray],
             votes: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
        """One block: decision requests (swarm, robot, quality) and votes (swarm, robot,
        opinion, quality). Returns the new opinion per decision (255 when flagged)."""
        d = _pack([(decide[0], ">u2"), (decide[1], ">u4"), (decide[2], ">u2")])
        v = _pack([(votes[0], ">u2"), (votes[1], ">u4"), (votes[2], "u1"), (votes[3], ">u2")])
        self.contract.transact("step", [d, v])
        if decide[0].size == 0:
            return np.empty(0, dtype=np.uint8)
        return self.opinions(decide[0], decide[1])

    def opinions(self, swarm: np.ndarray, robot: np.ndarray) -> np.ndarray:
        """Current opinion of each robot as the contract holds it (255 = flagged)."""
        keys = _pack([(swarm, ">u2"), (robot, ">u4")])
        out = self.contract.call("opinionsOf", [keys])
        return np.frombuffer(out, dtype=np.uint8).copy()

    def counters(self, swarm: int = 0) -> dict[str, int]:
        """Votes accepted, rejected, and robots flagged in one swarm."""
        accepted, rejected, flagged = self.contract.call("tallies",
                                                        [swarm])
        return {"accepted": accepted, "rejected": rejected, "flagged": flagged}


class EstimateLedger:
    """SwarmEstimate: deposit-backed votes on the black share, outliers lose their stake."""

    def __init__(self, chain: Chain, stake_wei: int, bond_wei: int, round_size: int,
                 swarms: int) -> None:
        self.swarms = swarms
        self.contract = _Contract(chain, "SwarmEstimate",
                                  [stake_wei, bond_wei, round_size, swarms])

    def deposit(self, swarm: np.ndarray, robot: np.ndarray, amount_wei: np.ndarray) -> None:
        """Send ether for each identity (amounts up to 2**96 wei)."""
        amounts = [int(a) for a in amount_wei]
        hi = np.array([a >> 64 for a in amounts], dtype=np.uint64)
        lo = np.array([a & (2**64 - 1) for a in amounts], dtype=np.uint64)
        for at in range(0, len(amounts), DEPOSITS_PER_TX):
            part = slice(at, at + DEPOSITS_PER_TX)
            records = _pack([(swarm[part], ">u2"), (robot[part], ">u4"), (hi[part], ">u4"),
                             (lo[part], ">u8")])
            self.contract.transact("deposit", [records],
                                  value=sum(amounts[part]))

    def step(self, swarm: np.ndarray, robot: np.ndarray, estimate: np.ndarray) -> None:
        ppm = np.clip(np.rint(estimate * ESTIMATE_SCALE), 0, ESTIMATE_SCALE).astype(np.uint32)
        records = _pack([(swarm, ">u2"), (robot, ">u4"), (ppm, ">u4")])
        self.contract.transact("step", [records])

    def means(self) -> tuple[np.ndarray, np.ndarray]:
        """Per swarm: the contract's mean estimate (nan before the first payout) and rounds."""
        raw = np.frombuffer(self.contract.call("means", [self.swarms]),
                            dtype=">u4").reshape(-1, 2)
        rounds = raw[:, 1].astype(np.int64)
        mean = np.where(rounds > 0, raw[:, 0] / ESTIMATE_SCALE, np.nan)
        return mean, rounds

    def balance(self, swarm: int, robot: int) -> int:
        return int(self.contract.call("balanceOf",
                                     [(swarm << 32) | robot]))

    def withdraw(self, swarm: int, robot: int, to: str) -> None:
        """Pay an identity's balance and bond to `to`, closing the identity."""
        self.contract.transact("withdraw", [swarm, robot, to])

    def counters(self, swarm: int = 0) -> dict[str, int]:
        """Votes accepted and rejected in one swarm."""
        accepted, rejected = self.contract.call("tallies", [swarm])
        return {"accepted": accepted, "rejected": rejected}


# ---- robots as accounts (the token-economy contracts) ---------------------------------------

_ROBOT_KEY_DOMAIN = b"gaka swarm robot key"


class Robots:
    """One account per robot identity. On revm any address may send, so an identity is just an
    address; on web3 chains every identity gets its own key, joins the chain's signers and is
    funded for gas, so each vote is a transaction signed by the robot itself."""

    def __init__(self, chain: Chain, keys: list[bytes], gas_wei: int = 10**17) -> None:
        from eth_account import Account

        self.chain = chain
        accounts = [Account.from_key(k) for k in keys]
        self.addresses = [a.address for a in accounts]
        if chain.network != "revm":
            # Web3Chain signs for the accounts in its signers list.
            chain.signers.extend(accounts)  # type: ignore[attr-defined]
            self.gas_wei = gas_wei
        else:
            self.gas_wei = 0

    @staticmethod
    def keys(tag: bytes, count: int) -> list[bytes]:
        """Deterministic private keys for `count` identities (a simulation, not a wallet)."""
        from eth_utils import keccak

        out = []
        for i in range(count):
            k = keccak(_ROBOT_KEY_DOMAIN + tag + i.to_bytes(8, "big"))
            # A valid secp256k1 key is below the group order; keccak output almost always is.
            out.append(k if 0 < int.from_bytes(k, "big") < _SECP256K1_N else keccak(k))
        return out

    def fund(self, amounts: list[int]) -> None:
        """Give each identity `amount` wei (plus gas money on chains that charge gas)."""
        for address, amount in zip(self.addresses, amounts, strict=True):
            total = amount + self.gas_wei
            if total:
                try:
                    self.chain.send_eth(address, total)
                except ChainError as exc:
                    raise SwarmError(f"funding robot {address} failed: {exc}") from None


_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


class AccountContract(_Contract):
    """A contract whose callers are the robots' own accounts."""

    def send(self, sender: str, data: bytes, value: int = 0) -> Any:
        """One transaction from `sender`; returns its receipt, or None when it reverted (the
        robot's call was refused: nothing happened)."""
        try:
            return self.chain.raw_transact(self.address, data, sender=sender, value=value,
                                           abi=self.abi)
        except ContractReverted:
            return None
        except ChainError as exc:
            raise SwarmError(f"transaction from {sender} failed: {exc}") from None

    def send_block(self, calls: list[tuple[str, bytes]], logs: bool = True) -> list[Outcome]:
        """Many robots' transactions (sender, calldata) in order, in one block where the chain
        can (revm); each outcome is what that transaction alone would have done."""
        try:
            return self.chain.execute_block([Call(sender, self.address, data)
                                             for sender, data in calls], abi=self.abi,
                                            logs=logs)
        except ChainError as exc:
            raise SwarmError(f"a block of robots' transactions failed: {exc}") from None

    def data(self, fn: str, args: list[Any]) -> bytes:
        return calldata(self.abi, fn, args)


class TokenDecisionLedger:
    """SwarmTokenDecision: robots vote from their own accounts and stake tokens on their votes."""

    def __init__(self, chain: Chain, rule: str, stable_depth: int, reveal_delay: int,
                 freshness: int, contingent: int, unanimity: int, audit: float, audits: int,
                 bond_wei: int, stake_wei: int) -> None:
        if rule not in _TOKEN_RULES:
            raise SwarmError(f"the token contract runs {', '.join(_TOKEN_RULES)}, not {rule!r}")
        self.chain = chain
        self.contract = AccountContract(chain, "SwarmTokenDecision", [
            _TOKEN_RULES[rule], stable_depth, reveal_delay, freshness, contingent, unanimity,
            round(audit * 1000), audits, bond_wei, stake_wei])
        self.bond, self.stake = bond_wei, stake_wei
        c = self.contract
        self._vote = [c.data("vote", [0]), c.data("vote", [1])]
        self._request = c.data("request", [])
        self._tick = c.data("tick", [])
        self._settled = _topic(c.abi, "Settled")

    def open(self, swarms: int) -> None:
        self.contract.transact("open", [swarms])

    def tick(self) -> None:
        self.contract.transact("tick", [])

    def resolve(self, addresses: list[str]) -> None:
        if addresses:
            self.contract.transact("resolve", [addresses])

    def request(self, address: str) -> bool:
        return self.contract.send(address, self._request) is not None

    def vote(self, address: str, opinion: int) -> bool:
        """True when the vote was accepted or flagged the robot, False when it was refused."""
        return self.contract.send(address, self._vote[opinion]) is not None

    def votes(self, addresses: list[str], opinions: list[int]) -> list[bool]:
        """`vote` for many robots, in order, as one block."""
        sent = self.contract.send_block([(a, self._vote[o])
                                         for a, o in zip(addresses, opinions, strict=True)],
                                        logs=False)
        return [o.ok for o in sent]

    def opinions(self, addresses: list[str]) -> np.ndarray:
        """255 = flagged or closed, 254 = a decision is pending."""
        if not addresses:
            return np.empty(0, dtype=np.uint8)
        return np.frombuffer(self.contract.call("opinionsOf", [addresses]), np.uint8).copy()

    def settle(self, swarm: int) -> bool:
        """One unanimity check (anyone may send it); True once the swarm has settled."""
        receipt = self.contract.send(self.chain.accounts[0], self.contract.data("settle", [swarm]))
        return receipt is not None and any(
            log.topics and log.topics[0] == self._settled for log in receipt["logs"])

    def claim(self, address: str) -> bool:
        return self.contract.send(address, self.contract.data("claim", [])) is not None

    def tokens(self, address: str) -> tuple[int, int, int]:
        """(free balance, locked stakes, bond) in wei."""
        return tuple(self.contract.call("tokensOf", [address]))


_TOKEN_RULES = {"dmvd": 0, "dmmd": 1}


def _topic(abi: list[dict[str, Any]], event: str) -> bytes:
    from eth_utils import keccak

    types = ",".join(i["type"] for i in abi_item(abi, event, "event")["inputs"])
    return keccak(text=f"{event}({types})")


class TokenEstimateLedger:
    """SwarmTokenEstimate: robots vote estimates from their own accounts; a majority range of
    the latest votes decides (see the contract)."""

    def __init__(self, chain: Chain, bond_wei: int, stake_wei: int, round_size: int,
                 epsilon: float) -> None:
        self.chain = chain
        self.contract = AccountContract(chain, "SwarmTokenEstimate", [
            bond_wei, stake_wei, round_size, round(epsilon * ESTIMATE_SCALE)])
        self.bond, self.stake = bond_wei, stake_wei
        self.swarms = 0
        self._voted_topic = _topic(self.contract.abi, "Voted")

    def open(self, swarms: int) -> None:
        self.contract.transact("open", [swarms])
        self.swarms += swarms

    def vote(self, address: str, estimate: float) -> int | None:
        """The round the vote went into, or None when it was refused (no stake left, or a vote
        in this round already)."""
        return self.votes([address], [estimate])[0]

    def votes(self, addresses: list[str], estimates: list[float]) -> list[int | None]:
        """`vote` for many robots, in order, as one block."""
        calls = [(a, self.contract.data("vote", [min(max(round(e * ESTIMATE_SCALE), 0),
                                                         ESTIMATE_SCALE)]))
                 for a, e in zip(addresses, estimates, strict=True)]
        return [self._round(o.logs) if o.ok else None for o in self.contract.send_block(calls)]

    def _round(self, logs: tuple[Any, ...]) -> int:
        for log in logs:
            if log.topics and log.topics[0] == self._voted_topic:
                # One word: robot << 96 | swarm << 64 | round << 32 | estimate.
                return (int.from_bytes(log.data[:32], "big") >> 32) & 0xFFFFFFFF
        raise SwarmError("an accepted vote emitted no Voted event")

    def estimates(self) -> tuple[np.ndarray, np.ndarray]:
        """Per swarm: the contract's estimate (nan before the first round) and closed rounds."""
        raw = np.frombuffer(self.contract.call("estimates", [self.swarms]),
                            dtype=">u4").reshape(-1, 2)
        rounds = raw[:, 1].astype(np.int64)
        return np.where(rounds > 0, raw[:, 0] / ESTIMATE_SCALE, np.nan), rounds

    def balance(self, address: str) -> int:
        return int(self.contract.call("robots", [address])[4])
