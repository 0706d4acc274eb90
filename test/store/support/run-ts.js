'use strict';
// Runs a TypeScript entry in a child process (tests that must kill -9 a controller): .ts files are
// transpiled on require by @swc/core, as jest's @swc/jest does. Usage: node run-ts.js ENTRY.ts ARGS...
const fs = require('fs');
const { transformSync } = require('@swc/core');
require.extensions['.ts'] = function compileTs(module, filename) {
  const out = transformSync(fs.readFileSync(filename, 'utf8'), {
    filename,
    jsc: { target: 'es2022', parser: { syntax: 'typescript' } },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  });
  module._compile(out.code, filename);
};
require(require('path').resolve(process.argv[2]));
