const { expect } = require('chai');
const { ethers } = require('hardhat');
const { loadFixture, time } = require('@nomicfoundation/hardhat-network-helpers');
const { ONE_ETH, deployAll, painting, withAuction } = require('./fixtures');

const bidData = (house, tokenId) => house.interface.encodeFunctionData('bid', [tokenId]);

async function endAuction(house, tokenId) {
  await time.increaseTo(await house.endTimeOf(tokenId));
}

describe('AuctionHouse: auctions', function () {
  it('opens an auction, escrows the token and records the terms', async function () {
    const { nft, house, robot } = await loadFixture(deployAll);
    const p = painting(1);
    await nft.connect(robot).mint(robot.address, p.provenance, p.cid);
    const tx = house.connect(robot).createAuction(p.provenance, ONE_ETH, 3600);
    const end = (await time.latest()) + 1 + 3600;
    await expect(tx).to.emit(house, 'AuctionCreated').withArgs(p.provenance, robot.address, ONE_ETH, end);
    expect(await nft.ownerOf(p.provenance)).to.equal(await house.getAddress());
    const lot = await house.lots(p.provenance);
    expect([lot.seller, lot.endTime, lot.minRaiseBps, lot.timeBuffer]).to.deep.equal([robot.address, BigInt(end), 500n, 900n]);
    expect(await house.minimumBid(p.provenance)).to.equal(ONE_ETH);
  });

  it('lets only the robot open auctions with sane terms, once per token', async function () {
    const { nft, house, robot, alice, tokenId } = await loadFixture(withAuction);
    const p = painting(2);
    await nft.connect(robot).mint(robot.address, p.provenance, p.cid);
    await expect(house.connect(alice).createAuction(p.provenance, 1, 60))
      .to.be.revertedWithCustomError(house, 'NotRobot').withArgs(alice.address);
    await expect(house.connect(robot).createAuction(p.provenance, 0, 60))
      .to.be.revertedWithCustomError(house, 'ZeroReserve');
    await expect(house.connect(robot).createAuction(p.provenance, 1, 0))
      .to.be.revertedWithCustomError(house, 'InvalidDuration').withArgs(0);
    const tooLong = 30n * 86400n + 1n;
    await expect(house.connect(robot).createAuction(p.provenance, 1, tooLong))
      .to.be.revertedWithCustomError(house, 'InvalidDuration').withArgs(tooLong);
    await expect(house.connect(robot).createAuction(tokenId, 1, 60))
      .to.be.revertedWithCustomError(house, 'AuctionExists').withArgs(tokenId);
    await nft.connect(robot).setApprovalForAll(await house.getAddress(), false);
    await expect(house.connect(robot).createAuction(p.provenance, 1, 60))
      .to.be.revertedWithCustomError(nft, 'ERC721InsufficientApproval');
  });

  it('takes a first bid at the reserve, then only bids that beat it by the minimum raise', async function () {
    const { house, alice, bob, tokenId } = await loadFixture(withAuction);
    await expect(house.connect(alice).bid(tokenId, { value: ONE_ETH - 1n }))
      .to.be.revertedWithCustomError(house, 'BidTooLow').withArgs(ONE_ETH - 1n, ONE_ETH);
    await expect(house.connect(alice).bid(tokenId, { value: ONE_ETH }))
      .to.emit(house, 'AuctionBid').withArgs(tokenId, alice.address, ONE_ETH);
    const min = ONE_ETH + ONE_ETH * 500n / 10_000n;
    expect(await house.minimumBid(tokenId)).to.equal(min);
    await expect(house.connect(bob).bid(tokenId, { value: min - 1n }))
      .to.be.revertedWithCustomError(house, 'BidTooLow').withArgs(min - 1n, min);
    await expect(house.connect(alice).bid(tokenId, { value: 2n * ONE_ETH }))
      .to.be.revertedWithCustomError(house, 'AlreadyHighestBidder').withArgs(alice.address);
    await expect(house.connect(bob).bid(tokenId, { value: min }))
      .to.changeEtherBalances([alice, bob, house], [ONE_ETH, -min, min - ONE_ETH]);
    const top = await house.highestBid(tokenId);
    expect([top.bidder, top.amount]).to.deep.equal([bob.address, min]);
  });

  it('raises by at least 1 wei when the percentage rounds to zero', async function () {
    const { nft, house, robot, alice, bob } = await loadFixture(deployAll);
    const p = painting(5);
    await nft.connect(robot).mint(robot.address, p.provenance, p.cid);
    await house.connect(robot).createAuction(p.provenance, 1, 3600);
    await house.connect(alice).bid(p.provenance, { value: 1 });
    expect(await house.minimumBid(p.provenance)).to.equal(2n);
    await expect(house.connect(bob).bid(p.provenance, { value: 1 }))
      .to.be.revertedWithCustomError(house, 'BidTooLow').withArgs(1, 2);
  });

  it('extends the end when a bid arrives within the time buffer', async function () {
    const { house, alice, bob, tokenId } = await loadFixture(withAuction);
    await house.connect(alice).bid(tokenId, { value: ONE_ETH });
    const end = (await house.lots(tokenId)).endTime;
    await time.setNextBlockTimestamp(end - 60n);
    await expect(house.connect(bob).bid(tokenId, { value: 2n * ONE_ETH }))
      .to.emit(house, 'AuctionExtended').withArgs(tokenId, end - 60n + 900n);
    expect((await house.lots(tokenId)).endTime).to.equal(end - 60n + 900n);
  });

  it('refuses bids after the end and on tokens without an auction', async function () {
    const { house, alice, tokenId } = await loadFixture(withAuction);
    await expect(house.connect(alice).bid(1n, { value: ONE_ETH }))
      .to.be.revertedWithCustomError(house, 'AuctionNotFound').withArgs(1n);
    await expect(house.minimumBid(1n)).to.be.revertedWithCustomError(house, 'AuctionNotFound');
    await endAuction(house, tokenId);
    const end = (await house.lots(tokenId)).endTime;
    await expect(house.connect(alice).bid(tokenId, { value: ONE_ETH }))
      .to.be.revertedWithCustomError(house, 'AuctionEnded').withArgs(tokenId, end);
  });

  it('settles: token to the winner, proceeds to the robot, fee credited to the platform', async function () {
    const { nft, house, deployer, robot, alice, carol } = await loadFixture(deployAll);
    await expect(house.connect(deployer).setFee(carol.address, 250))
      .to.emit(house, 'FeeUpdated').withArgs(carol.address, 250);
    const p = painting(1);
    const tokenId = BigInt(p.provenance);
    await nft.connect(robot).mint(robot.address, p.provenance, p.cid);
    await house.connect(robot).createAuction(tokenId, ONE_ETH, 3600);
    expect((await house.lots(tokenId)).feeBps).to.equal(250n);
    await house.connect(alice).bid(tokenId, { value: 2n * ONE_ETH });
    await expect(house.settle(tokenId)).to.be.revertedWithCustomError(house, 'AuctionNotEnded');
    await endAuction(house, tokenId);
    const fee = 2n * ONE_ETH * 250n / 10_000n;
    const tx = house.connect(carol).settle(tokenId);
    await expect(tx).to.emit(house, 'AuctionSettled').withArgs(tokenId, alice.address, 2n * ONE_ETH, fee);
    await expect(tx).to.changeEtherBalances([robot, house], [2n * ONE_ETH - fee, -(2n * ONE_ETH - fee)]);
    expect(await nft.ownerOf(tokenId)).to.equal(alice.address);
    expect(await house.pendingWithdrawals(carol.address)).to.equal(fee);
    await expect(house.connect(carol).withdraw())
      .to.emit(house, 'Withdrawal').withArgs(carol.address, carol.address, fee);
    expect(await ethers.provider.getBalance(await house.getAddress())).to.equal(0n);
    await expect(house.settle(tokenId)).to.be.revertedWithCustomError(house, 'AuctionNotFound');
  });

  it('returns an unsold token to the robot, which can list it again', async function () {
    const { nft, house, robot, alice, tokenId } = await loadFixture(withAuction);
    await endAuction(house, tokenId);
    await expect(house.connect(alice).settle(tokenId))
      .to.emit(house, 'AuctionUnsold').withArgs(tokenId, robot.address);
    expect(await nft.ownerOf(tokenId)).to.equal(robot.address);
    await expect(house.connect(robot).createAuction(tokenId, ONE_ETH, 60)).to.emit(house, 'AuctionCreated');
  });

  it('lets only the owner change robot, parameters and fee, within bounds', async function () {
    const { house, deployer, alice, bob } = await loadFixture(deployAll);
    await expect(house.connect(deployer).setRobot(alice.address))
      .to.emit(house, 'RobotUpdated').withArgs(alice.address);
    expect(await house.robot()).to.equal(alice.address);
    await expect(house.connect(deployer).setRobot(ethers.ZeroAddress))
      .to.be.revertedWithCustomError(house, 'ZeroAddress');
    await expect(house.connect(deployer).setAuctionParams(200, 300))
      .to.emit(house, 'AuctionParamsUpdated').withArgs(200, 300);
    const cfg = await house.config();
    expect([cfg.minRaiseBps, cfg.timeBuffer]).to.deep.equal([200n, 300n]);
    await expect(house.connect(deployer).setAuctionParams(0, 300))
      .to.be.revertedWithCustomError(house, 'InvalidMinRaise').withArgs(0);
    await expect(house.connect(deployer).setAuctionParams(10_001, 300))
      .to.be.revertedWithCustomError(house, 'InvalidMinRaise').withArgs(10_001);
    await expect(house.connect(deployer).setAuctionParams(200, 86_401))
      .to.be.revertedWithCustomError(house, 'InvalidTimeBuffer').withArgs(86_401);
    await expect(house.connect(deployer).setFee(bob.address, 1001))
      .to.be.revertedWithCustomError(house, 'FeeTooHigh').withArgs(1001);
    await expect(house.connect(deployer).setFee(ethers.ZeroAddress, 10))
      .to.be.revertedWithCustomError(house, 'ZeroAddress');
    // Each call is sent only when awaited, so no rejection is left unhandled meanwhile.
    for (const call of [
      () => house.connect(alice).setRobot(alice.address),
      () => house.connect(alice).setAuctionParams(200, 300),
      () => house.connect(alice).setFee(alice.address, 1),
      () => house.connect(alice).pause(),
    ]) {
      await expect(call()).to.be.revertedWithCustomError(house, 'OwnableUnauthorizedAccount').withArgs(alice.address);
    }
  });

  it('rejects a zero NFT address at deployment', async function () {
    const [owner] = await ethers.getSigners();
    const factory = await ethers.getContractFactory('AuctionHouse');
    await expect(factory.deploy(ethers.ZeroAddress, owner.address, owner.address, 500, 900))
      .to.be.revertedWithCustomError(factory, 'ZeroAddress');
  });

  it('withdraw with no credit and withdrawTo the zero address revert', async function () {
    const { house, alice } = await loadFixture(deployAll);
    await expect(house.connect(alice).withdraw()).to.be.revertedWithCustomError(house, 'NothingToWithdraw');
    await expect(house.connect(alice).withdrawTo(ethers.ZeroAddress))
      .to.be.revertedWithCustomError(house, 'ZeroAddress');
  });
});

