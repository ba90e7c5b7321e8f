// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {EthTransfer} from "./EthTransfer.sol";

/// @title PayoutVault
/// @notice Push-then-pull payments. ETH owed to someone is pushed with a gas cap; if the push
/// fails (reverting or gas-hungry recipient) it is credited here and withdrawn later, so no
/// recipient can block the function that pays it.
abstract contract PayoutVault is ReentrancyGuardTransient {
    /// @notice Gas forwarded to a recipient on a pushed payment (Nouns uses 30,000).
    uint256 public constant PUSH_GAS = 30_000;

    /// @notice ETH credited to an account after a failed push (or a fee), ready to withdraw.
    mapping(address account => uint256 amount) public pendingWithdrawals;

    /// @notice A push to `to` failed; `amount` was credited to its pending withdrawals.
    event PaymentDeferred(address indexed to, uint256 amount);
    /// @notice `account` withdrew `amount` of its credit to `to`.
    event Withdrawal(address indexed account, address indexed to, uint256 amount);

    /// @notice The caller has no credit.
    error NothingToWithdraw();
    /// @notice The recipient of a withdrawal refused the ETH; the credit is kept.
    error WithdrawFailed(address to);
    /// @notice An address argument was the zero address.
    error ZeroAddress();

    /// @notice Sends the caller's whole credit to the caller.
    function withdraw() external nonReentrant {
        _withdraw(msg.sender);
    }

    /// @notice Sends the caller's whole credit to `to` (for accounts that cannot take ETH).
    /// @param to Recipient of the credit.
    function withdrawTo(address to) external nonReentrant {
        if (to == address(0)) revert ZeroAddress();
        _withdraw(to);
    }

    function _withdraw(address to) private {
        uint256 amount = pendingWithdrawals[msg.sender];
        if (amount == 0) revert NothingToWithdraw();
        pendingWithdrawals[msg.sender] = 0;
        emit Withdrawal(msg.sender, to, amount);
        // The account chose `to` itself and pays for its gas, so all gas is forwarded.
        if (!EthTransfer.send(to, amount, gasleft())) revert WithdrawFailed(to);
    }

    /// @dev Pays `amount` to `to` or, if the capped push fails, credits it for withdrawal.
    function _pay(address to, uint256 amount) internal {
        if (EthTransfer.send(to, amount, PUSH_GAS)) return;
        pendingWithdrawals[to] += amount;
        emit PaymentDeferred(to, amount);
    }
}
