"""MissionRegistry on any services.chain backend (revm, embedded py-evm, a Hardhat node).

Calls go through the raw calldata path of the Chain protocol: one selector + ABI encoding per
call, no web3 contract objects on the hot path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi import decode
from eth_utils import to_checksum_address

from services.chain.abi import abi_item, abi_types, calldata, checksummed
from services.chain.errors import ChainError, ContractReverted
from services.chain.protocol import Chain, Receipt
from swarm_sim.mission.blueprint import Blueprint, MissionError
from swarm_sim.mission.proofs import Proof

CONTRACT = "MissionRegistry"


def registry_artifact() -> Any:
    from services.chain.compiler import compile_project

    try:
        return compile_project()[CONTRACT]
    except (ChainError, KeyError) as exc:
        raise MissionError(f"cannot compile {CONTRACT}: {exc}") from None


def calldata_gas(data: bytes) -> int:
    """Intrinsic calldata gas of a transaction (EIP-2028: 4 per zero byte, 16 otherwise)."""
    zeros = data.count(0)
    return 4 * zeros + 16 * (len(data) - zeros)


@dataclass(frozen=True)
class MissionState:
    owner: str
    deadline: int
    ordered: bool
    root: bytes
    size: int
    completed: int
    reward_per_step: int
    escrow: int


class MissionRegistry:
    """A deployed MissionRegistry; reverts surface as services.chain ContractReverted."""

    def __init__(self, chain: Chain, address: str, artifact: Any) -> None:
        self.chain = chain
        self.address = address
        self.abi = artifact.abi

    @classmethod
    def deploy(cls, chain: Chain, sender: str | None = None) -> MissionRegistry:
        artifact = registry_artifact()
        return cls(chain, chain.deploy(artifact, sender=sender).address, artifact)

    def _data(self, fn: str, args: list[Any]) -> bytes:
        return calldata(self.abi, fn, args)

    def _call(self, fn: str, args: list[Any], sender: str | None = None) -> tuple[Any, ...]:
        out = self.chain.raw_call(self.address, self._data(fn, args), sender, self.abi)
        return checksummed(decode(abi_types(abi_item(self.abi, fn)["outputs"]), out))

    def _send(self, fn: str, args: list[Any], sender: str | None = None,
              value: int = 0) -> Receipt:
        return self.chain.raw_transact(self.address, self._data(fn, args), sender, value,
                                       self.abi)

    def create(self, blueprint: Blueprint, reward_wei: int, deadline: int,
               sender: str | None = None) -> int:
        """Publish the blueprint's root with reward_wei per step escrowed; the mission id."""
        self._send("createMission", [blueprint.root, blueprint.size, blueprint.ordered,
                                     reward_wei, deadline], sender, reward_wei * blueprint.size)
        return int(self._call("missionCount", [])[0])

    @staticmethod
    def proof_args(proof: Proof) -> list[Any]:
        return [proof.index, proof.leaf, proof.rule_bits, list(proof.siblings)]

    def complete(self, mission: int, proof: Proof, sender: str | None = None) -> Receipt:
        """Prove a step on-chain; ContractReverted (OutOfOrder, InvalidProof, …) if refused."""
        return self._send("completeStep", [mission, *self.proof_args(proof)], sender)

    def verify_step(self, mission: int, proof: Proof) -> bool:
        return bool(self._call("verifyStep", [mission, proof.index, proof.leaf_hash,
                                              proof.rule_bits, list(proof.siblings)])[0])

    def verify_data(self, root: bytes, size: int, index: int, leaf_hash: bytes, rule_bits: int,
                    siblings: list[bytes]) -> bytes:
        """Calldata of verifyProof (for raw calls and gas measurements)."""
        return self._data("verifyProof", [root, size, index, leaf_hash, rule_bits, siblings])

    def verify_proof(self, root: bytes, size: int, index: int, leaf_hash: bytes,
                     rule_bits: int, siblings: list[bytes]) -> bool:
        """The contract's verdict on any proof against any root (no state read)."""
        out = self.chain.raw_call(self.address, self.verify_data(root, size, index, leaf_hash,
                                                                 rule_bits, siblings))
        return bool(decode(["bool"], out)[0])

    def mission(self, mission: int) -> MissionState:
        owner, deadline, ordered, root, size, done, reward, escrow = self._call("missions",
                                                                                [mission])
        return MissionState(owner, deadline, ordered, bytes(root), size, done, reward, escrow)

    def is_completed(self, mission: int, index: int) -> bool:
        return bool(self._call("isCompleted", [mission, index])[0])

    def owed(self, account: str) -> int:
        return int(self._call("owed", [account])[0])

    def withdraw(self, sender: str) -> Receipt:
        return self._send("withdraw", [], sender)

    def reclaim(self, mission: int, sender: str) -> Receipt:
        return self._send("reclaim", [mission], sender)


def refused(exc: ContractReverted) -> str:
    """The custom error's name a refused call reverted with."""
    return exc.reason.split("(")[0]


def robot_account(chain: Chain, robot: int) -> str:
    """The dev account a simulated robot sends from (reused past the chain's accounts)."""
    accounts = chain.accounts
    return accounts[1 + robot % (len(accounts) - 1)]


def robot_wallet(chain: Chain | None, robot: int) -> bytes:
    """The wallet a simulated robot's rewards are bound to: its dev account on a chain,
    else a placeholder address (robot + 1) that nobody can claim from."""
    if chain is None:
        return (robot + 1).to_bytes(20, "big")
    return bytes.fromhex(robot_account(chain, robot)[2:])


class ChainRecorder:
    """A simulated run's completions and Byzantine claims, sent to a MissionRegistry. A step is
    claimed by the robot its reward is bound to (the leaf's beneficiary, which learns every
    completion by the proof exchange); a Byzantine robot sends its claims from its own account."""

    def __init__(self, chain: Chain, blueprint: Blueprint, reward_wei: int = 10**15,
                 deadline_s: int = 86_400) -> None:
        self.registry = MissionRegistry.deploy(chain)
        self.owner = chain.accounts[0]
        self.mission = self.registry.create(blueprint, reward_wei, chain.now() + deadline_s,
                                            self.owner)
        self.forged_accepted = 0

    def submit(self, proof: Proof) -> int:
        """1 if the chain recorded the step, 0 if it refused it (e.g. already done)."""
        try:
            self.registry.complete(self.mission, proof, to_checksum_address(proof.leaf[:20]))
        except ContractReverted:
            return 0
        return 1

    def attack(self, robot: int, message: bytes) -> int:
        """1 if the chain refused a Byzantine claim; an accepted one is counted as forged."""
        from swarm_sim.mission.proofs import decode_proof

        _, proof = decode_proof(message)
        try:
            self.registry.complete(self.mission, proof, robot_account(self.registry.chain, robot))
        except ContractReverted:
            return 1
        self.forged_accepted += 1
        return 0
