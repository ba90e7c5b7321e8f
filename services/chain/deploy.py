"""Deploy the contracts of deploy.json, journaling every transaction in deployments/.

The record `<deployments_dir>/<network>.json` is rewritten atomically before every transaction
(the signed transaction as `pending`) and after it (the contract or setup call done), so a
deploy killed at any point resumes without paying twice: a pending transaction is looked up
on chain, and resent byte for byte if the chain never saw it. `scripts/deploy.js` writes and
reads the same record, so either tool continues what the other did.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from eth_utils import keccak
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gaka.config import Settings
from gaka.files import atomic_write
from gaka.net import redact_url
from services.chain.backends import ChainSpec, SignedTx, open_chain
from services.chain.compiler import Artifact, compile_project, contracts_file
from services.chain.errors import (
    ChainError,
    DeploymentError,
    RPCUnavailable,
    TransactionTimeout,
)
from services.chain.keystore import load_signer, read_password
from services.chain.protocol import Chain, Receipt

log = logging.getLogger(__name__)

Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$")]
Hash = Annotated[str, Field(pattern=r"^0x[0-9a-f]{64}$")]
Hex = Annotated[str, Field(pattern=r"^0x[0-9a-f]*$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContractEntry(_Strict):
    """A deployed contract and what it was built from."""

    address: Address
    tx_hash: Hash
    block: int
    gas_used: int
    source: str
    source_hash: str
    bytecode_hash: str
    args: list[Any]


class SetupEntry(_Strict):
    """A setup call (role wiring) that was mined."""

    contract: str
    address: Address
    function: str
    args: list[Any]
    sender: Address
    tx_hash: Hash


class PendingTx(_Strict):
    """A transaction journaled before broadcast; `entry` is its record entry minus receipt data.

    The Python deploy knows the hash and raw bytes before sending; the Hardhat one pins the
    nonce and learns the hash only once the node took the transaction.
    """

    kind: Literal["contract", "setup"]
    name: str
    entry: dict[str, Any]
    sender: Address
    nonce: int
    block: int | None = None
    tx_hash: Hash | None = None
    raw_tx: Hex | None = None


class Deployment(_Strict):
    """deployments/<network>.json"""

    network: str
    chain_id: int
    deployer: Address
    robot: Address
    compiler: str
    contracts: dict[str, ContractEntry] = {}
    setup: list[SetupEntry] = []
    pending: PendingTx | None = None


@dataclass(frozen=True)
class Target:
    """Which chain to deploy to and under which name to record it."""

    name: str
    spec: ChainSpec

    @property
    def ephemeral(self) -> bool:
        """An in-memory chain: gone with the process, so nothing of it is recorded."""
        return self.spec.network == "revm" and self.spec.rpc_url is None


def deploy_command(target_name: str) -> str:
    """The command that deploys to a target, for error messages."""
    if target_name.startswith("rpc"):
        return "`gaka chain deploy --rpc-url URL`"
    return f"`gaka chain deploy --network {target_name}`"


def record_name(target_name: str, chain_id: int) -> str:
    """The name of a target's record, deployments/<name>.json. An `--rpc-url` chain is named
    by its chain id (`rpc-<id>`): one flag reaches any chain, and two chains must never share
    (and overwrite) one record."""
    return f"rpc-{chain_id}" if target_name == "rpc" else target_name


def resolve_target(settings: Settings, network: str | None = None,
                   rpc_url: str | None = None) -> Target:
    """Turn --network / --rpc-url and the config into a chain spec with a signer."""
    network = network or settings.network
    common = {"rpc_timeout_s": settings.rpc_timeout_s,
              "receipt_timeout_s": settings.receipt_timeout_s,
              "log_chunk_blocks": settings.log_chunk_blocks}
    rpc_url = rpc_url or settings.rpc_url
    if rpc_url is None and network in ("embedded", "revm"):
        return Target(network, ChainSpec(network, data_dir=settings.data_dir, **common))
    if rpc_url is None and network == "localhost":
        return Target("localhost", ChainSpec("localhost", rpc_url=settings.localhost_rpc_url,
                                             **common))
    if rpc_url is None and network == "sepolia":
        if not settings.sepolia_rpc_url:
            raise ChainError("network sepolia needs GAKA_SEPOLIA_RPC_URL (or --rpc-url)")
        rpc_url = settings.sepolia_rpc_url
    if settings.keystore is None:
        raise ChainError(
            f"signing transactions for {redact_url(rpc_url)} needs a keystore: "
            "set GAKA_KEYSTORE")
    signer = load_signer(settings.keystore, read_password(settings.keystore_password_file))
    name = network if network == "sepolia" else "rpc"
    return Target(name, ChainSpec(name, rpc_url=rpc_url, signer=signer, **common))


def bytecode_hash(artifact: Artifact) -> str:
    """sha256 of the creation bytecode (the bytes, not their hex text)."""
    return hashlib.sha256(bytes.fromhex(artifact.bytecode.removeprefix("0x"))).hexdigest()


def _load_manifest(path: Path, artifacts: dict[str, Artifact]) -> dict[str, Any]:
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DeploymentError(f"cannot read deploy manifest {path}: {exc}") from None
    for entry in manifest.get("contracts", []):
        if entry.get("name") not in artifacts:
            raise DeploymentError(f"{path}: unknown contract {entry.get('name')!r}")
    for step in manifest.get("setup", []):
        if step.get("from", "deployer") not in ("deployer", "robot"):
            raise DeploymentError(f"{path}: setup 'from' must be deployer or robot")
    return manifest


def load_record(path: Path) -> Deployment | None:
    """The deployment record at path, None if there is none; a damaged one is an error."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        return Deployment.model_validate_json(text)
    except ValidationError as exc:
        raise DeploymentError(
            f"deployment record {path} is damaged ({exc.error_count()} problems, first: "
            f"{exc.errors()[0]['msg']}); move it away to deploy afresh") from None


