// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Actor} from "./Actor.sol";

/// @title RevertingBidder
/// @notice Bids through `execute` but refuses every ETH transfer to it, hoping that a refund or
/// payout that reverts blocks the auction (or the shop).
contract RevertingBidder is Actor {
    /// @notice Always raised by `receive`.
    error NoEtherAccepted();

    receive() external payable {
        revert NoEtherAccepted();
    }
}
