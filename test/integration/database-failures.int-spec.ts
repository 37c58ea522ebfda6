/**
 * The database layer where things go wrong: audit partitions made around rows
 * already sitting at a month's edges, a partition run that fails (and the
 * next one that must succeed on the same pool), a month missing at boot, a
 * migration that fails halfway (each migration is its own transaction, on
 * both engines; the boot fails, is not retried, and closes its connections),
 * an unavailable database retried as asked, a server that accepts the
 * connection and never answers, and a query timed out on the client (in the
 * callback form too, and after migrations ran without the timeout).
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { AddressInfo, createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Test } from '@nestjs/testing';
import { Client, Pool } from 'pg';
import { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { ConfigModule } from '../../src/config/config.module';
import { AppConfig } from '../../src/config/config.types';
import { DatabaseModule } from '../../src/database/database.module';
import {
  auditPartitionName,
  ensureAuditPartitions,
  monthStartUtc,
} from '../../src/database/audit-partitions';
import {
  AUDIT_PARTITION_MONTHS_AHEAD,
  AuditPartitionsMaintainer,
} from '../../src/database/audit-partitions.maintainer';
import { BoundedPgClient } from '../../src/database/bounded-pg-client';
import { buildDataSourceOptions } from '../../src/database/data-source-options';
import { isDatabaseUnavailable } from '../../src/database/database-errors';
import { MIGRATIONS } from '../../src/database/migrations-list';
import {
  initializeDataSource,
  initializeWithRetries,
  openDataSource,
} from '../../src/database/open-data-source';
import { describeWithPostgres, TEST_DATABASE_URL, uniqueName } from '../support/backends';
import { configFor } from '../support/test-config';

jest.setTimeout(20_000);

const outcome = <T>(p: Promise<T>): Promise<unknown> =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

/** Runs SQL written with `?` placeholders on either dialect. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- rows of ad hoc SQL
function run(ds: DataSource, sql: string, params: unknown[] = []): Promise<any> {
  let n = 0;
  return ds.query(ds.options.type === 'postgres' ? sql.replace(/\?/g, () => `$${++n}`) : sql, params);
}

/** A local port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/** A later migration that runs cleanly. */
class GoodMigration1999999999990 implements MigrationInterface {
  name = 'GoodMigration1999999999990';
  async up(q: QueryRunner): Promise<void> {
    await q.query('CREATE TABLE good_migration_ran (x int)');
  }
  async down(): Promise<void> {}
}

/** A migration that fails after its first statement did its work. */
class BadMigration1999999999991 implements MigrationInterface {
  name = 'BadMigration1999999999991';
  async up(q: QueryRunner): Promise<void> {
    await q.query('CREATE TABLE bad_migration_half (x int)');
    await q.query('SELECT * FROM no_such_table_anywhere');
  }
  async down(): Promise<void> {}
}

/**
 * Shared by both engines: of the migrations run at boot, one that fails is
 * undone whole and not recorded, the boot fails, and those before it stay
 * applied (each migration commits on its own).
 */
function failingMigrationSuite(
  configure: () => AppConfig,
  overrides: () => { schema?: string },
  tableExists: (ds: DataSource, name: string) => Promise<boolean>,
) {
  it('undoes a migration that fails halfway, keeps the ones before it, and fails the boot', async () => {
    const config = configure();
    const err = await outcome(
      initializeDataSource({
        ...buildDataSourceOptions(config, { ...overrides(), migrationsRun: true }),
        migrations: [...MIGRATIONS, GoodMigration1999999999990, BadMigration1999999999991],
      }),
    );
    expect((err as Error)?.message).toMatch(/no_such_table_anywhere/);

    const ds = await openDataSource(config, { ...overrides(), migrationsRun: false });
    try {
      expect(await tableExists(ds, 'good_migration_ran')).toBe(true);
      expect(await tableExists(ds, 'bad_migration_half')).toBe(false);
      const names = ((await ds.query('SELECT name FROM migrations ORDER BY id')) as { name: string }[]).map(
        (r) => r.name,
      );
      expect(names).toEqual([...MIGRATIONS.map((M) => new M().name), 'GoodMigration1999999999990']);
    } finally {
      await ds.destroy();
    }
  });
}

