#!/usr/bin/env node
'use strict';
// The `sentia-mcp` command (package.json "bin"): runs the built CLI (npm run build first).
const { main } = require('../dist/src/cli/main.js');

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Everything is closed by now; a stray handle must not keep the command alive.
    setTimeout(() => process.exit(code), 5000).unref();
  },
  (err) => {
    process.stderr.write(`sentia-mcp: ${(err && err.message) || err}\n`);
    process.exit(1);
  },
);
