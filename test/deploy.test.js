const { expect } = require('chai');
const { ethers } = require('hardhat');
const { loadFixture } = require('@nomicfoundation/hardhat-network-helpers');
const { makeResolver } = require('../scripts/deploy');
const { deployAll } = require('./fixtures');

describe('scripts/deploy.js', function () {
  it('deploys the four contracts and wires robot = minter, auction house approved', async function () {
    const { record, nft, house, supplies, pool, deployer, robot } = await loadFixture(deployAll);
    expect(Object.keys(record.contracts)).to.deep.equal(['PaintingNFT', 'AuctionHouse', 'SupplyShop', 'InvestorPool']);
    expect(await nft.hasRole(await nft.MINTER_ROLE(), robot.address)).to.equal(true);
    expect(await nft.hasRole(await nft.DEFAULT_ADMIN_ROLE(), deployer.address)).to.equal(true);
    expect(await nft.isApprovedForAll(robot.address, await house.getAddress())).to.equal(true);
    expect(await nft.hasRole(await nft.ESCROW_ROLE(), await house.getAddress())).to.equal(true);
    expect(await house.nft()).to.equal(await nft.getAddress());
    expect(await house.robot()).to.equal(robot.address);
    expect(await house.owner()).to.equal(deployer.address);
    expect(await pool.robot()).to.equal(robot.address);
    expect((await supplies.items(1)).price).to.equal(7_500_000_000_000_000n);
  });

  it('refuses references to contracts not deployed yet', function () {
    const resolve = makeResolver(ethers, {}, {});
    expect(() => resolve('$Nowhere')).to.throw('unresolved reference $Nowhere');
    expect(resolve(['$role:MINTER_ROLE', 5])).to.deep.equal([ethers.id('MINTER_ROLE'), 5]);
  });
});
