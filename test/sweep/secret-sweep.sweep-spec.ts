/**
 * Issue 4: no secret or token appears in any audit row or log line, checked
 * over a whole e2e run. scripts/run-tests.js runs this after a full `npm test`
 * over the capture that run left in SENTIA_TEST_CAPTURE_DIR (see
 * test/support/capture.ts); it is not part of the normal jest projects.
 */
import { CAPTURE_ENV } from '../support/capture';
import { Capture, countField, lineCount, readCapture } from './capture-reader';
import {
  describeFindings,
  excerpt,
  findBearerTokens,
  Finder,
  findJwts,
  Haystack,
  SecretIndex,
  sweep,
} from './leak-detectors';

/**
 * About half of what a full run captures (measured: 27 apps, ~2,300 app log
 * lines, 30 tool_execution and ~640 api_call lines, audit rows 29 tool_call /
 * 530 admin / 128 auth / 20 security, 6 spawned servers, ~90 secrets). Below
 * these, logging, the audit dump or the registry broke: that is a failure too,
 * since a sweep over an empty capture would prove nothing.
 */
const AT_LEAST = {
  appsWithLogs: 15,
  appLogLines: 1_200,
  toolExecutionLines: 15,
  accessLogLines: 300,
  auditRows: { tool_call: 15, admin: 250, auth: 60, security: 10 },
  spawnedOutputs: 3,
  registeredSecrets: 45,
};

describe('whole-run secret sweep', () => {
  let capture: Capture;
  let everything: Haystack[];
  let index: SecretIndex;

  beforeAll(() => {
    const root = process.env[CAPTURE_ENV];
    if (!root) throw new Error(`${CAPTURE_ENV} is not set: the sweep runs after a full "npm test"`);
    capture = readCapture(root);
    everything = [...capture.appLogs, ...capture.spawnedLogs, ...capture.audit];
    index = new SecretIndex(capture.secrets);
    console.log(
      `secret sweep: ${lineCount(capture.appLogs)} app log lines from ${capture.appsWithLogs} apps, ` +
        `${lineCount(capture.spawnedLogs)} lines from ${capture.spawnedLogs.length} spawned servers, ` +
        `${lineCount(capture.audit)} audit rows; ${index.secretCount} registered secrets ` +
        `(${index.needleCount} forms)` +
        (capture.auditDumpErrors.length
          ? `; audit dumps that failed: ${capture.auditDumpErrors.join(', ')}`
          : ''),
    );
  });

  it('the capture is real: many apps, tool-call and access lines, audit rows of each kind, secrets', () => {
    const events = countField(capture.appLogs, 'event');
    const kinds = countField(capture.audit, 'kind');
    const seen: Record<string, [number, number]> = {
      'apps with logs': [capture.appsWithLogs, AT_LEAST.appsWithLogs],
      'app log lines': [lineCount(capture.appLogs), AT_LEAST.appLogLines],
      'tool_execution log lines': [events.get('tool_execution') ?? 0, AT_LEAST.toolExecutionLines],
      'api_call (access) log lines': [events.get('api_call') ?? 0, AT_LEAST.accessLogLines],
      'spawned server outputs': [capture.spawnedLogs.length, AT_LEAST.spawnedOutputs],
      'registered secrets': [index.secretCount, AT_LEAST.registeredSecrets],
    };
    for (const [kind, min] of Object.entries(AT_LEAST.auditRows))
      seen[`audit rows of kind ${kind}`] = [kinds.get(kind) ?? 0, min];
    const short = Object.entries(seen)
      .filter(([, [n, min]]) => n < min)
      .map(([what, [n, min]]) => `${what}: ${n} (expected at least ${min})`);
    expect(short).toEqual([]);
  });

  it('no registered secret appears in any captured log line or audit row', () => {
    const findings = sweep(everything, index.find);
    if (findings.length > 0) throw new Error(describeFindings(findings));
  });

  it('no JWT-shaped string appears in any captured log line or audit row', () => {
    const findings = sweep(everything, findJwts);
    if (findings.length > 0) throw new Error(describeFindings(findings));
  });

  it('no "Bearer <token>" appears in any captured log line or audit row', () => {
    const findings = sweep(everything, findBearerTokens);
    if (findings.length > 0) throw new Error(describeFindings(findings));
  });

  it('the detectors find planted leaks and pass what the logger writes instead', () => {
    // The first TestKey token of the run, planted as the logger would write it if redaction failed.
    const token = capture.secrets.find((s) => s.source === 'TestKey token')?.value;
    expect(token).toMatch(/^eyJ/);
    const secret = token!;
    const planted: Haystack = {
      file: 'planted.log',
      lines: [
        JSON.stringify({ message: 'raw', token: secret }),
        JSON.stringify({ message: 'base64', blob: Buffer.from(secret).toString('base64') }),
        JSON.stringify({ message: 'signature only', sig: secret.split('.')[2] }),
        JSON.stringify({ headers: { authorization: `Bearer ${secret}` } }),
        JSON.stringify({ message: 'other token', t: 'xeyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln' }),
        JSON.stringify({ message: 'basic-looking bearer', h: 'Bearer dXNlcjpwYXNzd29yZA==' }),
      ],
    };
    const clean: Haystack = {
      file: 'clean.log',
      lines: [
        JSON.stringify({ message: 'redacted', authorization: '[REDACTED]', t: '[REDACTED_JWT]' }),
        JSON.stringify({ message: 'Bearer [REDACTED] was refused' }),
        JSON.stringify({ header: 'Bearer realm="sentia", error="invalid_token"' }),
        JSON.stringify({ header: 'Bearer resource_metadata="https://mcp.e2e.test/.well-known/x"' }),
        JSON.stringify({ message: 'Bearer authentication required', keyId: 'key_6NsO51SMoPvhzHtXD6zVkQ' }),
      ],
    };
    const lines = (finder: Finder, h: Haystack) => sweep([h], finder).map((f) => f.line);
    expect(new Set(lines(index.find, planted))).toEqual(new Set([1, 2, 3, 4]));
    expect(new Set(lines(findJwts, planted))).toEqual(new Set([1, 4, 5]));
    expect(new Set(lines(findBearerTokens, planted))).toEqual(new Set([4, 6]));
    for (const finder of [index.find, findJwts, findBearerTokens]) expect(lines(finder, clean)).toEqual([]);

    // A failure message names the file and line but never holds the secret, or its signature, whole.
    const message = describeFindings(sweep([planted], index.find));
    expect(message).toContain('planted.log:1 registered secret (TestKey token');
    expect(message).not.toContain(secret);
    expect(message).not.toContain(secret.split('.')[2]);
    expect(excerpt(planted.lines[0], { start: 0, length: 5, what: 'x' })).toContain('(5 chars)');
  });
});
