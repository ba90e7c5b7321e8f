// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Actor
/// @notice Base of the attacker contracts: a contract account that calls whatever a test tells it
/// to (bid, withdraw, order, ...) with ETH, bubbling up any revert unchanged.
abstract contract Actor {
    /// @notice Calls `target` with `data` and `msg.value`; reverts with the target's revert data.
    /// @param target Contract to call.
    /// @param data Calldata.
    /// @return result The call's return data.
    function execute(address target, bytes calldata data)
        external
        payable
        returns (bytes memory result)
    {
        bool ok;
        (ok, result) = target.call{value: msg.value}(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(result, 32), mload(result))
            }
        }
    }
}
