#!/usr/bin/env bash
# Static analysis of contracts/ with slither, in its own virtualenv (slither pins web3<8, the
# project needs web3 8). Runs on the Hardhat build, so no compiler download is needed.
# Exit status is non-zero on any high or medium finding; the few accepted ones are silenced at
# their line with a `slither-disable-next-line` comment that says why.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv-slither
SLITHER_VERSION=0.11.3

if ! "$VENV/bin/slither" --version 2>/dev/null | grep -qx "$SLITHER_VERSION"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "slither-analyzer==$SLITHER_VERSION"
fi

# A fresh Hardhat build in a scratch copy: the shared artifacts/ keeps build-info files of older
# sources, which slither refuses, and cleaning it would break concurrent Hardhat runs.
ROOT=$(pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cp -r contracts hardhat.config.js package.json "$WORK"/
ln -s "$ROOT/node_modules" "$WORK/node_modules"
cd "$WORK"
npx hardhat compile --quiet
# contracts/test holds attacker and helper contracts that are hostile or naive on purpose.
"$ROOT/$VENV/bin/slither" . --hardhat-ignore-compile \
  --filter-paths "node_modules|contracts/test/" \
  --exclude-informational --exclude-low --exclude-optimization \
  --fail-medium "$@"
