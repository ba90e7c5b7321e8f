const { expect } = require('chai');
const { ethers } = require('hardhat');
const { loadFixture, time } = require('@nomicfoundation/hardhat-network-helpers');
const { anyValue } = require('@nomicfoundation/hardhat-chai-matchers/withArgs');
const { deployAll } = require('./fixtures');

const PRICE = 7_500_000_000_000_000n; // one canvas, 0.0075 ETH (Gaka-Chu)
const WINDOW = 14n * 86400n;
const ARBITRATION = 30n * 86400n;
const ONE_BOND = 10n ** 16n;
const PARCEL = ethers.id('tracking record of parcel 1');

async function withShop() {
  const f = await deployAll();
  await f.supplies.connect(f.deployer).setItem(2, f.shop.address, PRICE, 0);
  return f;
}

async function withOrder() {
  const f = await withShop();
  await f.supplies.connect(f.robot).order(2, 3, await f.supplies.termsOf(2), { value: 3n * PRICE });
  return { ...f, orderId: 1n };
}

describe('SupplyShop', function () {
  it('lists, changes and removes catalogue items (owner only)', async function () {
    const { supplies, deployer, shop, alice } = await loadFixture(deployAll);
    await expect(supplies.connect(deployer).setItem(5, shop.address, 10, 3))
      .to.emit(supplies, 'ItemListed').withArgs(5, shop.address, 10, 3);
    expect(await supplies.items(5)).to.deep.equal([shop.address, 10n, 3n]);
    await expect(supplies.connect(deployer).setItem(5, ethers.ZeroAddress, 10, 0))
      .to.be.revertedWithCustomError(supplies, 'ZeroAddress');
    await expect(supplies.connect(deployer).setItem(5, shop.address, 0, 0))
      .to.be.revertedWithCustomError(supplies, 'ZeroPrice');
    await expect(supplies.connect(alice).setItem(5, alice.address, 1, 0))
      .to.be.revertedWithCustomError(supplies, 'OwnableUnauthorizedAccount');
    await expect(supplies.connect(deployer).removeItem(5)).to.emit(supplies, 'ItemRemoved').withArgs(5);
    await expect(supplies.connect(deployer).removeItem(5))
      .to.be.revertedWithCustomError(supplies, 'UnknownItem').withArgs(5);
    await expect(supplies.connect(alice).removeItem(1))
      .to.be.revertedWithCustomError(supplies, 'OwnableUnauthorizedAccount');
  });

  it('sets the windows within bounds (owner only)', async function () {
    const { supplies, deployer, alice } = await loadFixture(deployAll);
    await expect(supplies.connect(deployer).setWindows(60, 120, 180))
      .to.emit(supplies, 'WindowsUpdated').withArgs(60, 120, 180);
    const s = await supplies.settings();
    expect([s.fulfilWindow, s.confirmWindow, s.arbitrationWindow]).to.deep.equal([60n, 120n, 180n]);
    const tooLong = 180 * 86400 + 1;
    for (const [f, c, a, bad] of [[0, 1, 1, 0], [1, 0, 1, 0], [1, 1, 0, 0], [tooLong, 1, 1, tooLong],
      [1, tooLong, 1, tooLong], [1, 1, tooLong, tooLong]]) {
      await expect(supplies.connect(deployer).setWindows(f, c, a))
        .to.be.revertedWithCustomError(supplies, 'InvalidWindow').withArgs(bad);
    }
    await expect(supplies.connect(alice).setWindows(1, 1, 1))
      .to.be.revertedWithCustomError(supplies, 'OwnableUnauthorizedAccount');
  });

  it('escrows an order paid exactly price x quantity', async function () {
    const { supplies, robot, shop } = await loadFixture(withShop);
    const tx = await supplies.connect(robot).order(2, 3, await supplies.termsOf(2), { value: 3n * PRICE });
    const mined = await ethers.provider.getBlock((await tx.wait()).blockNumber);
    const deadline = BigInt(mined.timestamp) + WINDOW;
    await expect(tx).to.emit(supplies, 'OrderPlaced').withArgs(1, robot.address, 2, 3, 3n * PRICE, deadline);
    await expect(tx).to.changeEtherBalances([robot, supplies], [-3n * PRICE, 3n * PRICE]);
    const o = await supplies.orders(1);
    expect([o.buyer, o.amount, o.shop, o.deadline, o.status, o.confirmWindow, o.bond, o.arbitrationWindow])
      .to.deep.equal([robot.address, 3n * PRICE, shop.address, deadline, 1n, WINDOW, 0n, ARBITRATION]);
    expect((await supplies.settings()).nextOrderId).to.equal(2n);
  });

  it('rejects orders of unknown items, bad quantities and wrong payments', async function () {
    const { supplies, robot } = await loadFixture(withShop);
    await expect(supplies.connect(robot).order(99, 1, await supplies.termsOf(99), { value: PRICE }))
      .to.be.revertedWithCustomError(supplies, 'UnknownItem').withArgs(99);
    await expect(supplies.connect(robot).order(2, 0, await supplies.termsOf(2)))
      .to.be.revertedWithCustomError(supplies, 'InvalidQuantity').withArgs(0);
    await expect(supplies.connect(robot).order(2, 1001, await supplies.termsOf(2), { value: 1001n * PRICE }))
      .to.be.revertedWithCustomError(supplies, 'InvalidQuantity').withArgs(1001);
    await expect(supplies.connect(robot).order(2, 2, await supplies.termsOf(2), { value: PRICE }))
      .to.be.revertedWithCustomError(supplies, 'WrongPayment').withArgs(PRICE, 2n * PRICE);
  });

  it('pays the shop when the buyer confirms delivery, fulfilled or not', async function () {
    const { supplies, robot, shop, alice, orderId } = await loadFixture(withOrder);
    await expect(supplies.connect(alice).confirmDelivery(orderId))
      .to.be.revertedWithCustomError(supplies, 'Unauthorized').withArgs(orderId, alice.address);
    const tx = supplies.connect(robot).confirmDelivery(orderId);
    await expect(tx).to.emit(supplies, 'DeliveryConfirmed').withArgs(orderId, shop.address, 3n * PRICE);
    await expect(tx).to.changeEtherBalances([shop, supplies], [3n * PRICE, -3n * PRICE]);
    expect((await supplies.orders(orderId)).status).to.equal(3n);
    await expect(supplies.connect(robot).confirmDelivery(orderId))
      .to.be.revertedWithCustomError(supplies, 'InvalidStatus').withArgs(orderId, 3);
  });

  it('lets the shop mark fulfilment before the deadline, then the buyer confirm', async function () {
    const { supplies, robot, shop, alice, orderId } = await loadFixture(withOrder);
    await expect(supplies.connect(alice).markFulfilled(orderId, PARCEL))
      .to.be.revertedWithCustomError(supplies, 'Unauthorized').withArgs(orderId, alice.address);
    const tx = supplies.connect(shop).markFulfilled(orderId, PARCEL);
    await expect(tx).to.emit(supplies, 'OrderFulfilled').withArgs(orderId, PARCEL, BigInt(await time.latest()) + 1n + WINDOW);
    await expect(supplies.connect(shop).markFulfilled(orderId, PARCEL))
      .to.be.revertedWithCustomError(supplies, 'InvalidStatus').withArgs(orderId, 2);
    await expect(supplies.connect(robot).refund(orderId))
      .to.be.revertedWithCustomError(supplies, 'InvalidStatus').withArgs(orderId, 2);
    await expect(supplies.connect(robot).confirmDelivery(orderId))
      .to.changeEtherBalances([shop], [3n * PRICE]);
  });

  it('releases a fulfilled payment to the shop once the confirmation window has passed', async function () {
    const { supplies, shop, alice, orderId } = await loadFixture(withOrder);
    await expect(supplies.releasePayment(orderId))
      .to.be.revertedWithCustomError(supplies, 'InvalidStatus').withArgs(orderId, 1);
    await supplies.connect(shop).markFulfilled(orderId, PARCEL);
    const deadline = (await supplies.orders(orderId)).deadline;
    await expect(supplies.releasePayment(orderId))
      .to.be.revertedWithCustomError(supplies, 'DeadlineNotReached').withArgs(orderId, deadline);
    await time.increaseTo(deadline);
    const tx = supplies.connect(alice).releasePayment(orderId);
    await expect(tx).to.emit(supplies, 'PaymentReleased').withArgs(orderId, shop.address, 3n * PRICE);
    await expect(tx).to.changeEtherBalances([shop, supplies], [3n * PRICE, -3n * PRICE]);
  });

  it('refunds the buyer when the shop misses the deadline', async function () {
    const { supplies, robot, shop, alice, orderId } = await loadFixture(withOrder);
    const deadline = (await supplies.orders(orderId)).deadline;
    await expect(supplies.refund(orderId))
      .to.be.revertedWithCustomError(supplies, 'DeadlineNotReached').withArgs(orderId, deadline);
    await time.increaseTo(deadline);
    await expect(supplies.connect(shop).markFulfilled(orderId, PARCEL))
      .to.be.revertedWithCustomError(supplies, 'DeadlinePassed').withArgs(orderId, deadline);
    const tx = supplies.connect(alice).refund(orderId);
    await expect(tx).to.emit(supplies, 'OrderRefunded').withArgs(orderId, robot.address, 3n * PRICE);
    await expect(tx).to.changeEtherBalances([robot, supplies], [3n * PRICE, -3n * PRICE]);
    expect((await supplies.orders(orderId)).status).to.equal(4n);
    await expect(supplies.refund(orderId))
      .to.be.revertedWithCustomError(supplies, 'InvalidStatus').withArgs(orderId, 4);
  });

  it('credits a shop that refuses ETH instead of blocking the buyer, and blocks re-entry', async function () {
    const { supplies, deployer, robot } = await loadFixture(deployAll);
    const hostileShop = await ethers.deployContract('RevertingBidder');
    const shopAddr = await hostileShop.getAddress();
    await supplies.connect(deployer).setItem(3, shopAddr, PRICE, 0);
    await supplies.connect(robot).order(3, 1, await supplies.termsOf(3), { value: PRICE });
    await expect(supplies.connect(robot).confirmDelivery(1))
      .to.emit(supplies, 'PaymentDeferred').withArgs(shopAddr, PRICE);
    expect(await supplies.pendingWithdrawals(shopAddr)).to.equal(PRICE);
    const [, , , , , , sink] = await ethers.getSigners();
    const withdrawTo = supplies.interface.encodeFunctionData('withdrawTo', [sink.address]);
    await expect(hostileShop.execute(await supplies.getAddress(), withdrawTo))
      .to.emit(supplies, 'Withdrawal').withArgs(shopAddr, sink.address, PRICE);
    const reentrant = await ethers.deployContract('ReentrantBidder');
    const rAddr = await reentrant.getAddress();
    await supplies.connect(deployer).setItem(4, rAddr, PRICE, 0);
    await supplies.connect(robot).order(4, 1, await supplies.termsOf(4), { value: PRICE });
    await supplies.connect(robot).order(4, 1, await supplies.termsOf(4), { value: PRICE });
    const suppliesAddr = await supplies.getAddress();
    await reentrant.setReentry(suppliesAddr, supplies.interface.encodeFunctionData('confirmDelivery', [3]), 0);
    const guard = supplies.interface.getError('ReentrancyGuardReentrantCall').selector;
    await expect(supplies.connect(robot).confirmDelivery(2))
      .to.emit(reentrant, 'ReentryAttempted').withArgs(false, guard);
    expect((await supplies.orders(3)).status).to.equal(1n);
  });

  it('shrunk confirmation window: the owner cannot shorten the window of an order already placed', async function () {
    const { supplies, deployer, shop, orderId } = await loadFixture(withOrder);
    await supplies.connect(deployer).setWindows(WINDOW, 1, 1);
    await supplies.connect(shop).markFulfilled(orderId, PARCEL);
    expect((await supplies.orders(orderId)).deadline).to.equal(BigInt(await time.latest()) + WINDOW);
  });

  it('changed catalogue: a new shop or price does not touch an order already placed', async function () {
    const { supplies, deployer, robot, shop, alice, orderId } = await loadFixture(withOrder);
    await supplies.connect(deployer).setItem(2, alice.address, 1n, ONE_BOND);
    await supplies.connect(shop).markFulfilled(orderId, PARCEL);
    await expect(supplies.connect(robot).confirmDelivery(orderId))
      .to.changeEtherBalances([shop, alice], [3n * PRICE, 0n]);
  });

  it('fake fulfilment: the buyer disputes in the window, funds freeze until the arbiter refunds', async function () {
    const { supplies, deployer, robot, shop, alice, orderId } = await loadFixture(withOrder);
    await supplies.connect(shop).markFulfilled(orderId, ethers.id('no parcel at all'));
    await expect(supplies.connect(robot).resolveDispute(orderId, 0))
      .to.be.revertedWithCustomError(supplies, 'NotArbiter').withArgs(robot.address);
    await expect(supplies.connect(alice).dispute(orderId, ethers.id('nothing came')))
      .to.be.revertedWithCustomError(supplies, 'Unauthorized').withArgs(orderId, alice.address);
    const confirmBy = (await supplies.orders(orderId)).deadline;
    await expect(supplies.connect(robot).dispute(orderId, ethers.id('nothing came')))
      .to.emit(supplies, 'OrderDisputed').withArgs(orderId, ethers.id('nothing came'), anyValue);
    // Past the confirmation window, the shop would be paid; the dispute keeps the funds frozen.
    await time.increaseTo(confirmBy);
    await expect(supplies.releasePayment(orderId))
      .to.be.revertedWithCustomError(supplies, 'InvalidStatus').withArgs(orderId, 5);
    await expect(supplies.connect(alice).resolveDispute(orderId, 3n * PRICE))
      .to.be.revertedWithCustomError(supplies, 'NotArbiter').withArgs(alice.address);
    const tx = supplies.connect(deployer).resolveDispute(orderId, 3n * PRICE);
    await expect(tx).to.emit(supplies, 'DisputeResolved').withArgs(orderId, 3n * PRICE, 0n);
    await expect(tx).to.changeEtherBalances([robot, shop, supplies], [3n * PRICE, 0n, -3n * PRICE]);
  });
  it('bonded shop: bond posted at fulfilment, returned on payment, terms kept from placement', async function () {
    const { supplies, deployer, robot, shop } = await loadFixture(deployAll);
    await supplies.connect(deployer).setItem(7, shop.address, PRICE, ONE_BOND);
    await supplies.connect(robot).order(7, 1, await supplies.termsOf(7), { value: PRICE });
    await supplies.connect(deployer).setItem(7, shop.address, PRICE, 2n * ONE_BOND);
    await expect(supplies.connect(shop).markFulfilled(1, PARCEL, { value: 2n * ONE_BOND }))
      .to.be.revertedWithCustomError(supplies, 'WrongBond').withArgs(2n * ONE_BOND, ONE_BOND);
    await expect(supplies.connect(shop).markFulfilled(1, PARCEL, { value: ONE_BOND }))
      .to.changeEtherBalances([shop, supplies], [-ONE_BOND, ONE_BOND]);
    await time.increase(WINDOW);
    await expect(supplies.releasePayment(1)).to.changeEtherBalances([shop, supplies], [PRICE + ONE_BOND, -PRICE - ONE_BOND]);
  });

  it('split ruling: the arbiter refunds part, the bond goes to the buyer; no ruling out of time', async function () {
    const { supplies, deployer, robot, shop } = await loadFixture(deployAll);
    await supplies.connect(deployer).setItem(7, shop.address, PRICE, ONE_BOND);
    await supplies.connect(robot).order(7, 2, await supplies.termsOf(7), { value: 2n * PRICE });
    await supplies.connect(shop).markFulfilled(1, PARCEL, { value: ONE_BOND });
    await expect(supplies.connect(deployer).resolveDispute(1, 0))
      .to.be.revertedWithCustomError(supplies, 'InvalidStatus').withArgs(1, 2);
    await supplies.connect(robot).dispute(1, ethers.id('one canvas torn'));
    await expect(supplies.connect(deployer).resolveDispute(1, 2n * PRICE + 1n))
      .to.be.revertedWithCustomError(supplies, 'InvalidRefund').withArgs(2n * PRICE + 1n, 2n * PRICE);
    const tx = supplies.connect(deployer).resolveDispute(1, PRICE);
    await expect(tx).to.emit(supplies, 'DisputeResolved').withArgs(1, PRICE + ONE_BOND, PRICE);
    await expect(tx).to.changeEtherBalances([robot, shop, supplies], [PRICE + ONE_BOND, PRICE, -2n * PRICE - ONE_BOND]);
    expect((await supplies.orders(1)).status).to.equal(6n);
    await supplies.connect(robot).order(7, 1, await supplies.termsOf(7), { value: PRICE });
    await supplies.connect(shop).markFulfilled(2, PARCEL, { value: ONE_BOND });
    await supplies.connect(robot).dispute(2, ethers.id('late'));
    const deadline = (await supplies.orders(2)).deadline;
    await expect(supplies.refund(2)).to.be.revertedWithCustomError(supplies, 'DeadlineNotReached').withArgs(2, deadline);
    await time.increaseTo(deadline);
    await expect(supplies.connect(deployer).resolveDispute(2, 0))
      .to.be.revertedWithCustomError(supplies, 'DeadlinePassed').withArgs(2, deadline);
    // A silent arbiter: the buyer gets its payment back and the shop its bond.
    const refund = supplies.refund(2);
    await expect(refund).to.emit(supplies, 'OrderRefunded').withArgs(2, robot.address, PRICE);
    await expect(refund).to.changeEtherBalances([robot, shop, supplies], [PRICE, ONE_BOND, -PRICE - ONE_BOND]);
  });

  it('late dispute: after the confirmation window the buyer can no longer dispute, the shop is paid', async function () {
    const { supplies, robot, shop, orderId } = await loadFixture(withOrder);
    await supplies.connect(shop).markFulfilled(orderId, PARCEL);
    const deadline = (await supplies.orders(orderId)).deadline;
    await time.increaseTo(deadline);
    await expect(supplies.connect(robot).dispute(orderId, ethers.id('too late')))
      .to.be.revertedWithCustomError(supplies, 'DeadlinePassed').withArgs(orderId, deadline);
    await expect(supplies.releasePayment(orderId)).to.changeEtherBalances([shop], [3n * PRICE]);
  });

  it('rejects a zero arbiter at deployment', async function () {
    const [owner] = await ethers.getSigners();
    const factory = await ethers.getContractFactory('SupplyShop');
    await expect(factory.deploy(owner.address, ethers.ZeroAddress, 1, 1, 1))
      .to.be.revertedWithCustomError(factory, 'ZeroAddress');
  });
  it('front-run terms: the owner changes windows or bond before the order is mined, the order reverts', async function () {
    const { supplies, deployer, robot, shop } = await loadFixture(withShop);
    const signed = await supplies.termsOf(2);
    await supplies.connect(deployer).setWindows(1, 1, 1);
    await expect(supplies.connect(robot).order(2, 1, signed, { value: PRICE }))
      .to.be.revertedWithCustomError(supplies, 'TermsChanged').withArgs(signed, await supplies.termsOf(2));
    await supplies.connect(deployer).setWindows(WINDOW, WINDOW, ARBITRATION);
    expect(await supplies.termsOf(2)).to.equal(signed);
    await supplies.connect(deployer).setItem(2, shop.address, PRICE, ONE_BOND);
    await expect(supplies.connect(robot).order(2, 1, signed, { value: PRICE }))
      .to.be.revertedWithCustomError(supplies, 'TermsChanged');
    const now = await supplies.termsOf(2);
    await expect(supplies.connect(robot).order(2, 1, now, { value: PRICE })).to.emit(supplies, 'OrderPlaced');
  });
});
