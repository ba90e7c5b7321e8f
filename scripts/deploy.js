// Deploys contracts/deploy.json with Hardhat: `npx hardhat run scripts/deploy.js --network X`.
// Same manifest, reference rules and record as `gaka chain deploy`: deployments/<network>.json
// is rewritten atomically before every transaction (pending, with its pinned nonce) and after
// it, contracts that are live and unchanged are kept, and a pending transaction left by an
// interrupted run (of either tool) is settled on chain before anything is sent again.
const { spawn } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
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

const sha256 = (data) => crypto.createHash('sha256').update(data).digest('hex');
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/** Writes the record atomically and durably: a reader sees the old file or the new one, never
 * a mix, and the rename survives a power cut (the folder is fsynced, as gaka.files does). */
function writeRecord(file, record) {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = fs.openSync(tmp, 'w');
  fs.writeSync(fd, JSON.stringify(record, null, 2) + '\n');
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
  const dirFd = fs.openSync(dir, 'r');
  fs.fsyncSync(dirFd);
  fs.closeSync(dirFd);
}

/**
 * Takes the record's lock, the very flock(2) lock `gaka chain deploy` takes on
 * `.<record>.lock`, so one deploy per record runs at a time whichever tool starts it. Node has
 * no flock, so util-linux `flock` holds it for us around `cat`, which reads our pipe: the lock
 * ends when we close the pipe, or when this process dies in any way (the pipe closes with it).
 * Resolves to the function that releases it.
 */
function lockRecord(file) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const lockPath = path.join(path.dirname(file), `.${path.basename(file)}.lock`);
  const holder = spawn('flock', ['--nonblock', '--conflict-exit-code', '75', lockPath,
    'sh', '-c', 'echo locked; exec cat >/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    holder.on('error', (err) => reject(new Error(`cannot lock ${lockPath}: ${err.message}`)));
    holder.on('exit', (code) => reject(code === 75
      ? new Error(`another deploy is writing ${file}; wait for it`)
      : new Error(`cannot lock ${lockPath}: flock exited with ${code}`)));
    holder.stdout.once('data', () => {
      holder.removeAllListeners('exit');
      holder.unref();
      resolve(() => holder.stdin.end());
    });
  });
}

/** Where `gaka chain deploy` keeps its records, read from the same GAKA_* variables (the
 * TOML file is Python's: set GAKA_DEPLOYMENTS_DIR or GAKA_DATA_DIR to follow it). */
function deploymentsDir(env = process.env) {
  if (env.GAKA_DEPLOYMENTS_DIR) return path.resolve(env.GAKA_DEPLOYMENTS_DIR);
  const dataHome = env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share');
  return path.join(path.resolve(env.GAKA_DATA_DIR || path.join(dataHome, 'gaka')), 'deployments');
}

/** The mined transaction of `sender` with `nonce`, searched from block `from` on. */
async function findByNonce(provider, sender, nonce, from) {
  const head = await provider.getBlockNumber();
  for (let n = from; n <= head; n++) {
    const block = await provider.getBlock(n, true);
    const tx = block.prefetchedTransactions.find(
      (t) => t.from.toLowerCase() === sender.toLowerCase() && t.nonce === nonce);
    if (tx) return provider.getTransactionReceipt(tx.hash);
  }
  throw new Error(`nonce ${nonce} of ${sender} is used but its transaction was not found`);
}

/** The receipt of a journaled transaction (mined now if need be), or null if it never will be. */
async function settle(provider, pending) {
  const mined = await provider.getTransactionCount(pending.sender, 'latest');
  if (pending.tx_hash) {
    const receipt = await provider.getTransactionReceipt(pending.tx_hash);
    if (receipt) return receipt;
  }
  if (mined > pending.nonce) {
    if (pending.tx_hash) return null; // its nonce went to another transaction
    return findByNonce(provider, pending.sender, pending.nonce, pending.block || 0);
  }
  if (pending.raw_tx) {
    try {
      await provider.broadcastTransaction(pending.raw_tx);
      return provider.waitForTransaction(pending.tx_hash);
    } catch (err) {
      if (/already known|already imported|known transaction/i.test(err.message)) {
        return provider.waitForTransaction(pending.tx_hash);
      }
    }
  }
  if (pending.tx_hash && (await provider.getTransaction(pending.tx_hash))) {
    return provider.waitForTransaction(pending.tx_hash); // still waiting in the mempool
  }
  // Unidentified, unmined: if the node's pool holds a transaction with this nonce it may be
  // ours, and sending again would pay twice.
  if ((await provider.getTransactionCount(pending.sender, 'pending')) > pending.nonce) {
    throw new Error(`nonce ${pending.nonce} of ${pending.sender} belongs to a transaction still ` +
                    'waiting to be mined; rerun once it is mined');
  }
  return null; // never reached the node: send it again
}

function compilerVersion() {
  return require('solc').version().replace(/\.Emscripten.*$/, '');
}

/**
 * Deploys every manifest contract in order, then runs the setup calls; returns the record.
 * With `recordPath`, the record there is read first and kept current after every step.
 */