describe('AuctionHouse: hostile bidders', function () {
  it('a bidder whose receive reverts is credited, cannot block, and withdraws elsewhere', async function () {
    const { house, alice, bob, tokenId } = await loadFixture(withAuction);
    const attacker = await ethers.deployContract('RevertingBidder');
    await attacker.connect(alice).execute(await house.getAddress(), bidData(house, tokenId), { value: ONE_ETH });
    await expect(house.connect(bob).bid(tokenId, { value: 2n * ONE_ETH }))
      .to.emit(house, 'PaymentDeferred').withArgs(await attacker.getAddress(), ONE_ETH);
    expect(await house.pendingWithdrawals(await attacker.getAddress())).to.equal(ONE_ETH);
    const withdraw = house.interface.encodeFunctionData('withdraw');
    await expect(attacker.execute(await house.getAddress(), withdraw))
      .to.be.revertedWithCustomError(house, 'WithdrawFailed').withArgs(await attacker.getAddress());
    const withdrawTo = house.interface.encodeFunctionData('withdrawTo', [alice.address]);
    await expect(attacker.execute(await house.getAddress(), withdrawTo))
      .to.changeEtherBalances([alice, house], [ONE_ETH, -ONE_ETH]);
  });

  it('a reentrant bidder cannot re-enter bid, settle or withdraw from its refund', async function () {
    const { house, alice, bob, tokenId } = await loadFixture(withAuction);
    const attacker = await ethers.deployContract('ReentrantBidder');
    const houseAddr = await house.getAddress();
    const guard = house.interface.getError('ReentrancyGuardReentrantCall').selector;
    await attacker.connect(alice).execute(houseAddr, bidData(house, tokenId), { value: ONE_ETH });
    for (const data of [
      bidData(house, tokenId),
      house.interface.encodeFunctionData('settle', [tokenId]),
      house.interface.encodeFunctionData('withdraw'),
    ]) {
      await attacker.setReentry(houseAddr, data, 0n);
      const outbid = await house.minimumBid(tokenId);
      const tx = house.connect(bob).bid(tokenId, { value: outbid });
      await expect(tx).to.emit(attacker, 'ReentryAttempted').withArgs(false, guard);
      await attacker.connect(alice).execute(houseAddr, bidData(house, tokenId), { value: await house.minimumBid(tokenId) });
    }
    const top = await house.highestBid(tokenId);
    expect(top.bidder).to.equal(await attacker.getAddress());
    // Everything the house holds is the one highest bid: refunds went out exactly once.
    expect(await ethers.provider.getBalance(houseAddr)).to.equal(top.amount);
  });

  for (const [label, burn] of [['burns all its gas', true], ['returns a returndata bomb', false]]) {
    it(`a bidder that ${label} is credited at bounded cost and its win still stands`, async function () {
      const { nft, house, robot, alice, bob, carol, tokenId } = await loadFixture(withAuction);
      const griefer = await ethers.deployContract('GasGriefer', [burn, 80_000]);
      const houseAddr = await house.getAddress();
      await griefer.connect(alice).execute(houseAddr, bidData(house, tokenId), { value: ONE_ETH });
      const tx = await house.connect(bob).bid(tokenId, { value: 2n * ONE_ETH });
      await expect(tx).to.emit(house, 'PaymentDeferred').withArgs(await griefer.getAddress(), ONE_ETH);
      const hostile = (await tx.wait()).gasUsed;
      const honest = (await (await house.connect(carol).bid(tokenId, { value: 3n * ONE_ETH })).wait()).gasUsed;
      // The griefer costs the outbidder at most the push cap + stipend + its credit slot + event.
      const bound = honest + (await house.PUSH_GAS()) + 2_300n + 22_100n + 2_000n;
      expect(hostile).to.be.lessThan(bound);
      // The griefer wins the next round; its hostile ERC-721 hook is never called.
      const again = await house.minimumBid(tokenId);
      await griefer.connect(alice).execute(houseAddr, bidData(house, tokenId), { value: again });
      await endAuction(house, tokenId);
      const settle = house.settle(tokenId);
      await expect(settle).to.emit(house, 'AuctionSettled').withArgs(tokenId, await griefer.getAddress(), again, 0n);
      await expect(settle).to.changeEtherBalances([robot], [again]);
      expect(await nft.ownerOf(tokenId)).to.equal(await griefer.getAddress());
      expect(await house.pendingWithdrawals(await griefer.getAddress())).to.equal(ONE_ETH);
      expect(await ethers.provider.getBalance(houseAddr)).to.equal(ONE_ETH);
    });
  }

  it('a winner that rejects ERC-721 tokens still gets the token (plain transfer) and pays', async function () {
    const { nft, house, robot, alice, tokenId } = await loadFixture(withAuction);
    const rejecting = await ethers.deployContract('RejectingReceiver');
    await rejecting.connect(alice).execute(await house.getAddress(), bidData(house, tokenId), { value: ONE_ETH });
    await endAuction(house, tokenId);
    const tx = house.settle(tokenId);
    await expect(tx).to.emit(house, 'AuctionSettled').withArgs(tokenId, await rejecting.getAddress(), ONE_ETH, 0n);
    await expect(tx).to.changeEtherBalances([rejecting, house, robot], [0n, -ONE_ETH, ONE_ETH]);
    expect(await nft.ownerOf(tokenId)).to.equal(await rejecting.getAddress());
  });

  it('a seller that refuses ETH is credited instead of blocking settlement', async function () {
    const { nft, house, deployer, alice, tokenId } = await loadFixture(withAuction);
    // A contract robot wallet that rejects ETH opens the second auction.
    const robotContract = await ethers.deployContract('RevertingBidder');
    const robotAddr = await robotContract.getAddress();
    await house.connect(deployer).setRobot(robotAddr);
    await nft.connect(deployer).grantRole(await nft.MINTER_ROLE(), robotAddr);
    const p = painting(9);
    const nftAddr = await nft.getAddress();
    await robotContract.execute(nftAddr, nft.interface.encodeFunctionData('mint', [robotAddr, p.provenance, p.cid]));
    await robotContract.execute(nftAddr, nft.interface.encodeFunctionData('setApprovalForAll', [await house.getAddress(), true]));
    await robotContract.execute(await house.getAddress(),
      house.interface.encodeFunctionData('createAuction', [p.provenance, ONE_ETH, 60]));
    await house.connect(alice).bid(p.provenance, { value: ONE_ETH });
    await endAuction(house, p.provenance);
    await expect(house.settle(p.provenance)).to.emit(house, 'PaymentDeferred').withArgs(robotAddr, ONE_ETH);
    expect(await nft.ownerOf(p.provenance)).to.equal(alice.address);
    void tokenId;
  });
});

