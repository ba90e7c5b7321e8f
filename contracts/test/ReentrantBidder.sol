// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Actor} from "./Actor.sol";

/// @title ReentrantBidder
/// @notice On every ETH it receives (a refund, a withdrawal), calls back into a target with
/// preset calldata and value (re-bid, withdraw again, settle, ...) and logs whether that worked.
contract ReentrantBidder is Actor {
    address public reentryTarget;
    bytes public reentryData;
    uint256 public reentryValue;

    /// @notice Outcome of one re-entry attempt.
    event ReentryAttempted(bool succeeded, bytes4 revertSelector);

    /// @notice Sets what to call when ETH arrives.
    /// @param target Contract to re-enter.
    /// @param data Calldata of the re-entry.
    /// @param value ETH to send with it (from this contract's balance).
    function setReentry(address target, bytes calldata data, uint256 value) external {
        reentryTarget = target;
        reentryData = data;
        reentryValue = value;
    }

    receive() external payable {
        (bool ok, bytes memory ret) = reentryTarget.call{value: reentryValue}(reentryData);
        emit ReentryAttempted(ok, ret.length >= 4 ? bytes4(ret) : bytes4(0));
    }
}