describe('database failures (SQLite)', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'sentia-dbfail-'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  /** The lines initializeWithRetries logs. */
  const recorder = () => {
    const lines: [string, string][] = [];
    return {
      lines,
      logger: {
        warn: (m: unknown) => void lines.push(['warn', String(m)]),
        error: (m: unknown) => void lines.push(['error', String(m)]),
      },
    };
  };

  it('does not retry a boot that failed for a reason other than an unavailable database', async () => {
    const { lines, logger } = recorder();
    const options = {
      ...buildDataSourceOptions(configFor(join(root, 'no-retry')), { migrationsRun: true }),
      migrations: [BadMigration1999999999991],
    };
    const err = await outcome(initializeWithRetries(options, 3, 10, logger));
    expect((err as Error)?.message).toMatch(/no_such_table_anywhere/);
    expect(lines).toEqual([['error', expect.stringMatching(/^Database could not be opened \(/)]]);
  });

  it('retries an unavailable database the given number of times, the given delay apart, then gives up', async () => {
    const { lines, logger } = recorder();
    const port = await closedPort();
    const options = buildDataSourceOptions(
      configFor(join(root, 'retry'), {
        DATABASE_URL: `postgres://u@127.0.0.1:${port}/x`,
        RUN_MIGRATIONS: 'false',
      }),
    );
    const started = Date.now();
    const err = await outcome(initializeWithRetries(options, 3, 300, logger));
    expect(Date.now() - started).toBeGreaterThanOrEqual(600);
    expect(isDatabaseUnavailable(err)).toBe(true);
    expect(lines).toEqual([
      [
        'warn',
        `Database unavailable (attempt 1 of 3: connect ECONNREFUSED 127.0.0.1:${port}); retrying in 0.3 s`,
      ],
      [
        'warn',
        `Database unavailable (attempt 2 of 3: connect ECONNREFUSED 127.0.0.1:${port}); retrying in 0.3 s`,
      ],
      ['error', `Database unavailable after 3 attempts (connect ECONNREFUSED 127.0.0.1:${port}); giving up`],
    ]);
  });

  failingMigrationSuite(
    () => configFor(join(root, 'migrate')),
    () => ({}),
    async (ds, name) =>
      (await run(ds, `SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ?`, [name]))[0]
        .n === 1,
  );
});

