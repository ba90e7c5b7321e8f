// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Collective decision between two colours, with the decision rule run by the contract.
/// @notice After Strobel, Castello Ferrer and Dorigo (AAMAS 2018). A robot asks the contract for
/// its next opinion; the contract draws k = 2 votes from a stable block (stableDepth blocks back)
/// and applies the swarm's rule (voter model, majority, or direct comparison). The robot must then
/// announce exactly that opinion in its votes: a robot whose vote departs from it is flagged as
/// Byzantine and ignored from then on. One contract hosts several independent swarms (one per
/// simulation run) so that a whole batch of runs advances with one transaction per block.
/// Records are packed big-endian in `bytes` so that a batch costs one ABI argument.
contract SwarmDecision {
    uint8 public constant RULE_VOTER = 0;
    uint8 public constant RULE_MAJORITY = 1;
    uint8 public constant RULE_DIRECT_COMPARISON = 2;

    uint256 private constant REGISTRATION_SIZE = 7; // swarm u16, robot u32, opinion u8
    uint256 private constant DECISION_SIZE = 8; // swarm u16, robot u32, quality u16
    uint256 private constant VOTE_SIZE = 9; // swarm u16, robot u32, opinion u8, quality u16

    struct Robot {
        bool known;
        bool flagged;
        uint8 opinion; // the opinion the contract computed last (or registered)
        uint64 decidedAt; // height of that computation
        uint32 votesLeft;
    }

    uint8 public immutable rule;
    uint64 public immutable stableDepth;
    uint64 public immutable freshness;
    uint32 public immutable contingent;
    uint64 public openBlock;
    bool public started;

    bytes32[] private seeds;
    mapping(uint256 => Robot) private robots; // swarm << 32 | robot
    mapping(uint256 => uint256[]) private votesAt; // swarm << 64 | height -> opinion << 16 | quality

    struct Tally {
        uint64 accepted;
        uint64 rejected;
        uint64 flagged;
    }

    /// @notice Votes accepted and rejected, and robots flagged, per swarm.
    mapping(uint16 => Tally) public tallies;

    enum Verdict {
        Accepted,
        Rejected,
        Flagged
    }

    event Flagged(uint16 indexed swarm, uint32 indexed robot, uint64 height);

    error UnknownRule(uint8 rule);
    error BadRecords(uint256 length, uint256 recordSize);
    error UnknownSwarm(uint16 swarm);
    error AlreadyRegistered(uint16 swarm, uint32 robot);
    error AlreadyStarted();

    constructor(uint8 rule_, uint64 stableDepth_, uint64 freshness_, uint32 contingent_) {
        if (rule_ > RULE_DIRECT_COMPARISON) revert UnknownRule(rule_);
        rule = rule_;
        stableDepth = stableDepth_;
        freshness = freshness_;
        contingent = contingent_;
        openBlock = uint64(block.number);
    }

    /// @notice Start the clock: heights count blocks from here, however many transactions the
    /// registrations took, so a swarm's draws never depend on the size of its batch.
    function start() external {
        if (started) revert AlreadyStarted();
        started = true;
        openBlock = uint64(block.number);
    }

    /// @notice Open new swarms (one seed each, ids continue from swarmCount()) and register
    /// robots with their initial opinion. Identities are permissionless, as on a public chain.
    function register(bytes32[] calldata newSwarmSeeds, bytes calldata registrations) external {
        if (registrations.length % REGISTRATION_SIZE != 0) {
            revert BadRecords(registrations.length, REGISTRATION_SIZE);
        }
        for (uint256 i = 0; i < newSwarmSeeds.length; i++) seeds.push(newSwarmSeeds[i]);
        uint64 h = started ? height() : 0;
        for (uint256 at = 0; at < registrations.length; at += REGISTRATION_SIZE) {
            uint16 swarm = uint16(_cuint(registrations, at, 2));
            uint32 robot = uint32(_cuint(registrations, at + 2, 4));
            if (swarm >= seeds.length) revert UnknownSwarm(swarm);
            Robot storage r = robots[_robotKey(swarm, robot)];
            if (r.known) revert AlreadyRegistered(swarm, robot);
            r.known = true;
            r.opinion = uint8(_cuint(registrations, at + 6, 1));
            r.decidedAt = h;
            r.votesLeft = contingent;
        }
    }

    function swarmCount() external view returns (uint256) {
        return seeds.length;
    }

    /// @notice One block of a batch: decision requests first, then votes; returns one byte per
    /// decision record (the new opinion, or 0xff when the robot is flagged or unknown).
    function step(bytes calldata decisions, bytes calldata votes) external returns (bytes memory) {
        if (decisions.length % DECISION_SIZE != 0) revert BadRecords(decisions.length, DECISION_SIZE);
        if (votes.length % VOTE_SIZE != 0) revert BadRecords(votes.length, VOTE_SIZE);
        uint64 h = height();
        bytes memory out = new bytes(decisions.length / DECISION_SIZE);
        for (uint256 i = 0; i < out.length; i++) {
            uint256 at = i * DECISION_SIZE;
            out[i] = bytes1(
                _decide(
                    uint16(_cuint(decisions, at, 2)),
                    uint32(_cuint(decisions, at + 2, 4)),
                    uint16(_cuint(decisions, at + 6, 2)),
                    h
                )
            );
        }
        for (uint256 at = 0; at < votes.length; at += VOTE_SIZE) {
            uint16 swarm = uint16(_cuint(votes, at, 2));
            Verdict v = _vote(
                swarm,
                uint32(_cuint(votes, at + 2, 4)),
                uint8(_cuint(votes, at + 6, 1)),
                uint16(_cuint(votes, at + 7, 2)),
                h
            );
            Tally storage t = tallies[swarm];
            if (v == Verdict.Accepted) {
                t.accepted++;
            } else {
                t.rejected++;
                if (v == Verdict.Flagged) t.flagged++;
            }
        }
        return out;
    }

    /// @notice Blocks since start() (or deployment): the clock every swarm here shares.
    function height() public view returns (uint64) {
        return uint64(block.number) - openBlock;
    }

    /// @notice Per robot key (swarm u16, robot u32): its current opinion, 0xff when flagged.
    function opinionsOf(bytes calldata keys) external view returns (bytes memory out) {
        out = new bytes(keys.length / 6);
        for (uint256 i = 0; i < out.length; i++) {
            Robot storage r = robots[
                _robotKey(uint16(_cuint(keys, i * 6, 2)), uint32(_cuint(keys, i * 6 + 2, 4)))
            ];
            out[i] = bytes1(r.flagged ? 0xff : r.opinion);
        }
    }

    /// @notice Number of accepted votes recorded for a swarm at a height.
    function votesRecorded(uint16 swarm, uint64 at) external view returns (uint256) {
        return votesAt[_blockKey(swarm, at)].length;
    }

    function _decide(uint16 swarm, uint32 robot, uint16 quality, uint64 h) private returns (uint8) {
        Robot storage r = robots[_robotKey(swarm, robot)];
        if (!r.known || r.flagged) return 0xff;
        uint8 next = r.opinion;
        if (h >= stableDepth) {
            uint256[] storage pool = votesAt[_blockKey(swarm, h - stableDepth)];
            uint256 n = pool.length;
            if (n > 0) {
                uint256 rnd = uint256(keccak256(abi.encode(seeds[swarm], robot, h)));
                next = _applyRule(r.opinion, quality, pool[rnd % n], pool[(rnd >> 128) % n]);
            }
        }
        r.opinion = next;
        r.decidedAt = h;
        r.votesLeft = contingent;
        return next;
    }

    /// @dev Votes are packed as opinion << 16 | quality; the voter model uses the first draw.
    function _applyRule(uint8 own, uint16 quality, uint256 a, uint256 b)
        private
        view
        returns (uint8)
    {
        uint8 colourA = uint8(a >> 16);
        uint8 colourB = uint8(b >> 16);
        if (rule == RULE_VOTER) return colourA;
        if (rule == RULE_MAJORITY) {
            // Two colours, three ballots: own + 2 drawn; a tie is impossible.
            uint256 ones = uint256(own) + colourA + colourB;
            return ones >= 2 ? 1 : 0;
        }
        return uint16(a) > quality ? colourA : own;
    }

    function _vote(uint16 swarm, uint32 robot, uint8 opinion, uint16 quality, uint64 h)
        private
        returns (Verdict)
    {
        Robot storage r = robots[_robotKey(swarm, robot)];
        if (!r.known || r.flagged || r.votesLeft == 0 || r.decidedAt + freshness < h) {
            return Verdict.Rejected;
        }
        if (opinion != r.opinion) {
            r.flagged = true;
            emit Flagged(swarm, robot, h);
            return Verdict.Flagged;
        }
        r.votesLeft--;
        votesAt[_blockKey(swarm, h)].push((uint256(opinion) << 16) | quality);
        return Verdict.Accepted;
    }

    function _robotKey(uint16 swarm, uint32 robot) private pure returns (uint256) {
        return (uint256(swarm) << 32) | robot;
    }

    function _blockKey(uint16 swarm, uint64 at) private pure returns (uint256) {
        return (uint256(swarm) << 64) | at;
    }

    function _cuint(bytes calldata data, uint256 at, uint256 size) private pure returns (uint256 v) {
        for (uint256 i = 0; i < size; i++) v = (v << 8) | uint8(data[at + i]);
    }
}
