const { expect } = require('chai');
const { ethers } = require('hardhat');
const { loadFixture, time } = require('@nomicfoundation/hardhat-network-helpers');
const { ONE_ETH, deployAll, painting, withAuction } = require('./fixtures');

describe('PaintingNFT', function () {
  it('mints to the robot with the provenance hash as token id and the CID digest recorded', async function () {
    const { nft, robot } = await loadFixture(deployAll);
    const p = painting(1);
    const tokenId = BigInt(p.provenance);
    await expect(nft.connect(robot).mint(robot.address, p.provenance, p.cid))
      .to.emit(nft, 'Transfer').withArgs(ethers.ZeroAddress, robot.address, tokenId)
      .and.to.emit(nft, 'PaintingMinted').withArgs(tokenId, robot.address, p.cid);
    expect(await nft.ownerOf(tokenId)).to.equal(robot.address);
    expect(await nft.balanceOf(robot.address)).to.equal(1n);
    expect(await nft.provenanceOf(tokenId)).to.equal(p.provenance);
    expect(await nft.cidDigestOf(tokenId)).to.equal(p.cid);
  });

  it('returns the CIDv1 IPFS gives for the metadata (known vector of "hello world\\n")', async function () {
    const { nft, robot } = await loadFixture(deployAll);
    const digest = ethers.sha256(ethers.toUtf8Bytes('hello world\n'));
    const provenance = painting(7).provenance;
    await nft.connect(robot).mint(robot.address, provenance, digest);
    const cid = 'bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4';
    expect(await nft.cidV1(digest)).to.equal(cid);
    expect(await nft.tokenURI(provenance)).to.equal(`ipfs://${cid}`);
  });

  it('rejects minting by others, zero hashes and a repeated stroke plan', async function () {
    const { nft, robot, alice } = await loadFixture(deployAll);
    const p = painting(2);
    await expect(nft.connect(alice).mint(alice.address, p.provenance, p.cid))
      .to.be.revertedWithCustomError(nft, 'AccessControlUnauthorizedAccount')
      .withArgs(alice.address, await nft.MINTER_ROLE());
    await expect(nft.connect(robot).mint(robot.address, ethers.ZeroHash, p.cid))
      .to.be.revertedWithCustomError(nft, 'ZeroProvenance');
    await expect(nft.connect(robot).mint(robot.address, p.provenance, ethers.ZeroHash))
      .to.be.revertedWithCustomError(nft, 'EmptyCid');
    await nft.connect(robot).mint(robot.address, p.provenance, p.cid);
    await expect(nft.connect(robot).mint(robot.address, p.provenance, p.cid))
      .to.be.revertedWithCustomError(nft, 'ERC721InvalidSender').withArgs(ethers.ZeroAddress);
  });

  it('updates metadata only while the minter holds the token (ERC-4906 event)', async function () {
    const { nft, robot, alice } = await loadFixture(deployAll);
    const p = painting(3);
    const tokenId = BigInt(p.provenance);
    const fresh = painting(30).cid;
    await nft.connect(robot).mint(robot.address, p.provenance, p.cid);
    await expect(nft.connect(robot).updateMetadata(tokenId, fresh))
      .to.emit(nft, 'MetadataUpdate').withArgs(tokenId);
    expect(await nft.tokenURI(tokenId)).to.equal(`ipfs://${await nft.cidV1(fresh)}`);
    await expect(nft.connect(robot).updateMetadata(tokenId, ethers.ZeroHash))
      .to.be.revertedWithCustomError(nft, 'EmptyCid');
    await expect(nft.connect(alice).updateMetadata(tokenId, fresh))
      .to.be.revertedWithCustomError(nft, 'AccessControlUnauthorizedAccount');
    await nft.connect(robot).transferFrom(robot.address, alice.address, tokenId);
    await expect(nft.connect(robot).updateMetadata(tokenId, p.cid))
      .to.be.revertedWithCustomError(nft, 'NotTokenHolder').withArgs(tokenId, robot.address);
    await expect(nft.connect(robot).updateMetadata(12345n, p.cid))
      .to.be.revertedWithCustomError(nft, 'ERC721NonexistentToken').withArgs(12345n);
  });

  it('reverts the views for a token that does not exist', async function () {
    const { nft } = await loadFixture(deployAll);
    for (const view of ['tokenURI', 'provenanceOf', 'cidDigestOf']) {
      await expect(nft[view](99n)).to.be.revertedWithCustomError(nft, 'ERC721NonexistentToken');
    }
  });

  it('pays royalties to the robot at the admin-set rate, capped at 10 %', async function () {
    const { nft, deployer, robot, alice } = await loadFixture(deployAll);
    const [receiver, amount] = await nft.royaltyInfo(1n, 10_000n);
    expect(receiver).to.equal(robot.address);
    expect(amount).to.equal(500n);
    await expect(nft.connect(deployer).setRoyalty(alice.address, 250))
      .to.emit(nft, 'RoyaltyUpdated').withArgs(alice.address, 250);
    expect((await nft.royaltyInfo(1n, 10_000n))[1]).to.equal(250n);
    await expect(nft.connect(deployer).setRoyalty(alice.address, 1001))
      .to.be.revertedWithCustomError(nft, 'RoyaltyTooHigh').withArgs(1001, 1000);
    await expect(nft.connect(alice).setRoyalty(alice.address, 1))
      .to.be.revertedWithCustomError(nft, 'AccessControlUnauthorizedAccount');
  });

  it('keeps the custodian set in step with the minter and escrow roles', async function () {
    const { nft, deployer, robot, alice } = await loadFixture(deployAll);
    const p = painting(15);
    const tokenId = BigInt(p.provenance);
    await nft.connect(robot).mint(robot.address, p.provenance, p.cid);
    // Robot -> alice (a minter and an escrow, then neither) -> robot: only the last move seals.
    const minter = await nft.MINTER_ROLE();
    const escrow = await nft.ESCROW_ROLE();
    await nft.connect(deployer).grantRole(minter, alice.address);
    await nft.connect(deployer).grantRole(escrow, alice.address);
    await nft.connect(robot).transferFrom(robot.address, alice.address, tokenId);
    await nft.connect(deployer).revokeRole(minter, alice.address);
    await expect(nft.connect(alice).transferFrom(alice.address, robot.address, tokenId))
      .not.to.emit(nft, 'MetadataSealed');
    expect(await nft.metadataEditable(tokenId)).to.equal(true);
    await nft.connect(robot).transferFrom(robot.address, alice.address, tokenId);
    await nft.connect(deployer).revokeRole(escrow, alice.address);
    await expect(nft.connect(alice).transferFrom(alice.address, robot.address, tokenId))
      .to.emit(nft, 'MetadataSealed').withArgs(tokenId);
    expect(await nft.metadataEditable(tokenId)).to.equal(false);
  });

  it('advertises ERC-721, ERC-2981, ERC-4906, AccessControl and ERC-165', async function () {
    const { nft } = await loadFixture(deployAll);
    for (const id of ['0x80ac58cd', '0x5b5e139f', '0x2a55205a', '0x49064906', '0x7965db0b', '0x01ffc9a7']) {
      expect(await nft.supportsInterface(id), id).to.equal(true);
    }
    expect(await nft.supportsInterface('0x780e9d63')).to.equal(false); // not Enumerable
  });

  it('re-edited sale: a painting sold at auction stays frozen when it comes back to the robot', async function () {
    const { nft, house, robot, alice, carol } = await loadFixture(deployAll);
    const p = painting(11);
    const tokenId = BigInt(p.provenance);
    await nft.connect(robot).mint(robot.address, p.provenance, p.cid);
    await house.connect(robot).createAuction(tokenId, 1n, 60);
    await house.connect(alice).bid(tokenId, { value: 1n });
    await time.increase(3600);
    await house.connect(carol).settle(tokenId);
    // The buyer sells or gives it back; the robot must not be able to rewrite what was sold.
    await expect(nft.connect(alice).transferFrom(alice.address, robot.address, tokenId))
      .to.emit(nft, 'MetadataSealed').withArgs(tokenId);
    expect(await nft.metadataEditable(tokenId)).to.equal(false);
    await expect(nft.connect(robot).updateMetadata(tokenId, painting(12).cid))
      .to.be.revertedWithCustomError(nft, 'MetadataFrozen').withArgs(tokenId);
    expect(await nft.cidDigestOf(tokenId)).to.equal(p.cid);
  });

  it('a painting that came back unsold (never sold) can still be edited, not while in auction', async function () {
    const { nft, house, robot, carol } = await loadFixture(deployAll);
    const p = painting(13);
    const tokenId = BigInt(p.provenance);
    await nft.connect(robot).mint(robot.address, p.provenance, p.cid);
    await house.connect(robot).createAuction(tokenId, 1n, 60);
    await expect(nft.connect(robot).updateMetadata(tokenId, painting(14).cid))
      .to.be.revertedWithCustomError(nft, 'NotTokenHolder');
    await time.increase(3600);
    await house.connect(carol).settle(tokenId);
    expect(await nft.metadataEditable(tokenId)).to.equal(true);
    await expect(nft.connect(robot).updateMetadata(tokenId, painting(14).cid))
      .to.emit(nft, 'MetadataUpdate').withArgs(tokenId);
  });
  it('sold to a minter: a painting bought at auction by a minter account is frozen', async function () {
    const { nft, house, deployer, robot, alice } = await loadFixture(withAuction);
    await nft.connect(deployer).grantRole(await nft.MINTER_ROLE(), alice.address);
    const tokenId = BigInt(painting(1).provenance);
    await house.connect(alice).bid(tokenId, { value: ONE_ETH });
    await time.increaseTo((await house.lots(tokenId)).endTime);
    await house.settle(tokenId);
    expect(await nft.ownerOf(tokenId)).to.equal(alice.address);
    expect(await nft.metadataEditable(tokenId)).to.equal(false);
    await expect(nft.connect(alice).updateMetadata(tokenId, painting(40).cid))
      .to.be.revertedWithCustomError(nft, 'MetadataFrozen').withArgs(tokenId);
    void robot;
  });

  it('buyer made a minter later: an account that holds paintings cannot become a custodian', async function () {
    const { nft, house, deployer, bob } = await loadFixture(withAuction);
    const tokenId = BigInt(painting(1).provenance);
    await house.connect(bob).bid(tokenId, { value: ONE_ETH });
    await time.increaseTo((await house.lots(tokenId)).endTime);
    await house.settle(tokenId);
    await expect(nft.connect(deployer).grantRole(await nft.MINTER_ROLE(), bob.address))
      .to.be.revertedWithCustomError(nft, 'HoldsTokens').withArgs(bob.address);
    await expect(nft.connect(deployer).grantRole(await nft.ESCROW_ROLE(), bob.address))
      .to.be.revertedWithCustomError(nft, 'HoldsTokens').withArgs(bob.address);
    await expect(nft.connect(bob).updateMetadata(tokenId, painting(41).cid))
      .to.be.revertedWithCustomError(nft, 'AccessControlUnauthorizedAccount');
  });
});
