// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title EthTransfer
/// @notice Sends ETH without copying the recipient's return data, so a recipient cannot make the
/// sender pay for a returndata bomb; the caller decides how much gas the recipient may burn.
library EthTransfer {
    /// @dev Returns false instead of reverting; output size 0 means no RETURNDATACOPY ever happens.
    function send(address to, uint256 amount, uint256 gasLimit) internal returns (bool ok) {
        // slither-disable-next-line assembly
        assembly ("memory-safe") {
            ok := call(gasLimit, to, amount, 0, 0, 0, 0)
        }
    }
}
