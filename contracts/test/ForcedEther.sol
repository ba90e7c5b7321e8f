// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title ForcedEther
/// @notice Forces its deployment value into `target` with SELFDESTRUCT, which no contract can
/// refuse: what the books of the target must survive (it is never anyone's money).
contract ForcedEther {
    /// @param target Account that receives the ETH whether it wants it or not.
    constructor(address payable target) payable {
        // Created and destroyed in one transaction, so even after EIP-6780 it sends its balance.
        selfdestruct(target);
    }
}
