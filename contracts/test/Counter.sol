// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Counter
/// @notice Smallest stateful contract, used to check the toolchain and every chain backend.
contract Counter {
    /// @notice Current value.
    uint256 public count;

    /// @notice Emitted whenever the value changes.
    event Counted(address indexed by, uint256 newCount);

    /// @notice Raised when an addition would pass the limit.
    error TooLarge(uint256 requested, uint256 limit);

    uint256 public constant LIMIT = 1_000_000;

    /// @notice Adds `amount` to the counter; reverts with TooLarge past LIMIT.
    /// @param amount Value to add.
    function add(uint256 amount) external {
        uint256 next = count + amount;
        if (next > LIMIT) revert TooLarge(amount, LIMIT);
        count = next;
        emit Counted(msg.sender, next);
    }

    /// @notice Always reverts with a reason string (revert-path tests).
    function fail() external pure {
        revert("Counter: failed on purpose");
    }
}
