// Shared deployment fixture for the contract tests: the four contracts wired as deploy.json does.
const { ethers } = require('hardhat');
const { deployManifest, MANIFEST } = require('../scripts/deploy');
const fs = require('fs');

const ONE_ETH = 10n ** 18n;

/** Provenance hash and metadata digest of the n-th test painting. */
function painting(n) {
  return {
    provenance: ethers.keccak256(ethers.toUtf8Bytes(`stroke plan ${n}`)),
    cid: ethers.sha256(ethers.toUtf8Bytes(`{"name":"painting ${n}"}`)),
  };
}

/** Deploys the manifest with the Hardhat deploy script; returns contracts and named signers. */
async function deployAll() {
  const hre = require('hardhat');
  const manifest = JSON.parse(fs.readFileSync(MANIFEST, 'utf8'));
  const record = await deployManifest(hre, manifest);
  const [deployer, robot, alice, bob, carol, shop] = await ethers.getSigners();
  const at = (name) => ethers.getContractAt(name, record.contracts[name].address);
  return {
    record,
    deployer, robot, alice, bob, carol, shop,
    nft: await at('PaintingNFT'),
    house: await at('AuctionHouse'),
    supplies: await at('SupplyShop'),
    pool: await at('InvestorPool'),
  };
}

/** deployAll plus one minted painting put up for auction (reserve 1 ETH, one hour). */
async function withAuction() {
  const f = await deployAll();
  const p = painting(1);
  await f.nft.connect(f.robot).mint(f.robot.address, p.provenance, p.cid);
  await f.house.connect(f.robot).createAuction(p.provenance, ONE_ETH, 3600);
  return { ...f, tokenId: BigInt(p.provenance) };
}

module.exports = { ONE_ETH, painting, deployAll, withAuction };
