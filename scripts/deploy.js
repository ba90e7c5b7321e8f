// Deploys contracts/deploy.json with Hardhat: `npx hardhat run scripts/deploy.js --network X`.
// Same manifest and reference rules as `gaka chain deploy`; writes deployments/<network>.json.
const fs = require('fs');
const path = require('path');

const MANIFEST = path.join(__dirname, '..', 'contracts', 'deploy.json');

/** Resolves `$deployer`, `$robot`, `$<Contract>` and `$role:NAME` references in manifest args. */
function makeResolver(ethers, accounts, addresses) {
  const resolve = (arg) => {
    if (Array.isArray(arg)) return arg.map(resolve);
    if (typeof arg !== 'string' || !arg.startsWith('$')) return arg;
    const ref = arg.slice(1);
    if (ref.startsWith('role:')) return ethers.id(ref.slice(5));
    if (ref in accounts) return accounts[ref].address;
    if (ref in addresses) return addresses[ref];
    throw new Error(`unresolved reference ${arg} (deploy it earlier in the manifest)`);
  };
  return resolve;
}

/** Deploys every manifest contract in order, then runs the setup calls; returns the record. */
async function deployManifest(hre, manifest, { robotAddress } = {}) {
  const { ethers } = hre;
  const signers = await ethers.getSigners();
  if (signers.length === 0) throw new Error(`no signer configured for network ${hre.network.name}`);
  const deployer = signers[0];
  let robot = signers.length > 1 ? signers[1] : deployer;
  if (robotAddress) {
    robot = signers.find((s) => s.address.toLowerCase() === robotAddress.toLowerCase());
    if (!robot) throw new Error(`no signer for robot ${robotAddress}`);
  }
  const accounts = { deployer, robot };
  const addresses = {};
  const resolve = makeResolver(ethers, accounts, addresses);
  const record = {
    network: hre.network.name,
    chain_id: Number((await ethers.provider.getNetwork()).chainId),
    deployer: deployer.address,
    robot: robot.address,
    contracts: {},
    setup: [],
  };
  for (const entry of manifest.contracts) {
    const args = resolve(entry.args || []);
    const contract = await ethers.deployContract(entry.name, args, deployer);
    const receipt = await contract.deploymentTransaction().wait();
    addresses[entry.name] = await contract.getAddress();
    record.contracts[entry.name] = {
      address: addresses[entry.name],
      tx_hash: receipt.hash,
      block: receipt.blockNumber,
      gas_used: Number(receipt.gasUsed),
      args,
    };
  }
  for (const step of manifest.setup || []) {
    if (!(step.contract in addresses)) throw new Error(`setup names undeployed ${step.contract}`);
    const from = accounts[step.from || 'deployer'];
    if (!from) throw new Error(`setup 'from' must be deployer or robot, not ${step.from}`);
    const contract = await ethers.getContractAt(step.contract, addresses[step.contract], from);
    const args = resolve(step.args || []);
    const receipt = await (await contract[step.function](...args)).wait();
    record.setup.push({ contract: step.contract, function: step.function, args, tx_hash: receipt.hash });
  }
  return record;
}

async function main() {
  const hre = require('hardhat');
  const manifest = JSON.parse(fs.readFileSync(MANIFEST, 'utf8'));
  const record = await deployManifest(hre, manifest, { robotAddress: process.env.GAKA_ROBOT_ADDRESS });
  const outDir = process.env.GAKA_DEPLOYMENTS_DIR || path.join(__dirname, '..', 'deployments');
  fs.mkdirSync(outDir, { recursive: true });
  const out = path.join(outDir, `${hre.network.name}.json`);
  fs.writeFileSync(out, JSON.stringify(record, null, 2) + '\n');
  for (const [name, c] of Object.entries(record.contracts)) console.log(`${name} ${c.address}`);
  console.log(`wrote ${out}`);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err.message);
    process.exitCode = 1;
  });
}

module.exports = { deployManifest, makeResolver, MANIFEST };
