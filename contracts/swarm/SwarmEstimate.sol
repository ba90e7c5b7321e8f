// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Deposit-weighted collective estimate with outlier rejection and payouts.
/// @notice After Strobel, Castello Ferrer and Dorigo (Frontiers 2020). Every vote carries an
/// estimate (parts per million) and locks `stake` wei from the voter's deposit. When a swarm's
/// round holds `roundSize` votes, the half closest to the current mean (the round's median for
/// the first round) becomes the new mean and shares every stake of the round; the other half
/// loses its stakes. Voting power is bought with ether, never with identities: an attacker that
/// splits its deposit over many identities (a Sybil attack) gets no more votes than its deposit.
/// One contract hosts several independent swarms; records are packed big-endian in `bytes`.
contract SwarmEstimate {
    uint256 private constant DEPOSIT_SIZE = 18; // swarm u16, robot u32, amount u96
    uint256 private constant VOTE_SIZE = 10; // swarm u16, robot u32, estimate u32 (ppm)
    uint32 public constant SCALE = 1_000_000;

    uint256 public immutable stake;
    uint32 public immutable roundSize;
    uint16 public immutable swarms;

    mapping(uint256 => uint256) public balanceOf; // swarm << 32 | robot -> wei
    mapping(uint16 => uint32[]) private roundValues;
    mapping(uint16 => uint256[]) private roundVoters;
    mapping(uint16 => uint32) public meanOf;
    mapping(uint16 => uint32) public roundsOf;

    uint256 public acceptedVotes;
    uint256 public rejectedVotes;

    event Payout(uint16 indexed swarm, uint32 round, uint32 mean);

    error BadRecords(uint256 length, uint256 recordSize);
    error BadDeposit(uint256 sent, uint256 declared);
    error BadParameters();
    error UnknownSwarm(uint16 swarm);
    error EstimateOutOfRange(uint32 estimate);

    constructor(uint256 stake_, uint32 roundSize_, uint16 swarms_) {
        if (stake_ == 0 || roundSize_ < 2 || swarms_ == 0) revert BadParameters();
        stake = stake_;
        roundSize = roundSize_;
        swarms = swarms_;
    }

    /// @notice Credit each identity with the ether declared for it; the sum must equal msg.value.
    function deposit(bytes calldata records) external payable {
        if (records.length % DEPOSIT_SIZE != 0) revert BadRecords(records.length, DEPOSIT_SIZE);
        uint256 total;
        for (uint256 at = 0; at < records.length; at += DEPOSIT_SIZE) {
            uint16 swarm = uint16(_cuint(records, at, 2));
            if (swarm >= swarms) revert UnknownSwarm(swarm);
            uint256 amount = _cuint(records, at + 6, 12);
            balanceOf[_key(swarm, uint32(_cuint(records, at + 2, 4)))] += amount;
            total += amount;
        }
        if (total != msg.value) revert BadDeposit(msg.value, total);
    }

    /// @notice One block of votes; a vote without `stake` left in its deposit is rejected.
    function step(bytes calldata votes) external {
        if (votes.length % VOTE_SIZE != 0) revert BadRecords(votes.length, VOTE_SIZE);
        uint256 accepted;
        for (uint256 at = 0; at < votes.length; at += VOTE_SIZE) {
            uint16 swarm = uint16(_cuint(votes, at, 2));
            if (swarm >= swarms) revert UnknownSwarm(swarm);
            uint256 voter = _key(swarm, uint32(_cuint(votes, at + 2, 4)));
            uint32 estimate = uint32(_cuint(votes, at + 6, 4));
            if (estimate > SCALE) revert EstimateOutOfRange(estimate);
            if (balanceOf[voter] < stake) continue;
            balanceOf[voter] -= stake;
            accepted++;
            roundValues[swarm].push(estimate);
            roundVoters[swarm].push(voter);
            if (roundValues[swarm].length == roundSize) _payout(swarm);
        }
        acceptedVotes += accepted;
        rejectedVotes += votes.length / VOTE_SIZE - accepted;
    }

    /// @notice Current mean (ppm) and completed rounds of each swarm 0..count-1, packed u32 + u32.
    function means(uint16 count) external view returns (bytes memory out) {
        out = new bytes(uint256(count) * 8);
        for (uint16 s = 0; s < count; s++) {
            uint256 word = (uint256(meanOf[s]) << 32) | roundsOf[s];
            for (uint256 i = 0; i < 8; i++) out[s * 8 + i] = bytes1(uint8(word >> (8 * (7 - i))));
        }
    }

    function _payout(uint16 swarm) private {
        uint32[] storage values = roundValues[swarm];
        uint256[] storage voters = roundVoters[swarm];
        uint256 n = values.length;
        uint32[] memory v = new uint32[](n);
        for (uint256 i = 0; i < n; i++) v[i] = values[i];
        uint32 ref = roundsOf[swarm] == 0 ? _median(v) : meanOf[swarm];

        uint256[] memory order = _byDistance(v, ref);
        uint256 winners = n / 2;
        uint256 sum;
        for (uint256 i = 0; i < winners; i++) sum += v[order[i]];
        uint32 mean = uint32(sum / winners);
        uint256 share = (stake * n) / winners;
        for (uint256 i = 0; i < winners; i++) balanceOf[voters[order[i]]] += share;

        meanOf[swarm] = mean;
        roundsOf[swarm] += 1;
        emit Payout(swarm, roundsOf[swarm], mean);
        delete roundValues[swarm];
        delete roundVoters[swarm];
    }

    /// @dev Indices sorted by |v - ref|, ties by arrival order (insertion sort: rounds are small).
    function _byDistance(uint32[] memory v, uint32 ref) private pure returns (uint256[] memory idx) {
        uint256 n = v.length;
        idx = new uint256[](n);
        uint256[] memory d = new uint256[](n);
        for (uint256 i = 0; i < n; i++) {
            idx[i] = i;
            d[i] = v[i] > ref ? v[i] - ref : ref - v[i];
        }
        for (uint256 i = 1; i < n; i++) {
            uint256 j = i;
            while (j > 0 && d[idx[j - 1]] > d[idx[j]]) {
                (idx[j - 1], idx[j]) = (idx[j], idx[j - 1]);
                j--;
            }
        }
    }

    function _median(uint32[] memory v) private pure returns (uint32) {
        uint32[] memory s = new uint32[](v.length);
        for (uint256 i = 0; i < v.length; i++) s[i] = v[i];
        for (uint256 i = 1; i < s.length; i++) {
            uint32 x = s[i];
            uint256 j = i;
            while (j > 0 && s[j - 1] > x) {
                s[j] = s[j - 1];
                j--;
            }
            s[j] = x;
        }
        return s[s.length / 2];
    }

    function _key(uint16 swarm, uint32 robot) private pure returns (uint256) {
        return (uint256(swarm) << 32) | robot;
    }

    function _cuint(bytes calldata data, uint256 at, uint256 size) private pure returns (uint256 v) {
        for (uint256 i = 0; i < size; i++) v = (v << 8) | uint8(data[at + i]);
    }
}
