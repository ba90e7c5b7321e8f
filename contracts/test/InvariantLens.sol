// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {AuctionHouse} from "../AuctionHouse.sol";
import {SupplyShop} from "../SupplyShop.sol";
import {InvestorPool} from "../InvestorPool.sol";

/// @title InvariantLens
/// @notice Read-only helper for the stateful tests: gathers, in one eth_call, every figure the
/// accounting invariants compare (each call to the EVM has a fixed cost).
contract InvariantLens {
    /// @notice The figures of the three money-holding contracts and the NFT.
    struct Books {
        uint256 houseBalance;
        uint256 houseBids; // ETH held for open auctions' highest bids
        uint256 housePending;
        address[] owners; // owner of each listed token
        uint256 tokensHeld; // sum of balanceOf over the listed holders
        uint256 shopBalance;
        uint256 shopEscrowed; // payments of open orders plus the bonds posted on them
        uint256 shopPending;
        uint8[] orderStatuses; // status of order 1, 2, ...
        uint256 poolBalanceScaled;
        uint256 poolSharesScaled; // every investor's share plus the undistributed carry
        uint256[] investorShares; // claimableScaled of each investor
        uint256 ethTotal; // sum of the ETH balances of the listed accounts
    }

    /// @notice Reads the books of a house, a shop and a pool.
    /// @param house Auction house.
    /// @param shop Supply shop.
    /// @param pool Investor pool.
    /// @param tokenIds Tokens ever minted.
    /// @param accounts Every account that may hold ETH, a credit or a token.
    /// @param investors Every investor of the pool.
    function books(
        AuctionHouse house,
        SupplyShop shop,
        InvestorPool pool,
        uint256[] calldata tokenIds,
        address[] calldata accounts,
        address[] calldata investors
    ) external view returns (Books memory b) {
        IERC721 nft = house.nft();
        b.owners = new address[](tokenIds.length);
        for (uint256 i; i < tokenIds.length; ++i) {
            (address bidder, uint96 amount) = house.highestBid(tokenIds[i]);
            // While nobody has bid, `amount` is the reserve price, not ETH held.
            if (bidder != address(0)) b.houseBids += amount;
            b.owners[i] = nft.ownerOf(tokenIds[i]);
        }
        (uint64 nextOrderId,,,) = shop.settings();
        b.orderStatuses = new uint8[](nextOrderId - 1);
        for (uint256 id = 1; id < nextOrderId; ++id) {
            (, uint96 amount,,, SupplyShop.Status status,, uint96 bond,) = shop.orders(id);
            b.orderStatuses[id - 1] = uint8(status);
            if (status == SupplyShop.Status.Placed) b.shopEscrowed += amount;
            if (status == SupplyShop.Status.Fulfilled || status == SupplyShop.Status.Disputed) {
                b.shopEscrowed += uint256(amount) + bond;
            }
        }
        for (uint256 i; i < accounts.length; ++i) {
            b.housePending += house.pendingWithdrawals(accounts[i]);
            b.shopPending += shop.pendingWithdrawals(accounts[i]);
            b.tokensHeld += nft.balanceOf(accounts[i]);
            b.ethTotal += accounts[i].balance;
        }
        b.poolSharesScaled = pool.undistributed();
        b.investorShares = new uint256[](investors.length);
        for (uint256 i; i < investors.length; ++i) {
            b.investorShares[i] = pool.claimableScaled(investors[i]);
            b.poolSharesScaled += b.investorShares[i];
        }
        b.houseBalance = address(house).balance;
        b.shopBalance = address(shop).balance;
        b.poolBalanceScaled = address(pool).balance * pool.SCALE();
    }
}
