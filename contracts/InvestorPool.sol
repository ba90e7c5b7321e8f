// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {EthTransfer} from "./EthTransfer.sol";

/// @title InvestorPool
/// @notice Investors lend ETH to the robot (forwarded to its wallet at once); the robot repays
/// from its income; each repayment is shared pro rata to the amounts lent at that moment, and
/// investors withdraw their share when they like. Accounting is exact in units of 1/SCALE wei:
/// balance x SCALE == sum of every investor's `claimableScaled` + `undistributed`.
contract InvestorPool is Ownable, ReentrancyGuardTransient {
    /// @notice Fixed-point scale of the per-unit repayment accumulator.
    uint256 public constant SCALE = 1e36;

    /// @dev An investor's position; `credit` is in 1/SCALE wei, settled up to `snapshot`.
    struct Position {
        uint256 lent;
        uint256 credit;
        uint256 snapshot;
    }

    /// @notice Wallet that receives the loans (the robot).
    address public robot;
    /// @notice Sum of all loans, the denominator of the pro rata split.
    uint256 public totalLent;
    /// @notice Sum of all repayments.
    uint256 public totalRepaid;
    /// @notice Repayment per lent wei since the start, in 1/SCALE wei.
    uint256 public repaidPerUnit;
    /// @notice Repaid 1/SCALE-wei not yet split (remainder of the last division), carried over.
    uint256 public undistributed;
    /// @notice Positions by investor.
    mapping(address investor => Position) public positions;

    /// @notice `investor` lent `amount` to the robot.
    event Invested(address indexed investor, uint256 amount);
    /// @notice `payer` repaid `amount`, split among investors.
    event Repaid(address indexed payer, uint256 amount);
    /// @notice `investor` withdrew `amount` of its share to `to`.
    event Withdrawn(address indexed investor, address indexed to, uint256 amount);
    /// @notice The robot wallet changed.
    event RobotUpdated(address indexed robot);

    /// @notice Zero ETH sent.
    error ZeroAmount();
    /// @notice An address argument was zero.
    error ZeroAddress();
    /// @notice Nobody has lent yet, so a repayment has no one to go to.
    error NoInvestors();
    /// @notice The robot wallet refused the loan.
    error LoanTransferFailed(address robot);
    /// @notice The caller has nothing to withdraw.
    error NothingToWithdraw();
    /// @notice The withdrawal recipient refused the ETH.
    error WithdrawFailed(address to);

    /// @param owner_ Owner (may change the robot wallet).
    /// @param robot_ Wallet that receives the loans.
    constructor(address owner_, address robot_) Ownable(owner_) {
        _setRobot(robot_);
    }

    /// @notice Lends `msg.value` to the robot; it is forwarded to the robot wallet.
    function invest() external payable nonReentrant {
        if (msg.value == 0) revert ZeroAmount();
        Position storage p = _settle(msg.sender);
        p.lent += msg.value;
        totalLent += msg.value;
        emit Invested(msg.sender, msg.value);
        if (!EthTransfer.send(robot, msg.value, gasleft())) revert LoanTransferFailed(robot);
    }

    /// @notice Repays `msg.value` to the investors, pro rata to what they lent.
    function repay() external payable nonReentrant {
        if (msg.value == 0) revert ZeroAmount();
        uint256 lent = totalLent;
        if (lent == 0) revert NoInvestors();
        uint256 scaled = msg.value * SCALE + undistributed;
        repaidPerUnit += scaled / lent;
        undistributed = scaled % lent;
        totalRepaid += msg.value;
        emit Repaid(msg.sender, msg.value);
    }

    /// @notice Sends the caller's whole share to the caller.
    function withdraw() external nonReentrant {
        _withdraw(msg.sender);
    }

    /// @notice Sends the caller's whole share to `to`.
    /// @param to Recipient.
    function withdrawTo(address to) external nonReentrant {
        if (to == address(0)) revert ZeroAddress();
        _withdraw(to);
    }

    /// @notice Sets the wallet that receives new loans.
    /// @param robot_ New robot wallet.
    function setRobot(address robot_) external onlyOwner {
        _setRobot(robot_);
    }

    /// @notice Share of `investor` not yet withdrawn, in 1/SCALE wei.
    /// @param investor Investor.
    /// @return Its exact share.
    function claimableScaled(address investor) public view returns (uint256) {
        Position storage p = positions[investor];
        return p.credit + p.lent * (repaidPerUnit - p.snapshot);
    }

    /// @notice Share of `investor` it can withdraw now, in wei.
    /// @param investor Investor.
    /// @return Its share rounded down to whole wei.
    function claimable(address investor) external view returns (uint256) {
        return claimableScaled(investor) / SCALE;
    }

    function _settle(address investor) private returns (Position storage p) {
        p = positions[investor];
        uint256 perUnit = repaidPerUnit;
        p.credit += p.lent * (perUnit - p.snapshot);
        p.snapshot = perUnit;
    }

    function _withdraw(address to) private {
        Position storage p = _settle(msg.sender);
        uint256 amount = p.credit / SCALE;
        if (amount == 0) revert NothingToWithdraw();
        p.credit %= SCALE; // the sub-wei remainder stays credited
        emit Withdrawn(msg.sender, to, amount);
        if (!EthTransfer.send(to, amount, gasleft())) revert WithdrawFailed(to);
    }

    function _setRobot(address robot_) private {
        if (robot_ == address(0)) revert ZeroAddress();
        robot = robot_;
        emit RobotUpdated(robot_);
    }
}