describeWithPostgres('database failures (PostgreSQL)', () => {
  const schema = uniqueName('dbfail');
  const schemas = [schema];
  let root: string;
  let ds: DataSource;
  let other: Client;

  const partitionOf = async (writer: string): Promise<string> =>
    (await ds.query(`SELECT tableoid::regclass::text AS t FROM audit_logs WHERE writer_id = $1`, [writer]))[0]
      .t;
  const insertAudit = (writer: string, occurredAt: string) =>
    ds.query(
      `INSERT INTO audit_logs (occurred_at, kind, action, outcome, writer_id, seq, hash)
       VALUES ($1, 'tool_call', 'xero.list', 'ok', $2, 1, 'h')`,
      [occurredAt, writer],
    );
  const config = (env: Record<string, string> = {}) =>
    configFor(root, { DATABASE_URL: TEST_DATABASE_URL, ...env });

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'sentia-dbfail-pg-'));
    // One pooled connection and a short statement timeout: a connection left broken is the next one used.
    ds = await openDataSource(config({ DATABASE_POOL_SIZE: '1', DATABASE_STATEMENT_TIMEOUT_MS: '300' }), {
      schema,
    });
    other = new Client({ connectionString: TEST_DATABASE_URL });
    await other.connect();
  });
  afterAll(async () => {
    await other?.query('ROLLBACK').catch(() => undefined);
    for (const s of schemas) await other?.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    await other?.end();
    await ds?.destroy();
    rmSync(root, { recursive: true, force: true });
  });

  it("moves a row at the month's first instant out of the default partition, and leaves one at the next month's", async () => {
    await insertAudit('w-first-instant', '2097-07-01T00:00:00.000Z');
    await insertAudit('w-next-month', '2097-08-01T00:00:00.000Z');
    expect(await partitionOf('w-first-instant')).toBe('audit_logs_default');

    expect(await ensureAuditPartitions(ds, new Date('2097-07-20T00:00:00Z'), 0)).toEqual([
      'audit_logs_y2097m07',
    ]);
    expect(await partitionOf('w-first-instant')).toBe('audit_logs_y2097m07');
    expect(await partitionOf('w-next-month')).toBe('audit_logs_default');

    expect(await ensureAuditPartitions(ds, new Date('2097-08-01T00:00:00Z'), 0)).toEqual([
      'audit_logs_y2097m08',
    ]);
    expect(await partitionOf('w-next-month')).toBe('audit_logs_y2097m08');

    // Built beside the default partition and attached, each still has the parent's column defaults.
    const defaults = async (table: string) =>
      (
        await other.query(
          `SELECT column_name, column_default FROM information_schema.columns
            WHERE table_schema = $1 AND table_name = $2 AND column_default IS NOT NULL ORDER BY 1`,
          [schema, table],
        )
      ).rows;
    const parent = await defaults('audit_logs');
    expect(parent.map((r: { column_name: string }) => r.column_name)).toEqual(['id', 'occurred_at']);
    expect(await defaults('audit_logs_y2097m07')).toEqual(parent);
    expect(await defaults('audit_logs_y2097m08')).toEqual(parent);
  });

  it('makes a missing month at boot (DatabaseModule), without waiting for the daily run', async () => {
    const ahead = auditPartitionName(monthStartUtc(new Date(), AUDIT_PARTITION_MONTHS_AHEAD));
    await other.query(`DROP TABLE "${schema}"."${ahead}"`);
    const moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(config()), DatabaseModule.forRoot({ schema })],
    }).compile();
    try {
      await moduleRef.init();
      expect(
        (await other.query(`SELECT to_regclass($1) IS NOT NULL AS made`, [`"${schema}"."${ahead}"`])).rows,
      ).toEqual([{ made: true }]);
    } finally {
      await moduleRef.close();
    }
  });

  it('a partition run that fails (the default partition locked past the statement timeout) throws nothing, leaves the pool usable, and the next run makes the month', async () => {
    const maintainer = new AuditPartitionsMaintainer(ds);
    const month = new Date('2096-03-10T00:00:00Z');
    await other.query('BEGIN');
    await other.query(`LOCK TABLE "${schema}".audit_logs_default IN ACCESS EXCLUSIVE MODE`);
    let failed: string[];
    try {
      failed = await maintainer.run(month);
    } finally {
      await other.query('ROLLBACK');
    }
    expect(failed).toEqual([]);
    // The one pooled connection is not left inside the failed transaction.
    expect(await ds.query('SELECT 1 AS n')).toEqual([{ n: 1 }]);
    expect(await maintainer.run(month)).toEqual([
      'audit_logs_y2096m03',
      'audit_logs_y2096m04',
      'audit_logs_y2096m05',
    ]);
  });

  it('finds the audit tables through the search_path when no schema is configured', async () => {
    const options = buildDataSourceOptions(config(), { schema, migrationsRun: false });
    const { schema: _configured, ...unconfigured } = options as typeof options & { schema?: string };
    expect(_configured).toBe(schema);
    const bare = await initializeDataSource(unconfigured as typeof options, { createSchema: false });
    try {
      expect(await bare.query('SELECT current_schema() AS s')).toEqual([{ s: schema }]);
      expect(await ensureAuditPartitions(bare, new Date('2095-11-02T00:00:00Z'), 0)).toEqual([
        'audit_logs_y2095m11',
      ]);
    } finally {
      await bare.destroy();
    }
    expect(
      (
        await other.query(
          `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = $1 AND c.relname = 'audit_logs_y2095m11'`,
          [schema],
        )
      ).rows,
    ).toEqual([{ n: 1 }]);
  });

  it('names its connections with the app name, and closes them when the boot fails', async () => {
    expect(await ds.query(`SELECT current_setting('application_name') AS a`)).toEqual([{ a: 'sentia-mcp' }]);
    const appName = uniqueName('dbfail_app');
    const failing = uniqueName('dbfail_mig');
    schemas.push(failing);
    const err = await outcome(
      initializeDataSource({
        ...buildDataSourceOptions({ ...config(), appName }, { schema: failing, migrationsRun: true }),
        migrations: [...MIGRATIONS, BadMigration1999999999991],
      }),
    );
    expect((err as Error)?.message).toMatch(/no_such_table_anywhere/);
    const open = async () =>
      Number(
        (
          await other.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1`, [
            appName,
          ])
        ).rows[0].n,
      );
    for (let i = 0; i < 40 && (await open()) > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await open()).toBe(0);
  });

  describe('a migration that fails', () => {
    const migrateSchema = uniqueName('dbfail_each');
    schemas.push(migrateSchema);
    failingMigrationSuite(
      () => config(),
      () => ({ schema: migrateSchema }),
      async (d, name) =>
        (await d.query(`SELECT to_regclass($1) IS NOT NULL AS e`, [`"${migrateSchema}".${name}`]))[0].e,
    );
  });

  it('gives the client-side query timeout back after migrations ran without it', async () => {
    const timeoutSchema = uniqueName('dbfail_qt');
    schemas.push(timeoutSchema);
    const timed = await openDataSource(
      config({
        DATABASE_POOL_SIZE: '1',
        DATABASE_STATEMENT_TIMEOUT_MS: '0',
        DATABASE_QUERY_TIMEOUT_MS: '500',
      }),
      { schema: timeoutSchema, migrationsRun: true },
    );
    try {
      const started = Date.now();
      const lost = await outcome(timed.query('SELECT pg_sleep(2)'));
      expect((lost as Error)?.message).toBe('Query read timeout');
      expect(Date.now() - started).toBeLessThan(1_800);
    } finally {
      await timed.destroy();
    }
  });

  it('drops a connection whose answer timed out in the callback form too: released without an error, it is not handed out again', async () => {
    const pool = new Pool({
      connectionString: TEST_DATABASE_URL,
      Client: BoundedPgClient,
      max: 1,
      query_timeout: 300,
    });
    try {
      const client = await pool.connect();
      const lost = await new Promise<unknown>((resolve) =>
        client.query('SELECT pg_sleep(1.5)', (err: Error) => resolve(err)),
      );
      expect((lost as Error)?.message).toBe('Query read timeout');
      client.release();
      // That connection would still be busy with pg_sleep past this query's own timeout.
      expect((await pool.query('SELECT 7 AS n')).rows).toEqual([{ n: 7 }]);
    } finally {
      await pool.end();
    }
  });

  it('opens an existing schema only when asked to (existingOnly): a missing one is not created', async () => {
    const missing = uniqueName('dbfail_missing');
    schemas.push(missing);
    const reader = await openDataSource(config(), {
      schema: missing,
      migrationsRun: false,
      existingOnly: true,
    });
    try {
      expect(await reader.query(`SELECT to_regnamespace($1) IS NULL AS absent`, [missing])).toEqual([
        { absent: true },
      ]);
    } finally {
      await reader.destroy();
    }
  });

  it('gives up on a server that accepts the connection and never answers, as unavailable', async () => {
    const held: Socket[] = [];
    const server = createServer((s) => void held.push(s)).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    try {
      const started = Date.now();
      const err = await outcome(
        openDataSource(
          configFor(root, { DATABASE_URL: `postgres://u@127.0.0.1:${port}/x`, RUN_MIGRATIONS: 'false' }),
        ),
      );
      expect(Date.now() - started).toBeLessThan(9_000);
      expect(err).toBeInstanceOf(Error);
      expect(isDatabaseUnavailable(err)).toBe(true);
    } finally {
      for (const s of held) s.destroy();
      await new Promise((r) => server.close(r));
    }
  });
});
