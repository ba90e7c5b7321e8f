// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Collective estimate with robots as accounts and a token economy around a robust centre.
/// @notice After Strobel, Pacheco and Dorigo (Science Robotics 2023). Every robot is an account
/// that registers itself with a bond and a token deposit (ether). Each estimate locks `stake`;
/// a round closes when `roundSize` robots (one vote each) have voted: the votes within `epsilon`
/// of the swarm's centre get their stake back plus an equal share of the other votes' stakes,
/// and the mean of the members' latest votes within `epsilon` of the centre becomes the swarm's
/// estimate. The centre is the midpoint of the shortest range of 0.01-wide bins that holds the
/// latest votes of a strict majority of the swarm's members (the identities that have not
/// withdrawn or run out of tokens; the "shorth"). Liars that are not a
/// majority cannot place it by themselves: unlike a median, which 45 % liars at one extreme drag
/// to the honest votes' edge, it sits on the honest votes once these agree within less than
/// their distance to the liars. Until a majority of the members has voted there is no centre
/// and a round pays every stake back (so does a round none of whose votes lies near the centre),
/// so early rounds of liars and a few honest robots cannot drain the honest ones. Liars far from the centre lose round after round, and an identity
/// that runs out of tokens drops out of the centre and of the members. Tokens are conserved: the contract's ether always equals the
/// robots' balances and bonds, the stakes of open rounds and the undivided remainders.
/// The keeper (deployer) only opens swarms; it holds no funds.
contract SwarmTokenEstimate {
    uint32 public constant SCALE = 1_000_000;
    uint32 public constant MAX_ROUND = 64;

    struct Robot {
        uint16 swarm;
        bool registered;
        bool closed;
        uint32 lastRound; // round + 1 of the robot's last vote (0 = never)
        uint96 balance;
        bool counted; // its latest vote is in the histogram, in bin `bin`
        uint8 bin;
    }

    struct Swarm {
        bool open;
        uint8 count; // votes in the current round
        uint32 round; // rounds closed so far
        uint32 estimate; // ppm, valid once round > 0
        uint96 carry; // remainder of divided pots, added to the next pot
        uint64 votes; // latest votes in the histogram
        uint16 members; // identities that can still vote: not withdrawn, not out of tokens
    }

    address public immutable keeper;
    uint256 public immutable bond;
    uint256 public immutable stake;
    uint8 public immutable roundSize;
    uint32 public immutable epsilon;
    uint16 public swarmCount;

    mapping(address => Robot) public robots;
    mapping(uint16 => Swarm) public swarms;
    /// @dev The current round's votes: slot (swarm << 8 | i) holds voter << 32 | estimate.
    mapping(uint256 => uint256) private votes;
    /// @dev Vote histogram: slot (swarm << 8 | bin / 8) holds eight u32 counters.
    mapping(uint256 => uint256) private histogram;
    uint256 private constant BIN = SCALE / 100;
    uint256 private constant BINS = 101; // 0.00 .. 1.00
    uint256 private constant WORDS = 13; // eight bins a word

    event SwarmOpened(uint16 indexed swarm);
    event Registered(address indexed robot, uint16 indexed swarm, uint256 deposit);
    event Voted(address indexed robot, uint16 indexed swarm, uint32 round, uint32 estimate);
    event RoundClosed(uint16 indexed swarm, uint32 round, uint32 centre, uint32 estimate,
        uint256 winners, uint256 pot);
    event RoundVoid(uint16 indexed swarm, uint32 round);
    event Withdrawn(address indexed robot, uint256 amount);

    error BadParameters();
    error NotKeeper(address caller);
    error UnknownSwarm(uint16 swarm);
    error AlreadyRegistered(address robot);
    error BadDeposit(uint256 sent, uint256 needed);
    error NotRegistered(address robot);
    error AlreadyVoted(address robot, uint32 round);
    error NoStake(address robot);
    error EstimateOutOfRange(uint32 estimate);
    error TransferFailed(address to, uint256 amount);

    constructor(uint256 bond_, uint256 stake_, uint8 roundSize_, uint32 epsilon_) {
        if (stake_ == 0 || roundSize_ < 3 || roundSize_ > MAX_ROUND || epsilon_ > SCALE) {
            revert BadParameters();
        }
        keeper = msg.sender;
        bond = bond_;
        stake = stake_;
        roundSize = roundSize_;
        epsilon = epsilon_;
    }

    /// @notice Open `count` new swarms (ids continue from swarmCount); keeper only.
    /// @param count Number of swarms to open.
    function open(uint16 count) external {
        if (msg.sender != keeper) revert NotKeeper(msg.sender);
        for (uint16 i = 0; i < count; i++) {
            uint16 id = swarmCount++;
            swarms[id].open = true;
            emit SwarmOpened(id);
        }
    }

    /// @notice Join a swarm; msg.value pays the bond and the token deposit (at least one stake).
    /// @param swarm The swarm to join.
    function register(uint16 swarm) external payable {
        if (!swarms[swarm].open) revert UnknownSwarm(swarm);
        Robot storage r = robots[msg.sender];
        if (r.registered) revert AlreadyRegistered(msg.sender);
        if (msg.value < bond + stake || msg.value - bond >= 1 << 96) {
            revert BadDeposit(msg.value, bond + stake);
        }
        r.swarm = swarm;
        r.registered = true;
        r.balance = uint96(msg.value - bond);
        swarms[swarm].members++;
        emit Registered(msg.sender, swarm, msg.value);
    }

    /// @notice Vote an estimate of the black share (ppm), locking one stake; one vote a round.
    /// @param estimate Parts per million, 0..SCALE.
    function vote(uint32 estimate) external {
        if (estimate > SCALE) revert EstimateOutOfRange(estimate);
        Robot storage r = robots[msg.sender];
        if (!r.registered || r.closed) revert NotRegistered(msg.sender);
        uint16 id = r.swarm;
        Swarm storage s = swarms[id];
        if (r.lastRound > s.round) revert AlreadyVoted(msg.sender, s.round);
        if (r.balance < stake) revert NoStake(msg.sender);
        r.balance -= uint96(stake);
        r.lastRound = s.round + 1;
        votes[(uint256(id) << 8) | s.count] = (uint256(uint160(msg.sender)) << 32) | estimate;
        if (r.counted) _uncount(id, r.bin);
        else s.votes++;
        uint8 bin = uint8(estimate / BIN);
        histogram[(uint256(id) << 8) | (bin / 8)] += uint256(1) << (32 * (bin % 8));
        r.counted = true;
        r.bin = bin;
        emit Voted(msg.sender, id, s.round, estimate);
        if (++s.count == roundSize) _close(id, s);
    }

    /// @notice Leave: balance and bond go back to the robot (stakes of an open round stay).
    function withdraw() external {
        Robot storage r = robots[msg.sender];
        if (!r.registered || r.closed) revert NotRegistered(msg.sender);
        uint256 amount = uint256(r.balance) + bond;
        Swarm storage s = swarms[r.swarm];
        // A robot that never voted or still has a vote in the histogram is a member; one
        // that ran out of tokens already left both.
        if (r.counted || r.lastRound == 0) s.members--;
        if (r.counted) {
            _uncount(r.swarm, r.bin);
            r.counted = false;
            s.votes--;
        }
        r.balance = 0;
        r.closed = true;
        emit Withdrawn(msg.sender, amount);
        (bool ok,) = payable(msg.sender).call{value: amount}("");
        if (!ok) revert TransferFailed(msg.sender, amount);
    }

    /// @notice Estimate (ppm) and closed rounds of swarms 0..count-1, packed u32 + u32.
    /// @param count Number of swarms.
    function estimates(uint16 count) external view returns (bytes memory out) {
        out = new bytes(uint256(count) * 8);
        for (uint16 i = 0; i < count; i++) {
            Swarm storage s = swarms[i];
            uint256 word = (uint256(s.estimate) << 32) | s.round;
            for (uint256 b = 0; b < 8; b++) out[i * 8 + b] = bytes1(uint8(word >> (8 * (7 - b))));
        }
    }

    function _close(uint16 id, Swarm storage s) private {
        uint256 n = roundSize;
        uint256[] memory packed = new uint256[](n);
        for (uint256 i = 0; i < n; i++) packed[i] = votes[(uint256(id) << 8) | i];
        (bool agreed, uint256 centre, uint256 estimate) = _centre(id, s.members);
        uint256 winners = 0;
        for (uint256 i = 0; agreed && i < n; i++) {
            if (_near(uint32(packed[i]), centre)) winners++;
        }
        uint32 round = s.round + 1;
        s.round = round;
        s.count = 0;
        if (winners == 0) {
            // No strict majority of the members has voted yet, or its range is so wide that
            // no vote of the round lies near its middle: nobody can tell right from wrong,
            // so every stake goes back.
            for (uint256 i = 0; i < n; i++) {
                robots[address(uint160(packed[i] >> 32))].balance += uint96(stake);
            }
            emit RoundVoid(id, round);
            return;
        }
        uint256 pot = (n - winners) * stake + s.carry;
        uint256 share = pot / winners;
        // The remainder of the division, kept for the next pot, so no token is lost.
        // slither-disable-next-line divide-before-multiply
        s.carry = uint96(pot - share * winners);
        for (uint256 i = 0; i < n; i++) {
            Robot storage r = robots[address(uint160(packed[i] >> 32))];
            if (_near(uint32(packed[i]), centre)) {
                r.balance += uint96(stake + share);
            } else if (r.balance < stake && r.counted) {
                // Out of tokens: its say in the centre goes with them.
                _uncount(id, r.bin);
                r.counted = false;
                s.votes--;
                s.members--;
            }
        }
        s.estimate = uint32(estimate);
        emit RoundClosed(id, round, uint32(centre), s.estimate, winners, pot);
    }

    function _near(uint256 v, uint256 centre) private view returns (bool) {
        return (v > centre ? v - centre : centre - v) <= epsilon;
    }

    function _uncount(uint16 id, uint8 bin) private {
        histogram[(uint256(id) << 8) | (bin / 8)] -= uint256(1) << (32 * (bin % 8));
    }

    /// @dev Midpoint of the shortest run of bins holding the latest votes of a strict majority
    /// of the swarm's `members` (the lowest such run on ties), and the mean of the latest votes
    /// within epsilon of it (the estimate: every member's say, not only one round's); false
    /// while there is no such run.
    function _centre(uint16 id, uint256 members)
        private
        view
        returns (bool agreed, uint256 centre, uint256 estimate)
    {
        // Memory arrays start zeroed: bins of empty words stay 0.
        // slither-disable-next-line uninitialized-local
        uint256[BINS] memory counts;
        for (uint256 word = 0; word < WORDS; word++) {
            uint256 packed = histogram[(uint256(id) << 8) | word];
            if (packed == 0) continue;
            for (uint256 k = 0; k < 8 && word * 8 + k < BINS; k++) {
                counts[word * 8 + k] = (packed >> (32 * k)) & 0xffffffff;
            }
        }
        uint256 need = members / 2 + 1;
        uint256 lo = 0;
        uint256 inside = 0;
        uint256 bestLo = 0;
        uint256 bestWidth = BINS + 1;
        for (uint256 hi = 0; hi < BINS; hi++) {
            inside += counts[hi];
            while (inside - counts[lo] >= need) inside -= counts[lo++];
            if (inside >= need && hi - lo < bestWidth) {
                bestWidth = hi - lo;
                bestLo = lo;
            }
        }
        if (bestWidth > BINS) return (false, 0, 0);
        // The midpoint, not the mean: a range that spans liars and a few honest robots has its
        // mean on the liars but its midpoint between them, near nobody (the round is void).
        centre = (2 * bestLo + bestWidth + 1) * BIN / 2;
        uint256 first = centre > epsilon ? (centre - epsilon) / BIN : 0;
        uint256 last = (centre + epsilon) / BIN;
        return (true, centre, _mean(counts, first, last < BINS ? last : BINS - 1));
    }

    /// @dev Mean (ppm, at bin centres) of the votes in bins first..last; 0 when there are none.
    function _mean(uint256[BINS] memory counts, uint256 first, uint256 last)
        private
        pure
        returns (uint256)
    {
        uint256 sum = 0;
        uint256 inside = 0;
        for (uint256 b = first; b <= last; b++) {
            sum += counts[b] * (b * BIN + BIN / 2);
            inside += counts[b];
        }
        return inside == 0 ? 0 : sum / inside;
    }
}
