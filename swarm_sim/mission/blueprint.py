"""Mission specs, salted pymerkle trees, the public blueprint and per-robot secrets.

A mission is a list of operations (sensor input, action). Each becomes one leaf of a pymerkle
tree (keccak-256, RFC 6962 domain prefixes: 0x00 before a leaf, 0x01 before a node pair). The
leaf data is `beneficiary || salt || operation`, with a fresh 256-bit salt per operation, so the
published root says nothing about the operations and hashing candidate inputs finds no leaf: a
robot can recognise a step only with that step's salt, which it gets in its secret bundle. The
beneficiary is the 20-byte wallet the step's on-chain reward is bound to: the registry pays only
that wallet, so a copied proof (a mempool watcher, a peer, the operator who knows every leaf)
earns the copier nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import struct
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pymerkle import InmemoryTree
from pymerkle.hasher import HASH_FUNCTIONS

from swarm_sim.errors import SwarmError

ALGORITHM = "keccak_256"
SALT_BYTES = 32
ADDRESS_BYTES = 20
NO_BENEFICIARY = bytes(ADDRESS_BYTES)  # a step no wallet can claim on-chain (off-chain missions)
MAX_OPERATIONS = 1 << 32
_FIELD = struct.Struct(">H")


class MissionError(SwarmError):
    """A mission spec, blueprint, secret or proof that cannot be used; the message says why."""


def keccak_256() -> Any:
    """The hash pymerkle uses for 'keccak_256': Ethereum's Keccak-256 (not FIPS SHA3-256)."""
    try:
        return HASH_FUNCTIONS[ALGORITHM]
    except KeyError:
        raise MissionError("pymerkle has no keccak_256: install safe-pysha3") from None


@dataclass(frozen=True)
class Operation:
    """One mission step: when the robot senses `sensor`, it performs `action`."""

    sensor: str
    action: str

    def encode(self) -> bytes:
        """Length-prefixed UTF-8 fields, so no two operations encode alike."""
        out = b""
        for text in (self.sensor, self.action):
            raw = text.encode()
            if len(raw) > 0xFFFF:
                raise MissionError(f"operation field longer than 65,535 bytes: {text[:40]!r}…")
            out += _FIELD.pack(len(raw)) + raw
        return out


@dataclass(frozen=True)
class MissionSpec:
    """A named mission: its operations, and whether they must be completed in order."""

    name: str
    ordered: bool
    operations: tuple[Operation, ...]

    def __post_init__(self) -> None:
        if not self.operations:
            raise MissionError(f"mission {self.name!r} has no operations")
        if len(self.operations) >= MAX_OPERATIONS:
            raise MissionError(f"mission {self.name!r} has too many operations")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MissionSpec:
        try:
            ops = tuple(Operation(str(o["sensor"]), str(o["action"]))
                        for o in data["operations"])
            return cls(str(data.get("name", "mission")), bool(data.get("ordered", True)), ops)
        except (KeyError, TypeError) as exc:
            raise MissionError(
                f"a mission spec needs `operations`, each with `sensor` and `action` ({exc})"
            ) from None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ordered": self.ordered,
                "operations": [{"sensor": o.sensor, "action": o.action}
                               for o in self.operations]}


def load_spec(path: Path) -> MissionSpec:
    """Read a mission spec from a .toml or .json file."""
    try:
        text = Path(path).read_bytes()
        if Path(path).suffix.lower() == ".toml":
            data = tomllib.loads(text.decode())
        else:
            data = json.loads(text)
    except OSError as exc:
        raise MissionError(f"cannot read mission spec {path}: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise MissionError(f"mission spec {path} is not valid TOML/JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MissionError(f"mission spec {path} must be a table/object")
    return MissionSpec.from_dict(data)


def leaf_data(salt: bytes, operation: Operation, beneficiary: bytes = NO_BENEFICIARY) -> bytes:
    """What pymerkle stores as the leaf: the beneficiary wallet, the salt, then the encoded
    operation (the contract reads the beneficiary from the first 20 bytes)."""
    if len(beneficiary) != ADDRESS_BYTES:
        raise MissionError(f"a beneficiary is a 20-byte address, got {len(beneficiary)} bytes")
    return beneficiary + salt + operation.encode()


def address_bytes(value: str) -> bytes:
    """A 0x-prefixed 20-byte hex address as bytes; MissionError if it is not one."""
    raw = bytes.fromhex(value.removeprefix("0x")) if _is_hex(value) else b""
    if len(raw) != ADDRESS_BYTES:
        raise MissionError(f"not a 20-byte hex address: {value[:44]!r}")
    return raw


def leaf_hash(data: bytes) -> bytes:
    """pymerkle's leaf hash under security mode: keccak256(0x00 || data)."""
    return keccak_256()(b"\x00" + data).digest()


def hex32(value: str, what: str) -> bytes:
    raw = bytes.fromhex(value.removeprefix("0x")) if _is_hex(value) else b""
    if len(raw) != 32:
        raise MissionError(f"{what} must be 32 bytes of hex, got {value[:20]!r}")
    return raw


def _is_hex(value: Any) -> bool:
    try:
        bytes.fromhex(str(value).removeprefix("0x"))
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Blueprint:
    """The public part of a mission: its root, size and order rule. Reveals no operation."""

    name: str
    root: bytes
    size: int
    ordered: bool
    algorithm: str = ALGORITHM

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "root": "0x" + self.root.hex(), "size": self.size,
                "ordered": self.ordered, "algorithm": self.algorithm, "security": True}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Blueprint:
        try:
            if data.get("algorithm", ALGORITHM) != ALGORITHM or data.get("security") is False:
                raise MissionError(f"only {ALGORITHM} trees with domain prefixes are supported")
            size = int(data["size"])
            if not 0 < size < MAX_OPERATIONS:
                raise MissionError(f"blueprint size out of range: {size}")
            return cls(str(data["name"]), hex32(str(data["root"]), "root"), size,
                       bool(data["ordered"]))
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, MissionError):
                raise
            raise MissionError(f"not a mission blueprint ({exc})") from None


