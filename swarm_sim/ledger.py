"""The consensus contracts behind one interface, on two EVMs running the same bytecode.

`PyrevmBackend` executes in-process (Rust revm): the simulator advances blocks itself.
`ChainBackend` goes through the project's web3 `Chain` (embedded py-evm chain, or a Hardhat
node over JSON-RPC). Both mine exactly one block per transaction, so a contract sees the same
block heights, draws the same votes and returns the same decisions on either of them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector

from swarm_sim.errors import SwarmError

_DEPLOYER = "0x" + "5a" * 20
# Set-up transactions are cut so that each fits a 30M-gas block on any chain; both backends cut
# them the same way, so block heights stay aligned.
REGISTRATIONS_PER_TX = 800
DEPOSITS_PER_TX = 400
_RULE_CODES = {"dmvd": 0, "dmmd": 1, "dc": 2}
QUALITY_SCALE = 65535
ESTIMATE_SCALE = 1_000_000


def _abi_type(item: dict[str, Any]) -> str:
    if item["type"].startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in item["components"])
        return f"({inner}){item['type'][5:]}"
    return item["type"]


def _function(abi: list[dict[str, Any]], name: str) -> dict[str, Any]:
    for item in abi:
        if item.get("type") == "function" and item["name"] == name:
            return item
    raise SwarmError(f"the contract has no function {name}")


class EvmBackend(Protocol):
    """Deploy, transact (one block each) and call; implementations raise SwarmError on revert."""

    name: str

    def deploy(self, artifact: Any, args: list[Any]) -> str: ...

    def transact(self, address: str, abi: list[dict[str, Any]], fn: str, args: list[Any],
                 value: int = 0) -> None: ...

    def call(self, address: str, abi: list[dict[str, Any]], fn: str, args: list[Any]) -> Any: ...

    def close(self) -> None: ...


class PyrevmBackend:
    """In-process revm; block number and timestamp advance by one per transaction."""

    name = "pyrevm"

    def __init__(self) -> None:
        from pyrevm import EVM, BlockEnv

        self._block_env = BlockEnv
        self.evm = EVM(spec_id="PRAGUE")
        self.evm.set_balance(_DEPLOYER, 10**30)
        self.block = 0

    def _mine(self) -> None:
        self.block += 1
        self.evm.set_block_env(self._block_env(number=self.block, timestamp=1_700_000_000
                                               + 12 * self.block))

    def deploy(self, artifact: Any, args: list[Any]) -> str:
        ctor = next((i for i in artifact.abi if i.get("type") == "constructor"), {"inputs": []})
        data = bytes.fromhex(artifact.bytecode[2:]) + encode(
            [_abi_type(i) for i in ctor["inputs"]], args)
        self._mine()
        try:
            return self.evm.deploy(_DEPLOYER, data)
        except RuntimeError as exc:
            raise SwarmError(f"deploying {artifact.name} failed: {exc}") from None

    def _calldata(self, abi: list[dict[str, Any]], fn: str, args: list[Any]) -> tuple[bytes, dict]:
        item = _function(abi, fn)
        types = [_abi_type(i) for i in item["inputs"]]
        selector = function_signature_to_4byte_selector(f"{fn}({','.join(types)})")
        return selector + encode(types, args), item

    def transact(self, address: str, abi: list[dict[str, Any]], fn: str, args: list[Any],
                 value: int = 0) -> None:
        data, _ = self._calldata(abi, fn, args)
        self._mine()
        try:
            self.evm.message_call(_DEPLOYER, address, data, value=value)
        except RuntimeError as exc:
            raise SwarmError(f"{fn} reverted: {exc}") from None

    def call(self, address: str, abi: list[dict[str, Any]], fn: str, args: list[Any]) -> Any:
        data, item = self._calldata(abi, fn, args)
        try:
            out = self.evm.message_call(_DEPLOYER, address, data, is_static=True)
        except RuntimeError as exc:
            raise SwarmError(f"{fn} reverted: {exc}") from None
        values = decode([_abi_type(o) for o in item["outputs"]], bytes(out))
        return values[0] if len(values) == 1 else values

    def close(self) -> None:
        """Nothing to release: the EVM lives in this process."""


class ChainBackend:
    """Any web3 chain of services.chain (embedded py-evm, Hardhat node): one tx = one block."""

    name = "web3"

    def __init__(self, chain: Any, owns: bool = False, tmp: Any = None) -> None:
        self.chain = chain
        self._owns = owns
        self._tmp = tmp
        self._contracts: dict[str, Any] = {}

    @classmethod
    def embedded(cls, data_dir: Path | None = None) -> ChainBackend:
        """A private embedded chain (in a temporary directory unless data_dir is given)."""
        from services.chain.backends import ChainSpec, open_chain

        tmp = None
        if data_dir is None:
            tmp = tempfile.TemporaryDirectory(prefix="gaka-swarm-")
            data_dir = Path(tmp.name)
        return cls(open_chain(ChainSpec(network="embedded", data_dir=data_dir)), True, tmp)

    def deploy(self, artifact: Any, args: list[Any]) -> str:
        from services.chain.errors import ChainError

        try:
            contract = self.chain.deploy(artifact, *args)
        except ChainError as exc:
            raise SwarmError(f"deploying {artifact.name} failed: {exc}") from None
        self._contracts[contract.address] = contract
        return contract.address

    def transact(self, address: str, abi: list[dict[str, Any]], fn: str, args: list[Any],
                 value: int = 0) -> None:
        from services.chain.errors import ChainError

        try:
            self.chain.transact(self._contracts[address].functions[fn](*args), value=value)
        except ChainError as exc:
            raise SwarmError(f"{fn} failed: {exc}") from None

    def call(self, address: str, abi: list[dict[str, Any]], fn: str, args: list[Any]) -> Any:
        from services.chain.errors import ChainError

        try:
            return self.chain.call(self._contracts[address].functions[fn](*args))
        except ChainError as exc:
            raise SwarmError(f"{fn} failed: {exc}") from None

    def close(self) -> None:
        if self._owns:
            self.chain.close()
        if self._tmp is not None:
            self._tmp.cleanup()


def open_backend(name: str) -> EvmBackend:
    """A fresh EVM: 'pyrevm' (in-process) or 'embedded' (web3 over the project's chain)."""
    if name == "pyrevm":
        return PyrevmBackend()
    if name == "embedded":
        return ChainBackend.embedded()
    raise SwarmError(f"unknown ledger backend {name!r}; choose pyrevm or embedded")


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

    def __init__(self, backend: EvmBackend, rule: str, stable_depth: int, freshness: int,
                 contingent: int) -> None:
        self.backend = backend
        artifact = _artifact("SwarmDecision")
        self.abi = artifact.abi
        self.address = backend.deploy(
            artifact, [_RULE_CODES[rule], stable_depth, freshness, contingent])

    def register(self, seeds: list[int], swarm: np.ndarray, robot: np.ndarray,
                 opinion: np.ndarray) -> None:
        """Open one swarm per seed, register robots with their initial opinions, and start
        the contract's clock (height 0 is the block after the last registration)."""
        words = [int(s).to_bytes(32, "big") for s in seeds]
        for at in range(0, max(swarm.size, 1), REGISTRATIONS_PER_TX):
            part = slice(at, at + REGISTRATIONS_PER_TX)
            records = _pack([(swarm[part], ">u2"), (robot[part], ">u4"), (opinion[part], "u1")])
            self.backend.transact(self.address, self.abi, "register",
                                  [words if at == 0 else [], records])
        self.backend.transact(self.address, self.abi, "start", [])

    def step(self, decide: tuple[np.ndarray, np.ndarray, np.ndarray],
             votes: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
        """One block: decision requests (swarm, robot, quality) and votes (swarm, robot,
        opinion, quality). Returns the new opinion per decision (255 when flagged)."""
        d = _pack([(decide[0], ">u2"), (decide[1], ">u4"), (decide[2], ">u2")])
        v = _pack([(votes[0], ">u2"), (votes[1], ">u4"), (votes[2], "u1"), (votes[3], ">u2")])
        self.backend.transact(self.address, self.abi, "step", [d, v])
        if decide[0].size == 0:
            return np.empty(0, dtype=np.uint8)
        return self.opinions(decide[0], decide[1])

    def opinions(self, swarm: np.ndarray, robot: np.ndarray) -> np.ndarray:
        """Current opinion of each robot as the contract holds it (255 = flagged)."""
        keys = _pack([(swarm, ">u2"), (robot, ">u4")])
        out = self.backend.call(self.address, self.abi, "opinionsOf", [keys])
        return np.frombuffer(out, dtype=np.uint8).copy()

    def counters(self, swarm: int = 0) -> dict[str, int]:
        """Votes accepted, rejected, and robots flagged in one swarm."""
        accepted, rejected, flagged = self.backend.call(self.address, self.abi, "tallies",
                                                        [swarm])
        return {"accepted": accepted, "rejected": rejected, "flagged": flagged}


class EstimateLedger:
    """SwarmEstimate: deposit-backed votes on the black share, outliers lose their stake."""

    def __init__(self, backend: EvmBackend, stake_wei: int, bond_wei: int, round_size: int,
                 swarms: int) -> None:
        self.backend = backend
        artifact = _artifact("SwarmEstimate")
        self.abi = artifact.abi
        self.swarms = swarms
        self.address = backend.deploy(artifact, [stake_wei, bond_wei, round_size, swarms])

    def deposit(self, swarm: np.ndarray, robot: np.ndarray, amount_wei: np.ndarray) -> None:
        """Send ether for each identity (amounts up to 2**96 wei)."""
        amounts = [int(a) for a in amount_wei]
        hi = np.array([a >> 64 for a in amounts], dtype=np.uint64)
        lo = np.array([a & (2**64 - 1) for a in amounts], dtype=np.uint64)
        for at in range(0, len(amounts), DEPOSITS_PER_TX):
            part = slice(at, at + DEPOSITS_PER_TX)
            records = _pack([(swarm[part], ">u2"), (robot[part], ">u4"), (hi[part], ">u4"),
                             (lo[part], ">u8")])
            self.backend.transact(self.address, self.abi, "deposit", [records],
                                  value=sum(amounts[part]))

    def step(self, swarm: np.ndarray, robot: np.ndarray, estimate: np.ndarray) -> None:
        ppm = np.clip(np.rint(estimate * ESTIMATE_SCALE), 0, ESTIMATE_SCALE).astype(np.uint32)
        records = _pack([(swarm, ">u2"), (robot, ">u4"), (ppm, ">u4")])
        self.backend.transact(self.address, self.abi, "step", [records])

    def means(self) -> tuple[np.ndarray, np.ndarray]:
        """Per swarm: the contract's mean estimate (nan before the first payout) and rounds."""
        raw = np.frombuffer(self.backend.call(self.address, self.abi, "means", [self.swarms]),
                            dtype=">u4").reshape(-1, 2)
        rounds = raw[:, 1].astype(np.int64)
        mean = np.where(rounds > 0, raw[:, 0] / ESTIMATE_SCALE, np.nan)
        return mean, rounds

    def balance(self, swarm: int, robot: int) -> int:
        return int(self.backend.call(self.address, self.abi, "balanceOf",
                                     [(swarm << 32) | robot]))

    def withdraw(self, swarm: int, robot: int, to: str) -> None:
        """Pay an identity's balance and bond to `to`, closing the identity."""
        self.backend.transact(self.address, self.abi, "withdraw", [swarm, robot, to])

    def counters(self, swarm: int = 0) -> dict[str, int]:
        """Votes accepted and rejected in one swarm."""
        accepted, rejected = self.backend.call(self.address, self.abi, "tallies", [swarm])
        return {"accepted": accepted, "rejected": rejected}
