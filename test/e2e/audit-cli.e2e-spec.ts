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
import { AuditChain, chainRows, newAuditChain } from '../../src/audit/audit-chain';
import { toAuditRow } from '../../src/audit/audit-row';
import { insertAuditRows } from '../../src/audit/audit-sql';
import { openDataSource } from '../../src/database/open-data-source';
import { ensureAuditPartitions } from '../../src/database/audit-partitions';
import { rec } from '../support/audit-rig';
import { configFor } from '../support/test-config';
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
    expect(reversed.err).toContain('--to must be after --from');
    // --to is exclusive: the same time for both holds no record either.
    const empty = await cli(
      'audit',
      'verify',
      '--from',
      '2026-01-01T00:00:00Z',
      '--to',
      '2026-01-01T01:00:00+01:00',
    );
    expect([empty.code, empty.out]).toEqual([2, '']);
    expect(empty.err).toContain('--to must be after --from');
    expect(
      (await cli('audit', 'verify', '--from', '2026-02-28', '--to', '2026-03-01T00:00:00+01:00')).code,
    ).toBe(0);
  });
});

describe('sentia-mcp audit prune', () => {
  let dir: string;
  let env: Record<string, string>;
  const DAY = 86_400_000;
  const thisMonth = new Date().toISOString().slice(0, 7);

  async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const code = await main(argv, env, { out: (t) => void (out += t), err: (t) => void (err += t) });
    return { code, out, err };
  }

  /** A chain of records `daysAgo` old each, written as the writer writes them. */
  async function chain(...daysAgo: number[]): Promise<AuditChain> {
    const ds = await openDataSource(configFor(dir), { migrationsRun: false });
    try {
      const c = newAuditChain();
      const rows = daysAgo.map((d, i) =>
        toAuditRow(rec(i, { occurredAt: new Date(Date.now() - d * DAY) }), false),
      );
      await insertAuditRows(ds, rows, false, chainRows(c, rows));
      return c;
    } finally {
      await ds.destroy();
    }
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'audit-prune-cli-'));
    env = {
      NODE_ENV: 'test',
      DATA_DIR: dir,
      LOG_LEVEL: 'error',
      JWT_SECRET: 'x'.repeat(40),
      MASTER_ENCRYPTION_KEY: 'ab'.repeat(32),
    };
    expect((await cli('migrate')).code).toBe(0);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a missing, malformed, repeated or future cutoff, and an unknown flag (exit 2)', async () => {
    const missing = await cli('audit', 'prune');
    expect([missing.code, missing.out]).toEqual([2, '']);
    expect(missing.err).toContain('--before YYYY-MM is required');
    const malformed = await cli('audit', 'prune', '--before', '2026-13');
    expect([malformed.code, malformed.out]).toEqual([2, '']);
    expect(malformed.err).toContain('--before must be a month as YYYY-MM, e.g. 2026-01 (got "2026-13")');
    const twice = await cli('audit', 'prune', '--before', '2026-01', '--before=2026-02');
    expect(twice.err).toContain('--before given 2 times; give it once');
    const future = await cli('audit', 'prune', '--before', '2999-01');
    expect([future.code, future.out]).toEqual([2, '']);
    expect(future.err).toContain(`the current month at the latest (${thisMonth})`);
    expect((await cli('audit', 'prune', '--before', thisMonth, '--force')).code).toBe(2);
  });

  it('prunes what is older than the month, dry first, and verify still passes', async () => {
    await chain(70, 65, 1); // the last a day old: this month's (on the 1st, the last month's: then the chain goes whole)
    await chain(90, 80);
    const dry = await cli('audit', 'prune', '--before', thisMonth, '--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.out).toMatch(
      new RegExp(
        `^Would prune \\d+ audit records older than ${thisMonth} from 2 chains; nothing was changed\\n$`,
      ),
    );
    const done = await cli('audit', 'prune', '--before', thisMonth, '--json');
    expect(done.code).toBe(0);
    const result = JSON.parse(done.out) as { records: number; chains: number; dryRun: boolean };
    expect(result).toMatchObject({ chains: 2, dryRun: false });
    expect(result.records).toBeGreaterThanOrEqual(4);
    const verified = await cli('audit', 'verify');
    expect(verified.code).toBe(0);
    expect(verified.out).toContain('2 chains resume after a prune, at their anchors');
    const again = await cli('audit', 'prune', '--before', thisMonth);
    expect([again.code, again.out]).toEqual([
      0,
      `Nothing to prune: no audit record is older than ${thisMonth}\n`,
    ]);
  });

  it('refuses (exit 1) to prune a trail that does not verify before the cutoff', async () => {
    const broken = await chain(100, 99, 98);
    const ds = await openDataSource(configFor(dir), { migrationsRun: false });
    await ds.query('DELETE FROM audit_logs WHERE writer_id = ? AND seq = 2', [broken.writerId]);
    await ds.destroy();
    const r = await cli('audit', 'prune', '--before', thisMonth);
    expect([r.code, r.out]).toEqual([1, '']);
    expect(r.err).toContain(`audit prune refused: the audit trail before the cutoff does not verify`);
    expect(r.err).toContain(`chain ${broken.writerId}, seq 3: missing link`);
    const json = await cli('audit', 'prune', '--before', thisMonth, '--json');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.err)).toMatchObject({ error: { code: 'trail_broken' } });
  });

  describeWithPostgres('on PostgreSQL', () => {
    it('says it did not run (exit 1, trail_busy) when a long read holds the months it would drop, and changes nothing', async () => {
      const schema = uniqueName('prune_cli');
      const saved = env;
      env = { ...env, DATABASE_URL: TEST_DATABASE_URL, DATABASE_SSL: 'false', DATABASE_SCHEMA: schema };
      const ds = await openDataSource(configFor(dir, { DATABASE_URL: TEST_DATABASE_URL }), {
        schema,
        migrationsRun: true,
      });
      const reader = ds.createQueryRunner();
      try {
        // Records of two and three months ago, in month partitions of their own.
        await ensureAuditPartitions(ds, new Date(Date.now() - 100 * DAY), 4);
        const c = newAuditChain();
        const rows = [95, 70].map((d, i) =>
          toAuditRow(rec(i, { occurredAt: new Date(Date.now() - d * DAY) }), false),
        );
        await insertAuditRows(ds, rows, false, chainRows(c, rows));
        // A long read of the whole trail (an export) holds every partition.
        await reader.startTransaction('REPEATABLE READ');
        await reader.query('SELECT count(*) FROM audit_logs');
        const busy = await cli('audit', 'prune', '--before', thisMonth, '--json');
        expect([busy.code, busy.out]).toEqual([1, '']);
        expect(JSON.parse(busy.err)).toMatchObject({
          error: { code: 'trail_busy', message: expect.stringContaining('nothing was changed, try again') },
        });
        await reader.commitTransaction();
        expect(
          Number(((await ds.query('SELECT count(*) AS n FROM audit_logs')) as { n: string }[])[0].n),
        ).toBe(2);
        const done = await cli('audit', 'prune', '--before', thisMonth, '--json');
        expect(done.code).toBe(0);
        expect(JSON.parse(done.out)).toMatchObject({ records: 2, chains: 1 });
      } finally {
        env = saved;
        if (reader.isTransactionActive) await reader.rollbackTransaction();
        await reader.release();
        await ds.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await ds.destroy();
      }
    });
  });

  it('exits 3 on a database that is not there', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'audit-prune-empty-'));
    const saved = env;
    env = { ...env, DATA_DIR: empty };
    try {
      const r = await cli('audit', 'prune', '--before', thisMonth);
      expect([r.code, r.out]).toEqual([3, '']);
      expect(r.err).toContain('audit prune could not read the audit trail: no SQLite database at');
    } finally {
      env = saved;
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