def write_record(path: Path, record: Deployment) -> None:
    """Replace the record atomically: readers see the old or the new file, never a mix."""
    atomic_write(path, (record.model_dump_json(indent=2) + "\n").encode())


def _resolver(roles: dict[str, str], addresses: dict[str, str]) -> Callable[[Any], Any]:
    def resolve(arg: Any) -> Any:
        if isinstance(arg, list):
            return [resolve(a) for a in arg]
        if not (isinstance(arg, str) and arg.startswith("$")):
            return arg
        ref = arg[1:]
        if ref.startswith("role:"):
            return keccak(text=ref[5:])
        if ref in roles:
            return roles[ref]
        if ref in addresses:
            return addresses[ref]
        raise DeploymentError(f"unresolved reference {arg} (deploy it earlier in the manifest)")

    return resolve


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _hex(value: Any) -> str:
    return "0x" + bytes(value).hex()


def _still_deployed(chain: Chain, record: ContractEntry | None, artifact: Artifact,
                    args: list[Any]) -> bool:
    if record is None:
        return False
    if record.bytecode_hash != bytecode_hash(artifact) or record.args != args:
        return False
    return len(chain.get_code(record.address)) > 0


def _settle(chain: Chain, pending: PendingTx) -> Receipt | None:
    """The receipt of a journaled transaction, mined now if need be; None if it never will be.

    Resending needs a chain that signs locally and offers `resend` (the web3 backends).
    """
    mined = chain.nonce(pending.sender)  # before the receipt: a late mining is then still seen
    if pending.tx_hash and (receipt := chain.receipt(bytes.fromhex(pending.tx_hash[2:]))):
        return receipt
    if mined > pending.nonce:
        if pending.tx_hash:
            return None  # its nonce went to another transaction
        raise DeploymentError(
            f"an interrupted Hardhat deploy left nonce {pending.nonce} of {pending.sender} "
            "unidentified; rerun `npx hardhat run scripts/deploy.js` to settle it")
    if pending.raw_tx is None:
        raise DeploymentError(
            f"an interrupted Hardhat deploy left transaction nonce {pending.nonce} of "
            f"{pending.sender} unsent or unmined; rerun `npx hardhat run scripts/deploy.js`")
    signed = SignedTx(pending.sender, pending.nonce, pending.tx_hash or "", pending.raw_tx)
    try:
        return chain.resend(signed)
    except (RPCUnavailable, TransactionTimeout):
        raise
    except ChainError as exc:
        # Redo the step only once its nonce has gone to another transaction: while the nonce
        # is free, the journaled transaction may still be in a node's pool and get mined.
        if chain.nonce(pending.sender) > pending.nonce and not (
                pending.tx_hash and chain.receipt(bytes.fromhex(pending.tx_hash[2:]))):
            log.warning("journaled transaction %s was replaced (%s)", pending.tx_hash, exc)
            return None
        raise DeploymentError(
            f"the interrupted deploy's transaction {pending.tx_hash} (nonce {pending.nonce} of "
            f"{pending.sender}) is neither mined nor accepted again ({exc}); rerun once it is "
            "mined, or remove `pending` from the record if the node dropped it for good"
        ) from None


