// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Secret Merkle missions: published roots, steps proven with pymerkle inclusion proofs.
/// @notice After Castello Ferrer, Hardjono, Pentland and Dorigo (Science Robotics 2021). An owner
/// publishes only the Merkle root of a mission whose leaves are salted (sensor input, action)
/// operations, and escrows a reward for every step. A robot that performed step `index` proves it
/// with the leaf data and the pymerkle inclusion proof; the contract hashes exactly as pymerkle
/// does with `keccak_256` and security on (leaf = keccak256(0x00 || data), node =
/// keccak256(0x01 || left || right)), puts each sibling on the side the proof's rule bit says, and
/// insists that those bits are the ones the index and tree size dictate (RFC 6962 tree shape).
/// Ordered missions accept step `index` only when it is the last completed step + 1. Each leaf
/// starts with the 20-byte address of the robot its reward is bound to (leaf data = beneficiary
/// || salt || operation), and only that address may complete the step: a proof copied from the
/// mempool or a peer, or rebuilt by the owner who knows every leaf, earns the copier nothing.
/// Rewards are credited to the beneficiary and pulled with `withdraw`; after the deadline the
/// owner reclaims what is left of the escrow.
contract MissionRegistry {
    struct Mission {
        address owner;
        uint64 deadline;
        bool ordered;
        bytes32 root;
        uint64 size;
        uint64 completed; // steps done; for an ordered mission also the last index done
        uint128 rewardPerStep;
        uint256 escrow; // wei still held for the steps not yet done
    }

    /// @notice Number of missions created; ids run from 1.
    uint256 public missionCount;
    /// @notice Missions by id.
    mapping(uint256 => Mission) public missions;
    /// @notice Rewards earned and not yet withdrawn, by prover.
    mapping(address => uint256) public owed;
    // mission id => word => bitmap of completed steps of unordered missions
    mapping(uint256 => mapping(uint256 => uint256)) private _done;

    /// @notice A mission was published with its root and funded escrow.
    event MissionCreated(
        uint256 indexed id,
        address indexed owner,
        bytes32 root,
        uint64 size,
        bool ordered,
        uint128 rewardPerStep,
        uint64 deadline
    );
    /// @notice Step `index` of mission `id` was proven by `prover`, who is owed `reward`.
    event StepCompleted(uint256 indexed id, uint256 indexed index, address indexed prover,
        bytes32 leaf, uint256 reward);
    /// @notice `to` withdrew `amount` wei of rewards.
    event Withdrawn(address indexed to, uint256 amount);
    /// @notice The owner took back the unspent escrow of a mission after its deadline.
    event Reclaimed(uint256 indexed id, address indexed owner, uint256 amount);

    error EmptyMission();
    error MissionTooLarge(uint64 size);
    error DeadlinePassed(uint64 deadline);
    error WrongFunding(uint256 sent, uint256 required);
    error UnknownMission(uint256 id);
    error MissionClosed(uint256 id, uint64 deadline);
    error OutOfOrder(uint256 id, uint256 expected, uint256 index);
    error AlreadyCompleted(uint256 id, uint256 index);
    error InvalidProof(uint256 id, uint256 index);
    error NotBeneficiary(uint256 id, uint256 index, address caller);
    error NotOwner(uint256 id, address caller);
    error DeadlineNotReached(uint256 id, uint64 deadline);
    error NothingToWithdraw(address caller);
    error TransferFailed(address to, uint256 amount);

    /// @notice Publish a mission root and escrow `rewardPerStep` for each of its `size` steps.
    /// @param root The pymerkle (keccak_256, security on) root of the salted operations.
    /// @param size Number of leaves (steps) of the tree.
    /// @param ordered Whether steps must be completed in index order.
    /// @param rewardPerStep Wei paid for each proven step; msg.value must be size * this.
    /// @param deadline Last timestamp at which steps are accepted; then the owner may reclaim.
    /// @return id The new mission's id.
    function createMission(bytes32 root, uint64 size, bool ordered, uint128 rewardPerStep,
        uint64 deadline) external payable returns (uint256 id) {
        if (size == 0) revert EmptyMission();
        if (size > type(uint32).max) revert MissionTooLarge(size);
        if (deadline <= block.timestamp) revert DeadlinePassed(deadline);
        uint256 required = uint256(rewardPerStep) * size;
        if (msg.value != required) revert WrongFunding(msg.value, required);
        id = ++missionCount;
        missions[id] = Mission(msg.sender, deadline, ordered, root, size, 0, rewardPerStep,
            required);
        emit MissionCreated(id, msg.sender, root, size, ordered, rewardPerStep, deadline);
    }

    /// @notice Prove step `index` of mission `id` and earn its reward; only the beneficiary
    /// named in the leaf's first 20 bytes may.
    /// @param id The mission.
    /// @param index The step's leaf index, counting from 1 as pymerkle does.
    /// @param leafData The leaf data (beneficiary || salt || encoded operation) pymerkle hashed.
    /// @param rule The proof's rule bits, bit i set when sibling i lies on the left.
    /// @param siblings The proof's path without its first entry (the leaf hash), bottom-up.
    function completeStep(uint256 id, uint256 index, bytes calldata leafData, uint256 rule,
        bytes32[] calldata siblings) external {
        Mission storage m = missions[id];
        if (m.owner == address(0)) revert UnknownMission(id);
        if (block.timestamp > m.deadline) revert MissionClosed(id, m.deadline);
        if (m.ordered) {
            if (index != uint256(m.completed) + 1) {
                revert OutOfOrder(id, uint256(m.completed) + 1, index);
            }
        } else if (index != 0 && index <= m.size && _isDone(id, index)) {
            revert AlreadyCompleted(id, index);
        }
        if (leafData.length < 20 || address(bytes20(leafData[:20])) != msg.sender) {
            revert NotBeneficiary(id, index, msg.sender);
        }
        bytes32 leaf = leafHash(leafData);
        (bool ok, bytes32 root) = computeRoot(index, m.size, leaf, rule, siblings);
        if (!ok || root != m.root) revert InvalidProof(id, index);

        if (!m.ordered) _done[id][index >> 8] |= 1 << (index & 0xff);
        ++m.completed;
        uint256 reward = m.rewardPerStep;
        m.escrow -= reward;
        owed[msg.sender] += reward;
        emit StepCompleted(id, index, msg.sender, leaf, reward);
    }

    /// @notice Pay the caller every reward it has earned.
    function withdraw() external {
        uint256 amount = owed[msg.sender];
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        owed[msg.sender] = 0;
        emit Withdrawn(msg.sender, amount);
        (bool sent,) = payable(msg.sender).call{value: amount}("");
        if (!sent) revert TransferFailed(msg.sender, amount);
    }

    /// @notice After the deadline, the owner takes back the escrow of the steps never proven.
    /// @param id The mission.
    function reclaim(uint256 id) external {
        Mission storage m = missions[id];
        if (m.owner == address(0)) revert UnknownMission(id);
        if (msg.sender != m.owner) revert NotOwner(id, msg.sender);
        if (block.timestamp <= m.deadline) revert DeadlineNotReached(id, m.deadline);
        uint256 amount = m.escrow;
        m.escrow = 0;
        emit Reclaimed(id, msg.sender, amount);
        (bool sent,) = payable(msg.sender).call{value: amount}("");
        if (!sent) revert TransferFailed(msg.sender, amount);
    }

    /// @notice Whether step `index` of mission `id` has been proven.
    /// @param id The mission.
    /// @param index The step, from 1.
    /// @return done True once the step was completed.
    function isCompleted(uint256 id, uint256 index) external view returns (bool done) {
        Mission storage m = missions[id];
        if (index == 0 || index > m.size) return false;
        return m.ordered ? index <= m.completed : _isDone(id, index);
    }

    /// @notice Check a proof against a stored mission root without recording anything.
    /// @param id The mission.
    /// @param index The leaf index, from 1.
    /// @param leaf The leaf hash keccak256(0x00 || leafData).
    /// @param rule The proof's rule bits.
    /// @param siblings The proof's sibling hashes, bottom-up.
    /// @return valid True iff pymerkle would accept the proof against the mission's root.
    function verifyStep(uint256 id, uint256 index, bytes32 leaf, uint256 rule,
        bytes32[] calldata siblings) external view returns (bool valid) {
        Mission storage m = missions[id];
        (bool ok, bytes32 root) = computeRoot(index, m.size, leaf, rule, siblings);
        return ok && m.owner != address(0) && root == m.root;
    }

    /// @notice Check a proof against any root (pymerkle's verify_inclusion with a given size).
    /// @param root The expected root.
    /// @param size The tree's number of leaves.
    /// @param index The leaf index, from 1.
    /// @param leaf The leaf hash.
    /// @param rule The proof's rule bits.
    /// @param siblings The sibling hashes, bottom-up.
    /// @return valid True iff the proof is well formed and hashes up to `root`.
    function verifyProof(bytes32 root, uint256 size, uint256 index, bytes32 leaf, uint256 rule,
        bytes32[] calldata siblings) external pure returns (bool valid) {
        (bool ok, bytes32 computed) = computeRoot(index, size, leaf, rule, siblings);
        return ok && computed == root;
    }

    /// @notice pymerkle's leaf hash with security on: keccak256(0x00 || data).
    /// @param data The leaf data.
    /// @return The leaf hash.
    function leafHash(bytes calldata data) public pure returns (bytes32) {
        return keccak256(abi.encodePacked(bytes1(0x00), data));
    }

    /// @notice The root a proof hashes up to, walking the RFC 6962 tree bottom-up (RFC 9162,
    /// 2.1.3.2). `ok` is false when the rule bits differ from those the index and size dictate,
    /// when the path is too short or too long, or when the index is out of range.
    /// @param index The leaf index, from 1.
    /// @param size The tree's number of leaves.
    /// @param leaf The leaf hash.
    /// @param rule The proof's rule bits.
    /// @param siblings The sibling hashes, bottom-up.
    /// @return ok Whether the proof is well formed for (index, size).
    /// @return root The computed root (meaningful only when ok).
    function computeRoot(uint256 index, uint256 size, bytes32 leaf, uint256 rule,
        bytes32[] calldata siblings) public pure returns (bool ok, bytes32 root) {
        if (index == 0 || index > size) return (false, bytes32(0));
        uint256 n = siblings.length;
        // The rule has one bit per sibling plus a final 0 bit, which no proof sets.
        if (n < 256 && rule >> n != 0) return (false, bytes32(0));
        unchecked {
            uint256 fn = index - 1;
            uint256 sn = size - 1;
            root = leaf;
            for (uint256 i = 0; i < n; ++i) {
                if (sn == 0) return (false, bytes32(0));
                uint256 bit = (rule >> i) & 1;
                if (fn & 1 == 1 || fn == sn) {
                    if (bit == 0) return (false, bytes32(0));
                    root = _hashPair(siblings[i], root);
                    while (fn & 1 == 0 && fn != 0) {
                        fn >>= 1;
                        sn >>= 1;
                    }
                } else {
                    if (bit == 1) return (false, bytes32(0));
                    root = _hashPair(root, siblings[i]);
                }
                fn >>= 1;
                sn >>= 1;
            }
            ok = sn == 0;
        }
    }

    function _isDone(uint256 id, uint256 index) private view returns (bool) {
        return (_done[id][index >> 8] >> (index & 0xff)) & 1 == 1;
    }

    /// @dev keccak256(0x01 || left || right) in memory past the free pointer (not reserved).
    function _hashPair(bytes32 left, bytes32 right) private pure returns (bytes32 h) {
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, shl(248, 1))
            mstore(add(p, 1), left)
            mstore(add(p, 33), right)
            h := keccak256(p, 65)
        }
    }
}
