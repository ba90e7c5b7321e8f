// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Actor} from "./Actor.sol";

/// @title ConditionalBidder
/// @notice A bidder that decides at settlement whether it wants what it won: its ERC-721 hook
/// accepts the token only while `accepting` is set (in a real attack: depending on who settles,
/// a price feed, ...). It takes every ETH refund.
contract ConditionalBidder is Actor {
    /// @notice Whether the ERC-721 hook accepts a token now.
    bool public accepting = true;

    /// @notice Raised by the ERC-721 hook while not accepting.
    error ChangedMyMind();

    /// @notice Sets whether the next delivery is accepted.
    /// @param accepting_ Accept tokens from now on.
    function setAccepting(bool accepting_) external {
        accepting = accepting_;
    }

    receive() external payable {}

    /// @notice ERC-721 receiver hook: accepts only while `accepting`.
    function onERC721Received(address, address, uint256, bytes calldata)
        external
        view
        returns (bytes4)
    {
        if (!accepting) revert ChangedMyMind();
        return this.onERC721Received.selector;
    }
}
