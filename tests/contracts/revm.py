"""An in-process revm EVM (pyrevm) behind the part of services.chain's Chain interface that the
stateful test and `services.chain.deploy.deploy` use: ~1,000x faster than the embedded py-evm
chain, with a clock the test controls, so hypothesis can replay an example exactly."""

from __future__ import annotations

import re
from typing import Any

from eth_abi import decode
from eth_utils import keccak, to_checksum_address
from eth_utils.abi import get_abi_output_types
from pyrevm import EVM, BlockEnv
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction

from services.chain.backends import bind_contract, decode_revert
from services.chain.compiler import Artifact
from services.chain.errors import ContractReverted

GENESIS_TIME = 1_700_000_000
_REVERT_OUTPUT = re.compile(r"output: (0x[0-9a-fA-F]*)")


def _checksummed(value: Any) -> Any:
    """eth_abi returns lowercase addresses; web3 (and the test's model) use checksums."""
    if isinstance(value, str) and len(value) == 42 and value.startswith("0x"):
        return to_checksum_address(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_checksummed(v) for v in value)
    return value


class RevmChain:
    """Funded dev accounts, one block (1 s apart) per transaction, reverts as ContractReverted."""

    network = "revm"
    chain_id = 31337

    def __init__(self, n_accounts: int = 10) -> None:
        self.evm = EVM(spec_id="PRAGUE")
        self.w3 = Web3()
        self.block, self.time = 0, GENESIS_TIME
        self.accounts = [to_checksum_address(keccak(text=f"gaka revm account {i}")[-20:])
                         for i in range(n_accounts)]
        for account in self.accounts:
            self.evm.set_balance(account, 10**27)
        self._mine()

    def _mine(self) -> None:
        self.block += 1
        self.time += 1
        self.evm.set_block_env(BlockEnv(number=self.block, timestamp=self.time))

    def _execute(self, sender: str, run: Any, abi: list[dict[str, Any]]) -> dict[str, Any]:
        self._mine()
        try:
            out = run()
        except RuntimeError as exc:
            found = _REVERT_OUTPUT.search(str(exc))
            reason = decode_revert(found.group(1), abi) if found else str(exc)
            raise ContractReverted(reason) from None
        return {"status": 1, "gasUsed": self.evm.result.gas_used, "blockNumber": self.block,
                "transactionHash": keccak(text=f"{sender}:{self.block}"), "output": out}

    def deploy(self, artifact: Artifact, *args: Any, sender: str | None = None) -> Contract:
        sender = sender or self.accounts[0]
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        data = bytes.fromhex(factory.constructor(*args).data_in_transaction[2:])
        receipt = self._execute(sender, lambda: self.evm.deploy(sender, data), artifact.abi)
        receipt["contractAddress"] = to_checksum_address(receipt.pop("output"))
        return self.at(artifact, receipt["contractAddress"], receipt)

    def at(self, artifact: Artifact, address: str, receipt: dict[str, Any] | None = None
           ) -> Contract:
        return bind_contract(self.w3, artifact, address, receipt)

    def transact(self, fn: ContractFunction, sender: str | None = None, value: int = 0,
                 gas: int | None = None) -> dict[str, Any]:
        sender = sender or self.accounts[0]
        data = bytes.fromhex(fn._encode_transaction_data()[2:])
        return self._execute(
            sender, lambda: self.evm.message_call(sender, fn.address, data, value=value),
            fn.contract_abi)

    def call(self, fn: ContractFunction, sender: str | None = None) -> Any:
        data = bytes.fromhex(fn._encode_transaction_data()[2:])
        try:
            out = self.evm.message_call(sender or self.accounts[0], fn.address, data,
                                        is_static=True)
        except RuntimeError as exc:
            found = _REVERT_OUTPUT.search(str(exc))
            raise ContractReverted(decode_revert(found.group(1) if found else None,
                                                 fn.contract_abi)) from None
        values = _checksummed(decode(get_abi_output_types(fn.abi), bytes(out)))
        return values[0] if len(values) == 1 else values

    def balance(self, address: str) -> int:
        return self.evm.get_balance(address)

    def now(self) -> int:
        return self.time

    def increase_time(self, seconds: int) -> None:
        self.time += seconds
        self._mine()
