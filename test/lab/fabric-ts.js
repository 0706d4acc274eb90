'use strict';
// `fabric controller ARGS...` from the TypeScript source, for tests that run `fabric lab up --controller`
// in process (test/support/cli.ts) without a build: `lab up` starts its controllers with
// `node $FABRIC_BIN controller ...`. Uses the store tests' runner (swc on require) and entry.
const path = require('path');
const support = path.join(__dirname, '..', 'store', 'support');
if (process.argv[2] !== 'controller') {
  process.stderr.write(`fabric-ts.js: only \`controller\` runs from the source here, not ${process.argv[2]}\n`);
  process.exit(2);
}
// run-ts.js requires argv[2]; controller-main.ts reads argv from index 3 on ('controller', FILE, ...)
process.argv.splice(2, 0, path.join(support, 'controller-main.ts'));
require(path.join(support, 'run-ts.js'));
