#!/usr/bin/env node
// Runs every test tier once and ends with the line CI reads:
//   "N passed, N failed"
// and exits non-zero when any test failed or a suite could not run.
'use strict';
const { spawnSync } = require('node:child_process');
const { mkdtempSync, readFileSync, rmSync } = require('node:fs');
const { join } = require('node:path');
const { tmpdir } = require('node:os');

// The e2e tier also starts the built server (dist/), as `npm start` does; building
// first doubles as the type check.
const build = spawnSync(
  process.execPath,
  [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
  {
    stdio: 'inherit',
  },
);
if (build.status !== 0) {
  console.error('build (tsc -p tsconfig.build.json) failed');
  console.log('0 passed, 1 failed');
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), 'sentia-jest-'));
const out = join(dir, 'results.json');
const args = [
  require.resolve('jest/bin/jest'),
  '--ci',
  '--forceExit',
  '--json',
  `--outputFile=${out}`,
  ...process.argv.slice(2),
];
const run = spawnSync(process.execPath, args, { stdio: 'inherit', env: process.env });

let passed = 0;
let failed = 0;
let suiteErrors = 0;
try {
  const r = JSON.parse(readFileSync(out, 'utf8'));
  passed = r.numPassedTests;
  failed = r.numFailedTests;
  suiteErrors =
    r.numRuntimeErrorTestSuites +
    (r.testResults || []).filter((t) => t.status === 'failed' && t.assertionResults.length === 0).length;
} catch (e) {
  console.error(`could not read jest results: ${e.message}`);
  suiteErrors = 1;
}
rmSync(dir, { recursive: true, force: true });
if (suiteErrors > 0) console.error(`${suiteErrors} test suite(s) failed to run`);
const ok = run.status === 0 && failed === 0 && suiteErrors === 0 && passed > 0;
// A run that failed without a failing test (a suite that crashed, no tests) still counts as a failure.
const failedCount = ok ? 0 : Math.max(1, failed + suiteErrors);
console.log(`${passed} passed, ${failedCount} failed`);
process.exit(ok ? 0 : 1);