@dataclass(frozen=True)
class StepSecret:
    """What a robot needs to recognise and prove step `index`: its salt, the wallet its reward
    is bound to and its proof path."""

    index: int
    salt: bytes
    rule: tuple[int, ...]
    siblings: tuple[bytes, ...]
    beneficiary: bytes = NO_BENEFICIARY

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "salt": self.salt.hex(),
                "beneficiary": "0x" + self.beneficiary.hex(), "rule": list(self.rule),
                "siblings": [s.hex() for s in self.siblings]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StepSecret:
        try:
            return cls(int(data["index"]), bytes.fromhex(data["salt"]),
                       tuple(int(b) for b in data["rule"]),
                       tuple(bytes.fromhex(s) for s in data["siblings"]),
                       address_bytes(str(data["beneficiary"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise MissionError(f"not a step secret ({exc})") from None


@dataclass(frozen=True)
class RobotSecrets:
    """One robot's bundle: the blueprint it verifies against and the steps it may prove."""

    robot: int
    blueprint: Blueprint
    steps: tuple[StepSecret, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"robot": self.robot, "blueprint": self.blueprint.to_dict(),
                "steps": [s.to_dict() for s in self.steps]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RobotSecrets:
        try:
            return cls(int(data["robot"]), Blueprint.from_dict(data["blueprint"]),
                       tuple(StepSecret.from_dict(s) for s in data["steps"]))
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, MissionError):
                raise
            raise MissionError(f"not a robot secret bundle ({exc})") from None


def derive_salts(master: bytes, count: int) -> list[bytes]:
    """Per-operation salts: HMAC-SHA256(master, index) — unpredictable without `master`."""
    return [hmac.new(master, i.to_bytes(8, "big"), hashlib.sha256).digest()
            for i in range(1, count + 1)]


@dataclass
class BuiltMission:
    """The operator's view: spec, salts, beneficiaries and the pymerkle tree. Never given to a
    robot whole."""

    spec: MissionSpec
    salts: list[bytes]
    beneficiaries: list[bytes]
    tree: InmemoryTree

    @property
    def blueprint(self) -> Blueprint:
        return Blueprint(self.spec.name, self.tree.get_root(), self.tree.get_size(),
                         self.spec.ordered)

    def leaf(self, index: int) -> bytes:
        """Leaf data of step `index` (from 1)."""
        return leaf_data(self.salts[index - 1], self.spec.operations[index - 1],
                         self.beneficiaries[index - 1])

    def step_secret(self, index: int) -> StepSecret:
        proof = self.tree.prove_inclusion(index)
        return StepSecret(index, self.salts[index - 1], tuple(proof.rule), tuple(proof.path[1:]),
                          self.beneficiaries[index - 1])

    def robot_secrets(self, robots: int, share: int | None = None) -> list[RobotSecrets]:
        """Bundles for `robots` robots; each step goes to `share` of them (all by default),
        so a captured robot reveals at most the steps it was given. Step i goes first to robot
        (i - 1) mod `robots`, the robot `build(…, wallets)` binds its reward to."""
        if robots < 1:
            raise MissionError("a swarm needs at least one robot")
        share = robots if share is None else share
        if not 1 <= share <= robots:
            raise MissionError(f"share must lie in 1..{robots}, got {share}")
        steps = [self.step_secret(i) for i in range(1, len(self.salts) + 1)]
        bundles: list[list[StepSecret]] = [[] for _ in range(robots)]
        for i, step in enumerate(steps):
            for j in range(share):
                bundles[(i + j) % robots].append(step)
        bp = self.blueprint
        return [RobotSecrets(r, bp, tuple(b)) for r, b in enumerate(bundles)]


def build(spec: MissionSpec, master: bytes | None = None,
          wallets: Sequence[bytes] = ()) -> BuiltMission:
    """Salt every operation (fresh random salts unless a master secret is given), bind step i's
    reward to wallet (i - 1) mod len(wallets) (robot k of `robot_secrets` has wallet k; no
    wallets: no step can be claimed on-chain) and build the pymerkle tree."""
    keccak_256()
    n = len(spec.operations)
    salts = derive_salts(master if master is not None else secrets.token_bytes(32), n)
    beneficiaries = [wallets[i % len(wallets)] if wallets else NO_BENEFICIARY for i in range(n)]
    tree = InmemoryTree(algorithm=ALGORITHM)
    for salt, op, wallet in zip(salts, spec.operations, beneficiaries, strict=True):
        tree.append_entry(leaf_data(salt, op, wallet))
    return BuiltMission(spec, salts, beneficiaries, tree)


def foraging_spec(colours: list[str]) -> MissionSpec:
    """Deliver one object of each colour to the nest, in this order."""
    return MissionSpec("foraging", True,
                       tuple(Operation(f"colour:{c}", "deliver") for c in colours))


def maze_spec(pattern: list[list[bool]], order: list[int]) -> MissionSpec:
    """Build a wall in every occupied cell, keep the others clear; cells listed in `order`
    (a secret permutation, so a step's index does not give away its cell)."""
    cols = len(pattern[0])
    ops = []
    for cell in order:
        r, c = divmod(cell, cols)
        ops.append(Operation(f"cell:{r},{c}", "build" if pattern[r][c] else "keep-clear"))
    return MissionSpec("maze", False, tuple(ops))
