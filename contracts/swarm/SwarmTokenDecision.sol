// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Collective decision between two colours with robots as accounts and a token economy.
/// @notice After Strobel, Castello Ferrer and Dorigo (AAMAS 2018) and Strobel, Pacheco and Dorigo
/// (Science Robotics 2023). Every robot is an account: it registers itself with a bond and a
/// token deposit (ether), and only it can vote, ask for a decision or withdraw. The contract deals
/// every robot its first opinion and computes every later one from votes drawn at random from a
/// stable height; a robot whose vote departs from the opinion the contract holds for it is
/// flagged and loses its bond, its locked stakes and its balance. Each vote locks `stake`; once the
/// swarm's votes have agreed for `unanimity` heights the swarm settles on that colour: stakes of
/// votes for it are paid back together with a share of every losing or slashed stake.
/// Randomness: a request at height h is resolved with the block hash the clock recorded when it
/// reached h + revealDelay, unknown (and so neither predictable nor grindable) at request time.
/// Clock: heights are advanced by the keeper (the deployer), so that one height can hold many
/// transactions on chains that mine one block per transaction; the keeper holds no funds and can
/// neither vote nor move tokens. One contract hosts several independent swarms.
contract SwarmTokenDecision {
    uint8 public constant RULE_VOTER = 0;
    uint8 public constant RULE_MAJORITY = 1;
    /// @notice Heights of vote counts and seeds kept: stableDepth and revealDelay must be smaller.
    uint32 public constant RING = 64;

    uint8 private constant REGISTERED = 1;
    uint8 private constant FLAGGED = 2;
    uint8 private constant PENDING = 4;
    uint8 private constant DEALT = 8;

    struct Robot {
        uint16 swarm;
        uint8 status;
        uint8 opinion;
        uint32 requestedAt;
        uint32 decidedAt;
        uint32 lastVote; // height of the last vote + 1 (0 = never)
        uint16 votesLeft;
        uint16 lockedWhite; // votes whose stakes are locked, by colour
        uint16 lockedBlack;
        uint80 balance; // free tokens (wei)
    }

    /// @dev The current height's vote counts live here, so a vote writes one swarm slot; they
    /// move to the ring when the first vote of a later height arrives.
    struct Swarm {
        bool open;
        bool settled;
        uint8 colour; // colour of the latest votes
        uint32 since; // height + 1 at which that colour last changed (0: no vote yet)
        uint32 current;
        uint32 ones;
        uint32 total;
        uint40 white; // locked votes, by colour (flagged robots' removed)
        uint40 black;
    }

    struct Counts {
        uint32 height;
        uint32 ones;
        uint32 total;
    }

    struct Snapshot {
        uint32 ones;
        uint32 total;
    }

    struct Payout {
        uint128 pot; // tokens still to share among the votes for the outcome
        uint128 votes; // votes for the outcome not yet paid
    }

    address public immutable keeper;
    uint8 public immutable rule;
    uint32 public immutable stableDepth;
    uint32 public immutable revealDelay;
    uint32 public immutable freshness;
    uint16 public immutable contingent;
    uint32 public immutable unanimity;
    uint256 public immutable bond;
    uint256 public immutable stake;

    /// @notice The clock: heights started so far.
    uint32 public height;
    /// @notice Swarms opened so far.
    uint16 public swarmCount;

    mapping(address => Robot) public robots;
    mapping(uint16 => Swarm) public swarms;
    /// @notice Tokens slashed from flagged robots and not yet paid out, per swarm.
    mapping(uint16 => uint256) public slashed;
    mapping(uint16 => Payout) public payouts;
    mapping(uint256 => Counts) private ring; // swarm << 32 | height % RING
    mapping(uint256 => bytes32) private seeds; // height % RING -> block hash recorded at it
    mapping(uint256 => uint32) private seedHeight;
    mapping(address => Snapshot) private snapshots;

    event SwarmOpened(uint16 indexed swarm);
    event Tick(uint32 height, bytes32 seed);
    event Registered(address indexed robot, uint16 indexed swarm, uint256 deposit);
    event Requested(address indexed robot, uint32 height);
    event Decided(address indexed robot, uint8 opinion, uint32 height);
    event Expired(address indexed robot, uint32 height);
    event Voted(address indexed robot, uint8 opinion, uint32 height);
    event Flagged(address indexed robot, uint16 indexed swarm, uint256 slashed);
    event Settled(uint16 indexed swarm, uint8 outcome, uint256 pot, uint256 votes);
    event Claimed(address indexed robot, uint256 amount);
    event Withdrawn(address indexed robot, uint256 amount);

    error BadParameters();
    error NotKeeper(address caller);
    error UnknownSwarm(uint16 swarm);
    error AlreadyRegistered(address robot);
    error BadDeposit(uint256 sent, uint256 needed);
    error NotRegistered(address robot);
    error IsFlagged(address robot);
    error Pending(address robot);
    error NotPending(address robot);
    error CannotVote(address robot, uint32 height);
    error BadOpinion(uint8 opinion);
    error SwarmSettled(uint16 swarm);
    error NotSettled(uint16 swarm);
    error NotUnanimous(uint16 swarm, uint32 since);
    error StakesLocked(address robot);
    error TransferFailed(address to, uint256 amount);

    constructor(
        uint8 rule_,
        uint32 stableDepth_,
        uint32 revealDelay_,
        uint32 freshness_,
        uint16 contingent_,
        uint32 unanimity_,
        uint256 bond_,
        uint256 stake_
    ) {
        if (rule_ > RULE_MAJORITY || stableDepth_ >= RING || revealDelay_ == 0
            || revealDelay_ >= RING || stake_ == 0 || contingent_ == 0 || unanimity_ == 0) {
            revert BadParameters();
        }
        keeper = msg.sender;
        rule = rule_;
        stableDepth = stableDepth_;
        revealDelay = revealDelay_;
        freshness = freshness_;
        contingent = contingent_;
        unanimity = unanimity_;
        bond = bond_;
        stake = stake_;
    }

    modifier onlyKeeper() {
        if (msg.sender != keeper) revert NotKeeper(msg.sender);
        _;
    }

    /// @notice Open `count` new swarms (ids continue from swarmCount).
    /// @param count Number of swarms to open.
    function open(uint16 count) external onlyKeeper {
        for (uint16 i = 0; i < count; i++) {
            uint16 id = swarmCount++;
            swarms[id].open = true;
            emit SwarmOpened(id);
        }
    }

    /// @notice Start the next height and record the previous block's hash as its seed.
    function tick() external onlyKeeper {
        uint32 h = ++height;
        bytes32 seed = blockhash(block.number - 1);
        seeds[h % RING] = seed;
        seedHeight[h % RING] = h;
        emit Tick(h, seed);
    }

    /// @notice Join a swarm. msg.value pays the bond and the token deposit (at least one stake).
    /// The first opinion is dealt by the contract like any decision (see resolve).
    /// @param swarm The swarm to join.
    function register(uint16 swarm) external payable {
        if (!swarms[swarm].open) revert UnknownSwarm(swarm);
        if (swarms[swarm].settled) revert SwarmSettled(swarm);
        if (robots[msg.sender].status != 0) revert AlreadyRegistered(msg.sender);
        if (msg.value < bond + stake || msg.value - bond >= 1 << 80) {
            revert BadDeposit(msg.value, bond + stake);
        }
        Robot storage r = robots[msg.sender];
        r.swarm = swarm;
        r.status = REGISTERED;
        r.balance = uint80(msg.value - bond);
        emit Registered(msg.sender, swarm, msg.value);
        _request(r, swarm);
    }

    /// @notice Ask the contract for the next opinion; it is drawn from the votes of the stable
    /// height and resolved once the clock has passed the reveal delay.
    function request() external {
        Robot storage r = _robot(msg.sender);
        if (r.status & PENDING != 0) revert Pending(msg.sender);
        _request(r, r.swarm);
    }

    /// @notice Resolve the pending requests of `who` whose seed is known (anyone may call: the
    /// result does not depend on the caller). Requests whose seed left the ring expire.
    /// @param who Robots with pending requests; others are skipped.
    function resolve(address[] calldata who) external {
        uint32 h = height;
        for (uint256 i = 0; i < who.length; i++) {
            Robot storage r = robots[who[i]];
            if (r.status & PENDING == 0 || r.status & FLAGGED != 0) continue;
            uint32 at = r.requestedAt + revealDelay;
            if (at > h) continue;
            if (seedHeight[at % RING] != at) {
                r.status &= ~PENDING;
                emit Expired(who[i], h);
                continue;
            }
            Snapshot memory pool = snapshots[who[i]];
            uint256 rnd = uint256(keccak256(abi.encode(seeds[at % RING], who[i])));
            uint8 next = r.status & DEALT == 0 ? uint8(rnd >> 255) : _applyRule(r.opinion, pool, rnd);
            r.opinion = next;
            r.status = (r.status & ~PENDING) | DEALT;
            r.decidedAt = h;
            r.votesLeft = contingent;
            emit Decided(who[i], next, h);
        }
    }

    /// @notice Announce the robot's opinion at this height, locking one stake. An opinion other
    /// than the one the contract holds for the robot flags it and slashes all its tokens.
    /// @param opinion 0 (white) or 1 (black).
    function vote(uint8 opinion) external {
        if (opinion > 1) revert BadOpinion(opinion);
        Robot storage r = _robot(msg.sender);
        uint16 id = r.swarm;
        Swarm storage s = swarms[id];
        if (s.settled) revert SwarmSettled(id);
        uint32 h = height;
        if (r.status & PENDING != 0) revert Pending(msg.sender);
        if (r.lastVote > h || r.votesLeft == 0 || r.decidedAt + freshness < h || r.balance < stake)
        {
            revert CannotVote(msg.sender, h);
        }
        if (opinion != r.opinion) {
            _flag(r, s, msg.sender);
            return;
        }
        r.balance -= uint80(stake);
        r.votesLeft--;
        r.lastVote = h + 1;
        if (opinion == 1) {
            r.lockedBlack++;
            s.black++;
        } else {
            r.lockedWhite++;
            s.white++;
        }
        if (s.current != h) {
            if (s.total > 0) ring[_ringKey(id, s.current)] = Counts(s.current, s.ones, s.total);
            s.current = h;
            s.ones = 0;
            s.total = 0;
        }
        s.ones += opinion;
        s.total += 1;
        if (opinion != s.colour || s.since == 0) {
            s.colour = opinion;
            s.since = h + 1;
        }
        emit Voted(msg.sender, opinion, h);
    }

    /// @notice Close a swarm whose votes have all had one colour for `unanimity` heights.
    /// @param swarm The swarm to settle.
    function settle(uint16 swarm) external {
        Swarm storage s = swarms[swarm];
        if (s.settled) revert SwarmSettled(swarm);
        if (!settleable(swarm)) revert NotUnanimous(swarm, s.since);
        s.settled = true;
        uint256 winners = s.colour == 1 ? s.black : s.white;
        uint256 losers = s.colour == 1 ? s.white : s.black;
        uint256 pot = slashed[swarm] + losers * stake;
        slashed[swarm] = 0;
        payouts[swarm] = Payout(uint128(pot), uint128(winners));
        emit Settled(swarm, s.colour, pot, winners);
    }

    /// @notice Whether a swarm could settle now.
    /// @param swarm The swarm.
    function settleable(uint16 swarm) public view returns (bool) {
        Swarm storage s = swarms[swarm];
        return !s.settled && s.since > 0 && uint256(height) + 1 >= uint256(s.since) + unanimity;
    }

    /// @notice After settlement: unlock the robot's stakes; votes for the outcome are paid back
    /// with their share of the pot, the others were paid into it.
    function claim() external {
        Robot storage r = _robot(msg.sender);
        Swarm storage s = swarms[r.swarm];
        if (!s.settled) revert NotSettled(r.swarm);
        uint256 won = s.colour == 1 ? r.lockedBlack : r.lockedWhite;
        uint256 amount = won * stake;
        if (won > 0) {
            Payout storage p = payouts[r.swarm];
            uint256 share = (uint256(p.pot) * won) / p.votes;
            p.pot -= uint128(share);
            p.votes -= uint128(won);
            amount += share;
        }
        r.lockedBlack = 0;
        r.lockedWhite = 0;
        r.balance += uint80(amount);
        emit Claimed(msg.sender, amount);
    }

    /// @notice Leave: the robot's balance and bond go back to it. Locked stakes must be claimed
    /// first.
    function withdraw() external {
        Robot storage r = _robot(msg.sender);
        if (r.lockedBlack + r.lockedWhite > 0) revert StakesLocked(msg.sender);
        uint256 amount = uint256(r.balance) + bond;
        r.balance = 0;
        r.status = FLAGGED; // closed: it can neither vote nor withdraw again
        emit Withdrawn(msg.sender, amount);
        (bool ok,) = payable(msg.sender).call{value: amount}("");
        if (!ok) revert TransferFailed(msg.sender, amount);
    }

    /// @notice Opinions of robots (0xff when flagged or closed, 0xfe while a request is pending).
    /// @param who The robots.
    function opinionsOf(address[] calldata who) external view returns (bytes memory out) {
        out = new bytes(who.length);
        for (uint256 i = 0; i < who.length; i++) {
            Robot storage r = robots[who[i]];
            uint8 v = r.opinion;
            if (r.status & FLAGGED != 0 || r.status == 0) v = 0xff;
            else if (r.status & PENDING != 0) v = 0xfe;
            out[i] = bytes1(v);
        }
    }

    /// @notice Free balance, locked tokens and bond of a robot (0 bond once flagged or closed).
    /// @param robot The robot.
    function tokensOf(address robot) external view returns (uint256 free, uint256 locked, uint256 bonded) {
        Robot storage r = robots[robot];
        free = r.balance;
        locked = (uint256(r.lockedBlack) + r.lockedWhite) * stake;
        bonded = r.status != 0 && r.status & FLAGGED == 0 ? bond : 0;
    }

    function _robot(address who) private view returns (Robot storage r) {
        r = robots[who];
        if (r.status == 0) revert NotRegistered(who);
        if (r.status & FLAGGED != 0) revert IsFlagged(who);
    }

    function _request(Robot storage r, uint16 id) private {
        uint32 h = height;
        Snapshot memory pool;
        if (h >= stableDepth) {
            uint32 at = h - stableDepth;
            Swarm storage s = swarms[id];
            if (s.current == at) {
                pool = Snapshot(s.ones, s.total);
            } else {
                Counts storage c = ring[_ringKey(id, at)];
                if (c.height == at) pool = Snapshot(c.ones, c.total);
            }
        }
        snapshots[msg.sender] = pool;
        r.status |= PENDING;
        r.requestedAt = h;
        emit Requested(msg.sender, h);
    }

    /// @dev Draws with replacement from the stable height's counts; with no votes there the
    /// robot keeps its opinion. (A robot's first opinion is a coin flip, see resolve.)
    function _applyRule(uint8 own, Snapshot memory pool, uint256 rnd) private view returns (uint8) {
        if (pool.total == 0) return own;
        uint8 a = rnd % pool.total < pool.ones ? 1 : 0;
        if (rule == RULE_VOTER) return a;
        uint8 b = (rnd >> 128) % pool.total < pool.ones ? 1 : 0;
        return own + a + b >= 2 ? 1 : 0;
    }

    function _flag(Robot storage r, Swarm storage s, address who) private {
        uint256 lost = uint256(r.balance) + bond + (uint256(r.lockedBlack) + r.lockedWhite) * stake;
        s.black -= r.lockedBlack;
        s.white -= r.lockedWhite;
        slashed[r.swarm] += lost;
        r.balance = 0;
        r.lockedBlack = 0;
        r.lockedWhite = 0;
        r.status |= FLAGGED;
        emit Flagged(who, r.swarm, lost);
    }

    function _ringKey(uint16 id, uint32 at) private pure returns (uint256) {
        return (uint256(id) << 32) | (at % RING);
    }
}