class _Deployer:
    """One deploy run: its record, written before and after every transaction (unless path
    is None: an ephemeral chain keeps no record)."""

    def __init__(self, chain: Chain, path: Path | None, record: Deployment) -> None:
        self.chain = chain
        self.path = path
        self.record = record

    def save(self) -> None:
        if self.path is not None:
            write_record(self.path, self.record)

    def journaled(self, kind: Literal["contract", "setup"], name: str,
                  entry: dict[str, Any]) -> dict[str, Any]:
        """Keyword arguments that make the chain hand over the signed transaction to the
        record before broadcasting it."""
        if self.path is None:
            return {}

        def before_broadcast(signed: SignedTx) -> None:
            self.record.pending = PendingTx(kind=kind, name=name, entry=entry,
                                            sender=signed.sender, nonce=signed.nonce,
                                            tx_hash=signed.tx_hash, raw_tx=signed.raw_tx)
            self.save()

        return {"journal": before_broadcast}

    def done(self, kind: str, name: str, entry: dict[str, Any], receipt: Receipt) -> None:
        """Record a mined transaction and clear the pending one, in one write."""
        if kind == "contract":
            self.record.contracts[name] = ContractEntry(
                **entry, address=receipt["contractAddress"],
                tx_hash=_hex(receipt["transactionHash"]), block=receipt["blockNumber"],
                gas_used=receipt["gasUsed"])
        else:
            self.record.setup.append(
                SetupEntry(**entry, tx_hash=_hex(receipt["transactionHash"])))
        self.record.pending = None
        self.save()

    def resume(self) -> None:
        """Settle the transaction a killed run left pending."""
        pending = self.record.pending
        if pending is None:
            return
        receipt = _settle(self.chain, pending)
        if receipt is not None and receipt["status"] == 1:
            log.info("resumed: %s %s was mined", pending.kind, pending.name)
            self.done(pending.kind, pending.name, pending.entry, receipt)
        else:
            log.warning("resumed: %s %s did not take effect; redoing it",
                        pending.kind, pending.name)
            self.record.pending = None
            self.save()


