"""Deploy the contracts named in contracts/deploy.json and record them in deployments/."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils import keccak

from gaka.config import Settings
from services.chain.backends import Chain, ChainSpec, open_chain
from services.chain.compiler import CONTRACTS_DIR, Artifact, compile_project
from services.chain.errors import ChainError, DeploymentError
from services.chain.keystore import load_signer, read_password

log = logging.getLogger(__name__)
MANIFEST = CONTRACTS_DIR / "deploy.json"


@dataclass(frozen=True)
class Target:
    """Which chain to deploy to and under which name to record it."""

    name: str
    spec: ChainSpec


def resolve_target(settings: Settings, network: str | None = None,
                   rpc_url: str | None = None) -> Target:
    """Turn --network / --rpc-url and the config into a chain spec with a signer."""
    network = network or settings.network
    timeouts = {"rpc_timeout_s": settings.rpc_timeout_s,
                "receipt_timeout_s": settings.receipt_timeout_s}
    rpc_url = rpc_url or settings.rpc_url
    if rpc_url is None and network == "embedded":
        return Target("embedded", ChainSpec("embedded", data_dir=settings.data_dir, **timeouts))
    if rpc_url is None and network == "localhost":
        return Target("localhost", ChainSpec("localhost", rpc_url=settings.localhost_rpc_url,
                                             **timeouts))
    if rpc_url is None and network == "sepolia":
        if not settings.sepolia_rpc_url:
            raise ChainError("network sepolia needs GAKA_SEPOLIA_RPC_URL (or --rpc-url)")
        rpc_url = settings.sepolia_rpc_url
    if settings.keystore is None:
        raise ChainError(f"deploying to {rpc_url} needs a keystore: set GAKA_KEYSTORE")
    signer = load_signer(settings.keystore, read_password(settings.keystore_password_file))
    name = network if network == "sepolia" else "rpc"
    return Target(name, ChainSpec(name, rpc_url=rpc_url, signer=signer, **timeouts))


def _bytecode_hash(artifact: Artifact) -> str:
    return hashlib.sha256(artifact.bytecode.encode()).hexdigest()


def _load_manifest(path: Path, artifacts: dict[str, Artifact]) -> dict[str, Any]:
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DeploymentError(f"cannot read deploy manifest {path}: {exc}") from None
    for entry in manifest.get("contracts", []):
        if entry.get("name") not in artifacts:
            raise DeploymentError(f"{path}: unknown contract {entry.get('name')!r}")
    return manifest


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


def _still_deployed(chain: Chain, record: dict[str, Any] | None, artifact: Artifact,
                    args: list[Any]) -> bool:
    if record is None:
        return False
    if record.get("bytecode_hash") != _bytecode_hash(artifact) or record.get("args") != args:
        return False
    return len(chain.get_code(record["address"])) > 0


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def deploy(chain: Chain, target_name: str, out_dir: Path, robot: str | None = None,
           manifest_path: Path = MANIFEST) -> dict[str, Any]:
    """Deploy what the manifest lists, skipping contracts that are already live and unchanged."""
    artifacts = compile_project()
    manifest = _load_manifest(manifest_path, artifacts)
    out_path = out_dir / f"{target_name}.json"
    previous = json.loads(out_path.read_text()) if out_path.is_file() else {}
    if previous.get("chain_id") not in (None, chain.chain_id):
        previous = {}  # a different chain behind the same name: nothing of it is live here

    deployer = chain.accounts[0]
    robot = robot or (chain.accounts[1] if len(chain.accounts) > 1 else deployer)
    roles = {"deployer": deployer, "robot": robot}
    senders = {"deployer": deployer, "robot": robot}
    addresses: dict[str, str] = {}
    records: dict[str, Any] = {}
    redeployed: set[str] = set()
    resolve = _resolver(roles, addresses)

    for entry in manifest.get("contracts", []):
        name = entry["name"]
        artifact = artifacts[name]
        args = _jsonable(resolve(entry.get("args", [])))
        old = previous.get("contracts", {}).get(name)
        if _still_deployed(chain, old, artifact, args):
            log.info("%s unchanged at %s", name, old["address"])
            records[name] = old
        else:
            contract = chain.deploy(artifact, *resolve(entry.get("args", [])), sender=deployer)
            receipt = contract.deploy_receipt
            redeployed.add(name)
            records[name] = {
                "address": contract.address,
                "tx_hash": "0x" + bytes(receipt["transactionHash"]).hex().removeprefix("0x"),
                "block": receipt["blockNumber"],
                "gas_used": receipt["gasUsed"],
                "source": artifact.source,
                "source_hash": artifact.source_hash,
                "bytecode_hash": _bytecode_hash(artifact),
                "args": args,
            }
            log.info("deployed %s at %s", name, contract.address)
        addresses[name] = records[name]["address"]

    done_steps = {s["key"]: s for s in previous.get("setup", [])}
    steps = []
    for step in manifest.get("setup", []):
        args = resolve(step.get("args", []))
        key = hashlib.sha256(json.dumps(
            [step, records[step["contract"]]["address"], _jsonable(args)], sort_keys=True
        ).encode()).hexdigest()
        if key in done_steps and step["contract"] not in redeployed:
            steps.append(done_steps[key])
            continue
        contract = chain.at(artifacts[step["contract"]], addresses[step["contract"]])
        fn = getattr(contract.functions, step["function"])(*args)
        receipt = chain.transact(fn, sender=senders[step.get("from", "deployer")])
        steps.append({"key": key, "contract": step["contract"], "function": step["function"],
                      "args": _jsonable(args),
                      "tx_hash": "0x" + bytes(receipt["transactionHash"]).hex().removeprefix("0x")})

    record = {
        "network": target_name,
        "chain_id": chain.chain_id,
        "deployer": deployer,
        "robot": robot,
        "compiler": next(iter(artifacts.values())).compiler,
        "contracts": records,
        "setup": steps,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    tmp.replace(out_path)
    record["redeployed"] = sorted(redeployed)
    return record


def deploy_project(settings: Settings, network: str | None = None,
                   rpc_url: str | None = None) -> dict[str, Any]:
    """Open the configured chain, deploy, close; returns the deployment record."""
    target = resolve_target(settings, network, rpc_url)
    chain = open_chain(target.spec)
    try:
        return deploy(chain, target.name, settings.deployments_dir, settings.robot_address)
    finally:
        chain.close()
