// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Collective decision between two colours with robots as accounts and a token economy.
/// @notice After Strobel, Castello Ferrer and Dorigo (AAMAS 2018) and Strobel, Pacheco and Dorigo
/// (Science Robotics 2023). Every robot is an account: it registers itself with a bond, a token
/// deposit (ether) and a first opinion, and only it can vote, ask for a decision, claim or
/// withdraw. The contract computes every later opinion from votes drawn at
/// random from a stable height (the voter model or the majority rule); a robot whose vote departs
/// from the colour the contract expects from it is flagged: it loses its bond, locked stakes and
/// balance to the swarm's pot, and its votes are never drawn again.
/// Economy: each vote locks `stake`. Once every unflagged robot of a swarm has held one colour at
/// two checks `unanimity` heights apart, the swarm settles on it: stakes of votes for it are paid
/// back with a share of the pot (every slashed stake and every stake on the other colour).
/// Randomness: a request at height h is resolved with the block hash the clock recorded when it
/// reached h + revealDelay, unknown (so neither predictable nor grindable) at request time.
/// Audits: with probability auditPerMille / 1000 a decision comes with `audits` coin-flip colours
/// that the robot's next votes must announce (checked, neither counted nor staked): a robot that
/// always announces one colour survives an audited decision with probability 2^-audits.
/// Gas: a vote writes only the voter's own storage slot (its last 16 voting heights are a bitmap
/// there); draws sample the swarm's members and read those bitmaps.
/// Clock: the keeper (deployer) advances heights, so that one height can hold many transactions
/// on chains that mine one block per transaction; it holds no funds and cannot vote for anyone.
contract SwarmTokenDecision {
    uint8 public constant RULE_VOTER = 0;
    uint8 public constant RULE_MAJORITY = 1;
    /// @notice Heights of seeds kept.
    uint32 public constant RING = 64;
    /// @notice Swarms one contract may host (their settled flags share the clock's slot, so a
    /// vote reads one slot besides its own).
    uint16 public constant MAX_SWARMS = 216;
    /// @notice Members a swarm may have (bounds the settlement loop).
    uint256 public constant MAX_MEMBERS = 1024;
    /// @notice Members sampled per draw before giving up (then the robot keeps its opinion).
    uint256 public constant TRIES = 16;

    uint8 private constant REGISTERED = 1;
    uint8 private constant FLAGGED = 2;
    uint8 private constant PENDING = 4;
    uint8 private constant AUDIT = 8;
    uint8 private constant CLOSED = 16;
    uint8 private constant CLAIMED = 32;

    /// @dev One storage slot; vote() reads and writes it as a word at these bit offsets:
    /// swarm 0, status 16, opinion 24, requestedAt 32, decidedAt 56, lastVote 80,
    /// votesLeft 104, lockedWhite 120, lockedBlack 136, recent 152, recentBlack 168,
    /// balance 184, audits 248.
    struct Robot {
        uint16 swarm;
        uint8 status;
        uint8 opinion;
        uint24 requestedAt;
        uint24 decidedAt;
        uint24 lastVote; // height of the last vote + 1 (0 = never)
        uint16 votesLeft;
        uint16 lockedWhite; // votes whose stakes are locked, by colour
        uint16 lockedBlack;
        uint16 recent; // bit j: voted at lastVote - 1 - j
        uint16 recentBlack; // ... and voted black there
        uint64 balance; // free tokens (wei)
        uint8 audits; // bits 0-3: audit votes still due; bit 3 + k: colour of the k-th due
    }

    struct Swarm {
        bool open;
        uint8 colour; // the colour every unflagged robot held at the last check
        uint24 agreedAt; // height + 1 of the first check that found them unanimous (0 = none)
        bool perMember; // settled without a vote for the outcome: the pot goes to the members
    }

    struct Payout {
        uint128 pot; // tokens still to share among the votes for the outcome
        uint128 votes; // votes for the outcome not yet paid
    }

    address public immutable keeper;
    uint8 public immutable rule;
    uint24 public immutable stableDepth;
    uint24 public immutable revealDelay;
    uint24 public immutable freshness;
    uint16 public immutable contingent;
    uint24 public immutable unanimity;
    uint16 public immutable auditPerMille;
    uint8 public immutable audits;
    uint256 public immutable bond;
    uint256 public immutable stake;

    /// @notice The clock: heights started so far.
    uint24 public height;
    /// @notice Swarms opened so far.
    uint16 public swarmCount;
    /// @notice Bit i: swarm i has settled.
    uint216 public settledSwarms;

    mapping(address => Robot) public robots;
    mapping(uint16 => Swarm) public swarms;
    mapping(uint16 => address[]) private members;
    /// @notice Tokens slashed from flagged robots and not yet paid out, per swarm.
    mapping(uint16 => uint256) public slashed;
    mapping(uint16 => Payout) public payouts;
    mapping(uint256 => bytes32) private seeds; // height % RING -> block hash recorded at it
    mapping(uint256 => uint24) private seedHeight;

    event SwarmOpened(uint16 indexed swarm);
    event Tick(uint24 height, bytes32 seed);
    event Registered(address indexed robot, uint16 indexed swarm, uint256 deposit);
    event Requested(address indexed robot, uint24 height);
    event Decided(address indexed robot, uint8 opinion, bool audit, uint24 height);
    event Expired(address indexed robot, uint24 height);
    /// @notice A counted vote: robot << 32 | opinion << 24 | height (one word: cheaper to log).
    event Voted(uint256 robotOpinionHeight);
    event Audited(address indexed robot, uint8 opinion, uint24 height);
    event Flagged(address indexed robot, uint16 indexed swarm, uint256 slashed);
    event Agreed(uint16 indexed swarm, uint8 colour, uint24 height);
    event Settled(uint16 indexed swarm, uint8 outcome, uint256 pot, uint256 votes);
    event Claimed(address indexed robot, uint256 amount);
    event Withdrawn(address indexed robot, uint256 amount);

    error BadParameters();
    error NotKeeper(address caller);
    error UnknownSwarm(uint16 swarm);
    error SwarmFull(uint16 swarm);
    error AlreadyRegistered(address robot);
    error BadDeposit(uint256 sent, uint256 needed);
    error NotRegistered(address robot);
    error IsFlagged(address robot);
    error Pending(address robot);
    error CannotVote(address robot, uint24 height);
    error BadOpinion(uint8 opinion);
    error SwarmSettled(uint16 swarm);
    error NotSettled(uint16 swarm);
    error NotUnanimous(uint16 swarm);
    error StakesLocked(address robot);
    error AlreadyClaimed(address robot);
    error TransferFailed(address to, uint256 amount);

    /// @param rule_ RULE_VOTER or RULE_MAJORITY.
    /// @param stableDepth_ Heights between a request and the votes it draws from.
    /// @param revealDelay_ Heights between a request and the seed that resolves it.
    /// @param freshness_ Heights a decision stays good for voting.
    /// @param contingent_ Votes a decision allows.
    /// @param unanimity_ Heights between the two unanimity checks that settle a swarm.
    /// @param auditPerMille_ Per mille of decisions that come with an audit.
    /// @param audits_ Audit votes an audited decision asks for (1..4).
    /// @param bond_ Wei locked at registration (slashed when flagged).
    /// @param stake_ Wei locked by every vote.
    constructor(
        uint8 rule_,
        uint24 stableDepth_,
        uint24 revealDelay_,
        uint24 freshness_,
        uint16 contingent_,
        uint24 unanimity_,
        uint16 auditPerMille_,
        uint8 audits_,
        uint256 bond_,
        uint256 stake_
    ) {
        if (rule_ > RULE_MAJORITY || revealDelay_ == 0 || revealDelay_ >= RING
            || stableDepth_ + revealDelay_ >= 16 || stake_ == 0 || contingent_ == 0
            || unanimity_ == 0 || auditPerMille_ > 1000
            || audits_ == 0 || audits_ > 4) {
            revert BadParameters();
        }
        keeper = msg.sender;
        rule = rule_;
        stableDepth = stableDepth_;
        revealDelay = revealDelay_;
        freshness = freshness_;
        contingent = contingent_;
        unanimity = unanimity_;
        auditPerMille = auditPerMille_;
        audits = audits_;
        bond = bond_;
        stake = stake_;
    }

    modifier onlyKeeper() {
        if (msg.sender != keeper) revert NotKeeper(msg.sender);
        _;
    }

    /// @notice Open `count` new swarms (ids continue from swarmCount); keeper only.
    /// @param count Number of swarms to open.
    function open(uint16 count) external onlyKeeper {
        if (uint256(swarmCount) + count > MAX_SWARMS) revert BadParameters();
        for (uint16 i = 0; i < count; i++) {
            uint16 id = swarmCount++;
            swarms[id].open = true;
            emit SwarmOpened(id);
        }
    }

    /// @notice Start the next height and record the previous block's hash as its seed.
    function tick() external onlyKeeper {
        uint24 h = ++height;
        bytes32 seed = blockhash(block.number - 1);
        seeds[h % RING] = seed;
        seedHeight[h % RING] = h;
        emit Tick(h, seed);
    }

    /// @notice Join a swarm with a first opinion. msg.value pays the bond and the token deposit
    /// (at least one stake). Joining counts as a request: its resolution keeps the opinion and
    /// may bring the robot's first audit.
    /// @param swarm The swarm to join.
    /// @param opinion The robot's first opinion, 0 (white) or 1 (black).
    function register(uint16 swarm, uint8 opinion) external payable {
        if (opinion > 1) revert BadOpinion(opinion);
        Swarm storage s = swarms[swarm];
        if (!s.open) revert UnknownSwarm(swarm);
        if (_settled(swarm)) revert SwarmSettled(swarm);
        if (members[swarm].length >= MAX_MEMBERS) revert SwarmFull(swarm);
        if (robots[msg.sender].status != 0) revert AlreadyRegistered(msg.sender);
        if (msg.value < bond + stake || msg.value - bond >= 1 << 64) {
            revert BadDeposit(msg.value, bond + stake);
        }
        Robot storage r = robots[msg.sender];
        r.swarm = swarm;
        r.status = REGISTERED | PENDING;
        r.opinion = opinion;
        r.requestedAt = height;
        r.balance = uint64(msg.value - bond);
        members[swarm].push(msg.sender);
        emit Registered(msg.sender, swarm, msg.value);
        emit Requested(msg.sender, height);
    }

    /// @notice Ask for the next opinion: it is drawn from the votes cast stableDepth heights
    /// before now, with the seed of the height revealDelay after now.
    function request() external {
        Robot storage r = _robot(msg.sender);
        if (r.status & PENDING != 0) revert Pending(msg.sender);
        r.status |= PENDING;
        r.requestedAt = height;
        emit Requested(msg.sender, height);
    }

    /// @notice Resolve the pending requests of `who` whose seed is known. Anyone may call: the
    /// result does not depend on the caller. Requests whose seed left the ring expire.
    /// @param who Robots with pending requests; others are skipped.
    function resolve(address[] calldata who) external {
        uint24 h = height;
        for (uint256 i = 0; i < who.length; i++) {
            Robot storage r = robots[who[i]];
            if (r.status & PENDING == 0 || r.status & FLAGGED != 0) continue;
            uint24 at = r.requestedAt + revealDelay;
            if (at > h) continue;
            if (seedHeight[at % RING] != at) {
                r.status &= ~PENDING;
                emit Expired(who[i], h);
                continue;
            }
            uint256 rnd = uint256(keccak256(abi.encode(seeds[at % RING], who[i])));
            uint8 next = r.opinion;
            if (r.requestedAt >= stableDepth) next = _decide(r, r.requestedAt - stableDepth, rnd);
            uint8 status = r.status & ~PENDING;
            // The draw comes from a block hash recorded after the request: unknown to the
            // robot when it asked, which is the point (a miner could bias it; see the notice).
            // slither-disable-next-line weak-prng
            bool audit = (rnd >> 8) % 1000 < auditPerMille;
            if (audit) {
                status |= AUDIT;
                r.audits = uint8(((rnd >> 128) & 0xf) << 4 | audits);
            }
            r.opinion = next;
            r.status = status;
            r.decidedAt = h;
            r.votesLeft = contingent;
            emit Decided(who[i], next, audit, h);
        }
    }

    /// @notice Announce the robot's opinion at this height, locking one stake (or answer an
    /// audit). A colour other than the one the contract expects flags the robot.
    /// @param opinion 0 (white) or 1 (black).
    function vote(uint8 opinion) external {
        if (opinion > 1) revert BadOpinion(opinion);
        Robot storage slot = robots[msg.sender];
        uint24 h = height;
        // The robot's slot is read and written once as a word: field by field, the compiler
        // would read and write it once per field (see the Robot layout for the offsets).
        uint256 w;
        assembly {
            w := sload(slot.slot)
        }
        uint256 status = (w >> 16) & 0xff;
        if (status == 0) revert NotRegistered(msg.sender);
        if (status & (FLAGGED | CLOSED) != 0) revert IsFlagged(msg.sender);
        if (status & PENDING != 0) revert Pending(msg.sender);
        if (_settled(uint16(w))) revert SwarmSettled(uint16(w));
        uint256 lastVote = (w >> 80) & 0xffffff;
        uint256 balance = (w >> 184) & 0xffffffffffffffff;
        if (lastVote > h || (w >> 104) & 0xffff == 0 || ((w >> 56) & 0xffffff) + freshness < h
            || balance < stake) {
            revert CannotVote(msg.sender, h);
        }
        if (status & AUDIT != 0) {
            uint256 due = w >> 248;
            uint256 left = due & 0xf;
            if (opinion != (due >> (3 + left)) & 1) {
                _flag(slot, msg.sender);
            } else {
                left--;
                slot.audits = uint8((due & 0xf0) | left);
                if (left == 0) slot.status = uint8(status & ~uint256(AUDIT));
                emit Audited(msg.sender, opinion, h);
            }
            return;
        }
        if (opinion != (w >> 24) & 0xff) {
            _flag(slot, msg.sender);
            return;
        }
        uint256 gap = h + 1 - lastVote;
        uint256 recent = gap >= 16 ? 1 : (((w >> 152) & 0xffff) << gap | 1) & 0xffff;
        uint256 black = gap >= 16 ? opinion : (((w >> 168) & 0xffff) << gap | opinion) & 0xffff;
        w -= uint256(1) << 104; // votesLeft
        w += uint256(1) << (opinion == 1 ? 136 : 120); // lockedBlack or lockedWhite
        w = (w & ~(uint256(0xffffff) << 80)) | (uint256(h + 1) << 80);
        w = (w & ~(uint256(0xffffffff) << 152)) | (recent << 152) | (black << 168);
        w = (w & ~(uint256(0xffffffffffffffff) << 184)) | ((balance - stake) << 184);
        assembly {
            sstore(slot.slot, w)
        }
        emit Voted((uint256(uint160(msg.sender)) << 32) | (uint256(opinion) << 24) | h);
    }

    /// @notice Check a swarm for unanimity: the first check that finds every unflagged robot
    /// holding one colour starts the count; one `unanimity` heights later (still unanimous, same
    /// colour) settles the swarm: the pot is every slashed stake plus the stakes on the other
    /// colour, shared by the votes for this one. Anyone may call.
    /// @param swarm The swarm.
    function settle(uint16 swarm) external {
        Swarm storage s = swarms[swarm];
        if (!s.open) revert UnknownSwarm(swarm);
        if (_settled(swarm)) revert SwarmSettled(swarm);
        (bool unanimous, uint8 colour, uint256 white, uint256 black, uint256 left) = _tally(swarm);
        if (!unanimous) revert NotUnanimous(swarm);
        if (s.agreedAt == 0 || s.colour != colour) {
            s.colour = colour;
            s.agreedAt = height + 1;
            emit Agreed(swarm, colour, height);
            return;
        }
        if (height + 1 < uint256(s.agreedAt) + unanimity) revert NotUnanimous(swarm);
        settledSwarms |= uint216(1) << swarm;
        uint256 winners = colour == 1 ? black : white;
        uint256 pot = slashed[swarm] + (colour == 1 ? white : black) * stake;
        slashed[swarm] = 0;
        if (winners == 0) {
            // Nobody staked on the outcome: every unflagged member gets an equal share.
            s.perMember = true;
            winners = left;
        }
        payouts[swarm] = Payout(uint128(pot), uint128(winners));
        emit Settled(swarm, colour, pot, winners);
    }

    /// @notice After settlement: unlock the robot's stakes; votes for the outcome are paid back
    /// with their share of the pot, the others went into it.
    function claim() external {
        Robot storage r = _robot(msg.sender);
        Swarm storage s = swarms[r.swarm];
        if (!_settled(r.swarm)) revert NotSettled(r.swarm);
        if (r.status & CLAIMED != 0) revert AlreadyClaimed(msg.sender);
        r.status |= CLAIMED;
        uint256 won = s.colour == 1 ? r.lockedBlack : r.lockedWhite;
        uint256 amount = won * stake;
        if (s.perMember) won = 1;
        if (won > 0) {
            Payout storage p = payouts[r.swarm];
            uint256 share = (uint256(p.pot) * won) / p.votes;
            p.pot -= uint128(share);
            p.votes -= uint128(won);
            amount += share;
        }
        r.lockedBlack = 0;
        r.lockedWhite = 0;
        r.balance += uint64(amount);
        emit Claimed(msg.sender, amount);
    }

    /// @notice Leave: the robot's balance and bond go back to it (claim locked stakes first).
    function withdraw() external {
        Robot storage r = _robot(msg.sender);
        if (r.lockedBlack + r.lockedWhite > 0) revert StakesLocked(msg.sender);
        uint256 amount = uint256(r.balance) + bond;
        r.balance = 0;
        r.status |= CLOSED;
        emit Withdrawn(msg.sender, amount);
        (bool ok,) = payable(msg.sender).call{value: amount}("");
        if (!ok) revert TransferFailed(msg.sender, amount);
    }

    /// @notice Per robot: 0xff when flagged, closed or unknown, 0xfe while a request is
    /// pending, else opinion | colour its next vote must announce << 1 | audit pending << 2.
    /// @param who The robots.
    function opinionsOf(address[] calldata who) external view returns (bytes memory out) {
        out = new bytes(who.length);
        for (uint256 i = 0; i < who.length; i++) {
            Robot storage r = robots[who[i]];
            uint8 v = r.opinion;
            if (r.status & (FLAGGED | CLOSED) != 0 || r.status == 0) v = 0xff;
            else if (r.status & PENDING != 0) v = 0xfe;
            else if (r.status & AUDIT != 0) v |= uint8((r.audits >> (3 + (r.audits & 0xf))) & 1) << 1 | 4;
            else v |= v << 1;
            out[i] = bytes1(v);
        }
    }

    /// @notice Free balance, locked stakes and bond of a robot, in wei.
    /// @param robot The robot.
    function tokensOf(address robot)
        external
        view
        returns (uint256 free, uint256 locked, uint256 bonded)
    {
        Robot storage r = robots[robot];
        free = r.balance;
        locked = (uint256(r.lockedBlack) + r.lockedWhite) * stake;
        bonded = r.status & REGISTERED != 0 && r.status & (FLAGGED | CLOSED) == 0 ? bond : 0;
    }

    /// @notice Members of a swarm, in registration order.
    /// @param swarm The swarm.
    function membersOf(uint16 swarm) external view returns (address[] memory) {
        return members[swarm];
    }

    function _settled(uint16 swarm) private view returns (bool) {
        return (settledSwarms >> swarm) & 1 == 1;
    }

    function _robot(address who) private view returns (Robot storage r) {
        r = robots[who];
        if (r.status == 0) revert NotRegistered(who);
        if (r.status & (FLAGGED | CLOSED) != 0) revert IsFlagged(who);
    }

    /// @dev The rule on k = 1 (voter) or 2 (majority, with the robot's own opinion) votes, each
    /// drawn uniformly from the unflagged members that voted at height `at`.
    function _decide(Robot storage r, uint24 at, uint256 rnd) private view returns (uint8) {
        (bool found, uint8 a, uint256 next) = _draw(r.swarm, at, rnd);
        if (!found) return r.opinion;
        if (rule == RULE_VOTER) return a;
        (bool foundB, uint8 b,) = _draw(r.swarm, at, next);
        if (!foundB) return r.opinion;
        return r.opinion + a + b >= 2 ? 1 : 0;
    }

    /// @dev Rejection sampling over the members: uniform over the votes cast at `at` by robots
    /// that are not flagged.
    function _draw(uint16 id, uint24 at, uint256 rnd) private view returns (bool, uint8, uint256) {
        address[] storage m = members[id];
        uint256 n = m.length;
        for (uint256 t = 0; t < TRIES; t++) {
            rnd = uint256(keccak256(abi.encode(rnd, t)));
            // slither-disable-next-line weak-prng
            Robot storage c = robots[m[rnd % n]];
            if (c.status & (FLAGGED | CLOSED) != 0 || c.lastVote <= at) continue;
            uint256 back = c.lastVote - 1 - at;
            if (back >= 16 || (c.recent >> back) & 1 == 0) continue;
            return (true, uint8((c.recentBlack >> back) & 1), rnd);
        }
        return (false, 0, rnd);
    }

    /// @dev Whether every unflagged member holds one colour; the locked votes by colour of the
    /// unflagged members; and how many they are.
    function _tally(uint16 id) private view returns (bool, uint8, uint256, uint256, uint256) {
        address[] storage m = members[id];
        uint256 white = 0;
        uint256 black = 0;
        uint256 seen = 0; // bit 0: someone holds white, bit 1: someone holds black
        uint256 left = 0;
        for (uint256 i = 0; i < m.length; i++) {
            Robot storage r = robots[m[i]];
            if (r.status & (FLAGGED | CLOSED) != 0) continue;
            left++;
            white += r.lockedWhite;
            black += r.lockedBlack;
            seen |= uint256(1) << r.opinion;
        }
        return (seen == 1 || seen == 2, seen == 2 ? 1 : 0, white, black, left);
    }

    function _flag(Robot storage r, address who) private {
        uint256 lost = uint256(r.balance) + bond + (uint256(r.lockedBlack) + r.lockedWhite) * stake;
        slashed[r.swarm] += lost;
        r.balance = 0;
        r.lockedBlack = 0;
        r.lockedWhite = 0;
        r.status |= FLAGGED;
        emit Flagged(who, r.swarm, lost);
    }
}
