"""Revert reasons decoded the same way on every backend, and contracts bound to an address."""

from __future__ import annotations

from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address
from web3 import Web3
from web3.contract.contract import Contract

from services.chain.abi import abi_types
from services.chain.compiler import Artifact

_ERROR_SELECTOR = "0x08c379a0"
_PANIC_SELECTOR = "0x4e487b71"


def decode_revert(data: str | bytes | None, abi: list[dict[str, Any]] | None = None) -> str:
    """Human-readable revert reason: Error(string), Panic(uint256) or a custom error."""
    if isinstance(data, bytes):
        data = "0x" + data.hex()
    if not data or data == "0x":
        return "no reason given"
    body = bytes.fromhex(data[10:])
    selector = data[:10].lower()
    try:
        if selector == _ERROR_SELECTOR:
            return abi_decode(["string"], body)[0]
        if selector == _PANIC_SELECTOR:
            return f"Panic(0x{abi_decode(['uint256'], body)[0]:02x})"
        for item in abi or []:
            if item.get("type") != "error":
                continue
            types = abi_types(item["inputs"])
            sig = f"{item['name']}({','.join(types)})"
            if "0x" + function_signature_to_4byte_selector(sig).hex() == selector:
                args = abi_decode(types, body)
                return f"{item['name']}({', '.join(map(str, args))})"
    except Exception:  # noqa: BLE001 - undecodable data is reported raw
        pass
    return f"unknown error {data}"



def bind_contract(w3: Web3, artifact: Artifact, address: str,
                  receipt: dict[str, Any] | None = None) -> Contract:
    """A web3 contract at `address`, carrying the receipt that deployed it (if known)."""
    contract = w3.eth.contract(address=to_checksum_address(address), abi=artifact.abi)
    contract.deploy_receipt = receipt
    return contract

