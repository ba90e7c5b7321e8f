// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Actor} from "./Actor.sol";

/// @title GasGriefer
/// @notice Hostile recipient: on ETH or an ERC-721 it either burns all the gas it is given or
/// reverts with a huge return data (a returndata bomb the caller would pay to copy).
contract GasGriefer is Actor {
    /// @notice True: burn all gas; false: revert with `bombSize` bytes of return data.
    bool public immutable burnGas;
    /// @notice Size of the return data bomb in bytes.
    uint256 public immutable bombSize;

    /// @param burnGas_ Burn gas instead of returning a bomb.
    /// @param bombSize_ Bytes of revert data to return.
    constructor(bool burnGas_, uint256 bombSize_) {
        burnGas = burnGas_;
        bombSize = bombSize_;
    }

    receive() external payable {
        _grief();
    }

    /// @notice ERC-721 receiver hook, equally hostile.
    function onERC721Received(address, address, uint256, bytes calldata)
        external
        view
        returns (bytes4)
    {
        _grief();
    }

    function _grief() private view {
        if (burnGas) {
            while (gasleft() > 0) {}
        }
        uint256 size = bombSize;
        assembly ("memory-safe") {
            revert(0, size)
        }
    }
}
