/**
 * `sentia-mcp audit verify` against a real installation's audit trail: it
 * passes on a clean log and names the row after a manual UPDATE or DELETE.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { main } from '../../src/cli/main';
import { AuditWriter } from '../../src/audit/audit.writer';
import { startApp, StartedApp } from '../support/start-app';
import { authHeaders, TestKey } from '../support/test-keys';
import { describeWithPostgres, TEST_DATABASE_URL, uniqueName } from '../support/backends';
import { registerToken } from './auth-helpers';

describe('sentia-mcp audit verify', () => {
  let started: StartedApp;
  let env: Record<string, string>;

  async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const code = await main(argv, env, { out: (t) => void (out += t), err: (t) => void (err += t) });
    return { code, out, err };
  }

  beforeAll(async () => {
    started = await startApp();
    env = { NODE_ENV: 'test', DATA_DIR: started.config.dataDir, LOG_LEVEL: 'error' };
    const key = await TestKey.create(started, { permissions: ['ai:invoke'] });
    const client = new Client({ name: 'audit-cli', version: '1' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${started.url}/mcp`), {
        requestInit: { headers: authHeaders(key) },
      }),
    );
    for (let i = 0; i < 5; i++) await client.callTool({ name: 'server_info', arguments: {} });
    await client.close();
    await started.app.get(AuditWriter).flush();
  });
  afterAll(async () => started?.close());

  it('passes on a clean log', async () => {
    const r = await cli('audit', 'verify');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^OK: \d+ audit records in \d+ chains verified/);
    const json = await cli('audit', 'verify', '--json');
    expect(JSON.parse(json.out)).toMatchObject({ ok: true });
  });

  it('names the row after a manual UPDATE, then after a DELETE', async () => {
    const ds = started.app.get(DataSource);
    const rows = (await ds.query(
      `SELECT id, writer_id, seq FROM audit_logs WHERE kind = 'tool_call' ORDER BY seq`,
    )) as {
      id: number;
      seq: number;
    }[];
    expect(rows.length).toBeGreaterThanOrEqual(5);
    const victim = rows[2];
    await ds.query(`UPDATE audit_logs SET outcome = 'success', status = 299 WHERE id = ?`, [victim.id]);
    const updated = await cli('audit', 'verify');
    expect(updated.code).toBe(1);
    expect(updated.out).toContain(`BROKEN: audit record id ${victim.id}`);
    expect(updated.out).toContain('hash mismatch');

    const next = rows[3];
    await ds.query(`DELETE FROM audit_logs WHERE id = ?`, [victim.id]);
    const deleted = await cli('audit', 'verify');
    expect(deleted.code).toBe(1);
    expect(deleted.out).toContain(`BROKEN: audit record id ${next.id}`);
    expect(deleted.out).toContain('missing link');
  });

  it('names an admin action whose record was deleted: its one-row chain is gone, its head is not', async () => {
    // After the breaks above: a range that starts now holds only what this test writes.
    const since = new Date(Date.now() - 1).toISOString();
    const created = await cli(
      'keys',
      'create',
      '--org',
      'org-cli',
      '--name',
      'gone',
      '--permissions',
      'ai:invoke',
    );
    expect(created.code).toBe(0);
    registerToken(created.out.trim(), 'audit-cli key');
    const clean = await cli('audit', 'verify', '--from', since);
    expect(clean.out).toMatch(/^OK: 1 audit records in 1 chains verified, 1 chain heads matched/);
    const ds = started.app.get(DataSource);
    const [row] = (await ds.query(
      `SELECT id, writer_id FROM audit_logs WHERE action = 'api_key.create' ORDER BY id DESC LIMIT 1`,
    )) as { id: number; writer_id: string }[];
    await ds.query(`DELETE FROM audit_logs WHERE id = ?`, [row.id]);
    const r = await cli('audit', 'verify', '--from', since);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`BROKEN: chain ${row.writer_id}: its last row, seq 1`);
    expect(r.out).toContain('is gone: truncated');
  });

  it('exits 3, not 1 ("broken"), when it cannot read the trail at all', async () => {
    const saved = env;
    env = { ...env, DATABASE_URL: 'postgres://audit:s3cret-pw@127.0.0.1:1/none', DATABASE_SSL: 'false' };
    try {
      const r = await cli('audit', 'verify');
      expect([r.code, r.out]).toEqual([3, '']);
      expect(r.err).toMatch(/^sentia-mcp: audit verify could not read the audit trail: .*ECONNREFUSED/);
      expect(r.err).not.toContain('s3cret-pw');
    } finally {
      env = saved;
    }
  });

  it('exits 3 on a trail that is not there, and creates nothing where it looked', async () => {
    const saved = env;
    const empty = mkdtempSync(join(tmpdir(), 'audit-cli-empty-'));
    try {
      env = { ...env, DATA_DIR: empty };
      const none = await cli('audit', 'verify');
      expect([none.code, none.out]).toEqual([3, '']);
      expect(none.err).toContain(
        `could not read the audit trail: no SQLite database at ${join(empty, 'sentia.sqlite')}`,
      );
      expect(existsSync(join(empty, 'sentia.sqlite'))).toBe(false);
      // With --json the failure is one JSON line on stderr, as every command's is.
      const json = await cli('audit', 'verify', '--json');
      expect([json.code, json.out]).toEqual([3, '']);
      expect(JSON.parse(json.err)).toEqual({
        error: {
          code: 'trail_unreadable',
          message: `audit verify could not read the audit trail: no SQLite database at ${join(empty, 'sentia.sqlite')}`,
        },
      });
      expect(json.err.endsWith('}\n')).toBe(true);
      // No secrets are set (development): a server would generate them into DATA_DIR; verify does not,
      // nor the directory itself.
      expect(readdirSync(empty)).toEqual([]);
      env = { ...env, DATA_DIR: join(empty, 'mistyped') };
      const mistyped = await cli('audit', 'verify');
      expect([mistyped.code, mistyped.out]).toEqual([3, '']);
      expect(existsSync(join(empty, 'mistyped'))).toBe(false);
      env = { ...env, DATA_DIR: empty };

      // A SQLite file that was never migrated: named as such, not "no such table" from the query.
      env = { ...env, SQLITE_FILE: 'blank.db' };
      writeFileSync(join(empty, 'blank.db'), '');
      const blank = await cli('audit', 'verify');
      expect([blank.code, blank.out]).toEqual([3, '']);
      expect(blank.err).toContain('the database has no audit_logs table (never migrated');
    } finally {
      env = saved;
      rmSync(empty, { recursive: true, force: true });
    }
  });

  describeWithPostgres('on PostgreSQL', () => {
    it('exits 3 on a schema that does not exist, and does not create it', async () => {
      const schema = uniqueName('verify_absent');
      const saved = env;
      env = { ...env, DATABASE_URL: TEST_DATABASE_URL, DATABASE_SSL: 'false', DATABASE_SCHEMA: schema };
      const pg = new DataSource({ type: 'postgres', url: TEST_DATABASE_URL });
      await pg.initialize();
      try {
        const r = await cli('audit', 'verify');
        expect([r.code, r.out]).toEqual([3, '']);
        expect(r.err).toContain('the database has no audit_logs table (never migrated');
        expect(await pg.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).toEqual([]);
      } finally {
        env = saved;
        await pg.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await pg.destroy();
      }
    });
  });

  it('refuses bad arguments with a usage error (exit 2)', async () => {
    expect((await cli('audit', 'verify', '--from', 'yesterday')).code).toBe(2);
    expect((await cli('audit', 'check')).code).toBe(2);
    // A repeated flag is refused, not resolved by taking its last value.
    const twice = await cli('audit', 'verify', '--from', '2026-01-01', '--from=2026-02-01');
    expect([twice.code, twice.out]).toEqual([2, '']);
    expect(twice.err).toContain('--from given 2 times; give it once');
    // A date that does not exist, and a range that holds nothing, are refused rather than "OK: 0 records".
    const feb30 = await cli('audit', 'verify', '--from', '2026-02-30');
    expect([feb30.code, feb30.out]).toEqual([2, '']);
    expect(feb30.err).toContain('--from must be an ISO 8601 date or time that exists');
    const reversed = await cli(
      'audit',
      'verify',
      '--from',
      '2027-01-01T00:00:00Z',
      '--to',
      '2026-01-01T00:00:00Z',
    );
    expect([reversed.code, reversed.out]).toEqual([2, '']);
    expect(reversed.err).toContain('--to must not be before --from');
    expect(
      (await cli('audit', 'verify', '--from', '2026-02-28', '--to', '2026-03-01T00:00:00+01:00')).code,
    ).toBe(0);
  });
});
