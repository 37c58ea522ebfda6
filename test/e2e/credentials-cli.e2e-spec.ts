/**
 * `sentia-mcp credentials rotate-key` on a real installation: credentials
 * stored under master key A, B added first in the configuration, the command
 * re-wraps everything under B and reports none left on old keys.
 */
import { main } from '../../src/cli/main';
import { CredentialsService } from '../../src/credentials/credentials.service';
import { registerSecret } from '../support/capture';
import { startApp, StartedApp } from '../support/start-app';

const A = `mk-a:${'a1'.repeat(32)}`;
const B = `mk-b:${'b2'.repeat(32)}`;
const OPENAI_SECRET = 'sk-test-openai-secret-1';
const ANTHROPIC_SECRET = 'sk-ant-secret-2';
// The whole-run sweep (test/sweep/) looks for these in every app's logs and audit rows (A is
// registered by startApp, which gets it in its environment; B only ever reaches the CLI).
registerSecret(OPENAI_SECRET, 'credentials-cli plaintext');
registerSecret(ANTHROPIC_SECRET, 'credentials-cli plaintext');
registerSecret(B.slice(B.indexOf(':') + 1), 'credentials-cli master key B');
const principal = { keyId: 'k1', userId: 'u1', organizationId: 'org-rot', permissions: ['admin'] };

describe('sentia-mcp credentials rotate-key', () => {
  let started: StartedApp;

  async function cli(keys: string, ...argv: string[]) {
    let out = '';
    let err = '';
    const env = {
      NODE_ENV: 'test',
      DATA_DIR: started.config.dataDir,
      LOG_LEVEL: 'error',
      MASTER_ENCRYPTION_KEYS: keys,
    };
    const code = await main(argv, env, { out: (t) => void (out += t), err: (t) => void (err += t) });
    return { code, out, err };
  }

  beforeAll(async () => {
    started = await startApp({ MASTER_ENCRYPTION_KEYS: A });
    const creds = started.app.get(CredentialsService);
    await creds.put(principal, 'openai', { apiKey: OPENAI_SECRET });
    await creds.put(principal, 'anthropic', { apiKey: ANTHROPIC_SECRET });
  });
  afterAll(async () => started?.close());

  it('re-wraps every record under the new first key and reports 0 remaining', async () => {
    const before = await cli(`${B},${A}`, 'credentials', 'rotate-key', '--status', '--json');
    expect(before.err).toBe('');
    expect(before.code).toBe(0);
    expect(before.out).toContain('mk-a');

    const run = await cli(`${B},${A}`, 'credentials', 'rotate-key', '--json');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.out)).toMatchObject({
      currentKeyId: 'mk-b',
      rewrapped: 2,
      remainingOnOldKeys: 0,
      failures: [],
    });
    expect(run.out + run.err).not.toContain(OPENAI_SECRET);

    // With A removed from the configuration, a fresh process still reads everything.
    const after = await cli(B, 'credentials', 'rotate-key', '--status', '--json');
    expect(after.code).toBe(0);
    expect(after.out).not.toContain('mk-a');
  });

  it('refuses unknown subcommands and bad flags (exit 2)', async () => {
    const bad = await cli(A, 'credentials', 'rotate');
    expect(bad.err).toContain('unknown subcommand');
    expect(bad.code).toBe(2);
    const lots = await cli(A, 'credentials', 'rotate-key', '--batch-size', 'lots');
    // Like every command's usage error: on stderr, stdout left for results.
    expect([lots.code, lots.out]).toEqual([2, '']);
    expect(lots.err).toContain('--batch-size needs a positive integer');
    expect(lots.err).toContain('Usage: sentia-mcp credentials rotate-key');
    // With --json, one JSON line on stderr, as every command's failure.
    const json = await cli(A, 'credentials', 'rotate-key', '--batch-size', '0', '--json');
    expect([json.code, json.out]).toEqual([2, '']);
    expect(JSON.parse(json.err)).toEqual({
      error: { code: 'usage', message: 'credentials rotate-key: --batch-size needs a positive integer' },
    });
  });
});
