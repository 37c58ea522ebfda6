import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HealthIndicatorService } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import { Client } from 'pg';
import { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { ConfigModule } from '../../src/config/config.module';
import { AppConfig } from '../../src/config/config.types';
import {
  auditPartitionName,
  ensureAuditPartitions,
  monthStartUtc,
} from '../../src/database/audit-partitions';
import { buildDataSourceOptions } from '../../src/database/data-source-options';
import { AuditPartitionsMaintainer } from '../../src/database/audit-partitions.maintainer';
import { DatabaseHealthIndicator } from '../../src/database/database.health';
import { DatabaseModule } from '../../src/database/database.module';
import { isDatabaseUnavailable } from '../../src/database/database-errors';
import { MIGRATIONS } from '../../src/database/migrations-list';
import {
  initializeDataSource,
  MIGRATIONS_LOCK_KEY,
  openDataSource,
  runMigrations,
} from '../../src/database/open-data-source';
import { describeWithPostgres, TEST_DATABASE_URL, uniqueName } from '../support/backends';
import { configFor } from '../support/test-config';
import { TcpProxy } from '../support/tcp-proxy';

const TABLES = [
  'api_keys',
  'audit_chain_anchors',
  'audit_chain_heads',
  'audit_logs',
  'encrypted_credentials',
  'migrations',
];
const INDEXES = [
  'idx_api_keys_active',
  'idx_api_keys_org_created',
  'idx_api_keys_revoked',
  'idx_audit_logs_key_time',
  'idx_audit_logs_kind_time',
  'idx_audit_logs_org_time',
  'idx_audit_logs_user_time',
  'idx_encrypted_credentials_org_service',
  'uq_audit_logs_writer_seq',
  'uq_encrypted_credentials_scope',
];

/** Runs SQL written with `?` placeholders on either dialect. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- rows of ad hoc SQL
function run(ds: DataSource, sql: string, params: unknown[] = []): Promise<any> {
  let n = 0;
  return ds.query(ds.options.type === 'postgres' ? sql.replace(/\?/g, () => `$${++n}`) : sql, params);
}

function insertCredential(ds: DataSource, org: string, userId: string | null, service: string) {
  return run(
    ds,
    `INSERT INTO encrypted_credentials (id, organization_id, user_id, service, ciphertext, iv, auth_tag,
       wrapped_key, key_id) VALUES (?, ?, ?, ?, 'c', 'i', 't', 'w', 'mk1')`,
    [randomUUID(), org, userId, service],
  );
}

function insertAudit(ds: DataSource, writer: string, seq: number, occurredAt = new Date()) {
  return run(
    ds,
    `INSERT INTO audit_logs (occurred_at, kind, action, outcome, writer_id, seq, hash) VALUES (?, 'tool_call', 'xero.list', 'ok', ?, ?, 'h')`,
    [occurredAt.toISOString(), writer, seq],
  );
}

/** Shared by both dialects: the schema the migrations leave behind behaves as designed. */
function behavesLikeTheSchema(
  getDs: () => DataSource,
  listTables: () => Promise<string[]>,
  listIndexes: () => Promise<string[]>,
) {
  it('creates every table and named index', async () => {
    expect(await listTables()).toEqual(expect.arrayContaining(TABLES));
    expect(await listIndexes()).toEqual(expect.arrayContaining(INDEXES));
  });

  it('treats a NULL user_id as one value in the encrypted_credentials unique index', async () => {
    const ds = getDs();
    await insertCredential(ds, 'org-u', null, 'xero');
    await expect(insertCredential(ds, 'org-u', null, 'xero')).rejects.toThrow(/unique|duplicate/i);
    await insertCredential(ds, 'org-u', 'user-1', 'xero');
    await expect(insertCredential(ds, 'org-u', 'user-1', 'xero')).rejects.toThrow(/unique|duplicate/i);
    await insertCredential(ds, 'org-u', 'user-2', 'xero');
    await insertCredential(ds, 'org-other', null, 'xero');
    await insertCredential(ds, 'org-u', null, 'shopify');
  });

  it('supports one upsert statement on the credential scope on both dialects', async () => {
    const ds = getDs();
    const upsert = (ciphertext: string) =>
      run(
        ds,
        `INSERT INTO encrypted_credentials (id, organization_id, user_id, service, ciphertext, iv, auth_tag,
           wrapped_key, key_id) VALUES (?, 'org-up', NULL, 'xero', ?, 'i', 't', 'w', 'mk1')
         ON CONFLICT (organization_id, (COALESCE(user_id, '')), service)
         DO UPDATE SET ciphertext = excluded.ciphertext, updated_at = CURRENT_TIMESTAMP`,
        [randomUUID(), ciphertext],
      );
    await upsert('first');
    await upsert('second');
    const rows = await run(
      ds,
      `SELECT ciphertext FROM encrypted_credentials WHERE organization_id = 'org-up'`,
    );
    expect(rows).toEqual([{ ciphertext: 'second' }]);
  });

  it('rejects a repeated (writer_id, seq) in audit_logs', async () => {
    const ds = getDs();
    const at = new Date();
    await insertAudit(ds, 'w-dup', 1, at);
    await insertAudit(ds, 'w-dup', 2, at);
    await expect(insertAudit(ds, 'w-dup', 1, at)).rejects.toThrow(/unique|duplicate/i);
  });

  it('has nothing pending on a second boot', async () => {
    expect(await getDs().showMigrations()).toBe(false);
    const rows = await getDs().query('SELECT name FROM migrations');
    expect(rows.map((r: { name: string }) => r.name)).toEqual([
      'InitialSchema1795780800000',
      'AuditChainHeads1796428800000',
      'AuditChainAnchors1797033600000',
    ]);
  });
}

describe('database (SQLite)', () => {
  let root: string;
  let config: AppConfig;
  let ds: DataSource;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'sentia-db-'));
    config = configFor(join(root, 'data', 'nested'));
    ds = await openDataSource(config);
    await ds.destroy();
    ds = await openDataSource(config); // the second boot
  });
  afterAll(async () => {
    if (ds?.isInitialized) await ds.destroy();
    rmSync(root, { recursive: true, force: true });
  });

  it('creates DATA_DIR and opens the file with WAL, foreign keys and a busy timeout', async () => {
    expect(existsSync(config.database.kind === 'sqlite' ? config.database.path : '')).toBe(true);
    expect(await ds.query('PRAGMA journal_mode')).toEqual([{ journal_mode: 'wal' }]);
    expect(await ds.query('PRAGMA foreign_keys')).toEqual([{ foreign_keys: 1 }]);
    expect(await ds.query('PRAGMA busy_timeout')).toEqual([{ timeout: 5000 }]);
  });

  it('keeps the database file and its WAL owner-only (0600), as the secrets beside it', async () => {
    const path = config.database.kind === 'sqlite' ? config.database.path : '';
    await ds.query('CREATE TABLE IF NOT EXISTS mode_probe (x int)'); // a write: the WAL file exists
    for (const file of [path, `${path}-wal`])
      expect([file, statSync(file).mode & 0o777]).toEqual([file, 0o600]);
    // A file left readable by an earlier version is tightened at the next open.
    const other = configFor(join(root, 'loose'));
    const loosePath = other.database.kind === 'sqlite' ? other.database.path : '';
    mkdirSync(join(root, 'loose'), { recursive: true });
    writeFileSync(loosePath, '', { mode: 0o644 });
    const reopened = await openDataSource(other);
    try {
      expect(statSync(loosePath).mode & 0o777).toBe(0o600);
    } finally {
      await reopened.destroy();
    }
  });

  const names = async (type: 'table' | 'index' | 'trigger'): Promise<string[]> =>
    (await ds.query(`SELECT name FROM sqlite_master WHERE type = ?`, [type])).map(
      (r: { name: string }) => r.name,
    );

  behavesLikeTheSchema(
    () => ds,
    () => names('table'),
    () => names('index'),
  );

  it('makes idx_api_keys_active a partial index on unrevoked keys', async () => {
    const list: { name: string; partial: number }[] = await ds.query('PRAGMA index_list(api_keys)');
    expect(list.find((i) => i.name === 'idx_api_keys_active')?.partial).toBe(1);
  });

  it('leaves audit partitions alone', async () => {
    expect(await ensureAuditPartitions(ds, new Date(), 2)).toEqual([]);
  });

  it('reverts with the down migration and migrates again', async () => {
    await ds.undoLastMigration(); // the chain anchors
    expect((await names('table')).filter((t) => TABLES.includes(t))).not.toContain('audit_chain_anchors');
    expect((await names('table')).filter((t) => TABLES.includes(t))).toContain('audit_chain_heads');
    await ds.undoLastMigration(); // the chain heads: table and trigger
    expect((await names('table')).filter((t) => TABLES.includes(t))).not.toContain('audit_chain_heads');
    expect(await names('trigger')).toEqual([]);
    await ds.undoLastMigration(); // the first schema
    expect((await names('table')).filter((t) => TABLES.includes(t))).toEqual(['migrations']);
    expect(await ds.showMigrations()).toBe(true);
    await ds.runMigrations();
    expect(await ds.showMigrations()).toBe(false);
  });

  it('boots through DatabaseModule, reports up, and honours runMigrations=false', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(configFor(join(root, 'module'))), DatabaseModule.forRoot()],
    }).compile();
    await moduleRef.init();
    const health = moduleRef.get(DatabaseHealthIndicator);
    expect(await health.isHealthy()).toEqual({ database: { status: 'up', type: 'better-sqlite3' } });
    expect(await moduleRef.get(DataSource).showMigrations()).toBe(false);
    await moduleRef.close();

    const off = await openDataSource(configFor(join(root, 'off'), { RUN_MIGRATIONS: 'false' }));
    expect(await off.showMigrations()).toBe(true);
    await off.destroy();
  });
});

