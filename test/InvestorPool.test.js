const { expect } = require('chai');
const { ethers } = require('hardhat');
const { loadFixture } = require('@nomicfoundation/hardhat-network-helpers');
const { ONE_ETH, deployAll } = require('./fixtures');

describe('InvestorPool', function () {
  it('forwards loans to the robot and records them', async function () {
    const { pool, robot, alice } = await loadFixture(deployAll);
    const tx = pool.connect(alice).invest({ value: 3n * ONE_ETH });
    await expect(tx).to.emit(pool, 'Invested').withArgs(alice.address, 3n * ONE_ETH);
    await expect(tx).to.changeEtherBalances([alice, robot, pool], [-3n * ONE_ETH, 3n * ONE_ETH, 0n]);
    expect((await pool.positions(alice.address)).lent).to.equal(3n * ONE_ETH);
    expect(await pool.totalLent()).to.equal(3n * ONE_ETH);
    await expect(pool.connect(alice).invest()).to.be.revertedWithCustomError(pool, 'ZeroAmount');
  });

  it('splits repayments pro rata; a late investor only shares later repayments', async function () {
    const { pool, robot, alice, bob, carol } = await loadFixture(deployAll);
    await pool.connect(alice).invest({ value: 1n * ONE_ETH });
    await pool.connect(bob).invest({ value: 3n * ONE_ETH });
    await expect(pool.connect(robot).repay({ value: 2n * ONE_ETH }))
      .to.emit(pool, 'Repaid').withArgs(robot.address, 2n * ONE_ETH);
    expect(await pool.claimable(alice.address)).to.equal(ONE_ETH / 2n);
    expect(await pool.claimable(bob.address)).to.equal(3n * ONE_ETH / 2n);
    await pool.connect(carol).invest({ value: 4n * ONE_ETH });
    expect(await pool.claimable(carol.address)).to.equal(0n);
    await pool.connect(robot).repay({ value: 8n * ONE_ETH });
    expect(await pool.claimable(alice.address)).to.equal(ONE_ETH / 2n + ONE_ETH);
    expect(await pool.claimable(carol.address)).to.equal(4n * ONE_ETH);
    const tx = pool.connect(bob).withdraw();
    await expect(tx).to.emit(pool, 'Withdrawn').withArgs(bob.address, bob.address, 3n * ONE_ETH / 2n + 3n * ONE_ETH);
    await expect(tx).to.changeEtherBalances([bob, pool], [9n * ONE_ETH / 2n, -9n * ONE_ETH / 2n]);
    await expect(pool.connect(bob).withdraw()).to.be.revertedWithCustomError(pool, 'NothingToWithdraw');
    expect(await pool.totalRepaid()).to.equal(10n * ONE_ETH);
  });

  it('keeps the ledger exact with indivisible amounts (balance x SCALE = shares + carry)', async function () {
    const { pool, robot, alice, bob, carol } = await loadFixture(deployAll);
    await pool.connect(alice).invest({ value: 1n });
    await pool.connect(bob).invest({ value: 2n });
    await pool.connect(carol).invest({ value: 4n });
    for (const amount of [1n, 10n, 333n]) await pool.connect(robot).repay({ value: amount });
    await pool.connect(carol).withdraw();
    const scale = await pool.SCALE();
    let shares = await pool.undistributed();
    for (const s of [alice, bob, carol]) shares += await pool.claimableScaled(s.address);
    const balance = await ethers.provider.getBalance(await pool.getAddress());
    expect(shares).to.equal(balance * scale);
  });

  it('refuses repayments with no investors and zero repayments', async function () {
    const { pool, robot, alice } = await loadFixture(deployAll);
    await expect(pool.connect(robot).repay({ value: 1 })).to.be.revertedWithCustomError(pool, 'NoInvestors');
    await pool.connect(alice).invest({ value: 1 });
    await expect(pool.connect(robot).repay()).to.be.revertedWithCustomError(pool, 'ZeroAmount');
  });

  it('withdraws to another address; refuses zero and reverting recipients', async function () {
    const { pool, robot, alice, carol } = await loadFixture(deployAll);
    await pool.connect(alice).invest({ value: ONE_ETH });
    await pool.connect(robot).repay({ value: ONE_ETH });
    await expect(pool.connect(alice).withdrawTo(ethers.ZeroAddress)).to.be.revertedWithCustomError(pool, 'ZeroAddress');
    const sink = await ethers.deployContract('RevertingBidder');
    await expect(pool.connect(alice).withdrawTo(await sink.getAddress()))
      .to.be.revertedWithCustomError(pool, 'WithdrawFailed').withArgs(await sink.getAddress());
    await expect(pool.connect(alice).withdrawTo(carol.address))
      .to.emit(pool, 'Withdrawn').withArgs(alice.address, carol.address, ONE_ETH);
  });

  it('a reentrant investor cannot withdraw twice', async function () {
    const { pool, robot } = await loadFixture(deployAll);
    const attacker = await ethers.deployContract('ReentrantBidder');
    const poolAddr = await pool.getAddress();
    await attacker.execute(poolAddr, pool.interface.encodeFunctionData('invest'), { value: ONE_ETH });
    await pool.connect(robot).repay({ value: ONE_ETH });
    await attacker.setReentry(poolAddr, pool.interface.encodeFunctionData('withdraw'), 0);
    const guard = pool.interface.getError('ReentrancyGuardReentrantCall').selector;
    const tx = attacker.execute(poolAddr, pool.interface.encodeFunctionData('withdraw'));
    await expect(tx).to.emit(attacker, 'ReentryAttempted').withArgs(false, guard);
    await expect(tx).to.changeEtherBalances([attacker, pool], [ONE_ETH, -ONE_ETH]);
  });

  it('reverts a loan the robot wallet refuses; the owner can change the robot', async function () {
    const { pool, deployer, alice } = await loadFixture(deployAll);
    const refusing = await ethers.deployContract('RevertingBidder');
    await expect(pool.connect(deployer).setRobot(await refusing.getAddress()))
      .to.emit(pool, 'RobotUpdated').withArgs(await refusing.getAddress());
    await expect(pool.connect(alice).invest({ value: 1 }))
      .to.be.revertedWithCustomError(pool, 'LoanTransferFailed').withArgs(await refusing.getAddress());
    await expect(pool.connect(deployer).setRobot(ethers.ZeroAddress)).to.be.revertedWithCustomError(pool, 'ZeroAddress');
    await expect(pool.connect(alice).setRobot(alice.address))
      .to.be.revertedWithCustomError(pool, 'OwnableUnauthorizedAccount');
  });

  it('front-running investor: money lent just before a repayment gets none of it', async function () {
    const { pool, robot, alice, bob } = await loadFixture(deployAll);
    await pool.connect(alice).invest({ value: ONE_ETH });
    // An auction settled; the robot's repayment of 1 ETH is in the mempool. Bob front-runs it.
    await pool.connect(bob).invest({ value: 9n * ONE_ETH });
    await pool.connect(robot).repay({ value: ONE_ETH });
    expect(await pool.claimable(bob.address)).to.equal(0n);
    expect(await pool.claimable(alice.address)).to.equal(ONE_ETH);
  });
});
