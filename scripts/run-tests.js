#!/usr/bin/env node
// Runs every test tier once and ends with the line CI reads:
//   "N passed, N failed"
// and exits non-zero when any test failed or a suite could not run.
//
// A full run (no arguments) also captures every e2e app's logs and audit rows
// and every secret the tests know of (test/support/capture.ts), then runs the
// whole-run secret sweep over that capture (test/sweep/) as a second jest run
// whose results count in the same line. A partial run (`npm test -- path`)
// captures nothing: a sweep over part of the suite could not tell a broken
// capture from a small one.
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

const extraArgs = process.argv.slice(2);
const fullRun = extraArgs.length === 0;
const dir = mkdtempSync(join(tmpdir(), 'sentia-jest-'));
// mkdtemp makes it mode 0700: the capture holds the run's secrets in plain text.
const capture = fullRun ? mkdtempSync(join(tmpdir(), 'sentia-capture-')) : undefined;
const env = { ...process.env };
if (capture) env.SENTIA_TEST_CAPTURE_DIR = capture;
else delete env.SENTIA_TEST_CAPTURE_DIR;

/** One jest invocation; its counts, read from jest's JSON report. */
function runJest(name, args) {
  const out = join(dir, `${name}.json`);
  const jestArgs = [require.resolve('jest/bin/jest'), '--ci', '--forceExit', '--json', `--outputFile=${out}`];
  const run = spawnSync(process.execPath, [...jestArgs, ...args], { stdio: 'inherit', env });
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
    console.error(`could not read jest results (${name}): ${e.message}`);
    suiteErrors = 1;
  }
  if (suiteErrors > 0) console.error(`${suiteErrors} test suite(s) failed to run (${name})`);
  const ok = run.status === 0 && failed === 0 && suiteErrors === 0 && passed > 0;
  // A run that failed without a failing test (a suite that crashed, no tests) still counts as a failure.
  return { passed, failed: ok ? 0 : Math.max(1, failed + suiteErrors) };
}

const runs = [runJest('main', extraArgs)];
if (fullRun)
  runs.push(runJest('sweep', ['--config', join(__dirname, '..', 'test', 'sweep', 'jest.config.js')]));

rmSync(dir, { recursive: true, force: true });
if (capture && process.env.SENTIA_TEST_KEEP_CAPTURE) console.error(`capture kept in ${capture}`);
else if (capture) rmSync(capture, { recursive: true, force: true });

const passed = runs.reduce((n, r) => n + r.passed, 0);
const failed = runs.reduce((n, r) => n + r.failed, 0);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
