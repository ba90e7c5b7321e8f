const { expect } = require('chai');
const { ethers } = require('hardhat');
const { loadFixture, time } = require('@nomicfoundation/hardhat-network-helpers');
const { ONE_ETH, deployAll } = require('./fixtures');

const CAP = 100n * ONE_ETH;
const DAY = 86400n;

/** deployAll plus an open funding round (cap 100 ETH, one day). */
async function withRound() {
  const f = await deployAll();
  await f.pool.connect(f.robot).openRound(CAP, DAY);
  return f;
}

/** Lets the open round reach its deadline and opens the next one. */
async function nextRound(pool, robot) {
  await time.increase(DAY);
  await pool.connect(robot).openRound(CAP, DAY);
}

describe('InvestorPool', function () {
  it('opens one round at a time, robot only, within bounds', async function () {
    const { pool, robot, alice } = await loadFixture(deployAll);
    await expect(pool.connect(alice).openRound(CAP, DAY))
      .to.be.revertedWithCustomError(pool, 'NotRobot').withArgs(alice.address);
    await expect(pool.connect(robot).openRound(0, DAY))
      .to.be.revertedWithCustomError(pool, 'InvalidRound').withArgs(0, DAY);
    await expect(pool.connect(robot).openRound(CAP, 0))
      .to.be.revertedWithCustomError(pool, 'InvalidRound').withArgs(CAP, 0);
    await expect(pool.connect(robot).openRound(CAP, 366n * DAY))
      .to.be.revertedWithCustomError(pool, 'InvalidRound').withArgs(CAP, 366n * DAY);
    await expect(pool.connect(alice).invest(await pool.openRoundId(), { value: 1 }))
      .to.be.revertedWithCustomError(pool, 'NoOpenRound');
    const tx = pool.connect(robot).openRound(CAP, DAY);
    await expect(tx).to.emit(pool, 'RoundOpened').withArgs(1, CAP, BigInt(await time.latest()) + 1n + DAY);
    await expect(pool.connect(robot).openRound(CAP, DAY))
      .to.be.revertedWithCustomError(pool, 'RoundStillOpen').withArgs(1);
    await expect(pool.connect(alice).closeRound())
      .to.be.revertedWithCustomError(pool, 'NotRobotOrOwner').withArgs(alice.address);
    await expect(pool.connect(robot).closeRound()).to.emit(pool, 'RoundClosed').withArgs(1, 0);
    await expect(pool.connect(robot).closeRound()).to.be.revertedWithCustomError(pool, 'NoOpenRound');
  });

  it('forwards loans to the robot and records them as pending in the round', async function () {
    const { pool, robot, alice } = await loadFixture(withRound);
    const tx = pool.connect(alice).invest(await pool.openRoundId(), { value: 3n * ONE_ETH });
    await expect(tx).to.emit(pool, 'Invested').withArgs(alice.address, 1, 3n * ONE_ETH);
    await expect(tx).to.changeEtherBalances([alice, robot, pool], [-3n * ONE_ETH, 3n * ONE_ETH, 0n]);
    const p = await pool.positions(alice.address);
    expect([p.lent, p.pending, p.pendingRound]).to.deep.equal([0n, 3n * ONE_ETH, 1n]);
    expect((await pool.rounds(1)).raised).to.equal(3n * ONE_ETH);
    expect(await pool.totalLent()).to.equal(0n);
    await expect(pool.connect(alice).invest(1)).to.be.revertedWithCustomError(pool, 'ZeroAmount');
  });

  it('caps a round; a full round does not close early (investors cannot move its close)', async function () {
    const { pool, robot, alice, bob } = await loadFixture(deployAll);
    await pool.connect(robot).openRound(2n * ONE_ETH, DAY);
    await pool.connect(alice).invest(await pool.openRoundId(), { value: ONE_ETH });
    await expect(pool.connect(bob).invest(await pool.openRoundId(), { value: 2n * ONE_ETH }))
      .to.be.revertedWithCustomError(pool, 'RoundCapExceeded').withArgs(2n * ONE_ETH, ONE_ETH);
    await pool.connect(bob).invest(await pool.openRoundId(), { value: ONE_ETH });
    expect(await pool.openRoundId()).to.equal(1n);
    await expect(pool.connect(robot).repay({ value: ONE_ETH })).to.be.revertedWithCustomError(pool, 'NoInvestors');
    await time.increase(DAY);
    await expect(pool.connect(robot).repay({ value: ONE_ETH }))
      .to.emit(pool, 'RoundClosed').withArgs(1, 2n * ONE_ETH)
      .and.to.emit(pool, 'Repaid').withArgs(robot.address, ONE_ETH);
    expect(await pool.claimable(alice.address)).to.equal(ONE_ETH / 2n);
  });

  it('splits repayments pro rata; a later round only shares later repayments', async function () {
    const { pool, robot, alice, bob, carol } = await loadFixture(withRound);
    await pool.connect(alice).invest(await pool.openRoundId(), { value: 1n * ONE_ETH });
    await pool.connect(bob).invest(await pool.openRoundId(), { value: 3n * ONE_ETH });
    await nextRound(pool, robot);
    await expect(pool.connect(robot).repay({ value: 2n * ONE_ETH }))
      .to.emit(pool, 'Repaid').withArgs(robot.address, 2n * ONE_ETH);
    expect(await pool.claimable(alice.address)).to.equal(ONE_ETH / 2n);
    expect(await pool.claimable(bob.address)).to.equal(3n * ONE_ETH / 2n);
    await pool.connect(carol).invest(await pool.openRoundId(), { value: 4n * ONE_ETH });
    await pool.connect(robot).repay({ value: ONE_ETH });
    expect(await pool.claimable(carol.address)).to.equal(0n);
    await pool.connect(robot).closeRound();
    await pool.connect(robot).repay({ value: 8n * ONE_ETH });
    expect(await pool.claimable(alice.address)).to.equal(ONE_ETH / 2n + ONE_ETH / 4n + ONE_ETH);
    expect(await pool.claimable(carol.address)).to.equal(4n * ONE_ETH);
    const owed = 3n * ONE_ETH / 2n + 3n * ONE_ETH / 4n + 3n * ONE_ETH;
    const tx = pool.connect(bob).withdraw();
    await expect(tx).to.emit(pool, 'Withdrawn').withArgs(bob.address, bob.address, owed);
    await expect(tx).to.changeEtherBalances([bob, pool], [owed, -owed]);
    await expect(pool.connect(bob).withdraw()).to.be.revertedWithCustomError(pool, 'NothingToWithdraw');
    expect(await pool.totalRepaid()).to.equal(11n * ONE_ETH);
  });

  it('keeps the ledger exact with indivisible amounts (balance x SCALE = shares + carry)', async function () {
    const { pool, robot, alice, bob, carol } = await loadFixture(withRound);
    await pool.connect(alice).invest(await pool.openRoundId(), { value: 1n });
    await pool.connect(bob).invest(await pool.openRoundId(), { value: 2n });
    await nextRound(pool, robot);
    await pool.connect(carol).invest(await pool.openRoundId(), { value: 4n });
    await pool.connect(robot).repay({ value: 1n });
    await pool.connect(robot).closeRound();
    for (const amount of [10n, 333n]) await pool.connect(robot).repay({ value: amount });
    await pool.connect(carol).withdraw();
    const scale = await pool.SCALE();
    let shares = await pool.undistributed();
    for (const s of [alice, bob, carol]) shares += await pool.claimableScaled(s.address);
    const balance = await ethers.provider.getBalance(await pool.getAddress());
    expect(shares).to.equal(balance * scale);
  });

  it('refuses repayments with no closed round and zero repayments', async function () {
    const { pool, robot, alice } = await loadFixture(withRound);
    await expect(pool.connect(robot).repay({ value: 1 })).to.be.revertedWithCustomError(pool, 'NoInvestors');
    await pool.connect(alice).invest(await pool.openRoundId(), { value: 1 });
    await pool.connect(robot).closeRound();
    await expect(pool.connect(robot).repay()).to.be.revertedWithCustomError(pool, 'ZeroAmount');
  });

  it('withdraws to another address; refuses zero and reverting recipients', async function () {
    const { pool, robot, alice, carol } = await loadFixture(withRound);
    await pool.connect(alice).invest(await pool.openRoundId(), { value: ONE_ETH });
    await pool.connect(robot).closeRound();
    await pool.connect(robot).repay({ value: ONE_ETH });
    await expect(pool.connect(alice).withdrawTo(ethers.ZeroAddress)).to.be.revertedWithCustomError(pool, 'ZeroAddress');
    const sink = await ethers.deployContract('RevertingBidder');
    await expect(pool.connect(alice).withdrawTo(await sink.getAddress()))
      .to.be.revertedWithCustomError(pool, 'WithdrawFailed').withArgs(await sink.getAddress());
    await expect(pool.connect(alice).withdrawTo(carol.address))
      .to.emit(pool, 'Withdrawn').withArgs(alice.address, carol.address, ONE_ETH);
  });

  it('a reentrant investor cannot withdraw twice', async function () {
    const { pool, robot } = await loadFixture(withRound);
    const attacker = await ethers.deployContract('ReentrantBidder');
    const poolAddr = await pool.getAddress();
    await attacker.execute(poolAddr, pool.interface.encodeFunctionData('invest', [1]), { value: ONE_ETH });
    await pool.connect(robot).closeRound();
    await pool.connect(robot).repay({ value: ONE_ETH });
    await attacker.setReentry(poolAddr, pool.interface.encodeFunctionData('withdraw'), 0);
    const guard = pool.interface.getError('ReentrancyGuardReentrantCall').selector;
    const tx = attacker.execute(poolAddr, pool.interface.encodeFunctionData('withdraw'));
    await expect(tx).to.emit(attacker, 'ReentryAttempted').withArgs(false, guard);
    await expect(tx).to.changeEtherBalances([attacker, pool], [ONE_ETH, -ONE_ETH]);
  });

  it('reverts a loan the robot wallet refuses; the owner can change the robot', async function () {
    const { pool, deployer, alice } = await loadFixture(withRound);
    const refusing = await ethers.deployContract('RevertingBidder');
    await time.increase(DAY);
    await expect(pool.connect(deployer).setRobot(ethers.ZeroAddress)).to.be.revertedWithCustomError(pool, 'ZeroAddress');
    await expect(pool.connect(deployer).setRobot(await refusing.getAddress()))
      .to.emit(pool, 'RobotUpdated').withArgs(await refusing.getAddress());
    await refusing.execute(await pool.getAddress(), pool.interface.encodeFunctionData('openRound', [CAP, DAY]));
    await expect(pool.connect(alice).invest(2, { value: 1 }))
      .to.be.revertedWithCustomError(pool, 'LoanTransferFailed').withArgs(await refusing.getAddress());
    await expect(pool.connect(alice).setRobot(alice.address))
      .to.be.revertedWithCustomError(pool, 'OwnableUnauthorizedAccount');
  });

  it('front-running investor: money lent just before a repayment gets none of it', async function () {
    const { pool, robot, alice, bob } = await loadFixture(withRound);
    await pool.connect(alice).invest(await pool.openRoundId(), { value: ONE_ETH });
    await nextRound(pool, robot);
    // An auction settled; the robot's repayment of 1 ETH is in the mempool. Bob front-runs it.
    await pool.connect(bob).invest(await pool.openRoundId(), { value: 9n * ONE_ETH });
    await pool.connect(robot).repay({ value: ONE_ETH });
    expect(await pool.claimable(bob.address)).to.equal(0n);
    expect(await pool.claimable(alice.address)).to.equal(ONE_ETH);
    // Bob's round closes at its deadline; from then on he shares 9:1.
    await time.increase(DAY);
    await pool.connect(robot).repay({ value: 10n * ONE_ETH });
    expect(await pool.claimable(bob.address)).to.equal(9n * ONE_ETH);
    expect(await pool.claimable(alice.address)).to.equal(2n * ONE_ETH);
  });
  it('switched round: a loan sent for one round never lands in another with other terms', async function () {
    const { pool, robot, alice } = await loadFixture(withRound);
    // Alice signs a loan for round 1 (one day); the robot closes it and opens a year-long round.
    await pool.connect(robot).closeRound();
    await pool.connect(robot).openRound(CAP, 365n * DAY);
    await expect(pool.connect(alice).invest(1, { value: ONE_ETH }))
      .to.be.revertedWithCustomError(pool, 'WrongRound').withArgs(1, 2);
    await expect(pool.connect(alice).invest(2, { value: ONE_ETH }))
      .to.emit(pool, 'Invested').withArgs(alice.address, 2, ONE_ETH);
  });

  it('robot swapped mid-round: the owner cannot redirect the loans of an open round', async function () {
    const { pool, deployer, robot, carol } = await loadFixture(withRound);
    await expect(pool.connect(deployer).setRobot(carol.address))
      .to.be.revertedWithCustomError(pool, 'RoundStillOpen').withArgs(1);
    await pool.connect(robot).closeRound();
    await expect(pool.connect(deployer).setRobot(carol.address))
      .to.emit(pool, 'RobotUpdated').withArgs(carol.address);
  });

  it('compromised robot key: the owner closes its year-long round, then replaces the robot', async function () {
    const { pool, deployer, robot, alice, carol } = await loadFixture(deployAll);
    await pool.connect(robot).openRound(CAP, 365n * DAY);
    await pool.connect(alice).invest(1, { value: ONE_ETH });
    await expect(pool.connect(deployer).setRobot(carol.address))
      .to.be.revertedWithCustomError(pool, 'RoundStillOpen').withArgs(1);
    await expect(pool.connect(deployer).closeRound()).to.emit(pool, 'RoundClosed').withArgs(1, ONE_ETH);
    expect(await pool.totalLent()).to.equal(ONE_ETH);
    await expect(pool.connect(deployer).setRobot(carol.address))
      .to.emit(pool, 'RobotUpdated').withArgs(carol.address);
    await expect(pool.connect(robot).openRound(CAP, DAY))
      .to.be.revertedWithCustomError(pool, 'NotRobot').withArgs(robot.address);
  });

  it('self-lending robot: the robot cannot lend to itself in its own round', async function () {
    const { pool, robot, alice } = await loadFixture(withRound);
    await expect(pool.connect(robot).invest(1, { value: CAP }))
      .to.be.revertedWithCustomError(pool, 'RobotCannotLend').withArgs(robot.address);
    expect((await pool.rounds(1)).raised).to.equal(0n);
    await expect(pool.connect(alice).invest(1, { value: CAP }))
      .to.emit(pool, 'Invested').withArgs(alice.address, 1, CAP);
  });
});
