"""ABI helpers shared by every backend: type strings, selectors, calldata, checksums."""

from __future__ import annotations

from typing import Any

from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address


def abi_types(inputs: list[dict[str, Any]]) -> list[str]:
    """Canonical ABI type strings, tuples spelled out."""
    types = []
    for item in inputs:
        if item["type"].startswith("tuple"):
            types.append(f"({','.join(abi_types(item['components']))}){item['type'][5:]}")
        else:
            types.append(item["type"])
    return types


def abi_item(abi: list[dict[str, Any]], name: str, kind: str = "function") -> dict[str, Any]:
    """The ABI entry of one function (or event, error) by name."""
    for item in abi:
        if item.get("type") == kind and item.get("name") == name:
            return item
    raise KeyError(f"the ABI has no {kind} {name}")


def calldata(abi: list[dict[str, Any]], name: str, args: list[Any]) -> bytes:
    """Selector + ABI-encoded arguments of one function call."""
    types = abi_types(abi_item(abi, name)["inputs"])
    return function_signature_to_4byte_selector(f"{name}({','.join(types)})") + abi_encode(
        types, args)


def checksummed(value: Any) -> Any:
    """eth_abi returns lowercase addresses; callers compare checksummed ones."""
    if isinstance(value, str) and len(value) == 42 and value.startswith("0x"):
        return to_checksum_address(value)
    if isinstance(value, (list, tuple)):
        return type(value)(checksummed(v) for v in value)
    return value