@contextmanager
def _exclusive(path: Path | None) -> Iterator[None]:
    """One deploy per record at a time: two would both pay for the same contracts."""
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.with_name(f".{path.name}.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DeploymentError(f"another deploy is writing {path}; wait for it") from None
        yield


def _previous(path: Path, chain: Chain) -> Deployment | None:
    previous = load_record(path)
    if previous is not None and previous.chain_id != chain.chain_id:
        return None  # a different chain behind the same name: nothing of it is live here
    return previous


def deploy(chain: Chain, target_name: str, out_dir: Path | None, robot: str | None = None,
           manifest_path: Path | None = None) -> dict[str, Any]:
    """Deploy what the manifest lists, skipping contracts that are already live and unchanged.

    The record goes to out_dir/<target_name>.json (nowhere if out_dir is None). Returns it
    plus `redeployed`, the contracts this run deployed.
    """
    artifacts = compile_project()
    manifest = _load_manifest(manifest_path or contracts_file("deploy.json"), artifacts)
    path = None if out_dir is None else out_dir / f"{target_name}.json"
    with _exclusive(path):
        return _deploy(chain, artifacts, manifest, path, target_name, robot)


def _deploy(chain: Chain, artifacts: dict[str, Artifact], manifest: dict[str, Any],
            path: Path | None, target_name: str, robot: str | None) -> dict[str, Any]:
    deployer = chain.accounts[0]
    robot = robot or (chain.accounts[1] if len(chain.accounts) > 1 else deployer)
    previous = None if path is None else _previous(path, chain)
    run = _Deployer(chain, path, Deployment(
        network=target_name, chain_id=chain.chain_id, deployer=deployer, robot=robot,
        compiler=next(iter(artifacts.values())).compiler,
        contracts=previous.contracts if previous else {},
        setup=previous.setup if previous else [],
        pending=previous.pending if previous else None,
    ))
    run.resume()

    roles = {"deployer": deployer, "robot": robot}
    addresses: dict[str, str] = {}
    resolve = _resolver(roles, addresses)
    redeployed: list[str] = []
    for item in manifest.get("contracts", []):
        name = item["name"]
        artifact = artifacts[name]
        args = resolve(item.get("args", []))
        old = run.record.contracts.get(name)
        if _still_deployed(chain, old, artifact, _jsonable(args)):
            log.info("%s unchanged at %s", name, old.address)
        else:
            entry = {"source": artifact.source, "source_hash": artifact.source_hash,
                     "bytecode_hash": bytecode_hash(artifact), "args": _jsonable(args)}
            contract = chain.deploy(artifact, *args, sender=deployer,
                                    **run.journaled("contract", name, entry))
            run.done("contract", name, entry, contract.deploy_receipt)
            redeployed.append(name)
            log.info("deployed %s at %s", name, contract.address)
        addresses[name] = run.record.contracts[name].address

    wanted: list[SetupEntry] = []
    for step in manifest.get("setup", []):
        args = resolve(step.get("args", []))
        entry = {"contract": step["contract"], "address": addresses[step["contract"]],
                 "function": step["function"], "args": _jsonable(args),
                 "sender": roles[step.get("from", "deployer")]}
        done = next((s for s in run.record.setup
                     if s.model_dump(exclude={"tx_hash"}) == entry), None)
        if done is None:
            contract = chain.at(artifacts[step["contract"]], entry["address"])
            receipt = chain.transact(getattr(contract.functions, step["function"])(*args),
                                     sender=entry["sender"],
                                     **run.journaled("setup", step["contract"], entry))
            run.done("setup", step["contract"], entry, receipt)
            done = run.record.setup[-1]
        wanted.append(done)

    # Forget what the manifest no longer lists, now that nothing is left to resume.
    run.record.contracts = {n: run.record.contracts[n] for n in addresses}
    run.record.setup = wanted
    run.save()
    return {**run.record.model_dump(exclude={"pending"}), "redeployed": sorted(redeployed)}


def deploy_project(settings: Settings, network: str | None = None,
                   rpc_url: str | None = None) -> dict[str, Any]:
    """Open the configured chain, deploy, close; returns the deployment record."""
    target = resolve_target(settings, network, rpc_url)
    chain = open_chain(target.spec)
    try:
        out_dir = None if target.ephemeral else settings.deployments_dir
        return deploy(chain, record_name(target.name, chain.chain_id), out_dir,
                      settings.robot_address)
    finally:
        chain.close()
