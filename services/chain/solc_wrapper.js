#!/usr/bin/env node
// Makes the npm solcjs compiler behave like the native `solc` binary for the
// few options py-solc-x uses: --version, --standard-json, --combined-json.
'use strict';
const fs = require('fs');
const path = require('path');

const solcDir = process.env.GAKA_SOLCJS_DIR;
const solc = require(solcDir ? path.resolve(solcDir) : 'solc');

function parseArgs(argv) {
  const opts = { basePath: null, includePaths: [], files: [], combined: null, standard: false,
                 version: false, optimize: false, optimizeRuns: 200, evmVersion: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    if (a === '--version') opts.version = true;
    else if (a === '--standard-json') opts.standard = true;
    else if (a === '--combined-json') opts.combined = next().split(',');
    else if (a === '--base-path') opts.basePath = next();
    else if (a === '--include-path') opts.includePaths.push(next());
    else if (a === '--allow-paths') next();
    else if (a === '--optimize') opts.optimize = true;
    else if (a === '--optimize-runs') opts.optimizeRuns = parseInt(next(), 10);
    else if (a === '--evm-version') opts.evmVersion = next();
    else if (a.startsWith('--')) { /* options without effect on solcjs output */ }
    else if (a.includes('=')) { /* import remappings are not supported */ }
    else opts.files.push(a);
  }
  return opts;
}

function importResolver(opts) {
  const roots = [opts.basePath || process.cwd(), ...opts.includePaths];
  // node_modules next to the project and next to solc itself resolve package imports.
  for (let dir = path.resolve(roots[0]); ; dir = path.dirname(dir)) {
    roots.push(path.join(dir, 'node_modules'));
    if (path.dirname(dir) === dir) break;
  }
  return (importPath) => {
    const candidates = path.isAbsolute(importPath) ? [importPath]
      : roots.map((r) => path.join(r, importPath));
    for (const c of candidates) {
      if (fs.existsSync(c) && fs.statSync(c).isFile()) return { contents: fs.readFileSync(c, 'utf8') };
    }
    return { error: `File not found: ${importPath} (searched ${roots.join(', ')})` };
  };
}

function writeAndExit(text, code) {
  // Exiting right after a large write to a pipe truncates it: exit in the callback.
  process.stdout.write(text + '\n', () => process.exit(code));
}

function versionText() {
  return 'solc, the solidity compiler commandline interface\nVersion: ' + solc.version();
}

function standardJson(opts) {
  const input = fs.readFileSync(0, 'utf8');
  const out = solc.compile(input, { import: importResolver(opts) });
  writeAndExit(out, 0);
}

function combinedJson(opts) {
  const sources = {};
  for (const f of opts.files) sources[f] = { content: fs.readFileSync(f, 'utf8') };
  const wanted = new Set(opts.combined);
  const select = ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object', 'metadata'];
  if (wanted.has('bin-runtime')) select.push('evm.deployedBytecode.object');
  if (wanted.has('hashes')) select.push('evm.methodIdentifiers');
  const settings = { outputSelection: { '*': { '*': select } },
                     optimizer: { enabled: opts.optimize, runs: opts.optimizeRuns } };
  if (opts.evmVersion) settings.evmVersion = opts.evmVersion;
  const result = JSON.parse(solc.compile(JSON.stringify({ language: 'Solidity', sources, settings }),
                                         { import: importResolver(opts) }));
  const errors = (result.errors || []).filter((e) => e.severity === 'error');
  if (errors.length) {
    process.stderr.write(errors.map((e) => e.formattedMessage).join('\n') + '\n');
    process.exit(1);
  }
  const contracts = {};
  for (const [file, byName] of Object.entries(result.contracts || {})) {
    for (const [name, c] of Object.entries(byName)) {
      const entry = {};
      if (wanted.has('abi')) entry.abi = c.abi;
      if (wanted.has('bin')) entry.bin = c.evm.bytecode.object;
      if (wanted.has('bin-runtime')) entry['bin-runtime'] = c.evm.deployedBytecode.object;
      if (wanted.has('metadata')) entry.metadata = c.metadata;
      if (wanted.has('hashes')) entry.hashes = c.evm.methodIdentifiers;
      contracts[`${file}:${name}`] = entry;
    }
  }
  writeAndExit(JSON.stringify({ contracts, version: solc.version() }), 0);
}

const opts = parseArgs(process.argv.slice(2));
if (opts.version) writeAndExit(versionText(), 0);
else if (opts.standard) standardJson(opts);
else if (opts.combined) combinedJson(opts);
else {
  process.stderr.write('solc wrapper: use --version, --standard-json or --combined-json\n');
  process.exit(1);
}
