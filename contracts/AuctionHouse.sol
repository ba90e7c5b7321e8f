// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {PayoutVault} from "./PayoutVault.sol";

/// @title AuctionHouse
/// @notice English auctions of paintings opened by the robot. The token is escrowed here; bids
/// must beat the previous one by a minimum raise; a late bid extends the end to now + buffer;
/// the outbid bidder is refunded with a capped push, or credited for `withdraw`. Every term
/// (raise, buffer, fee and fee recipient) is fixed when the auction opens. Anyone settles after
/// the end and the sale then stands whatever the winner's code does: the token goes to the
/// winner by a plain transfer (no receiver hook to refuse it), the proceeds to the seller minus
/// the fee. The seller may cancel before the first bid. The owner may pause new auctions and
/// bids, never settlement, cancellation or withdrawals; auctions run on an auction clock that
/// stands still while paused, so a running auction gets back the time a pause took from it and
/// nobody wins at a price others could not outbid. A pause lasts at most MAX_PAUSE and the next
/// may start only MAX_PAUSE after it ended, so no bid or token is held more than about twice its
/// auction's remaining time plus MAX_PAUSE. The trade-off: within that bound the owner chooses
/// when a running auction's remaining time resumes (it can never shorten it).
contract AuctionHouse is PayoutVault, Ownable {
    /// @notice Longest auction the robot may open.
    uint256 public constant MAX_DURATION = 30 days;
    /// @notice Longest time buffer the owner may set.
    uint256 public constant MAX_TIME_BUFFER = 1 days;
    /// @notice Highest platform fee, in basis points (10 %).
    uint256 public constant MAX_FEE_BPS = 1_000;
    /// @notice Longest pause, and the shortest time between the end of one and the next.
    uint256 public constant MAX_PAUSE = 3 days;

    /// @dev Highest bid; while `bidder` is zero, `amount` holds the reserve price.
    struct Bid {
        address bidder;
        uint96 amount;
    }

    /// @dev Auction terms, fixed when it opens (raise, buffer and fee copied from the config),
    /// packed in one slot. `endTime` is on the auction clock (see `auctionClock`).
    struct Lot {
        address seller;
        uint40 endTime;
        uint16 minRaiseBps;
        uint24 timeBuffer;
        uint16 feeBps;
    }

    /// @dev Settings read together, packed in one slot.
    struct Config {
        address feeRecipient;
        uint16 feeBps;
        uint16 minRaiseBps;
        uint32 timeBuffer;
    }

    /// @dev The pause state: `pausedAt` is the start of the current pause (0: not paused),
    /// `pausedFor` the seconds of every pause before it, `resumedAt` the end of the last one.
    struct PauseClock {
        uint40 pausedAt;
        uint40 pausedFor;
        uint40 resumedAt;
    }

    /// @notice The painting contract whose tokens are auctioned.
    IERC721 public immutable nft;
    /// @notice The only account that may open auctions (the robot wallet).
    address public robot;
    /// @notice Fee, minimum raise and time buffer applied to auctions opened from now on.
    Config public config;
    /// @notice Highest bid per token (reserve price while no bid).
    mapping(uint256 tokenId => Bid) public highestBid;
    /// @notice Terms of the open auction per token; `seller` is zero when none is open.
    mapping(uint256 tokenId => Lot) public lots;
    /// @notice Fee recipient of the open auction per token (set only when its fee is non-zero).
    mapping(uint256 tokenId => address) public lotFeeRecipient;
    /// @notice Start of the current pause, seconds paused before it, end of the last pause.
    PauseClock public pauseClock;

    /// @notice An auction opened.
    event AuctionCreated(
        uint256 indexed tokenId, address indexed seller, uint256 reservePrice, uint256 endTime
    );
    /// @notice A bid became the highest.
    event AuctionBid(uint256 indexed tokenId, address indexed bidder, uint256 amount);
    /// @notice A late bid pushed the end of the auction.
    event AuctionExtended(uint256 indexed tokenId, uint256 endTime);
    /// @notice The winner received the token; the seller got `amount - fee`.
    event AuctionSettled(
        uint256 indexed tokenId, address indexed winner, uint256 amount, uint256 fee
    );
    /// @notice The auction ended without bids; the token went back to the seller.
    event AuctionUnsold(uint256 indexed tokenId, address indexed seller);
    /// @notice The seller cancelled the auction before any bid; the token went back to it.
    event AuctionCanceled(uint256 indexed tokenId, address indexed seller);
    /// @notice The robot allowed to open auctions changed.
    event RobotUpdated(address indexed robot);
    /// @notice The minimum raise or time buffer for new auctions changed.
    event AuctionParamsUpdated(uint16 minRaiseBps, uint32 timeBuffer);
    /// @notice The platform fee of auctions opened from now on changed.
    event FeeUpdated(address indexed recipient, uint16 feeBps);
    /// @notice The owner paused new auctions and bids; auction clocks stand still.
    event Paused(address account);
    /// @notice New auctions and bids are let in again (by the owner, or a pause past MAX_PAUSE
    /// ended by itself and this records it).
    event Unpaused(address account);

    /// @notice Only the robot opens auctions.
    error NotRobot(address caller);
    /// @notice No auction is open for this token.
    error AuctionNotFound(uint256 tokenId);
    /// @notice An auction is already open for this token.
    error AuctionExists(uint256 tokenId);
    /// @notice The auction is over; no more bids.
    error AuctionEnded(uint256 tokenId, uint256 endTime);
    /// @notice The auction is still running.
    error AuctionNotEnded(uint256 tokenId, uint256 endTime);
    /// @notice The bid is below the reserve or the minimum raise.
    error BidTooLow(uint256 amount, uint256 minimum);
    /// @notice The highest bidder may not outbid itself.
    error AlreadyHighestBidder(address bidder);
    /// @notice The reserve price must be at least 1 wei.
    error ZeroReserve();
    /// @notice The duration is zero or longer than MAX_DURATION.
    error InvalidDuration(uint256 duration);
    /// @notice The minimum raise must be within 1..10,000 basis points.
    error InvalidMinRaise(uint256 bps);
    /// @notice The time buffer is zero or longer than MAX_TIME_BUFFER.
    error InvalidTimeBuffer(uint256 timeBuffer);
    /// @notice The fee is above MAX_FEE_BPS.
    error FeeTooHigh(uint256 bps);
    /// @notice Only the auction's seller may cancel it.
    error NotSeller(uint256 tokenId, address caller);
    /// @notice The auction has a bid; it can only be settled.
    error AuctionHasBids(uint256 tokenId);
    /// @notice Paused: no new auctions or bids.
    error EnforcedPause();
    /// @notice Not paused.
    error ExpectedPause();
    /// @notice The last pause ended less than MAX_PAUSE ago; the next may start at `notBefore`.
    error PauseTooSoon(uint256 notBefore);

    /// @param nft_ The painting contract.
    /// @param owner_ Owner (sets the robot, fee and auction parameters).
    /// @param robot_ Account that opens auctions.
    /// @param minRaiseBps Minimum raise over the previous bid, basis points.
    /// @param timeBuffer Seconds a late bid pushes the end to (1..MAX_TIME_BUFFER).
    constructor(IERC721 nft_, address owner_, address robot_, uint16 minRaiseBps, uint32 timeBuffer)
        Ownable(owner_)
    {
        if (address(nft_) == address(0)) revert ZeroAddress();
        nft = nft_;
        _setRobot(robot_);
        _setAuctionParams(minRaiseBps, timeBuffer);
    }

    /// @notice Opens an auction and escrows the token (the robot must have approved this house).
    /// @param tokenId Painting to sell; the caller must own it.
    /// @param reservePrice Lowest acceptable first bid, in wei (at least 1).
    /// @param duration Seconds until the auction ends, at most MAX_DURATION.
    function createAuction(uint256 tokenId, uint96 reservePrice, uint256 duration)
        external
        nonReentrant
    {
        uint256 offset = _runningOffset();
        if (msg.sender != robot) revert NotRobot(msg.sender);
        if (reservePrice == 0) revert ZeroReserve();
        if (duration == 0 || duration > MAX_DURATION) revert InvalidDuration(duration);
        if (lots[tokenId].seller != address(0)) revert AuctionExists(tokenId);
        Config memory c = config;
        uint40 endTime = SafeCast.toUint40(block.timestamp - offset + duration);
        // timeBuffer <= MAX_TIME_BUFFER < 2**24 was checked when it was set.
        lots[tokenId] = Lot(
            msg.sender, endTime, c.minRaiseBps, SafeCast.toUint24(c.timeBuffer), c.feeBps
        );
        if (c.feeBps != 0) lotFeeRecipient[tokenId] = c.feeRecipient;
        highestBid[tokenId] = Bid(address(0), reservePrice);
        emit AuctionCreated(tokenId, msg.sender, reservePrice, block.timestamp + duration);
        nft.transferFrom(msg.sender, address(this), tokenId);
    }

    /// @notice Bids `msg.value` on a running auction; refunds the previous highest bidder.
    /// @param tokenId Painting to bid on.
    function bid(uint256 tokenId) external payable nonReentrant {
        uint256 offset = _runningOffset();
        Lot memory lot = lots[tokenId];
        if (lot.seller == address(0)) revert AuctionNotFound(tokenId);
        uint256 now_ = block.timestamp - offset;
        // slither-disable-next-line timestamp
        if (now_ >= lot.endTime) revert AuctionEnded(tokenId, lot.endTime + offset);
        Bid memory top = highestBid[tokenId];
        if (top.bidder == msg.sender) revert AlreadyHighestBidder(msg.sender);
        uint256 minimum = _minimumBid(top, lot.minRaiseBps);
        if (msg.value < minimum) revert BidTooLow(msg.value, minimum);
        highestBid[tokenId] = Bid(msg.sender, SafeCast.toUint96(msg.value));
        emit AuctionBid(tokenId, msg.sender, msg.value);
        unchecked {
            // endTime > now_ was checked above.
            // slither-disable-next-line timestamp
            if (lot.endTime - now_ < lot.timeBuffer) {
                lots[tokenId].endTime = SafeCast.toUint40(now_ + lot.timeBuffer);
                emit AuctionExtended(tokenId, block.timestamp + lot.timeBuffer);
            }
        }
        if (top.bidder != address(0)) _pay(top.bidder, top.amount);
    }

    /// @notice Ends an auction once its end has come on the auction clock; callable by anyone,
    /// paused or not (an auction that ended before a pause settles during it). The sale stands:
    /// the winner gets the token by a plain `transferFrom` (its code is not asked), the seller the
    /// highest bid minus the fee, which goes to the recipient, both fixed at the opening.
    /// @param tokenId Painting whose auction to settle.
    function settle(uint256 tokenId) external nonReentrant {
        Lot memory lot = lots[tokenId];
        if (lot.seller == address(0)) revert AuctionNotFound(tokenId);
        uint256 offset = _clockOffset(pauseClock);
        // slither-disable-next-line timestamp
        if (block.timestamp - offset < lot.endTime) {
            revert AuctionNotEnded(tokenId, lot.endTime + offset);
        }
        Bid memory top = highestBid[tokenId];
        delete lots[tokenId];
        delete highestBid[tokenId];
        address feeRecipient = lot.feeBps == 0 ? address(0) : lotFeeRecipient[tokenId];
        if (lot.feeBps != 0) delete lotFeeRecipient[tokenId];
        if (top.bidder == address(0)) {
            emit AuctionUnsold(tokenId, lot.seller);
            nft.transferFrom(address(this), lot.seller, tokenId);
            return;
        }
        uint256 fee = uint256(top.amount) * lot.feeBps / 10_000;
        emit AuctionSettled(tokenId, top.bidder, top.amount, fee);
        if (fee != 0) pendingWithdrawals[feeRecipient] += fee;
        _pay(lot.seller, top.amount - fee);
        nft.transferFrom(address(this), top.bidder, tokenId);
    }

    /// @notice Cancels an auction that has no bid yet and returns the token to its seller; works
    /// while paused too.
    /// @param tokenId Painting whose auction to cancel; only its seller may.
    function cancelAuction(uint256 tokenId) external nonReentrant {
        Lot memory lot = lots[tokenId];
        if (lot.seller == address(0)) revert AuctionNotFound(tokenId);
        if (msg.sender != lot.seller) revert NotSeller(tokenId, msg.sender);
        if (highestBid[tokenId].bidder != address(0)) revert AuctionHasBids(tokenId);
        delete lots[tokenId];
        delete highestBid[tokenId];
        if (lot.feeBps != 0) delete lotFeeRecipient[tokenId];
        emit AuctionCanceled(tokenId, lot.seller);
        nft.transferFrom(address(this), lot.seller, tokenId);
    }

    /// @notice Stops new auctions and bids and the auction clock for at most MAX_PAUSE
    /// (settling ended auctions, cancelling and withdrawing go on); allowed MAX_PAUSE after the
    /// last pause ended.
    function pause() external onlyOwner {
        PauseClock memory c = _foldExpiredPause();
        if (c.pausedAt != 0) revert EnforcedPause();
        uint256 notBefore = uint256(c.resumedAt) + MAX_PAUSE;
        // slither-disable-next-line timestamp
        if (c.resumedAt != 0 && block.timestamp < notBefore) revert PauseTooSoon(notBefore);
        pauseClock.pausedAt = SafeCast.toUint40(block.timestamp);
        emit Paused(msg.sender);
    }

    /// @notice Lets new auctions and bids in again; running auctions resume with the time they
    /// had left when the pause began.
    function unpause() external onlyOwner {
        PauseClock memory c = _foldExpiredPause();
        // pausedAt is 0 exactly when no pause runs (a sentinel, not a time comparison).
        // slither-disable-next-line incorrect-equality
        if (c.pausedAt == 0) revert ExpectedPause();
        pauseClock = PauseClock(
            0, SafeCast.toUint40(c.pausedFor + block.timestamp - c.pausedAt),
            SafeCast.toUint40(block.timestamp)
        );
        emit Unpaused(msg.sender);
    }

    /// @notice Whether new auctions and bids are refused now.
    /// @return True during a pause that has lasted less than MAX_PAUSE.
    function paused() public view returns (bool) {
        uint256 at = pauseClock.pausedAt;
        // slither-disable-next-line timestamp
        return at != 0 && block.timestamp < at + MAX_PAUSE;
    }

    /// @notice The auction clock: seconds since the epoch that were not paused. Lot end times
    /// are on this clock.
    /// @return The auction clock's reading now.
    function auctionClock() external view returns (uint256) {
        return block.timestamp - _clockOffset(pauseClock);
    }

    /// @notice When an auction ends on the wall clock if the auction clock runs from now on
    /// (while paused: if the owner unpaused now; a longer pause moves it later).
    /// @param tokenId Painting.
    /// @return Unix time from which `settle` succeeds; now if it already does.
    function endTimeOf(uint256 tokenId) external view returns (uint256) {
        Lot memory lot = lots[tokenId];
        if (lot.seller == address(0)) revert AuctionNotFound(tokenId);
        uint256 clock = block.timestamp - _clockOffset(pauseClock);
        // slither-disable-next-line timestamp
        return lot.endTime <= clock ? block.timestamp : block.timestamp + lot.endTime - clock;
    }

    /// @notice Sets the account allowed to open auctions.
    /// @param robot_ New robot wallet.
    function setRobot(address robot_) external onlyOwner {
        _setRobot(robot_);
    }

    /// @notice Sets the minimum raise and time buffer of auctions opened from now on.
    /// @param minRaiseBps Minimum raise, 1..10,000 basis points.
    /// @param timeBuffer Late-bid extension in seconds, 1..MAX_TIME_BUFFER.
    function setAuctionParams(uint16 minRaiseBps, uint32 timeBuffer) external onlyOwner {
        _setAuctionParams(minRaiseBps, timeBuffer);
    }

    /// @notice Sets the platform fee of auctions opened from now on (running ones keep theirs).
    /// @param recipient Account credited with the fees of auctions opened from now on.
    /// @param feeBps Fee in basis points, at most MAX_FEE_BPS.
    function setFee(address recipient, uint16 feeBps) external onlyOwner {
        if (feeBps > MAX_FEE_BPS) revert FeeTooHigh(feeBps);
        if (recipient == address(0)) revert ZeroAddress();
        config.feeRecipient = recipient;
        config.feeBps = feeBps;
        emit FeeUpdated(recipient, feeBps);
    }

    /// @notice Smallest bid the auction accepts now.
    /// @param tokenId Painting.
    /// @return The reserve before the first bid, then the highest bid plus the minimum raise.
    function minimumBid(uint256 tokenId) external view returns (uint256) {
        Lot memory lot = lots[tokenId];
        if (lot.seller == address(0)) revert AuctionNotFound(tokenId);
        return _minimumBid(highestBid[tokenId], lot.minRaiseBps);
    }

    /// @dev Seconds the auction clock is behind the wall clock: every pause so far, the current
    /// one counted up to MAX_PAUSE.
    function _clockOffset(PauseClock memory c) private view returns (uint256 offset) {
        offset = c.pausedFor;
        if (c.pausedAt != 0) {
            uint256 span = block.timestamp - c.pausedAt;
            offset += span < MAX_PAUSE ? span : MAX_PAUSE;
        }
    }

    /// @dev The clock offset for an action refused while paused (new auctions, bids).
    function _runningOffset() private view returns (uint256) {
        PauseClock memory c = pauseClock;
        // slither-disable-next-line timestamp
        if (c.pausedAt != 0 && block.timestamp < uint256(c.pausedAt) + MAX_PAUSE) {
            revert EnforcedPause();
        }
        return _clockOffset(c);
    }

    /// @dev Records a pause that ran past MAX_PAUSE as ended at its expiry; the clock it returns
    /// is the stored one afterwards.
    function _foldExpiredPause() private returns (PauseClock memory c) {
        c = pauseClock;
        // slither-disable-next-line timestamp
        if (c.pausedAt != 0 && block.timestamp >= uint256(c.pausedAt) + MAX_PAUSE) {
            uint40 end = SafeCast.toUint40(uint256(c.pausedAt) + MAX_PAUSE);
            c = PauseClock(0, SafeCast.toUint40(uint256(c.pausedFor) + MAX_PAUSE), end);
            pauseClock = c;
            emit Unpaused(address(this));
        }
    }

    function _minimumBid(Bid memory top, uint256 minRaiseBps) private pure returns (uint256) {
        if (top.bidder == address(0)) return top.amount;
        uint256 raise = uint256(top.amount) * minRaiseBps / 10_000;
        // Tiny bids round the raise down to nothing; a bid must still be strictly higher.
        if (raise < 1) raise = 1;
        return top.amount + raise;
    }

    function _setRobot(address robot_) private {
        if (robot_ == address(0)) revert ZeroAddress();
        robot = robot_;
        emit RobotUpdated(robot_);
    }

    function _setAuctionParams(uint16 minRaiseBps, uint32 timeBuffer) private {
        if (minRaiseBps == 0 || minRaiseBps > 10_000) revert InvalidMinRaise(minRaiseBps);
        if (timeBuffer == 0 || timeBuffer > MAX_TIME_BUFFER) revert InvalidTimeBuffer(timeBuffer);
        config.minRaiseBps = minRaiseBps;
        config.timeBuffer = timeBuffer;
        emit AuctionParamsUpdated(minRaiseBps, timeBuffer);
    }
}