/** A local port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function withPort(url: string, port: number): string {
  const u = new URL(url);
  u.hostname = '127.0.0.1';
  u.port = String(port);
  return u.toString();
}

describeWithPostgres('database (PostgreSQL)', () => {
  const schema = uniqueName('db');
  let root: string;
  let config: AppConfig;
  let ds: DataSource;

  const relnames = async (kinds: string[]): Promise<string[]> =>
    (
      await ds.query(
        `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relkind = ANY($2)`,
        [schema, kinds],
      )
    ).map((r: { relname: string }) => r.relname);
  const partitions = async (): Promise<string[]> =>
    (
      await ds.query(
        `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = to_regclass($1) ORDER BY 1`,
        [`"${schema}".audit_logs`],
      )
    ).map((r: { relname: string }) => r.relname);
  const partitionOf = async (writer: string): Promise<string> =>
    (await ds.query(`SELECT tableoid::regclass::text AS t FROM audit_logs WHERE writer_id = $1`, [writer]))[0]
      .t;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'sentia-db-pg-'));
    config = configFor(root, { DATABASE_URL: TEST_DATABASE_URL, DATABASE_POOL_SIZE: '3' });
    ds = await openDataSource(config, { schema });
    await ds.destroy();
    ds = await openDataSource(config, { schema }); // the second boot
  });
  afterAll(async () => {
    if (ds?.isInitialized) {
      await ds.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await ds.destroy();
    }
    rmSync(root, { recursive: true, force: true });
  });

  behavesLikeTheSchema(
    () => ds,
    () => relnames(['r', 'p']),
    () => relnames(['i', 'I']),
  );

  it('uses the pool size, search_path and schema it was given', async () => {
    expect(ds.options).toMatchObject({ type: 'postgres', schema, extra: { max: 3 }, ssl: false });
    expect(await ds.query('SELECT current_schema() AS s')).toEqual([{ s: schema }]);
  });

  it('makes idx_api_keys_active a partial index on unrevoked keys', async () => {
    const [row] = await ds.query(
      `SELECT pg_get_expr(indpred, indrelid) AS pred FROM pg_index WHERE indexrelid = to_regclass($1)`,
      [`"${schema}".idx_api_keys_active`],
    );
    expect(row.pred).toBe('(revoked_at IS NULL)');
  });

  it('partitions audit_logs by month with a default partition, created ahead', async () => {
    expect(await relnames(['p'])).toEqual(['audit_logs']);
    const now = new Date();
    expect(await partitions()).toEqual(
      ['audit_logs_default', ...[0, 1, 2].map((i) => auditPartitionName(monthStartUtc(now, i)))].sort(),
    );
    await insertAudit(ds, 'w-now', 1, now);
    expect(await partitionOf('w-now')).toBe(auditPartitionName(now));
  });

  it('ensureAuditPartitions creates further months once, also when run concurrently', async () => {
    const now = new Date();
    const expected = [3, 4].map((i) => auditPartitionName(monthStartUtc(now, i)));
    const [a, b] = await Promise.all([ensureAuditPartitions(ds, now, 4), ensureAuditPartitions(ds, now, 4)]);
    expect([...a, ...b].sort()).toEqual(expected.sort());
    expect(await ensureAuditPartitions(ds, now, 4)).toEqual([]);
    expect(await partitions()).toEqual(expect.arrayContaining(expected));
  });

  it('routes a far-future row to the default partition and moves it when its month is created', async () => {
    const far = new Date('2099-05-10T12:00:00Z');
    await insertAudit(ds, 'w-far', 1, far);
    expect(await partitionOf('w-far')).toBe('audit_logs_default');

    expect(await ensureAuditPartitions(ds, far, 0)).toEqual(['audit_logs_y2099m05']);
    expect(await partitionOf('w-far')).toBe('audit_logs_y2099m05');
    // The attached partition carries the parent's indexes.
    await expect(insertAudit(ds, 'w-far', 1, far)).rejects.toThrow(/duplicate/i);
    const [{ n }] = await ds.query('SELECT count(*)::int AS n FROM audit_logs_default');
    expect(n).toBe(0);
  });

  it('moves a month out of the default partition while rows of that month keep arriving', async () => {
    const month = new Date('2093-09-01T00:00:00Z');
    await insertAudit(ds, 'w-piled-up', 1, new Date('2093-09-03T00:00:00Z'));
    // Holds the ALTER ... ATTACH of the month back, as a slow move of many piled-up rows would.
    const holder = new Client({ connectionString: TEST_DATABASE_URL });
    const writer = new Client({ connectionString: TEST_DATABASE_URL });
    await Promise.all([holder.connect(), writer.connect()]);
    try {
      await holder.query('BEGIN');
      await holder.query(`LOCK TABLE ONLY "${schema}".audit_logs IN SHARE UPDATE EXCLUSIVE MODE`);
      const creating = ensureAuditPartitions(ds, month, 0);
      const waitingOnLocks = async () =>
        Number(
          // Not the holder: inside its transaction pg_stat_activity would not change.
          (
            await writer.query(
              `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1`,
              [`%"${schema}"%`],
            )
          ).rows[0].n,
        );
      for (let i = 0; i < 100 && (await waitingOnLocks()) < 1; i++)
        await new Promise((r) => setTimeout(r, 20));
      // A row of the same month arrives now: after the piled-up rows were looked at.
      const arriving = writer.query(
        `INSERT INTO "${schema}".audit_logs (occurred_at, kind, action, outcome, writer_id, seq, hash)
         VALUES ('2093-09-20T00:00:00Z', 'tool_call', 'xero.list', 'ok', 'w-arriving', 1, 'h')`,
      );
      await Promise.race([arriving, new Promise((r) => setTimeout(r, 200))]);
      await holder.query('COMMIT');
      expect(await creating).toEqual(['audit_logs_y2093m09']);
      await arriving;
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await Promise.all([holder.end(), writer.end()]);
    }
    expect(await partitionOf('w-piled-up')).toBe('audit_logs_y2093m09');
    expect(await partitionOf('w-arriving')).toBe('audit_logs_y2093m09');
  });

  it('reverts with the down migration and migrates again', async () => {
    await ds.undoLastMigration(); // the chain anchors
    expect(await relnames(['r', 'p'])).not.toContain('audit_chain_anchors');
    expect(await relnames(['r', 'p'])).toContain('audit_chain_heads');
    await ds.undoLastMigration(); // the chain heads
    expect(await relnames(['r', 'p'])).not.toContain('audit_chain_heads');
    await ds.undoLastMigration(); // the first schema
    expect(await relnames(['r', 'p'])).toEqual(['migrations']);
    await ds.runMigrations();
    expect(await ds.showMigrations()).toBe(false);
    expect((await partitions()).length).toBe(4);
  });

  it('boots through DatabaseModule with a schema and reports up', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(config), DatabaseModule.forRoot({ schema })],
    }).compile();
    await moduleRef.init();
    expect(await moduleRef.get(DatabaseHealthIndicator).isHealthy()).toEqual({
      database: { status: 'up', type: 'postgres' },
    });
    const far = new Date('2098-01-15T00:00:00Z');
    expect(await moduleRef.get(AuditPartitionsMaintainer).run(far)).toEqual([
      'audit_logs_y2098m01',
      'audit_logs_y2098m02',
      'audit_logs_y2098m03',
    ]);
    await moduleRef.close();
  });

  it('opens a new schema that another instance is creating at the same moment', async () => {
    const fresh = uniqueName('db_new');
    // Another instance's CREATE SCHEMA, not yet committed: ours wait on it, then find it made.
    const other = new Client({ connectionString: TEST_DATABASE_URL });
    await other.connect();
    let opened: DataSource[] = [];
    try {
      await other.query('BEGIN');
      await other.query(`CREATE SCHEMA "${fresh}"`);
      const opening = Promise.all(
        [1, 2].map(() => openDataSource(config, { schema: fresh, migrationsRun: false })),
      );
      const waiting = async () =>
        Number(
          (
            await ds.query(
              `SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'CREATE SCHEMA IF NOT EXISTS%'`,
            )
          )[0].n,
        );
      for (let i = 0; i < 100 && (await waiting()) < 2; i++) await new Promise((r) => setTimeout(r, 50));
      expect(await waiting()).toBe(2);
      await other.query('COMMIT');
      opened = await opening;
      for (const d of opened) expect(await d.query('SELECT current_schema() AS s')).toEqual([{ s: fresh }]);
    } finally {
      await other.query(`DROP SCHEMA IF EXISTS "${fresh}" CASCADE`).catch(() => undefined);
      await other.end();
      await Promise.all(opened.map((d) => d.destroy()));
    }
  });

  it('runs migrations one instance at a time per schema: the others wait, then find nothing pending', async () => {
    const raceSchema = uniqueName('db_race');
    const otherSchema = uniqueName('db_race_other');
    const [a, b, other] = await Promise.all([
      openDataSource(config, { schema: raceSchema, migrationsRun: false }),
      openDataSource(config, { schema: raceSchema, migrationsRun: false }),
      openDataSource(config, { schema: otherSchema, migrationsRun: false }),
    ]);
    const holder = new Client({ connectionString: TEST_DATABASE_URL });
    await holder.connect();
    const lock = [MIGRATIONS_LOCK_KEY, raceSchema];
    try {
      await holder.query('SELECT pg_advisory_lock($1, hashtext($2))', lock);
      const runs = [runMigrations(a), runMigrations(b)];
      // Waiters on this schema's lock only (the two-key form: classid, objid, objsubid 2).
      const waiting = async () =>
        Number(
          (
            await holder.query(
              `SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
                 AND classid = $1 AND objid::int8 = (hashtext($2)::int8 & 4294967295) AND objsubid = 2`,
              lock,
            )
          ).rows[0].n,
        );
      for (let i = 0; i < 100 && (await waiting()) < 2; i++) await new Promise((r) => setTimeout(r, 50));
      expect(await waiting()).toBe(2);
      expect(await a.query(`SELECT to_regclass($1) AS t`, [`"${raceSchema}".migrations`])).toEqual([
        { t: null },
      ]);
      // Another schema's migrations do not wait for this one's.
      expect((await runMigrations(other)).length).toBe(MIGRATIONS.length);
      await holder.query('SELECT pg_advisory_unlock($1, hashtext($2))', lock);
      const applied = (await Promise.all(runs)).map((m) => m.length).sort((x, y) => x - y);
      expect(applied).toEqual([0, MIGRATIONS.length]);
      // Neither kept the lock, nor its connection's statement timeout off.
      expect(await waiting()).toBe(0);
      expect((await holder.query('SELECT pg_try_advisory_lock($1, hashtext($2)) AS got', lock)).rows).toEqual(
        [{ got: true }],
      );
    } finally {
      await holder.end();
      await a.query(`DROP SCHEMA IF EXISTS "${raceSchema}" CASCADE`);
      await a.query(`DROP SCHEMA IF EXISTS "${otherSchema}" CASCADE`);
      await Promise.all([a.destroy(), b.destroy(), other.destroy()]);
    }
  });

  describe('statement timeout (DATABASE_STATEMENT_TIMEOUT_MS)', () => {
    /** A migration slower than the timeout under test: it must still run. */
    class SlowMigration1999999999999 implements MigrationInterface {
      name = 'SlowMigration1999999999999';
      async up(q: QueryRunner): Promise<void> {
        await q.query('SELECT pg_sleep(0.8)');
        await q.query('CREATE TABLE slow_migration_ran (x int)');
      }
      async down(): Promise<void> {}
    }
    const timeoutSchema = uniqueName('db_stmt');
    let short: DataSource | undefined;
    let holder: DataSource | undefined;
    afterEach(async () => {
      await holder?.destroy().catch(() => undefined);
      holder = undefined;
    });
    afterAll(async () => {
      if (short?.isInitialized) {
        await short.query(`DROP SCHEMA IF EXISTS "${timeoutSchema}" CASCADE`);
        await short.destroy();
      }
    });

    it('is 10 s by default, and 0 leaves the server its own setting', async () => {
      expect(await ds.query('SHOW statement_timeout')).toEqual([{ statement_timeout: '10s' }]);
      const off = await openDataSource(
        configFor(root, { DATABASE_URL: TEST_DATABASE_URL, DATABASE_STATEMENT_TIMEOUT_MS: '0' }),
        { schema, migrationsRun: false },
      );
      const plain = new Client({ connectionString: TEST_DATABASE_URL });
      await plain.connect();
      try {
        const own = (await plain.query('SHOW statement_timeout')).rows;
        expect(await off.query('SHOW statement_timeout')).toEqual(own);
        expect(off.options).not.toHaveProperty('extra.statement_timeout');
      } finally {
        await plain.end();
        await off.destroy();
      }
    });

    it('runs migrations without it, then gives the same connection its timeout back', async () => {
      // One pooled connection: the one the migrations ran on is the one every later query uses.
      const cfg = configFor(root, {
        DATABASE_URL: TEST_DATABASE_URL,
        DATABASE_POOL_SIZE: '1',
        DATABASE_STATEMENT_TIMEOUT_MS: '200',
        // Shorter than the slow migration too: migrations run without the client's timeout as well.
        DATABASE_QUERY_TIMEOUT_MS: '500',
      });
      short = await initializeDataSource({
        ...buildDataSourceOptions(cfg, { schema: timeoutSchema, migrationsRun: true }),
        migrations: [...MIGRATIONS, SlowMigration1999999999999],
      });
      expect(await short.query(`SELECT to_regclass('slow_migration_ran') IS NOT NULL AS ran`)).toEqual([
        { ran: true },
      ]);
      expect(await short.query('SHOW statement_timeout')).toEqual([{ statement_timeout: '200ms' }]);
      const slow = await short.query('SELECT pg_sleep(1)').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(slow).toMatchObject({ driverError: { code: '57014' } });
      expect(isDatabaseUnavailable(slow)).toBe(true);
    });

    it('cancels a statement waiting on a lock, and the connection serves the next one', async () => {
      expect(short).toBeDefined();
      holder = await openDataSource(configFor(root, { DATABASE_URL: TEST_DATABASE_URL }), {
        schema: timeoutSchema,
        migrationsRun: false,
      });
      const runner = holder.createQueryRunner();
      await runner.startTransaction();
      await runner.query('LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE');
      const blocked = await short!.query('SELECT count(*) FROM api_keys').then(
        () => undefined,
        (e: unknown) => e,
      );
      await runner.rollbackTransaction();
      await runner.release();
      expect(blocked).toMatchObject({ driverError: { code: '57014' } });
      expect(isDatabaseUnavailable(blocked)).toBe(true);
      expect(await short!.query('SELECT count(*)::int AS n FROM api_keys')).toEqual([{ n: 0 }]);
    });
  });

  describe('a database whose answers stop coming (packets lost, not refused)', () => {
    let proxy: TcpProxy;
    let lossy: DataSource;

    beforeAll(async () => {
      proxy = await TcpProxy.to(TEST_DATABASE_URL);
      lossy = await openDataSource(
        configFor(root, {
          DATABASE_URL: proxy.urlFor(TEST_DATABASE_URL),
          RUN_MIGRATIONS: 'false',
          // One pooled connection: the one whose answer was lost is the one the next query would get.
          DATABASE_POOL_SIZE: '1',
          DATABASE_STATEMENT_TIMEOUT_MS: '500',
          DATABASE_QUERY_TIMEOUT_MS: '1000',
        }),
      );
    });
    afterAll(async () => {
      await proxy?.cut();
      await lossy?.destroy().catch(() => undefined);
    });

    it('gives up at DATABASE_QUERY_TIMEOUT_MS as unavailable, and drops the connection: the next query gets a fresh one', async () => {
      expect(await lossy.query('SELECT 1 AS n')).toEqual([{ n: 1 }]);
      proxy.blackhole();
      const started = Date.now();
      const lost = await lossy.query('SELECT 2 AS n').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(Date.now() - started).toBeLessThan(5_000);
      expect((lost as Error).message).toBe('Query read timeout');
      expect(isDatabaseUnavailable(lost)).toBe(true);
      // The path comes back for new connections; the lost answer never comes. A connection still
      // waiting for it would hold every later query to its own timeout.
      proxy.heal({ forgetOpen: true });
      expect(await lossy.query('SELECT 3 AS n')).toEqual([{ n: 3 }]);
    });
  });

  describe('health when the database goes away', () => {
    let proxy: TcpProxy;
    let flaky: DataSource;
    let health: DatabaseHealthIndicator;

    beforeAll(async () => {
      proxy = await TcpProxy.to(TEST_DATABASE_URL);
      const env = { DATABASE_URL: proxy.urlFor(TEST_DATABASE_URL), RUN_MIGRATIONS: 'false' };
      flaky = await openDataSource(configFor(root, env));
      health = new DatabaseHealthIndicator(flaky, new HealthIndicatorService());
    });
    afterAll(async () => {
      await proxy?.cut();
      await flaky?.destroy().catch(() => undefined);
    });

    it('reports up, then down on a timeout when the server stops answering, then down when the port closes', async () => {
      expect((await health.isHealthy()).database.status).toBe('up');

      proxy.blackhole();
      expect(await health.isHealthy()).toEqual({
        database: { status: 'down', type: 'postgres', message: 'no answer within 1500 ms' },
      });

      await proxy.cut();
      expect(await health.isHealthy()).toEqual({
        database: { status: 'down', type: 'postgres', message: 'query failed' },
      });
    });

    it('reports down for a URL pointing at a closed port, where the boot fails', async () => {
      const env = { DATABASE_URL: withPort(TEST_DATABASE_URL, await closedPort()) };
      const dead = new DataSource(buildDataSourceOptions(configFor(root, env), { migrationsRun: false }));
      await expect(dead.initialize()).rejects.toThrow();
      await expect(openDataSource(configFor(root, env))).rejects.toThrow();
      expect(await new DatabaseHealthIndicator(dead, new HealthIndicatorService()).isHealthy()).toEqual({
        database: { status: 'down', type: 'postgres', message: 'not connected' },
      });
    });

    it('names DATABASE_SSL when TLS is asked of a server without it (the production default)', async () => {
      const env = { DATABASE_URL: TEST_DATABASE_URL, DATABASE_SSL: 'true' };
      await expect(openDataSource(configFor(root, env), { migrationsRun: false })).rejects.toThrow(
        /does not support SSL connections \(DATABASE_SSL is on, .*set DATABASE_SSL=false for a server without TLS/,
      );
    });
  });
});
