"""Compilation through py-solc-x with the solcjs wrapper, the cache, and Hardhat parity."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import solcx

from services.chain import compiler
from services.chain.compiler import compile_project, compiler_config, resolve_solc
from services.chain.errors import CompileError
from tests.conftest import ROOT


@pytest.fixture
def wrapper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The solcjs wrapper registered in a private py-solc-x folder (no download tried)."""
    monkeypatch.setenv("GAKA_SOLC_NO_DOWNLOAD", "1")
    monkeypatch.setattr(compiler, "get_executable", _only_registered(tmp_path))
    return resolve_solc(compiler_config()["version"], wrapper_dir=tmp_path / "solcx")


def _only_registered(tmp_path: Path):
    real = compiler.get_executable

    def get_executable(version, solcx_binary_path=None):
        # Ignore any native solc of the machine so the wrapper path is what is tested.
        return real(version, solcx_binary_path=solcx_binary_path or tmp_path / "empty")

    return get_executable


def test_wrapper_looks_like_native_solc(wrapper: Path) -> None:
    version = compiler_config()["version"]
    assert wrapper.name == f"solc-v{version}"
    assert str(solcx.wrapper.get_solc_version(wrapper)) == version
    assert solcx.get_installed_solc_versions(wrapper.parent)[0].base_version == version


def test_standard_json_with_openzeppelin_import(wrapper: Path, tmp_path: Path) -> None:
    source = (
        'pragma solidity ^0.8.24; import "@openzeppelin/contracts/access/Ownable.sol";'
        "contract Owned is Ownable { constructor() Ownable(msg.sender) {} }"
    )
    out = solcx.compile_standard(
        {"language": "Solidity", "sources": {"Owned.sol": {"content": source}},
         "settings": {"evmVersion": "prague",
                      "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}}}},
        solc_binary=wrapper, base_path=str(ROOT),
    )
    owned = out["contracts"]["Owned.sol"]["Owned"]
    assert any(item.get("name") == "owner" for item in owned["abi"])
    assert len(owned["evm"]["bytecode"]["object"]) > 100


def test_combined_json_is_translated(wrapper: Path) -> None:
    path = ROOT / "contracts" / "test" / "Counter.sol"
    out = solcx.compile_files([path], output_values=["abi", "bin"], solc_binary=wrapper,
                              evm_version="prague")
    (key,) = [k for k in out if k.endswith(":Counter")]
    assert {"add", "fail", "count"} <= {f.get("name") for f in out[key]["abi"]}
    assert out[key]["bin"]


def test_compile_project_uses_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = compile_project(cache_dir=tmp_path)
    assert "Counter" in first
    assert first["Counter"].bytecode.startswith("0x6")

    def no_compiler(version: str, wrapper_dir: Path | None = None) -> Path:
        raise AssertionError("an unchanged tree must not be recompiled")

    monkeypatch.setattr(compiler, "resolve_solc", no_compiler)
    assert compile_project(cache_dir=tmp_path) == first


def test_compile_error_is_reported(tmp_path: Path) -> None:
    contracts = tmp_path / "contracts"
    contracts.mkdir()
    (contracts / "compiler.json").write_text((ROOT / "contracts" / "compiler.json").read_text())
    (contracts / "Bad.sol").write_text("pragma solidity ^0.8.24; contract Bad { uint x = ; }")
    with pytest.raises(CompileError, match="Bad.sol"):
        compile_project(contracts_dir=contracts, cache_dir=tmp_path / "cache")


def test_hardhat_compiles_the_same_bytecode() -> None:
    subprocess.run(["npx", "hardhat", "compile", "--quiet"], cwd=ROOT, check=True,
                   capture_output=True, timeout=300)
    artifact = json.loads(
        (ROOT / "artifacts" / "contracts" / "test" / "Counter.sol" / "Counter.json").read_text()
    )
    assert artifact["deployedBytecode"] == compile_project()["Counter"].deployed_bytecode
