import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { main } from '../../src/cli/main';
import { startApp, StartedApp } from '../support/start-app';
import { bearer, decodePayload } from './auth-helpers';

jest.setTimeout(20_000);

function run(argv: string[], env: Record<string, string>) {
  const out: string[] = [];
  const err: string[] = [];
  return main(argv, env, { out: (t) => void out.push(t), err: (t) => void err.push(t) }).then((code) => ({
    code,
    stdout: out.join(''),
    stderr: err.join(''),
  }));
}

describe('sentia-mcp command line on a fresh install (SQLite, generated secrets)', () => {
  let dataDir: string;
  let env: Record<string, string>;
  let server: StartedApp | undefined;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'sentia-cli-'));
    // No secrets: they are generated into DATA_DIR, as on a first `npm start`. The token's audience
    // is PUBLIC_BASE_URL (by default derived from HOST and PORT), so CLI and server must agree on it.
    env = {
      NODE_ENV: 'development',
      LOG_LEVEL: 'error',
      DATA_DIR: dataDir,
      PUBLIC_BASE_URL: 'http://localhost:3000',
    };
  });

  afterEach(async () => {
    await server?.close();
    server = undefined;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keys create prints only the token; the server started on that DATA_DIR accepts it', async () => {
    const created = await run(
      [
        'keys',
        'create',
        '--org',
        'acme',
        '--name',
        'first admin',
        '--permissions',
        'admin',
        '--expires',
        '30d',
      ],
      env,
    );
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$/);
    const token = created.stdout.trim();
    expect(decodePayload(token)).toMatchObject({ org: 'acme', sub: 'admin', permissions: ['admin'] });
    expect(created.stderr).toContain('shown once');

    server = await startApp({
      DATA_DIR: dataDir,
      NODE_ENV: 'development',
      PUBLIC_BASE_URL: env.PUBLIC_BASE_URL,
    });
    const res = await request(server.url).get('/admin/api-keys').set(bearer(token));
    expect(res.status).toBe(200);
    expect(res.body.items).toEqual([
      expect.objectContaining({ name: 'first admin', createdBy: 'system:cli' }),
    ]);
  });

  it('--json prints the key and token; list and revoke act on the same records', async () => {
    const created = await run(
      [
        'keys',
        'create',
        '--org',
        'acme',
        '--name',
        'ci',
        '--permissions',
        'xero:read,keys:admin',
        '--user',
        'bot',
        '--json',
      ],
      env,
    );
    expect(created.code).toBe(0);
    const body = JSON.parse(created.stdout);
    expect(body.key).toMatchObject({ name: 'ci', userId: 'bot', permissions: ['xero:read', 'keys:admin'] });
    expect(typeof body.token).toBe('string');

    const listed = await run(['keys', 'list', '--org', 'acme', '--json'], env);
    expect(JSON.parse(listed.stdout).map((k: { id: string }) => k.id)).toEqual([body.key.id]);
    expect(JSON.parse((await run(['keys', 'list', '--org', 'other', '--json'], env)).stdout)).toEqual([]);
    expect(listed.stdout).not.toContain(body.token);

    // Another organisation cannot revoke it: "not found", exit 1.
    const foreign = await run(['keys', 'revoke', body.key.id, '--org', 'other'], env);
    expect(foreign).toMatchObject({ code: 1, stdout: '' });
    expect(foreign.stderr).toContain('not found');

    const revoked = await run(['keys', 'revoke', body.key.id, '--org', 'acme', '--reason', 'done'], env);
    // Success reads as success: the command's own line, no "[warn]" from the service it called.
    expect([revoked.code, revoked.stderr]).toEqual([
      0,
      `Revoked API key ${body.key.id} (organisation acme).\n`,
    ]);
    const after = JSON.parse((await run(['keys', 'list', '--org', 'acme', '--json'], env)).stdout);
    expect(after[0]).toMatchObject({ status: 'revoked', revokedReason: 'done' });

    // With --json a failure is one JSON line on stderr whose code tells the cases apart.
    const again = await run(['keys', 'revoke', body.key.id, '--org', 'acme', '--json'], env);
    expect([again.code, again.stdout]).toEqual([1, '']);
    expect(JSON.parse(again.stderr)).toEqual({
      error: { code: 'not_revocable', message: expect.any(String) },
    });
    const gone = await run(['keys', 'revoke', 'key_nope', '--org', 'acme', '--json'], env);
    expect(JSON.parse(gone.stderr)).toMatchObject({ error: { code: 'not_found' } });
    const usage = await run(['keys', 'revoke', '--org', 'acme', '--json'], env);
    expect([usage.code, JSON.parse(usage.stderr).error.code]).toEqual([2, 'usage']);
  });

  it('keys rotate prints only the new token; the old key stops at the end of --grace', async () => {
    const created = JSON.parse(
      (await run(['keys', 'create', '--org', 'acme', '--name', 'r', '--permissions', 'admin', '--json'], env))
        .stdout,
    );
    const before = Date.now();
    const rotated = await run(['keys', 'rotate', created.key.id, '--org', 'acme', '--grace', '3600'], env);
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$/);
    const token = rotated.stdout.trim();
    expect(token).not.toBe(created.token);
    expect(rotated.stderr).toContain(`Rotated ${created.key.id} to `);
    expect(rotated.stderr).not.toContain(token);
    const keys = JSON.parse((await run(['keys', 'list', '--org', 'acme', '--json'], env)).stdout);
    const old = keys.find((k: { id: string }) => k.id === created.key.id);
    const stops = Date.parse(old.revokedAt) - before;
    expect(stops).toBeGreaterThan(3_500_000);
    expect(stops).toBeLessThan(3_700_000);

    // With --json: the new key, the old one and the token, all on stdout.
    const again = await run(
      [
        'keys',
        'rotate',
        keys.find((k: { id: string }) => k.id !== created.key.id).id,
        '--org',
        'acme',
        '--json',
      ],
      env,
    );
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({
      key: { status: 'active' },
      previous: { revokedAt: expect.any(String) },
      token: expect.any(String),
    });
  });

  it('keys create shows the token once, on stdout only; keys list prints one line a key, never a token', async () => {
    const created = await run(
      ['keys', 'create', '--org', 'acme', '--name', 'one', '--permissions', 'admin'],
      env,
    );
    const token = created.stdout.trim();
    expect(created.stderr).not.toContain(token);
    const listed = await run(['keys', 'list', '--org', 'acme'], env);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(
      /^key_\S+ {2}active {3}"one" {2}admin {2}created \S+ {2}expires never {2}last used never\n$/,
    );
    expect(listed.stdout + listed.stderr).not.toContain(token);
    const empty = await run(['keys', 'list', '--org', 'nobody'], env);
    expect([empty.code, empty.stdout, empty.stderr]).toEqual([
      0,
      '',
      'No API keys in organisation nobody.\n',
    ]);
  });

  it('keys list --status and keys revoke --reason act as given: the default reason, a filter, a bounded reason', async () => {
    const a = JSON.parse(
      (await run(['keys', 'create', '--org', 'acme', '--name', 'a', '--permissions', 'admin', '--json'], env))
        .stdout,
    );
    await run(['keys', 'create', '--org', 'acme', '--name', 'b', '--permissions', 'admin'], env);
    for (const reason of ['   ', 'x'.repeat(501)]) {
      const bad = await run(['keys', 'revoke', a.key.id, '--org', 'acme', '--reason', reason], env);
      expect([bad.code, bad.stderr]).toEqual([
        2,
        expect.stringContaining('--reason: must be 1 to 500 characters'),
      ]);
    }
    expect((await run(['keys', 'revoke', a.key.id, '--org', 'acme'], env)).code).toBe(0);
    const revoked = JSON.parse(
      (await run(['keys', 'list', '--org', 'acme', '--status', 'revoked', '--json'], env)).stdout,
    );
    expect(revoked).toEqual([
      expect.objectContaining({ id: a.key.id, revokedReason: 'revoked from the command line' }),
    ]);
    const bad = await run(['keys', 'list', '--org', 'acme', '--status', 'gone'], env);
    expect([bad.code, bad.stderr]).toEqual([2, expect.stringContaining('--status: ')]);
  });

  it('keys list follows the pages past the first 100 keys: every key once, in one list', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 101; i++) {
      const created = await run(
        ['keys', 'create', '--org', 'acme', '--name', `k${i}`, '--permissions', 'xero:read', '--json'],
        env,
      );
      ids.push(JSON.parse(created.stdout).key.id);
    }
    const listed = await run(['keys', 'list', '--org', 'acme', '--json'], env);
    expect(listed.code).toBe(0);
    const got = (JSON.parse(listed.stdout) as Array<{ id: string }>).map((k) => k.id);
    expect(got).toHaveLength(101);
    expect([...got].sort()).toEqual([...ids].sort());
    const lines = await run(['keys', 'list', '--org', 'acme'], env);
    expect(lines.stdout.trimEnd().split('\n')).toHaveLength(101);
  }, 120_000);

  it.each([
    [['keys', 'list', '--org', 'acme corp']],
    [['keys', 'list', '--org', 'acme', '--bogus']],
    [['keys', 'list', '--org', 'acme', 'extra']],
    [['keys', 'revoke', 'key_a', 'key_b', '--org', 'acme']],
    [['keys', 'rotate', 'key_a', '--org', 'acme', '--grace', '-5']],
  ])('usage error %j → exit 2, names the problem', async (argv) => {
    const res = await run(argv, env);
    expect([res.code, res.stdout]).toEqual([2, '']);
    expect(res.stderr).toContain('Run "sentia-mcp help" for usage.');
  });

  it.each([
    [[]],
    [['bogus']],
    [['keys']],
    [['keys', 'create', '--name', 'x', '--permissions', 'admin']],
    [['keys', 'create', '--org', 'acme', '--name', 'x', '--permissions', 'root']],
    [['keys', 'create', '--org', 'acme', '--name', 'x', '--permissions', 'admin', '--expires', 'soon']],
    [['keys', 'create', '--org', 'acme', '--nme', 'x']],
    [['keys', 'revoke', '--org', 'acme']],
    [['migrate', 'now']],
  ])('usage error %j → exit 2, nothing on stdout', async (argv) => {
    const res = await run(argv, env);
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr.length).toBeGreaterThan(0);
  });

  it('names the bad option, and the bad value, in a usage error', async () => {
    const res = await run(
      ['keys', 'create', '--org', 'acme', '--name', 'x', '--permissions', 'root,foo'],
      env,
    );
    // Each bad permission named once, not "--permissions: must be one of ..." twice.
    expect(res.stderr).toMatch(
      /--permissions: "root" is not a permission; use one of: xero:read,[^;]*; --permissions: "foo" is not a permission; use one of: /,
    );
    const grace = await run(['keys', 'rotate', 'key_x', '--org', 'acme', '--grace', 'abc'], env);
    expect([grace.code, grace.stderr]).toEqual([
      2,
      expect.stringContaining('--grace: must be a whole number of seconds (got "abc")'),
    ]);
    const missing = await run(['keys', 'create', '--org', 'acme'], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--name: is required; --permissions: is required');
  });

  it.each([
    [['keys', 'create', '--help'], 'sentia-mcp keys create --org ORG'],
    [['keys', 'list', '-h'], 'sentia-mcp keys list'],
    [['keys', '--help'], 'sentia-mcp keys rotate ID'],
    [['audit', 'verify', '--help'], 'sentia-mcp audit verify'],
    [['migrate', '--help'], 'sentia-mcp migrate'],
    [['credentials', '--help'], 'sentia-mcp credentials rotate-key'],
    // Each option with its default, not only the synopsis.
    [['credentials', 'rotate-key', '--help'], '--batch-size N   records per batch (default 100)'],
    [['keys', 'revoke', '--help'], '--verbose (any keys command)'],
  ])("%j prints that command's usage on stdout and exits 0, touching nothing", async (argv, usage) => {
    const res = await run(argv, env);
    expect([res.code, res.stderr]).toEqual([0, '']);
    expect(res.stdout).toMatch(/^Usage:\n/);
    expect(res.stdout).toContain(usage);
  });

  it('--help lists every command and every exit code', async () => {
    const res = await run(['--help'], env);
    expect([res.code, res.stderr]).toEqual([0, '']);
    for (const text of ['keys create', 'audit verify', 'credentials rotate-key', 'migrate'])
      expect(res.stdout).toContain(`sentia-mcp ${text}`);
    expect(res.stdout).toContain(
      'Exit codes: 0 success, 1 failure, 2 usage error, 3 audit verify or prune could not read',
    );
  });

  it('migrate applies the schema once, then has nothing to do', async () => {
    const first = await run(['migrate'], env);
    expect(first.code).toBe(0);
    expect(first.stderr).toContain('Applied InitialSchema');
    expect((await run(['migrate'], env)).stderr).toContain('No pending migrations');
  });

  it('a database it cannot reach exits 1 with one line saying so: no stack, no password', async () => {
    const unreachable = {
      ...env,
      DATABASE_URL: 'postgres://cli:s3cret-pw@127.0.0.1:1/none',
      DATABASE_SSL: 'false',
    };
    const res = await run(['keys', 'list', '--org', 'acme'], unreachable);
    expect([res.code, res.stdout]).toEqual([1, '']);
    expect(res.stderr).toMatch(/\nsentia-mcp: failed: connect ECONNREFUSED 127\.0\.0\.1:1\n$/);
    expect(res.stderr).not.toMatch(/\n\s+at /);
    expect(res.stderr).not.toContain('s3cret-pw');
    const json = await run(['keys', 'list', '--org', 'acme', '--json'], unreachable);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stderr.trimEnd().split('\n').pop()!)).toEqual({
      error: { code: 'failed', message: 'connect ECONNREFUSED 127.0.0.1:1' },
    });
  });

  it('a configuration error exits 1 and names the variable', async () => {
    const res = await run(['keys', 'list', '--org', 'acme'], { ...env, NODE_ENV: 'production' });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('JWT_SECRET');
    const json = await run(['keys', 'list', '--org', 'acme', '--json'], { ...env, NODE_ENV: 'production' });
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stderr)).toEqual({
      error: { code: 'invalid_configuration', message: expect.stringContaining('JWT_SECRET') },
    });
  });
});
