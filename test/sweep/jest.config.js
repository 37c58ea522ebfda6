// The whole-run secret sweep: run by scripts/run-tests.js after a full run, over
// the capture that run left in SENTIA_TEST_CAPTURE_DIR (see test/support/capture.ts).
// Its spec name (*.sweep-spec.ts) matches no project of the main jest.config.js,
// so a normal run never picks it up.
const { transform } = require('../../jest.config.js');

module.exports = {
  rootDir: '../..',
  displayName: 'sweep',
  transform,
  testEnvironment: 'node',
  moduleFileExtensions: ['ts', 'js', 'json'],
  testMatch: ['<rootDir>/test/sweep/**/*.sweep-spec.ts'],
};
