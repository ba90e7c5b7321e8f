// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Actor} from "./Actor.sol";

/// @title RejectingReceiver
/// @notice Takes ETH but refuses ERC-721 tokens, so it can win an auction it cannot be paid
/// out in; the house must refund it and return the painting to the seller.
contract RejectingReceiver is Actor {
    /// @notice Raised by the ERC-721 receiver hook.
    error TokensNotAccepted();

    receive() external payable {}

    /// @notice Rejects every ERC-721 transfer.
    function onERC721Received(address, address, uint256, bytes calldata)
        external
        pure
        returns (bytes4)
    {
        revert TokensNotAccepted();
    }
}