describe('AuctionHouse: attacks from the security review', function () {
  it('refusing winner: a winner whose ERC-721 hook changes its mind at settlement still buys', async function () {
    const { nft, house, robot, alice, carol, tokenId } = await loadFixture(withAuction);
    const winner = await ethers.deployContract('ConditionalBidder');
    const winnerAddr = await winner.getAddress();
    await winner.connect(alice).execute(await house.getAddress(), bidData(house, tokenId), { value: 5n * ONE_ETH });
    await endAuction(house, tokenId);
    await winner.setAccepting(false);
    const tx = house.connect(carol).settle(tokenId);
    await expect(tx).to.emit(house, 'AuctionSettled').withArgs(tokenId, winnerAddr, 5n * ONE_ETH, 0n);
    await expect(tx).to.changeEtherBalances([robot, winner, house], [5n * ONE_ETH, 0n, -5n * ONE_ETH]);
    expect(await nft.ownerOf(tokenId)).to.equal(winnerAddr);
  });

  it('fee changed under a running auction: the fee of the opening applies at settlement', async function () {
    const { house, deployer, robot, alice, carol, tokenId } = await loadFixture(withAuction);
    await house.connect(alice).bid(tokenId, { value: 2n * ONE_ETH });
    await house.connect(deployer).setFee(carol.address, 1_000);
    await endAuction(house, tokenId);
    const tx = house.settle(tokenId);
    await expect(tx).to.emit(house, 'AuctionSettled').withArgs(tokenId, alice.address, 2n * ONE_ETH, 0n);
    await expect(tx).to.changeEtherBalances([robot], [2n * ONE_ETH]);
    expect(await house.pendingWithdrawals(carol.address)).to.equal(0n);
  });

  it('zero time buffer: the owner cannot let a last-second bid snipe the auction', async function () {
    const { house, deployer } = await loadFixture(deployAll);
    await expect(house.connect(deployer).setAuctionParams(500, 0))
      .to.be.revertedWithCustomError(house, 'InvalidTimeBuffer').withArgs(0);
    const factory = await ethers.getContractFactory('AuctionHouse');
    await expect(factory.deploy(await house.nft(), deployer.address, deployer.address, 500, 0))
      .to.be.revertedWithCustomError(factory, 'InvalidTimeBuffer').withArgs(0);
  });

  it('truncated bid: a bid of 2**96 wei or more reverts instead of being recorded modulo 2**96', async function () {
    const { house, alice, tokenId } = await loadFixture(withAuction);
    const huge = 2n ** 96n + ONE_ETH;
    await ethers.provider.send('hardhat_setBalance', [alice.address, ethers.toQuantity(2n * huge)]);
    await expect(house.connect(alice).bid(tokenId, { value: huge }))
      .to.be.revertedWithCustomError(house, 'SafeCastOverflowedUintDowncast').withArgs(96, huge);
    expect((await house.highestBid(tokenId)).bidder).to.equal(ethers.ZeroAddress);
  });

  it('cancel before the first bid returns the token; after a bid nobody can cancel', async function () {
    const { nft, house, robot, alice, tokenId } = await loadFixture(withAuction);
    await expect(house.connect(alice).cancelAuction(tokenId))
      .to.be.revertedWithCustomError(house, 'NotSeller').withArgs(tokenId, alice.address);
    await expect(house.connect(robot).cancelAuction(tokenId))
      .to.emit(house, 'AuctionCanceled').withArgs(tokenId, robot.address);
    expect(await nft.ownerOf(tokenId)).to.equal(robot.address);
    await house.connect(robot).createAuction(tokenId, ONE_ETH, 3600);
    await house.connect(alice).bid(tokenId, { value: ONE_ETH });
    await expect(house.connect(robot).cancelAuction(tokenId))
      .to.be.revertedWithCustomError(house, 'AuctionHasBids').withArgs(tokenId);
  });

  it('pause stops new auctions and bids but never traps a bid, a credit or a token', async function () {
    const { nft, house, deployer, robot, alice, bob, tokenId } = await loadFixture(withAuction);
    await house.connect(alice).bid(tokenId, { value: ONE_ETH });
    const p = painting(2);
    await nft.connect(robot).mint(robot.address, p.provenance, p.cid);
    await house.connect(robot).createAuction(p.provenance, ONE_ETH, 7200);
    await endAuction(house, tokenId);
    await expect(house.connect(alice).pause())
      .to.be.revertedWithCustomError(house, 'OwnableUnauthorizedAccount');
    await expect(house.connect(deployer).pause()).to.emit(house, 'Paused').withArgs(deployer.address);
    expect(await house.paused()).to.equal(true);
    await expect(house.connect(deployer).pause()).to.be.revertedWithCustomError(house, 'EnforcedPause');
    await expect(house.connect(bob).bid(p.provenance, { value: 2n * ONE_ETH }))
      .to.be.revertedWithCustomError(house, 'EnforcedPause');
    const q = painting(3);
    await nft.connect(robot).mint(robot.address, q.provenance, q.cid);
    await expect(house.connect(robot).createAuction(q.provenance, ONE_ETH, 3600))
      .to.be.revertedWithCustomError(house, 'EnforcedPause');
    // While paused: the unbid lot can be cancelled, the lot that ended before the pause settles.
    await house.connect(robot).cancelAuction(p.provenance);
    expect(await nft.ownerOf(p.provenance)).to.equal(robot.address);
    await expect(house.settle(tokenId)).to.changeEtherBalances([robot], [ONE_ETH]);
    expect(await nft.ownerOf(tokenId)).to.equal(alice.address);
    await expect(house.connect(deployer).unpause()).to.emit(house, 'Unpaused').withArgs(deployer.address);
    await expect(house.connect(deployer).unpause()).to.be.revertedWithCustomError(house, 'ExpectedPause');
    await expect(house.connect(robot).createAuction(q.provenance, ONE_ETH, 3600)).to.emit(house, 'AuctionCreated');
  });

  it('endless pause: a pause ends by itself after MAX_PAUSE and the next must wait as long', async function () {
    const { house, deployer, alice, bob, tokenId } = await loadFixture(withAuction);
    const maxPause = await house.MAX_PAUSE();
    await house.connect(alice).bid(tokenId, { value: ONE_ETH });
    await time.increase(600);
    const left = (await house.endTimeOf(tokenId)) - BigInt(await time.latest());
    await house.connect(deployer).pause();
    await time.increase(maxPause);
    // The pause is over by itself; the auction kept the time it had left.
    expect(await house.paused()).to.equal(false);
    expect(await house.endTimeOf(tokenId)).to.equal(BigInt(await time.latest()) + left - 1n);
    await expect(house.connect(bob).bid(tokenId, { value: 2n * ONE_ETH })).to.emit(house, 'AuctionBid');
    const resumed = (await house.pauseClock()).pausedAt + maxPause;
    await expect(house.connect(deployer).pause())
      .to.be.revertedWithCustomError(house, 'PauseTooSoon').withArgs(resumed + maxPause);
    await expect(house.connect(deployer).unpause()).to.be.revertedWithCustomError(house, 'ExpectedPause');
    await endAuction(house, tokenId);
    await expect(house.settle(tokenId)).to.emit(house, 'AuctionSettled').withArgs(tokenId, bob.address, 2n * ONE_ETH, 0n);
    await time.increaseTo(resumed + maxPause);
    await expect(house.connect(deployer).pause()).to.emit(house, 'Paused');
  });

  it('pause running out the clock: an auction that would end during a pause gets its remaining time back', async function () {
    const { house, deployer, alice, bob, tokenId } = await loadFixture(withAuction);
    await house.connect(alice).bid(tokenId, { value: ONE_ETH });
    await time.increase(1800); // half of the hour is left
    await house.connect(deployer).pause();
    await time.increase(2 * 86400); // the pause outlasts the auction's end
    await house.connect(deployer).unpause();
    // Alice must not win at her bid so far: the auction still has its half hour.
    await expect(house.settle(tokenId)).to.be.revertedWithCustomError(house, 'AuctionNotEnded');
    await expect(house.connect(bob).bid(tokenId, { value: 2n * ONE_ETH }))
      .to.emit(house, 'AuctionBid').withArgs(tokenId, bob.address, 2n * ONE_ETH);
  });

  it('fee recipient changed under a running auction: the recipient of the opening is credited', async function () {
    const { nft, house, deployer, robot, alice, bob, carol } = await loadFixture(deployAll);
    await house.connect(deployer).setFee(carol.address, 250);
    const p = painting(1);
    await nft.connect(robot).mint(robot.address, p.provenance, p.cid);
    await house.connect(robot).createAuction(p.provenance, ONE_ETH, 3600);
    await house.connect(alice).bid(p.provenance, { value: 2n * ONE_ETH });
    await house.connect(deployer).setFee(bob.address, 250);
    await endAuction(house, p.provenance);
    await house.settle(p.provenance);
    const fee = 2n * ONE_ETH * 250n / 10_000n;
    expect(await house.pendingWithdrawals(carol.address)).to.equal(fee);
    expect(await house.pendingWithdrawals(bob.address)).to.equal(0n);
  });
});
