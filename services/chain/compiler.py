"""Compile contracts/ with py-solc-x, using a native solc or the npm solcjs wrapper."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import solcx
from solcx.exceptions import SolcError, SolcNotInstalled
from solcx.install import get_executable
from solcx.wrapper import get_version_str_from_solc_binary

from services.chain.errors import CompileError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONTRACTS_DIR = PROJECT_ROOT / "contracts"
NODE_MODULES = PROJECT_ROOT / "node_modules"
WRAPPER_JS = Path(__file__).with_name("solc_wrapper.js")
CACHE_DIR = PROJECT_ROOT / "build" / "contracts"


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


def compiler_config(contracts_dir: Path = CONTRACTS_DIR) -> dict[str, Any]:
    """The solc version and settings shared with hardhat.config.js."""
    return json.loads((contracts_dir / "compiler.json").read_text())


def solidity_sources(contracts_dir: Path = CONTRACTS_DIR) -> dict[str, str]:
    """Every .sol file under contracts_dir, keyed by its project-relative path."""
    root = contracts_dir.parent
    return {
        p.relative_to(root).as_posix(): p.read_text()
        for p in sorted(contracts_dir.rglob("*.sol"))
    }


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _write_wrapper(bin_dir: Path, version: str) -> Path:
    """Register the solcjs wrapper as `solc-v<version>` in a py-solc-x binary folder."""
    solcjs = NODE_MODULES / "solc"
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
        tmp = target.with_suffix(".tmp")
        tmp.write_text(script)
        tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        tmp.replace(target)
    return target


def resolve_solc(version: str, wrapper_dir: Path | None = None) -> Path:
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
    binary = _write_wrapper(wrapper_dir or CACHE_DIR.parent / "solcx", version)
    # get_executable checks the registration the same way py-solc-x will use it.
    return get_executable(version, solcx_binary_path=binary.parent)


def _cache_key(sources: dict[str, str], config: dict[str, Any]) -> str:
    h = hashlib.sha256(json.dumps(config, sort_keys=True).encode())
    oz = NODE_MODULES / "@openzeppelin" / "contracts" / "package.json"
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


def compile_project(
    contracts_dir: Path = CONTRACTS_DIR, cache_dir: Path = CACHE_DIR
) -> dict[str, Artifact]:
    """Compile every contract under contracts_dir; unchanged sources come from the cache."""
    config = compiler_config(contracts_dir)
    sources = solidity_sources(contracts_dir)
    if not sources:
        raise CompileError(f"no Solidity sources under {contracts_dir}")
    cached = cache_dir / f"{_cache_key(sources, config)}.json"
    if cached.is_file():
        return {k: Artifact(**v) for k, v in json.loads(cached.read_text()).items()}

    solc = resolve_solc(config["version"])
    try:
        output = solcx.compile_standard(
            _standard_input(sources, config["settings"]),
            solc_binary=solc,
            base_path=str(contracts_dir.parent),
            allow_paths=[str(contracts_dir.parent), str(NODE_MODULES)],
        )
    except SolcError as exc:
        raise CompileError(f"solc failed: {exc.stderr_data or exc}") from None
    compiler = get_version_str_from_solc_binary(solc)
    artifacts = _artifacts_from_output(output, sources, compiler)

    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(".tmp")
    tmp.write_text(json.dumps({k: vars(v) for k, v in artifacts.items()}))
    tmp.replace(cached)
    return artifacts
