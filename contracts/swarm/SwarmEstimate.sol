// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Deposit-weighted collective estimate with outlier rejection and payouts.
/// @notice After Strobel, Castello Ferrer and Dorigo (Frontiers 2020). Every vote carries an
/// estimate (parts per million) and locks `stake` wei from the voter's deposit. When a swarm's
/// round holds `roundSize` votes, the half closest to the round's mean is accepted: its average
/// updates the swarm's mean (halfway, so one round cannot move it all the way) and it shares
/// every stake of the round; the other half loses its stakes. Voting power is bought with
/// ether, never with identities: an identity votes only once it has locked a bond of `minBond`
/// wei, and every vote spends `stake` more, so an attacker that splits one deposit over many
/// identities (a Sybil attack) gets no more votes than that deposit pays for.
/// One contract hosts several independent swarms; records are packed big-endian in `bytes`.
contract SwarmEstimate {
    uint256 private constant DEPOSIT_SIZE = 18; // swarm u16, robot u32, amount u96
    uint256 private constant VOTE_SIZE = 10; // swarm u16, robot u32, estimate u32 (ppm)
    uint32 public constant SCALE = 1_000_000;

    /// @notice The simulator account: the only one that funds identities and withdraws them.
    address public immutable operator;
    uint256 public immutable stake;
    uint256 public immutable minBond;
    uint32 public immutable roundSize;
    uint16 public immutable swarms;

    mapping(uint256 => uint256) public balanceOf; // swarm << 32 | robot -> wei
    mapping(uint256 => uint256) public bondOf;
    mapping(uint16 => uint32[]) private roundValues;
    mapping(uint16 => uint256[]) private roundVoters;
    mapping(uint16 => uint32) public meanOf;
    mapping(uint16 => uint32) public roundsOf;

    struct Tally {
        uint128 accepted;
        uint128 rejected;
    }

    /// @notice Votes accepted and rejected per swarm.
    mapping(uint16 => Tally) public tallies;

    event Payout(uint16 indexed swarm, uint32 round, uint32 mean);
    /// @notice An identity's balance and bond were paid out and the identity closed.
    event Withdrawn(uint16 indexed swarm, uint32 indexed robot, address to, uint256 amount);

    error BadRecords(uint256 length, uint256 recordSize);
    error BadDeposit(uint256 sent, uint256 declared);
    error BadParameters();
    error NotOperator(address caller);
    error TransferFailed(address to, uint256 amount);
    error UnknownSwarm(uint16 swarm);
    error EstimateOutOfRange(uint32 estimate);

    constructor(uint256 stake_, uint256 minBond_, uint32 roundSize_, uint16 swarms_) {
        if (stake_ == 0 || roundSize_ < 2 || swarms_ == 0) revert BadParameters();
        stake = stake_;
        minBond = minBond_;
        roundSize = roundSize_;
        swarms = swarms_;
        operator = msg.sender;
    }

    /// @notice Credit each identity with the ether declared for it (the first `minBond` wei
    /// of an identity are locked as its bond); the sum must equal msg.value.
    /// @param records Packed (swarm u16, robot u32, amount u96) records.
    function deposit(bytes calldata records) external payable {
        if (msg.sender != operator) revert NotOperator(msg.sender);
        if (records.length % DEPOSIT_SIZE != 0) revert BadRecords(records.length, DEPOSIT_SIZE);
        uint256 total = 0;
        for (uint256 at = 0; at < records.length; at += DEPOSIT_SIZE) {
            uint16 swarm = uint16(_cuint(records, at, 2));
            if (swarm >= swarms) revert UnknownSwarm(swarm);
            uint256 amount = _cuint(records, at + 6, 12);
            uint256 id = _key(swarm, uint32(_cuint(records, at + 2, 4)));
            uint256 balance = balanceOf[id] + amount;
            if (bondOf[id] < minBond && balance >= minBond - bondOf[id]) {
                balance -= minBond - bondOf[id];
                bondOf[id] = minBond;
            }
            balanceOf[id] = balance;
            total += amount;
        }
        if (total != msg.value) revert BadDeposit(msg.value, total);
    }

    /// @notice Pays an identity's remaining balance and bond to `to` and closes the identity,
    /// so no deposit stays locked in the contract.
    /// @param swarm Swarm of the identity.
    /// @param robot Identity within the swarm.
    /// @param to Receiver of the ether.
    function withdraw(uint16 swarm, uint32 robot, address payable to) external {
        if (msg.sender != operator) revert NotOperator(msg.sender);
        uint256 id = _key(swarm, robot);
        uint256 amount = balanceOf[id] + bondOf[id];
        balanceOf[id] = 0;
        bondOf[id] = 0;
        emit Withdrawn(swarm, robot, to, amount);
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert TransferFailed(to, amount);
    }

    /// @notice One block of votes; a vote from an identity without a full bond, or without
    /// `stake` left in its balance, is rejected. Only the operator relays votes, so nobody
    /// can spend another identity's stake.
    /// @param votes Packed (swarm u16, robot u32, estimate u32 in ppm) records.
    function step(bytes calldata votes) external {
        if (msg.sender != operator) revert NotOperator(msg.sender);
        if (votes.length % VOTE_SIZE != 0) revert BadRecords(votes.length, VOTE_SIZE);
        for (uint256 at = 0; at < votes.length; at += VOTE_SIZE) {
            uint16 swarm = uint16(_cuint(votes, at, 2));
            if (swarm >= swarms) revert UnknownSwarm(swarm);
            uint256 voter = _key(swarm, uint32(_cuint(votes, at + 2, 4)));
            uint32 estimate = uint32(_cuint(votes, at + 6, 4));
            if (estimate > SCALE) revert EstimateOutOfRange(estimate);
            if (bondOf[voter] < minBond || balanceOf[voter] < stake) {
                tallies[swarm].rejected++;
                continue;
            }
            balanceOf[voter] -= stake;
            tallies[swarm].accepted++;
            roundValues[swarm].push(estimate);
            roundVoters[swarm].push(voter);
            if (roundValues[swarm].length == roundSize) _payout(swarm);
        }
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
        uint256[] storage voters = roundVoters[swarm];
        (uint256[] memory order, uint32 accepted) = _closestHalf(roundValues[swarm]);
        uint256 winners = order.length / 2;
        uint256 share = (stake * order.length) / winners;
        for (uint256 i = 0; i < winners; i++) balanceOf[voters[order[i]]] += share;

        uint32 rounds = roundsOf[swarm];
        uint32 mean = rounds == 0 ? accepted : (meanOf[swarm] + accepted) / 2;
        meanOf[swarm] = mean;
        roundsOf[swarm] = rounds + 1;
        emit Payout(swarm, rounds + 1, mean);
        delete roundValues[swarm];
        delete roundVoters[swarm];
    }

    /// @dev Votes ordered by distance to the round's mean, and the average of the closer half.
    function _closestHalf(uint32[] storage values)
        private
        view
        returns (uint256[] memory order, uint32 accepted)
    {
        uint256 n = values.length;
        uint32[] memory v = new uint32[](n);
        uint256 total = 0;
        for (uint256 i = 0; i < n; i++) {
            v[i] = values[i];
            total += v[i];
        }
        order = _byDistance(v, uint32(total / n));
        uint256 sum = 0;
        for (uint256 i = 0; i < n / 2; i++) sum += v[order[i]];
        accepted = uint32(sum / (n / 2));
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

    function _key(uint16 swarm, uint32 robot) private pure returns (uint256) {
        return (uint256(swarm) << 32) | robot;
    }

    function _cuint(bytes calldata data, uint256 at, uint256 size) private pure returns (uint256 v) {
        for (uint256 i = 0; i < size; i++) v = (v << 8) | uint8(data[at + i]);
    }
}
