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
/// withdrawn or run out of tokens; the "shorth"), counted when the round's first vote came in:
/// an identity registered later counts from the next round, so nobody can raise the majority a
/// round needs by registering just before its closing vote. Idle identities (registered, never
/// voted) count: like liars, they are bonded identities outside the majority range, and counting
/// them is what stops the first votes, possibly all liars', from deciding before the others
/// have voted. They can only make rounds void (every stake back), never take a stake, and they
/// lock a bond and a deposit each while they idle; honest robots need a majority of the bonded
/// identities, the same assumption that holds against liars that vote. Liars that are not a majority cannot place it
/// by themselves: unlike a median, which 45 % liars at one extreme drag to the honest votes'
/// edge, it sits on the honest votes once these agree within less than their distance to the
/// liars. Until a majority of the members has voted there is no centre and a round pays every
/// stake back (so does a round none of whose votes lies near the centre), so early rounds of
/// liars and a few honest robots cannot drain the honest ones. Liars far from the centre lose
/// round after round, and an identity that runs out of tokens drops out of the centre and of
/// the members. Tokens are conserved: the contract's ether always equals the robots' balances
/// (`robots`, settled rounds included) and bonds, the stakes of open rounds and the undivided
/// remainder of the swarm's pots (`swarms`, below 64 wei: it goes into the next pots, one wei
/// per winner of a round at a time). The keeper (deployer) only opens swarms; it holds no funds.
/// @dev Gas: a vote writes two words, its robot's and its swarm's. The swarm word holds the
/// open round's votes as bins (15 bits each), so the 101-bin histogram of the members' latest
/// votes (12-bit counters, five words) is read and written once a round, when it closes.
/// Payouts are pulled: a round's record (centre, winners, a wei from the remainder for each
/// winner or not; 16 bits, sixteen a word) is written when it closes, and a robot's stake and share of its last round are credited when it
/// next votes or withdraws; `RoundClosed` announces them. A vote counts as within `epsilon`
/// when the centre of its 0.01 bin is. Balances are 96 bits wide: a registration that would
/// bring the contract's ether to 2^96 wei (79 billion ether) or more is refused, so no balance
/// can outgrow its field; a swarm closes at most 2^24 - 1 rounds.
contract SwarmTokenEstimate {
    uint32 public constant SCALE = 1_000_000;
    uint32 public constant MAX_ROUND = 64;
    /// @notice Members a swarm can hold (the histogram's counters are 12 bits wide).
    uint256 public constant MAX_MEMBERS = 4095;

    address public immutable keeper;
    uint256 public immutable bond;
    uint256 public immutable stake;
    uint8 public immutable roundSize;
    uint32 public immutable epsilon;
    /// @dev epsilon in half bins: a bin is near a centre (in half bins) this far from its own.
    uint256 private immutable reach;
    uint16 public swarmCount;

    /// @dev Robot word: swarm (bits 0-15), flags (16-19), bin of its latest vote (20-26),
    /// round + 1 of its last vote (32-63, 0 = never), balance (64-159).
    mapping(address => uint256) private robot;
    /// @dev Swarm word: votes in the open round (bits 0-5), rounds closed (6-29), members when
    /// the open round's first vote came in (30-41), open (42), estimate (43-62), the records of
    /// the last two closed rounds (63-78, 79-94), the open round's first HEAD votes (95-244, 15
    /// bits each), which histogram words may be non-zero (245-249; the others need no read at
    /// the close) and the remainder of the pots (250-255).
    mapping(uint16 => uint256) private head;
    /// @dev Members of each swarm now (those of the open round are in its swarm word).
    mapping(uint16 => uint256) private memberCount;
    /// @dev The open round's later votes: slot (swarm << 8 | k) holds votes HEAD + 17k ...
    mapping(uint256 => uint256) private tail;
    /// @dev Histogram of the members' latest votes: slot (swarm << 3 | word), 21 bins a word.
    mapping(uint256 => uint256) private histogram;
    /// @dev Closed rounds: slot (swarm << 32 | round / 16), a record of 16 bits a round: the
    /// centre in half bins (8 bits), the votes near it (7 bits; 0 = a void round) and whether
    /// each of them got a wei of the remainder (1 bit).
    mapping(uint256 => uint256) private records;

    uint256 private constant BIN = 10_000; // SCALE / 100: bins 0.01 wide
    uint256 private constant BINS = 101; // 0.00 .. 1.00
    uint256 private constant PER_WORD = 21; // 12-bit counters
    uint256 private constant WORDS = 5;
    uint256 private constant HEAD = 10; // votes kept in the swarm word
    uint256 private constant PER_TAIL = 17;
    uint256 private constant PER_RECORD = 16;
    uint256 private constant NONE = 127; // "no bin" in a vote entry

    uint256 private constant REGISTERED = 1 << 16;
    uint256 private constant CLOSED = 1 << 17;
    uint256 private constant COUNTED = 1 << 18; // its latest vote is (or goes at close) in the histogram
    uint256 private constant SETTLED = 1 << 19; // its last vote's round has been credited
    uint256 private constant BALANCE_MASK = (uint256(1) << 96) - 1;
    uint256 private constant ROUND_AT = 6;
    uint256 private constant MEMBERS_AT = 30;
    uint256 private constant OPEN = 1 << 42;
    uint256 private constant ESTIMATE_AT = 43;
    uint256 private constant LAST_AT = 63; // record of the last closed round, then the one before
    uint256 private constant ENTRIES_AT = 95;
    uint256 private constant WORDS_AT = 245;
    uint256 private constant CARRY_AT = 250;
    uint256 private constant MAX_ROUNDS = 0xffffff;

    event SwarmOpened(uint16 indexed swarm);
    event Registered(address indexed robot, uint16 indexed swarm, uint256 deposit);
    /// @notice robot << 96 | swarm << 64 | round << 32 | estimate: one word, one topic.
    event Voted(uint256 robotSwarmRoundEstimate);
    event RoundClosed(uint16 indexed swarm, uint32 round, uint32 centre, uint32 estimate,
        uint256 winners, uint256 pot);
    event RoundVoid(uint16 indexed swarm, uint32 round);
    /// @notice Losers of round `round` on their last stake left the members (out of tokens).
    event MembersLeft(uint16 indexed swarm, uint32 round, uint256 count);
    event Withdrawn(address indexed robot, uint256 amount);

    error BadParameters();
    error NotKeeper(address caller);
    error UnknownSwarm(uint16 swarm);
    error SwarmFull(uint16 swarm);
    error AlreadyRegistered(address robot);
    error BadDeposit(uint256 sent, uint256 needed);
    error NotRegistered(address robot);
    error AlreadyVoted(address robot, uint32 round);
    error RoundOpen(address robot);
    error NoStake(address robot);
    error EstimateOutOfRange(uint32 estimate);
    error TransferFailed(address to, uint256 amount);
    error RoundLimit(uint16 swarm);
    error BalanceOverflow(uint256 amount);

    constructor(uint256 bond_, uint256 stake_, uint8 roundSize_, uint32 epsilon_) {
        if (stake_ == 0 || stake_ > BALANCE_MASK || roundSize_ < 3 || roundSize_ > MAX_ROUND
            || epsilon_ > SCALE) {
            revert BadParameters();
        }
        keeper = msg.sender;
        bond = bond_;
        stake = stake_;
        roundSize = roundSize_;
        epsilon = epsilon_;
        reach = 2 * uint256(epsilon_) / BIN;
    }

    /// @notice Open `count` new swarms (ids continue from swarmCount); keeper only.
    /// @param count Number of swarms to open.
    function open(uint16 count) external {
        if (msg.sender != keeper) revert NotKeeper(msg.sender);
        for (uint16 i = 0; i < count; i++) {
            uint16 id = swarmCount++;
            head[id] = OPEN;
            emit SwarmOpened(id);
        }
    }

    /// @notice Join a swarm; msg.value pays the bond and the token deposit (at least one stake).
    /// @param swarm The swarm to join.
    function register(uint16 swarm) external payable {
        uint256 h = head[swarm];
        if (h & OPEN == 0) revert UnknownSwarm(swarm);
        if (robot[msg.sender] != 0) revert AlreadyRegistered(msg.sender);
        if (msg.value < bond + stake || msg.value - bond > BALANCE_MASK) {
            revert BadDeposit(msg.value, bond + stake);
        }
        // Every balance is part of the contract's ether: below 2^96, none outgrows its field.
        if (address(this).balance > BALANCE_MASK) revert BalanceOverflow(address(this).balance);
        uint256 members = memberCount[swarm];
        if (members == MAX_MEMBERS) revert SwarmFull(swarm);
        robot[msg.sender] = uint256(swarm) | REGISTERED | ((msg.value - bond) << 64);
        memberCount[swarm] = members + 1;
        emit Registered(msg.sender, swarm, msg.value);
    }

    /// @notice Vote an estimate of the black share (ppm), locking one stake; one vote a round.
    /// The stake and share of the robot's previous round are credited first.
    /// @param estimate Parts per million, 0..SCALE.
    function vote(uint32 estimate) external {
        if (estimate > SCALE) revert EstimateOutOfRange(estimate);
        uint256 w = robot[msg.sender];
        if (w & (REGISTERED | CLOSED) != REGISTERED) revert NotRegistered(msg.sender);
        uint16 id = uint16(w);
        uint256 h = head[id];
        uint256 round = (h >> ROUND_AT) & 0xffffff;
        if ((w >> 32) & 0xffffffff > round) revert AlreadyVoted(msg.sender, uint32(round));
        w = _credited(id, w, h);
        uint256 balance = (w >> 64) & BALANCE_MASK;
        if (balance < stake) revert NoStake(msg.sender);
        uint256 count = h & 0x3f;
        if (count == 0) {
            // The round opens: its majority counts the members now; later ones count next round.
            if (round == MAX_ROUNDS) revert RoundLimit(id);
            h = (h & ~(uint256(0xfff) << MEMBERS_AT)) | (memberCount[id] << MEMBERS_AT);
        }
        unchecked {
            balance -= stake;
            uint256 bin = estimate / BIN;
            // The vote's bin, the bin it replaces in the histogram, and whether it is the
            // robot's last stake (if it loses, the robot is out of tokens and leaves the members).
            uint256 entry = bin | ((w & COUNTED != 0 ? (w >> 20) & 0x7f : NONE) << 7)
                | (balance < stake ? uint256(1) << 14 : 0);
            robot[msg.sender] = (w & (0xffff | REGISTERED)) | COUNTED | (bin << 20)
                | ((round + 1) << 32) | (balance << 64);
            if (count < HEAD) {
                h |= entry << (ENTRIES_AT + 15 * count);
            } else {
                uint256 k = count - HEAD;
                uint256 slot = (uint256(id) << 8) | (k / PER_TAIL);
                uint256 at = 15 * (k % PER_TAIL);
                tail[slot] = (at == 0 ? 0 : tail[slot]) | (entry << at);
            }
            h += 1;
        }
        emit Voted((uint256(uint160(msg.sender)) << 96) | (uint256(id) << 64) | (round << 32)
            | estimate);
        if (count + 1 == roundSize) h = _close(id, h, round);
        head[id] = h;
    }

    /// @notice Leave once the robot's last round has closed: balance (its last round credited)
    /// and bond go back to the robot.
    function withdraw() external {
        uint256 w = robot[msg.sender];
        if (w & (REGISTERED | CLOSED) != REGISTERED) revert NotRegistered(msg.sender);
        uint16 id = uint16(w);
        uint256 h = head[id];
        if ((w >> 32) & 0xffffffff > (h >> ROUND_AT) & 0xffffff) revert RoundOpen(msg.sender);
        w = _credited(id, w, h);
        // A robot that never voted or still has a vote in the histogram is a member; one
        // that ran out of tokens already left both.
        if (w & COUNTED != 0 || (w >> 32) & 0xffffffff == 0) memberCount[id] -= 1;
        if (w & COUNTED != 0) {
            uint256 bin = (w >> 20) & 0x7f;
            histogram[(uint256(id) << 3) | (bin / PER_WORD)] -= uint256(1) << (12 * (bin % PER_WORD));
        }
        uint256 amount = ((w >> 64) & BALANCE_MASK) + bond;
        robot[msg.sender] = (w & ~((BALANCE_MASK << 64) | COUNTED)) | CLOSED;
        emit Withdrawn(msg.sender, amount);
        (bool ok,) = payable(msg.sender).call{value: amount}("");
        if (!ok) revert TransferFailed(msg.sender, amount);
    }

    /// @notice A robot as the contract sees it, its last round credited if that has closed.
    /// @param who The robot's address.
    /// @return swarm Its swarm.
    /// @return registered Whether it registered.
    /// @return closed Whether it withdrew.
    /// @return lastRound Round + 1 of its last vote (0: never voted).
    /// @return balance Free tokens (wei).
    /// @return counted Whether its latest vote counts in the histogram.
    /// @return bin The 0.01 bin of its latest vote.
    function robots(address who)
        external
        view
        returns (uint16 swarm, bool registered, bool closed, uint32 lastRound, uint96 balance,
            bool counted, uint8 bin)
    {
        uint256 w = robot[who];
        if (w & (REGISTERED | CLOSED) == REGISTERED) w = _credited(uint16(w), w, head[uint16(w)]);
        return (uint16(w), w & REGISTERED != 0, w & CLOSED != 0, uint32(w >> 32),
            uint96(w >> 64), w & COUNTED != 0, uint8((w >> 20) & 0x7f));
    }

    /// @notice A swarm's state: votes (each one stake) of the open round, rounds closed,
    /// estimate, the undivided remainders of its payouts, its latest votes and members.
    /// @param swarm The swarm.
    /// @return isOpen Whether the swarm exists.
    /// @return count Votes in the open round.
    /// @return round Rounds closed.
    /// @return estimate The swarm's estimate (ppm), valid once round > 0.
    /// @return carry Wei left over from dividing pots among winners, for the next pots.
    /// @return votes Latest votes in the histogram.
    /// @return members Identities that can still vote.
    function swarms(uint16 swarm)
        external
        view
        returns (bool isOpen, uint8 count, uint32 round, uint32 estimate, uint256 carry,
            uint64 votes, uint16 members)
    {
        uint256 h = head[swarm];
        isOpen = h & OPEN != 0;
        count = uint8(h & 0x3f);
        round = uint32((h >> ROUND_AT) & 0xffffff);
        estimate = uint32((h >> ESTIMATE_AT) & 0xfffff);
        carry = h >> CARRY_AT;
        members = uint16(memberCount[swarm]);
        for (uint256 word = 0; word < WORDS; word++) {
            uint256 packed = histogram[(uint256(swarm) << 3) | word];
            for (uint256 k = 0; k < PER_WORD; k++) votes += uint64((packed >> (12 * k)) & 0xfff);
        }
    }

    /// @notice Estimate (ppm) and closed rounds of swarms 0..count-1, packed u32 + u32.
    /// @param count Number of swarms.
    function estimates(uint16 count) external view returns (bytes memory out) {
        out = new bytes(uint256(count) * 8);
        for (uint16 i = 0; i < count; i++) {
            uint256 h = head[i];
            uint256 word = (((h >> ESTIMATE_AT) & 0xfffff) << 32) | ((h >> ROUND_AT) & 0xffffff);
            for (uint256 b = 0; b < 8; b++) out[i * 8 + b] = bytes1(uint8(word >> (8 * (7 - b))));
        }
    }

    /// @dev The robot word with its last vote's round credited (stake and share, or the stake
    /// of a void round) if that round has closed and was not credited yet; marked settled.
    function _credited(uint16 id, uint256 w, uint256 h) private view returns (uint256) {
        uint256 last = (w >> 32) & 0xffffffff;
        uint256 round = (h >> ROUND_AT) & 0xffffff;
        if (last == 0 || last > round || w & SETTLED != 0) return w;
        uint256 rec;
        unchecked {
            // The last two rounds' records ride in the swarm word: most robots vote again soon.
            rec = last + 2 > round
                ? (h >> (LAST_AT + 16 * (round - last))) & 0xffff
                : _stored(id, last - 1);
        }
        uint256 winners = (rec >> 8) & 0x7f;
        uint256 balance = (w >> 64) & BALANCE_MASK;
        if (winners == 0) {
            balance += stake; // a void round: every stake back
        } else if (_near((w >> 20) & 0x7f, rec & 0xff)) {
            balance += stake + (roundSize - winners) * stake / winners + (rec >> 15);
            if (balance > BALANCE_MASK) revert BalanceOverflow(balance);
        } else if (balance < stake) {
            w &= ~COUNTED; // out of tokens: its round dropped its vote and its membership
        }
        return (w & ~(BALANCE_MASK << 64)) | SETTLED | (balance << 64);
    }

    function _stored(uint16 id, uint256 r) private view returns (uint256) {
        return (records[(uint256(id) << 32) | (r / PER_RECORD)] >> (16 * (r % PER_RECORD)))
            & 0xffff;
    }

    /// @dev Whether bin `bin`'s centre lies within epsilon of a centre given in half bins.
    function _near(uint256 bin, uint256 centre2) private view returns (bool) {
        unchecked {
            uint256 b2 = 2 * bin + 1; // bins and centres are below 256: no overflow
            return (b2 > centre2 ? b2 - centre2 : centre2 - b2) <= reach;
        }
    }

    /// @dev Close round `round` of swarm `id`: apply its votes to the histogram, find the
    /// centre, drop losers out of tokens, record the round; returns the new swarm word.
    function _close(uint16 id, uint256 h, uint256 round) private returns (uint256) {
        (uint256[WORDS] memory counts, uint256[WORDS] memory before) = _applied(id, h);
        (uint256 centre2, uint256 estimate, uint256 winners) =
            _outcome(id, h, counts, (h >> MEMBERS_AT) & 0xfff);
        uint256 bonus = 0;
        if (winners == 0) {
            // No strict majority of the members has voted yet, or its range is so wide that
            // no vote of the round lies near its middle: nobody can tell right from wrong,
            // so every stake goes back.
            emit RoundVoid(id, uint32(round + 1));
        } else {
            uint256 dropped = _dropOuts(id, h, counts, centre2);
            if (dropped != 0) {
                memberCount[id] -= dropped;
                emit MembersLeft(id, uint32(round + 1), dropped);
            }
            uint256 pot = (roundSize - winners) * stake;
            // The remainder of the pots so far gives each winner one more wei once it can.
            uint256 carry = (h >> CARRY_AT) + pot % winners;
            if (carry >= winners) {
                bonus = 1;
                carry -= winners;
            }
            h = (h & ~((uint256(0xfffff) << ESTIMATE_AT) | (uint256(0x3f) << CARRY_AT)))
                | (estimate << ESTIMATE_AT) | (carry << CARRY_AT);
            emit RoundClosed(id, uint32(round + 1), uint32(centre2 * BIN / 2), uint32(estimate),
                winners, (pot / winners + bonus) * winners);
        }
        h = (h & ~(uint256(0x1f) << WORDS_AT)) | (_save(id, counts, before) << WORDS_AT);
        return _next(id, h, round, centre2 | (winners << 8) | (bonus << 15));
    }

    /// @dev Store round `round`'s record; the swarm word of the next round: count and votes
    /// cleared, this round's record first and the one before it second.
    function _next(uint16 id, uint256 h, uint256 round, uint256 record) private returns (uint256) {
        records[(uint256(id) << 32) | (round / PER_RECORD)] |= record << (16 * (round % PER_RECORD));
        return (h & (OPEN | (uint256(0xfffff) << ESTIMATE_AT) | (uint256(0x1f) << WORDS_AT)
                | (uint256(0x3f) << CARRY_AT)))
            | ((round + 1) << ROUND_AT) | (record << LAST_AT)
            | (((h >> LAST_AT) & 0xffff) << (LAST_AT + 16));
    }

    /// @dev The centre (half bins), the estimate and the round's votes near the centre (0 when
    /// there is no centre yet).
    function _outcome(uint16 id, uint256 h, uint256[WORDS] memory counts, uint256 members)
        private
        view
        returns (uint256 centre2, uint256 estimate, uint256 winners)
    {
        bool agreed;
        (agreed, centre2, estimate) = _centre(counts, members);
        uint256 n = roundSize;
        unchecked {
            for (uint256 i = 0; agreed && i < n; i++) {
                if (_near(_entry(id, h, i) & 0x7f, centre2)) winners++;
            }
        }
    }

    /// @dev The swarm's histogram words as stored (only those the swarm word marks may be
    /// non-zero), and with the round's votes applied.
    function _applied(uint16 id, uint256 h)
        private
        view
        returns (uint256[WORDS] memory counts, uint256[WORDS] memory before)
    {
        for (uint256 word = 0; word < WORDS; word++) {
            if ((h >> (WORDS_AT + word)) & 1 == 0) continue;
            before[word] = histogram[(uint256(id) << 3) | word];
            counts[word] = before[word];
        }
        uint256 n = roundSize;
        // Unchecked: a counter never goes below zero (a replaced bin holds that robot's vote)
        // nor past 4095 (the members), and a check on the whole word would not see it anyway.
        unchecked {
            for (uint256 i = 0; i < n; i++) {
                uint256 e = _entry(id, h, i);
                uint256 old = (e >> 7) & 0x7f;
                if (old != NONE) counts[old / PER_WORD] -= uint256(1) << (12 * (old % PER_WORD));
                counts[(e & 0x7f) / PER_WORD] += uint256(1) << (12 * ((e & 0x7f) % PER_WORD));
            }
        }
    }

    /// @dev Write back the histogram words that changed; returns which are non-zero.
    function _save(uint16 id, uint256[WORDS] memory counts, uint256[WORDS] memory before)
        private
        returns (uint256 used)
    {
        unchecked {
            for (uint256 word = 0; word < WORDS; word++) {
                if (counts[word] != before[word]) histogram[(uint256(id) << 3) | word] = counts[word];
                if (counts[word] != 0) used |= 1 << word;
            }
        }
    }

    /// @dev Take the losers on their last stake (out of tokens: their say goes with them) out
    /// of the histogram; returns how many left the members.
    function _dropOuts(uint16 id, uint256 h, uint256[WORDS] memory counts, uint256 centre2)
        private
        view
        returns (uint256 dropped)
    {
        uint256 n = roundSize;
        unchecked {
            for (uint256 i = 0; i < n; i++) {
                uint256 e = _entry(id, h, i);
                uint256 bin = e & 0x7f;
                if (e >> 14 != 0 && !_near(bin, centre2)) {
                    counts[bin / PER_WORD] -= uint256(1) << (12 * (bin % PER_WORD));
                    dropped++;
                }
            }
        }
    }

    /// @dev Vote `i` of the open round: in the swarm word, or in a tail word.
    function _entry(uint16 id, uint256 h, uint256 i) private view returns (uint256) {
        unchecked {
            if (i < HEAD) return (h >> (ENTRIES_AT + 15 * i)) & 0x7fff;
            uint256 k = i - HEAD;
            return (tail[(uint256(id) << 8) | (k / PER_TAIL)] >> (15 * (k % PER_TAIL))) & 0x7fff;
        }
    }

    /// @dev Centre (in half bins) of the shortest run of bins holding the latest votes of a
    /// strict majority of the swarm's `members` (the lowest such run on ties), and the mean of
    /// the latest votes whose bin centres lie within epsilon of it (the estimate: every member's say, not only one
    /// round's); false while there is no such run. `counts` is the packed histogram.
    function _centre(uint256[WORDS] memory counts, uint256 members)
        private
        view
        returns (bool agreed, uint256 centre2, uint256 estimate)
    {
        uint256 need = members / 2 + 1;
        uint256 bestLo = 0;
        uint256 bestWidth = BINS + 1;
        // A sliding window over the 101 bins, each end reading its packed word 12 bits at a
        // time. The window can only improve where a vote enters it, so the high end skips
        // empty bins, and the empty rest of a word at once. (In plain Solidity, over an
        // unpacked array, this was the dearest part of a round: about 45,000 gas.)
        // The word of bin b is at counts + (b / 21) * 32: a whole division on purpose.
        // slither-disable-start divide-before-multiply
        assembly ("memory-safe") {
            let lo := 0
            let loWord := mload(counts)
            let hi := 0
            let hiWord := loWord
            let inside := 0
            for {} lt(hi, 101) {} {
                if iszero(hiWord) {
                    hi := mul(add(div(hi, 21), 1), 21)
                    hiWord := mload(add(counts, mul(div(hi, 21), 32)))
                    continue
                }
                let c := and(hiWord, 0xfff)
                if c {
                    inside := add(inside, c)
                    for {} 1 {} {
                        // The rest of the low end's word is empty: move to the next word (a
                        // vote lies between the window's ends, so the high end is beyond it).
                        if iszero(loWord) {
                            lo := mul(add(div(lo, 21), 1), 21)
                            loWord := mload(add(counts, mul(div(lo, 21), 32)))
                        }
                        let d := and(loWord, 0xfff)
                        if lt(sub(inside, d), need) { break }
                        inside := sub(inside, d)
                        lo := add(lo, 1)
                        loWord := shr(12, loWord)
                        if iszero(mod(lo, 21)) { loWord := mload(add(counts, mul(div(lo, 21), 32))) }
                    }
                    if and(iszero(lt(inside, need)), lt(sub(hi, lo), bestWidth)) {
                        bestWidth := sub(hi, lo)
                        bestLo := lo
                    }
                }
                hiWord := shr(12, hiWord)
                hi := add(hi, 1)
                if iszero(mod(hi, 21)) { hiWord := mload(add(counts, mul(div(hi, 21), 32))) }
            }
        }
        // slither-disable-end divide-before-multiply
        if (bestWidth > BINS) return (false, 0, 0);
        // The midpoint, not the mean: a range that spans liars and a few honest robots has its
        // mean on the liars but its midpoint between them, near nobody (the round is void).
        centre2 = 2 * bestLo + bestWidth + 1;
        // The bins `_near` counts as winners: those whose centre 2b + 1 (in half bins) lies
        // within `reach` of centre2.
        uint256 first = centre2 > reach ? (centre2 - reach) / 2 : 0;
        uint256 last = (centre2 + reach - 1) / 2;
        return (true, centre2, _mean(counts, first, last < BINS ? last : BINS - 1));
    }

    /// @dev Mean (ppm, at bin centres) of the votes in bins first..last; 0 when there are none.
    function _mean(uint256[WORDS] memory counts, uint256 first, uint256 last)
        private
        pure
        returns (uint256)
    {
        uint256 sum = 0;
        uint256 inside = 0;
        // Over the packed words: bounds-checked Solidity made these few bins cost ~11,000 gas.
        // slither-disable-start divide-before-multiply
        assembly ("memory-safe") {
            for { let b := first } iszero(gt(b, last)) { b := add(b, 1) } {
                let c := and(shr(mul(12, mod(b, 21)), mload(add(counts, mul(div(b, 21), 32)))), 0xfff)
                sum := add(sum, mul(c, add(mul(b, BIN), div(BIN, 2))))
                inside := add(inside, c)
            }
        }
        // slither-disable-end divide-before-multiply
        return inside == 0 ? 0 : sum / inside;
    }
}
