#!/usr/bin/env node
'use strict';
// The `fabric` command: runs the compiled CLI (built by `npm ci` through the `prepare` script).
const path = require('path');
const fs = require('fs');
const entry = path.join(__dirname, '..', 'dist', 'cli', 'main.js');
if (!fs.existsSync(entry)) {
  process.stderr.write('fabric: not built yet; run `npm run build` (npm ci does it) first\n');
  process.exit(2);
}
require(entry).run(process.argv.slice(2)).then((code) => { process.exitCode = code; });
