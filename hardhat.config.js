// Hardhat 2 over the same contracts/ as the Python toolchain, compiled offline
// with the npm solcjs build (no compiler download).
require('@nomicfoundation/hardhat-ethers');
require('@nomicfoundation/hardhat-chai-matchers');
const fs = require('fs');
const path = require('path');
const { subtask } = require('hardhat/config');
const { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } = require('hardhat/builtin-tasks/task-names');

const compiler = JSON.parse(fs.readFileSync(path.join(__dirname, 'contracts', 'compiler.json')));

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args, hre, runSuper) => {
  if (args.solcVersion !== compiler.version) return runSuper();
  const solcPkg = require('solc/package.json');
  return {
    compilerPath: require.resolve('solc/soljson.js'),
    isSolcJs: true,
    version: args.solcVersion,
    longVersion: `${solcPkg.version}`,
  };
});

// Sepolia signer: decrypted from the same encrypted keystore the Python CLI uses,
// only when the sepolia network is selected; no plain private key in env or files.
function sepoliaAccounts() {
  const selected = process.env.HARDHAT_NETWORK === 'sepolia' || process.argv.includes('sepolia');
  if (!selected) return [];
  const keystore = process.env.GAKA_KEYSTORE;
  if (!keystore) throw new Error('set GAKA_KEYSTORE to an encrypted keystore file for sepolia');
  let password = process.env.GAKA_KEYSTORE_PASSWORD;
  if (!password && process.env.GAKA_KEYSTORE_PASSWORD_FILE) {
    password = fs.readFileSync(process.env.GAKA_KEYSTORE_PASSWORD_FILE, 'utf8').trim();
  }
  if (!password) throw new Error('set GAKA_KEYSTORE_PASSWORD or GAKA_KEYSTORE_PASSWORD_FILE');
  const { Wallet } = require('ethers');
  return [Wallet.fromEncryptedJsonSync(fs.readFileSync(keystore, 'utf8'), password).privateKey];
}

/** @type import('hardhat/config').HardhatUserConfig */
module.exports = {
  solidity: { version: compiler.version, settings: compiler.settings },
  paths: { sources: './contracts', tests: './test', cache: './cache', artifacts: './artifacts' },
  networks: {
    hardhat: { hardfork: compiler.settings.evmVersion, chainId: 31337 },
    localhost: { url: process.env.GAKA_LOCALHOST_RPC_URL || 'http://127.0.0.1:8545' },
    sepolia: {
      url: process.env.GAKA_SEPOLIA_RPC_URL || 'http://127.0.0.1:1',
      chainId: 11155111,
      accounts: sepoliaAccounts(),
    },
  },
  mocha: { timeout: 120000 },
};
