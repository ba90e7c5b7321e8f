"""Compile contracts/ with py-solc-x, using a native solc or the npm solcjs wrapper.

Two ways to find the project's contracts: an installed wheel carries them compiled (with
compiler.json and deploy.json) in `services/chain/compiled/`, written at wheel-build time by
`write_packaged`; a source checkout compiles its own `contracts/` (cached by source hash).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import solcx
from solcx.exceptions import SolcError, SolcNotInstalled
from solcx.install import get_executable
from solcx.wrapper import get_version_str_from_solc_binary

from services.chain.errors import CompileError

WRAPPER_JS = Path(__file__).with_name("solc_wrapper.js")
PACKAGED_DIR = Path(__file__).with_name("compiled")
PACKAGED_ARTIFACTS = "artifacts.json"
# Only consulted when no compiled contracts were packaged, i.e. when running from a checkout.
_CHECKOUT = Path(__file__).resolve().parents[2]
CHECKOUT_CONTRACTS = _CHECKOUT / "contracts"
CHECKOUT_CACHE = _CHECKOUT / "build" / "contracts"


@dataclass(frozen=True)
class Artifact:
    """A compiled contract."""

    name: str
    source: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    source_hash: str
    compiler: str


def is_packaged() -> bool:
    """True when running from an installed wheel that carries the compiled contracts."""
    return (PACKAGED_DIR / PACKAGED_ARTIFACTS).is_file()


def contracts_file(name: str) -> Path:
    """`compiler.json` or `deploy.json`: the wheel's copy, or the checkout's contracts/."""
    return (PACKAGED_DIR if is_packaged() else CHECKOUT_CONTRACTS) / name


def compiler_config(contracts_dir: Path | None = None) -> dict[str, Any]:
    """The solc version and settings shared with hardhat.config.js."""
    path = contracts_dir / "compiler.json" if contracts_dir else contracts_file("compiler.json")
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise CompileError(f"no {path}: this installation carries no compiled contracts and "
                           "there is no contracts/ to compile") from None


def solidity_sources(contracts_dir: Path = CHECKOUT_CONTRACTS) -> dict[str, str]:
    """Every .sol file under contracts_dir, keyed by its project-relative path."""
    root = contracts_dir.parent
    return {
        p.relative_to(root).as_posix(): p.read_text()
        for p in sorted(contracts_dir.rglob("*.sol"))
    }


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _write_wrapper(bin_dir: Path, version: str, node_modules: Path) -> Path:
    """Register the solcjs wrapper as `solc-v<version>` in a py-solc-x binary folder."""
    solcjs = node_modules / "solc"
    if not (solcjs / "soljson.js").is_file():
        raise CompileError(
            f"no solc {version} available: no native binary and no npm solcjs in {solcjs} "
            "(run `make deps` or `npm ci`)"
        )
    bin_dir.mkdir(parents=True, exist_ok=True)
    target = bin_dir / f"solc-v{version}"
    script = (
        "#!/bin/sh\n"
        f'GAKA_SOLCJS_DIR="{solcjs}" exec node "{WRAPPER_JS}" "$@"\n'
    )
    if not target.exists() or target.read_text() != script:
        tmp = target.with_suffix(f".{os.getpid()}.tmp")  # parallel test workers compile too
        tmp.write_text(script)
        tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        tmp.replace(target)
    return target


def _node_modules(contracts_dir: Path) -> Path:
    """npm packages (solc, OpenZeppelin) for contracts_dir: its project's, else the checkout's."""
    own = contracts_dir.parent / "node_modules"
    return own if own.is_dir() else _CHECKOUT / "node_modules"


def resolve_solc(version: str, wrapper_dir: Path | None = None,
                 node_modules: Path = _CHECKOUT / "node_modules") -> Path:
    """A solc executable for `version`: native if installed or installable, else solcjs."""
    try:
        return get_executable(version)
    except SolcNotInstalled:
        pass
    if not os.environ.get("GAKA_SOLC_NO_DOWNLOAD"):
        try:
            solcx.install_solc(version)
            return get_executable(version)
        except Exception:  # noqa: BLE001 - offline: any failure means "use solcjs"
            pass
    binary = _write_wrapper(wrapper_dir or CHECKOUT_CACHE.parent / "solcx", version, node_modules)
    # get_executable checks the registration the same way py-solc-x will use it.
    return get_executable(version, solcx_binary_path=binary.parent)


def _cache_key(sources: dict[str, str], config: dict[str, Any], node_modules: Path) -> str:
    h = hashlib.sha256(json.dumps(config, sort_keys=True).encode())
    oz = node_modules / "@openzeppelin" / "contracts" / "package.json"
    h.update(oz.read_bytes() if oz.is_file() else b"")
    for path, text in sources.items():
        h.update(path.encode() + b"\0" + _sha256(text).encode())
    return h.hexdigest()


def _standard_input(sources: dict[str, str], settings: dict[str, Any]) -> dict[str, Any]:
    return {
        "language": "Solidity",
        "sources": {path: {"content": text} for path, text in sources.items()},
        "settings": {
            **settings,
            "outputSelection": {
                "*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}
            },
        },
    }


def _artifacts_from_output(
    output: dict[str, Any], sources: dict[str, str], compiler: str
) -> dict[str, Artifact]:
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise CompileError("\n".join(e.get("formattedMessage", e["message"]) for e in errors))
    artifacts: dict[str, Artifact] = {}
    for path, by_name in output.get("contracts", {}).items():
        if path not in sources:
            continue  # library sources (OpenZeppelin) are compiled but not exported
        for name, out in by_name.items():
            if name in artifacts:
                raise CompileError(f"contract name {name} is defined twice ({path})")
            artifacts[name] = Artifact(
                name=name,
                source=path,
                abi=out["abi"],
                bytecode="0x" + out["evm"]["bytecode"]["object"],
                deployed_bytecode="0x" + out["evm"]["deployedBytecode"]["object"],
                source_hash=_sha256(sources[path]),
                compiler=compiler,
            )
    return artifacts


def _load_artifacts(path: Path) -> dict[str, Artifact]:
    return {k: Artifact(**v) for k, v in json.loads(path.read_text()).items()}


def _save_artifacts(artifacts: dict[str, Artifact], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({k: vars(v) for k, v in artifacts.items()}))
    tmp.replace(path)


def compile_project(
    contracts_dir: Path | None = None, cache_dir: Path | None = None
) -> dict[str, Artifact]:
    """The project's contracts: as packaged in the wheel, or compiled from contracts_dir.

    Without contracts_dir, an installed wheel answers from its packaged artifacts and a
    checkout compiles its contracts/; unchanged sources come from the cache.
    """
    if contracts_dir is None and is_packaged():
        return _load_artifacts(PACKAGED_DIR / PACKAGED_ARTIFACTS)
    contracts_dir = contracts_dir or CHECKOUT_CONTRACTS
    node_modules = _node_modules(contracts_dir)
    config = compiler_config(contracts_dir)
    sources = solidity_sources(contracts_dir)
    if not sources:
        raise CompileError(f"no Solidity sources under {contracts_dir}")
    cached = (cache_dir or CHECKOUT_CACHE) / f"{_cache_key(sources, config, node_modules)}.json"
    if cached.is_file():
        return _load_artifacts(cached)

    solc = resolve_solc(config["version"], node_modules=node_modules)
    try:
        output = solcx.compile_standard(
            _standard_input(sources, config["settings"]),
            solc_binary=solc,
            base_path=str(contracts_dir.parent),
            allow_paths=[str(contracts_dir.parent), str(node_modules)],
        )
    except SolcError as exc:
        raise CompileError(f"solc failed: {exc.stderr_data or exc}") from None
    compiler = get_version_str_from_solc_binary(solc)
    artifacts = _artifacts_from_output(output, sources, compiler)
    _save_artifacts(artifacts, cached)
    return artifacts


def write_packaged(out_dir: Path, contracts_dir: Path = CHECKOUT_CONTRACTS) -> None:
    """Compile contracts_dir into out_dir (a wheel's `services/chain/compiled/`)."""
    _save_artifacts(compile_project(contracts_dir), out_dir / PACKAGED_ARTIFACTS)
    for name in ("compiler.json", "deploy.json"):
        shutil.copyfile(contracts_dir / name, out_dir / name)
