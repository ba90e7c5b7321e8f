const { expect } = require('chai');
const { ethers } = require('hardhat');

describe('Counter (toolchain check)', function () {
  it('adds, emits and reverts with a custom error past the limit', async function () {
    const [owner] = await ethers.getSigners();
    const counter = await ethers.deployContract('Counter');
    await expect(counter.add(41)).to.emit(counter, 'Counted').withArgs(owner.address, 41n);
    await counter.add(1);
    expect(await counter.count()).to.equal(42n);
    await expect(counter.add(1_000_000n))
      .to.be.revertedWithCustomError(counter, 'TooLarge')
      .withArgs(1_000_000n, 1_000_000n);
    await expect(counter.fail()).to.be.revertedWith('Counter: failed on purpose');
  });
});
