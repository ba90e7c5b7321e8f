// Preloaded into `hardhat run` by the tests (NODE_OPTIONS=--require): SIGKILLs the process
// right after its N-th transaction was handed to the node (GAKA_TEST_KILL_AFTER_SEND=N),
// before the deploy script can record the transaction's hash.
const Module = require('module');

const nth = Number(process.env.GAKA_TEST_KILL_AFTER_SEND);
let sent = 0;
const load = Module._load;
Module._load = function patched(request, ...rest) {
  const exported = load.call(this, request, ...rest);
  const isSigners = exported && typeof exported === 'object'
    && Object.keys(exported).includes('HardhatEthersSigner');
  if (isSigners && !exported.__killPatched) {
    const proto = exported.HardhatEthersSigner.prototype;
    const send = proto.sendTransaction;
    proto.sendTransaction = async function sendThenDie(tx) {
      const response = await send.call(this, tx);
      sent += 1;
      if (sent === nth) process.kill(process.pid, 'SIGKILL');
      return response;
    };
    exported.__killPatched = true;
  }
  return exported;
};
