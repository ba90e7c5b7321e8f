// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {EthTransfer} from "./EthTransfer.sol";

/// @title InvestorPool
/// @notice Investors lend ETH to the robot (forwarded to its wallet at once) in funding rounds
/// the robot opens with a cap and a deadline; the robot repays from its income; each repayment
/// is shared pro rata among the loans of rounds closed before it, so money lent just before a
/// repayment (front-running it) gets none of it. A round closes at its deadline or when the
/// robot (or the owner, say to replace a compromised robot key) closes it early, never because
/// of what an investor does; the robot cannot lend to itself. An investor names the round
/// it lends to (its cap and deadline are fixed when it opens), so a loan never lands in a round
/// it was not meant for; the robot wallet cannot change while a round is open. Investors
/// withdraw their share when they like. The pool knows nothing of sales: a repayment is shared
/// by all loans of the rounds closed when it arrives, so a loan made after the sale the robot
/// repays from (in a round closed since) shares it too. Accounting is exact in units of 1/SCALE wei:
/// balance x SCALE == sum of every investor's `claimableScaled` + `undistributed`.
contract InvestorPool is Ownable, ReentrancyGuardTransient {
    /// @notice Fixed-point scale of the per-unit repayment accumulator.
    uint256 public constant SCALE = 1e36;
    /// @notice Longest funding round the robot may open.
    uint256 public constant MAX_ROUND_DURATION = 365 days;

    /// @dev An investor's position. `lent` shares repayments; `pending` was lent in round
    /// `pendingRound` and shares from that round's close. `credit` is in 1/SCALE wei, settled
    /// up to `snapshot`.
    struct Position {
        uint256 lent;
        uint256 credit;
        uint256 snapshot;
        uint128 pending;
        uint64 pendingRound;
    }

    /// @dev A funding round. `perUnitAtClose` is `repaidPerUnit` when it closed (set once the
    /// round is folded into `totalLent`).
    struct Round {
        uint128 cap;
        uint128 raised;
        uint64 deadline;
        uint256 perUnitAtClose;
    }

    /// @notice Wallet that receives the loans and opens rounds (the robot).
    address public robot;
    /// @notice Sum of the loans of closed rounds, the denominator of the pro rata split.
    uint256 public totalLent;
    /// @notice Sum of all repayments.
    uint256 public totalRepaid;
    /// @notice Repayment per lent wei since the start, in 1/SCALE wei.
    uint256 public repaidPerUnit;
    /// @notice Repaid 1/SCALE-wei not yet split (remainder of the last division), carried over.
    uint256 public undistributed;
    /// @notice Number of rounds opened so far (ids start at 1).
    uint64 public roundCount;
    /// @notice Round whose loans do not share repayments yet (0 when none): open, or past its
    /// deadline until the next transaction folds it in.
    uint64 public openRoundId;
    /// @notice Rounds by id.
    mapping(uint256 roundId => Round) public rounds;
    /// @notice Positions by investor.
    mapping(address investor => Position) public positions;

    /// @notice The robot opened a round taking up to `cap` wei until `deadline`.
    event RoundOpened(uint256 indexed roundId, uint256 cap, uint256 deadline);
    /// @notice A round closed; its `raised` wei share every repayment from now on.
    event RoundClosed(uint256 indexed roundId, uint256 raised);
    /// @notice `investor` lent `amount` to the robot in round `roundId`.
    event Invested(address indexed investor, uint256 indexed roundId, uint256 amount);
    /// @notice `payer` repaid `amount`, split among the loans of closed rounds.
    event Repaid(address indexed payer, uint256 amount);
    /// @notice `investor` withdrew `amount` of its share to `to`.
    event Withdrawn(address indexed investor, address indexed to, uint256 amount);
    /// @notice The robot wallet changed.
    event RobotUpdated(address indexed robot);

    /// @notice Zero ETH sent.
    error ZeroAmount();
    /// @notice An address argument was zero.
    error ZeroAddress();
    /// @notice Only the robot opens rounds.
    error NotRobot(address caller);
    /// @notice Only the robot or the owner closes a round early.
    error NotRobotOrOwner(address caller);
    /// @notice The robot cannot lend to itself (the loan would come straight back to it).
    error RobotCannotLend(address robot);
    /// @notice No round is taking money now.
    error NoOpenRound();
    /// @notice The loan was meant for round `expected`, but round `open` is the one taking money.
    error WrongRound(uint256 expected, uint256 open);
    /// @notice A round is still open (or not yet folded in); only one at a time.
    error RoundStillOpen(uint256 roundId);
    /// @notice The cap is zero or the duration is zero or above MAX_ROUND_DURATION.
    error InvalidRound(uint256 cap, uint256 duration);
    /// @notice The loan would pass the round's cap; `available` wei are left.
    error RoundCapExceeded(uint256 amount, uint256 available);
    /// @notice No closed round has loans yet, so a repayment has no one to go to.
    error NoInvestors();
    /// @notice The robot wallet refused the loan.
    error LoanTransferFailed(address robot);
    /// @notice The caller has nothing to withdraw.
    error NothingToWithdraw();
    /// @notice The withdrawal recipient refused the ETH.
    error WithdrawFailed(address to);

    /// @param owner_ Owner (may change the robot wallet).
    /// @param robot_ Wallet that receives the loans and opens rounds.
    constructor(address owner_, address robot_) Ownable(owner_) {
        _setRobot(robot_);
    }

    /// @notice Opens a funding round; only one at a time.
    /// @param cap Most wei the round takes.
    /// @param duration Seconds until it closes by itself, at most MAX_ROUND_DURATION.
    /// @return roundId The new round's id.
    function openRound(uint256 cap, uint256 duration) external returns (uint64 roundId) {
        if (msg.sender != robot) revert NotRobot(msg.sender);
        _fold();
        if (openRoundId != 0) revert RoundStillOpen(openRoundId);
        if (cap == 0 || duration == 0 || duration > MAX_ROUND_DURATION) {
            revert InvalidRound(cap, duration);
        }
        roundId = roundCount + 1;
        roundCount = roundId;
        openRoundId = roundId;
        uint64 deadline = SafeCast.toUint64(block.timestamp + duration);
        rounds[roundId] = Round(SafeCast.toUint128(cap), 0, deadline, 0);
        emit RoundOpened(roundId, cap, deadline);
    }

    /// @notice Closes the open round before its deadline; its loans share repayments from now.
    /// The owner may close it too, so a compromised robot key cannot hold `setRobot` off with a
    /// long round.
    function closeRound() external {
        if (msg.sender != robot && msg.sender != owner()) revert NotRobotOrOwner(msg.sender);
        _fold();
        uint64 id = openRoundId;
        if (id == 0) revert NoOpenRound();
        _close(id);
    }

    /// @notice Lends `msg.value` to the robot in round `roundId`, which must be the open one;
    /// forwarded to the robot wallet. It shares the repayments made after the round closes,
    /// none before. The robot itself cannot lend.
    /// @param roundId The round the investor read the terms of (`rounds(roundId)`).
    function invest(uint256 roundId) external payable nonReentrant {
        if (msg.value == 0) revert ZeroAmount();
        if (msg.sender == robot) revert RobotCannotLend(msg.sender);
        _fold();
        uint64 id = openRoundId;
        if (id == 0) revert NoOpenRound();
        if (roundId != id) revert WrongRound(roundId, id);
        Round storage r = rounds[id];
        uint256 available = r.cap - r.raised;
        if (msg.value > available) revert RoundCapExceeded(msg.value, available);
        r.raised += SafeCast.toUint128(msg.value);
        Position storage p = _settle(msg.sender);
        // _settle folded any earlier pending loan, so `pending` is empty or already in round id.
        p.pending += SafeCast.toUint128(msg.value);
        p.pendingRound = id;
        emit Invested(msg.sender, id, msg.value);
        if (!EthTransfer.send(robot, msg.value, gasleft())) revert LoanTransferFailed(robot);
    }

    /// @notice Repays `msg.value` to the investors of closed rounds, pro rata to what they lent.
    function repay() external payable nonReentrant {
        if (msg.value == 0) revert ZeroAmount();
        _fold();
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

    /// @notice Sets the wallet that receives new loans and opens rounds; refused while a round
    /// is open, so every loan of a round goes to the wallet it opened under.
    /// @param robot_ New robot wallet.
    function setRobot(address robot_) external onlyOwner {
        _fold();
        if (openRoundId != 0) revert RoundStillOpen(openRoundId);
        _setRobot(robot_);
    }

    /// @notice Share of `investor` not yet withdrawn, in 1/SCALE wei.
    /// @param investor Investor.
    /// @return Its exact share.
    function claimableScaled(address investor) public view returns (uint256) {
        Position storage p = positions[investor];
        uint256 perUnit = repaidPerUnit;
        uint256 share = p.credit + p.lent * (perUnit - p.snapshot);
        // A pending loan shares only if its round was folded in (folding precedes any repay).
        if (p.pending != 0 && p.pendingRound != openRoundId) {
            share += p.pending * (perUnit - rounds[p.pendingRound].perUnitAtClose);
        }
        return share;
    }

    /// @notice Share of `investor` it can withdraw now, in wei.
    /// @param investor Investor.
    /// @return Its share rounded down to whole wei.
    function claimable(address investor) external view returns (uint256) {
        return claimableScaled(investor) / SCALE;
    }

    /// @dev Folds the open round into `totalLent` once its deadline has passed. Every function
    /// that moves money calls this first, so no repayment lands between a deadline and its fold.
    function _fold() private {
        uint64 id = openRoundId;
        // slither-disable-next-line timestamp
        if (id != 0 && block.timestamp >= rounds[id].deadline) _close(id);
    }

    function _close(uint64 id) private {
        Round storage r = rounds[id];
        r.perUnitAtClose = repaidPerUnit;
        totalLent += r.raised;
        openRoundId = 0;
        emit RoundClosed(id, r.raised);
    }

    /// @dev Brings an investor's credit up to date and moves a folded pending loan into `lent`.
    function _settle(address investor) private returns (Position storage p) {
        p = positions[investor];
        p.credit = claimableScaled(investor);
        p.snapshot = repaidPerUnit;
        if (p.pending != 0 && p.pendingRound != openRoundId) {
            p.lent += p.pending;
            p.pending = 0;
        }
    }

    function _withdraw(address to) private {
        _fold();
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