async function deployManifest(hre, manifest, { robotAddress, recordPath } = {}) {
  const { ethers } = hre;
  const { provider } = ethers;
  const signers = await ethers.getSigners();
  if (signers.length === 0) throw new Error(`no signer configured for network ${hre.network.name}`);
  const deployer = signers[0];
  let robot = signers.length > 1 ? signers[1] : deployer;
  if (robotAddress) {
    robot = signers.find((s) => s.address.toLowerCase() === robotAddress.toLowerCase());
    if (!robot) throw new Error(`no signer for robot ${robotAddress}`);
  }
  const chainId = Number((await provider.getNetwork()).chainId);
  let previous = recordPath && fs.existsSync(recordPath)
    ? JSON.parse(fs.readFileSync(recordPath, 'utf8')) : null;
  if (previous && previous.chain_id !== chainId) previous = null;
  const record = {
    network: hre.network.name,
    chain_id: chainId,
    deployer: deployer.address,
    robot: robot.address,
    compiler: compilerVersion(),
    contracts: previous ? previous.contracts : {},
    setup: previous ? previous.setup : [],
    pending: previous ? previous.pending : null,
  };
  const save = () => recordPath && writeRecord(recordPath, record);
  const accounts = { deployer, robot };
  const addresses = {};
  const resolve = makeResolver(ethers, accounts, addresses);

  const done = (kind, name, entry, receipt) => {
    const hash = receipt.hash;
    if (kind === 'contract') {
      record.contracts[name] = {
        address: receipt.contractAddress, tx_hash: hash, block: receipt.blockNumber,
        gas_used: Number(receipt.gasUsed), ...entry,
      };
    } else {
      record.setup.push({ ...entry, tx_hash: hash });
    }
    record.pending = null;
    save();
  };

  /** Journals, sends with the journaled nonce, records the hash, waits, records the result. */
  const send = async (kind, name, entry, signer, makeTx) => {
    const nonce = await provider.getTransactionCount(signer.address, 'pending');
    record.pending = { kind, name, entry, sender: signer.address, nonce,
                       block: await provider.getBlockNumber(), tx_hash: null, raw_tx: null };
    save();
    const tx = await makeTx({ nonce });
    record.pending.tx_hash = tx.hash;
    save();
    const receipt = await tx.wait();
    done(kind, name, entry, receipt);
    return receipt;
  };

  if (record.pending) {
    const { kind, name, entry } = record.pending;
    const receipt = await settle(provider, record.pending);
    if (receipt && receipt.status === 1) {
      done(kind, name, entry, receipt);
    } else {
      record.pending = null;
      save();
    }
  }

  const redeployed = [];
  for (const item of manifest.contracts) {
    const args = resolve(item.args || []);
    const artifact = await hre.artifacts.readArtifact(item.name);
    const source = fs.readFileSync(path.join(hre.config.paths.root, artifact.sourceName));
    const entry = {
      source: artifact.sourceName,
      source_hash: sha256(source),
      bytecode_hash: sha256(Buffer.from(artifact.bytecode.slice(2), 'hex')),
      args,
    };
    const old = record.contracts[item.name];
    const live = old && old.bytecode_hash === entry.bytecode_hash && same(old.args, args)
      && (await provider.getCode(old.address)) !== '0x';
    if (!live) {
      const factory = await ethers.getContractFactory(item.name, deployer);
      await send('contract', item.name, entry, deployer,
                 (overrides) => factory.deploy(...args, overrides).then((c) => c.deploymentTransaction()));
      redeployed.push(item.name);
    }
    addresses[item.name] = record.contracts[item.name].address;
  }

  const wanted = [];
  for (const step of manifest.setup || []) {
    if (!(step.contract in addresses)) throw new Error(`setup names undeployed ${step.contract}`);
    const from = accounts[step.from || 'deployer'];
    if (!from) throw new Error(`setup 'from' must be deployer or robot, not ${step.from}`);
    const entry = { contract: step.contract, address: addresses[step.contract],
                    function: step.function, args: resolve(step.args || []), sender: from.address };
    const matches = (s) => s.contract === entry.contract && s.address === entry.address
      && s.function === entry.function && same(s.args, entry.args) && s.sender === entry.sender;
    if (!record.setup.some(matches)) {
      const contract = await ethers.getContractAt(step.contract, entry.address, from);
      await send('setup', step.contract, entry, from,
                 (overrides) => contract[step.function](...entry.args, overrides));
    }
    wanted.push(record.setup.find(matches));
  }

  // Forget what the manifest no longer lists, now that nothing is left to resume.
  record.contracts = Object.fromEntries(Object.keys(addresses).map((n) => [n, record.contracts[n]]));
  record.setup = wanted;
  save();
  return { ...record, redeployed };
}

async function main() {
  const hre = require('hardhat');
  const manifest = JSON.parse(fs.readFileSync(MANIFEST, 'utf8'));
  const out = path.join(deploymentsDir(), `${hre.network.name}.json`);
  const unlock = await lockRecord(out);
  let record;
  try {
    record = await deployManifest(hre, manifest, {
      robotAddress: process.env.GAKA_ROBOT_ADDRESS, recordPath: out,
    });
  } finally {
    unlock();
  }
  for (const [name, c] of Object.entries(record.contracts)) console.log(`${name} ${c.address}`);
  console.log(`redeployed: ${record.redeployed.join(' ') || 'nothing'}`);
  console.log(`wrote ${out}`);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(`error: ${err.message}`);
    process.exitCode = 1;
  });
}

module.exports = { deployManifest, deploymentsDir, lockRecord, makeResolver, MANIFEST };
