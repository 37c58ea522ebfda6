/**
 * The schema the migrations leave behind, column by column and index by
 * index, the same on SQLite and PostgreSQL except where the migrations say
 * they differ (the id columns, audit_logs' primary key and unique index on
 * the partitioned table). An entity that relies on a NOT NULL, a default or
 * an index column order finds it on both engines.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { AppConfig } from '../../src/config/config.types';
import { buildDataSourceOptions, DataSourceOverrides } from '../../src/database/data-source-options';
import { MIGRATIONS } from '../../src/database/migrations-list';
import { initializeDataSource, openDataSource } from '../../src/database/open-data-source';
import { describeWithPostgres, dropSchema, TEST_DATABASE_URL, uniqueName } from '../support/backends';
import { configFor } from '../support/test-config';

type Dialect = 'sqlite' | 'pg';
/** [type, NOT NULL, has a default]; a type of `timestamp` is timestamptz on PostgreSQL, datetime on SQLite. */
type Column = [string, boolean, boolean];
type PerDialect<T> = T | { sqlite: T; pg: T };

const COLUMNS: Record<string, Record<string, PerDialect<Column>>> = {
  api_keys: {
    id: ['varchar(64)', true, false],
    name: ['varchar(200)', true, false],
    organization_id: ['varchar(64)', true, false],
    user_id: ['varchar(64)', true, false],
    permissions: ['text', true, false],
    created_by: ['varchar(64)', true, false],
    created_at: ['timestamp', true, true],
    expires_at: ['timestamp', false, false],
    last_used_at: ['timestamp', false, false],
    revoked_at: ['timestamp', false, false],
    revoked_reason: ['varchar(500)', false, false],
  },
  encrypted_credentials: {
    id: { sqlite: ['varchar(36)', true, false], pg: ['uuid', true, true] },
    organization_id: ['varchar(64)', true, false],
    user_id: ['varchar(64)', false, false],
    service: ['varchar(100)', true, false],
    ciphertext: ['text', true, false],
    iv: ['varchar(64)', true, false],
    auth_tag: ['varchar(64)', true, false],
    wrapped_key: ['varchar(128)', true, false],
    key_id: ['varchar(64)', true, false],
    fingerprint: ['varchar(128)', false, false],
    created_at: ['timestamp', true, true],
    updated_at: ['timestamp', true, true],
  },
  audit_logs: {
    id: { sqlite: ['integer', true, false], pg: ['bigint', true, true] },
    occurred_at: ['timestamp', true, true],
    organization_id: ['varchar(64)', false, false],
    user_id: ['varchar(64)', false, false],
    key_id: ['varchar(64)', false, false],
    kind: ['varchar(32)', true, false],
    action: ['varchar(200)', true, false],
    outcome: ['varchar(32)', true, false],
    status: ['integer', false, false],
    error_code: ['varchar(100)', false, false],
    duration_ms: ['integer', false, false],
    ip: ['varchar(64)', false, false],
    user_agent: ['varchar(512)', false, false],
    request_id: ['varchar(128)', false, false],
    args_digest: ['varchar(128)', false, false],
    args: ['text', false, false],
    writer_id: ['varchar(64)', true, false],
    seq: ['bigint', true, false],
    prev_hash: ['varchar(128)', false, false],
    hash: ['varchar(128)', true, false],
  },
  audit_chain_heads: {
    writer_id: ['varchar(64)', true, false],
    seq: ['bigint', true, false],
    hash: ['varchar(128)', true, false],
    updated_at: ['timestamp', true, true],
  },
  audit_chain_anchors: {
    writer_id: ['varchar(64)', true, false],
    seq: ['bigint', true, false],
    hash: ['varchar(128)', true, false],
    pruned_before: ['timestamp', true, false],
    pruned_at: ['timestamp', true, true],
  },
};

const PRIMARY_KEYS: Record<string, PerDialect<string[]>> = {
  api_keys: ['id'],
  encrypted_credentials: ['id'],
  audit_logs: { sqlite: ['id'], pg: ['id', 'occurred_at'] },
  audit_chain_heads: ['writer_id'],
  audit_chain_anchors: ['writer_id'],
};

interface Index {
  table: string;
  unique: boolean;
  partial: boolean;
  /** Key columns in order, ` DESC` when descending; an expression as `(expr)`. */
  columns: string[];
}
const INDEXES: Record<string, PerDialect<Index>> = {
  idx_api_keys_org_created: {
    table: 'api_keys',
    unique: false,
    partial: false,
    columns: ['organization_id', 'created_at'],
  },
  idx_api_keys_active: {
    table: 'api_keys',
    unique: false,
    partial: true,
    columns: ['organization_id', 'created_at'],
  },
  idx_api_keys_revoked: { table: 'api_keys', unique: false, partial: true, columns: ['revoked_at'] },
  uq_encrypted_credentials_scope: {
    table: 'encrypted_credentials',
    unique: true,
    partial: false,
    columns: ['organization_id', '(expr)', 'service'],
  },
  idx_encrypted_credentials_org_service: {
    table: 'encrypted_credentials',
    unique: false,
    partial: false,
    columns: ['organization_id', 'service'],
  },
  ...Object.fromEntries(
    (
      [
        ['org', 'organization_id'],
        ['user', 'user_id'],
        ['key', 'key_id'],
        ['kind', 'kind'],
      ] as const
    ).map(([short, column]) => [
      `idx_audit_logs_${short}_time`,
      { table: 'audit_logs', unique: false, partial: false, columns: [column, 'occurred_at DESC'] },
    ]),
  ),
  uq_audit_logs_writer_seq: {
    sqlite: { table: 'audit_logs', unique: true, partial: false, columns: ['writer_id', 'seq'] },
    pg: { table: 'audit_logs', unique: true, partial: false, columns: ['writer_id', 'seq', 'occurred_at'] },
  },
};

const pick = <T>(value: PerDialect<T>, dialect: Dialect): T =>
  typeof value === 'object' && value !== null && 'sqlite' in value && 'pg' in value ? value[dialect] : value;

/** What the dialect reports, in the neutral form of COLUMNS / PRIMARY_KEYS / INDEXES. */
interface Introspection {
  columns(table: string): Promise<Record<string, Column>>;
  primaryKey(table: string): Promise<string[]>;
  /** Every index on the schema's tables except primary keys (and SQLite's automatic ones). */
  indexes(): Promise<Record<string, Index>>;
}

/**
 * A database migrated before audit_chain_heads existed, holding audit rows:
 * the later migrations give every chain its head (its last seq and hash).
 */
function upgradeSuite(configure: () => { config: AppConfig; overrides: DataSourceOverrides }) {
  it('gives every chain already stored its head when audit_chain_heads is added', async () => {
    const { config, overrides } = configure();
    const first = await initializeDataSource({
      ...buildDataSourceOptions(config, { ...overrides, migrationsRun: true }),
      migrations: [MIGRATIONS[0]],
    });
    try {
      const pg = first.options.type === 'postgres';
      const rows: [string, number, string, string][] = [
        ['w-a', 1, 'ha1', '2026-01-01T00:00:01Z'],
        ['w-a', 3, 'ha3', '2026-01-01T00:00:02Z'],
        ['w-a', 2, 'ha2', '2026-01-01T00:00:03Z'],
        ['w-b', 1, 'hb1', '2026-01-01T00:00:04Z'],
      ];
      for (const [writer, seq, hash, at] of rows) {
        await first.query(
          `INSERT INTO audit_logs (occurred_at, kind, action, outcome, writer_id, seq, hash)
           VALUES (${pg ? '$1, $2, $3, $4, $5, $6, $7' : '?, ?, ?, ?, ?, ?, ?'})`,
          [at, 'tool_call', 'xero.list', 'ok', writer, seq, hash],
        );
      }
    } finally {
      await first.destroy();
    }
    const upgraded = await openDataSource(config, overrides);
    try {
      expect(
        (await upgraded.query('SELECT writer_id, seq, hash FROM audit_chain_heads ORDER BY writer_id')).map(
          (r: { writer_id: string; seq: number | string; hash: string }) => [
            r.writer_id,
            Number(r.seq),
            r.hash,
          ],
        ),
      ).toEqual([
        ['w-a', 3, 'ha3'],
        ['w-b', 1, 'hb1'],
      ]);
    } finally {
      await upgraded.destroy();
    }
  });
}

function schemaSuite(dialect: Dialect, getIntrospection: () => Introspection) {
  it.each(Object.keys(COLUMNS))(
    '%s has the columns, types, NOT NULLs and defaults it was designed with',
    async (table) => {
      const expected = Object.fromEntries(
        Object.entries(COLUMNS[table]).map(([name, spec]) => [name, pick(spec, dialect)]),
      );
      expect(await getIntrospection().columns(table)).toEqual(expected);
    },
  );

  it.each(Object.keys(PRIMARY_KEYS))('%s has its primary key', async (table) => {
    expect(await getIntrospection().primaryKey(table)).toEqual(pick(PRIMARY_KEYS[table], dialect));
  });

  it('has every index with its columns in order, direction, uniqueness and partiality, and no other', async () => {
    const expected = Object.fromEntries(
      Object.entries(INDEXES).map(([name, spec]) => [name, pick(spec, dialect)]),
    );
    expect(await getIntrospection().indexes()).toEqual(expected);
  });
}

describe('schema (SQLite)', () => {
  let root: string;
  let ds: DataSource;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'sentia-schema-'));
    ds = await openDataSource(configFor(root));
  });
  afterAll(async () => {
    await ds?.destroy();
    rmSync(root, { recursive: true, force: true });
  });

  upgradeSuite(() => ({ config: configFor(join(root, 'upgrade')), overrides: {} }));

  it("moves a chain's head forward only, with the hash of the row at that position (the trigger)", async () => {
    const insert = (seq: number, hash: string) =>
      ds.query(
        `INSERT INTO audit_logs (kind, action, outcome, writer_id, seq, hash)
         VALUES ('tool_call', 'xero.list', 'ok', 'w-trigger', ?, ?)`,
        [seq, hash],
      );
    const head = async () =>
      (await ds.query(`SELECT seq, hash FROM audit_chain_heads WHERE writer_id = 'w-trigger'`)) as {
        seq: number;
        hash: string;
      }[];
    await insert(1, 'h1');
    expect(await head()).toEqual([{ seq: 1, hash: 'h1' }]);
    await insert(3, 'h3');
    expect(await head()).toEqual([{ seq: 3, hash: 'h3' }]);
    // A late row further back (a replayed spool) leaves the head where it is.
    await insert(2, 'h2');
    expect(await head()).toEqual([{ seq: 3, hash: 'h3' }]);
  });

  schemaSuite('sqlite', () => ({
    async columns(table) {
      const rows: { name: string; type: string; notnull: number; dflt_value: string | null }[] =
        await ds.query(`PRAGMA table_info(${table})`);
      return Object.fromEntries(
        rows.map((r) => {
          const type = r.type.toLowerCase() === 'datetime' ? 'timestamp' : r.type.toLowerCase();
          return [r.name, [type, r.notnull === 1, r.dflt_value !== null]];
        }),
      );
    },
    async primaryKey(table) {
      const rows: { name: string; pk: number }[] = await ds.query(`PRAGMA table_info(${table})`);
      return rows
        .filter((r) => r.pk > 0)
        .sort((a, b) => a.pk - b.pk)
        .map((r) => r.name);
    },
    async indexes() {
      const result: Record<string, Index> = {};
      for (const table of Object.keys(COLUMNS)) {
        const list: { name: string; unique: number; origin: string; partial: number }[] = await ds.query(
          `PRAGMA index_list(${table})`,
        );
        for (const index of list.filter((i) => i.origin === 'c')) {
          const info: { name: string | null; desc: number; key: number }[] = await ds.query(
            `PRAGMA index_xinfo(${index.name})`,
          );
          result[index.name] = {
            table,
            unique: index.unique === 1,
            partial: index.partial === 1,
            columns: info
              .filter((c) => c.key === 1)
              .map((c) => `${c.name ?? '(expr)'}${c.desc === 1 ? ' DESC' : ''}`),
          };
        }
      }
      return result;
    },
  }));
});

describeWithPostgres('schema (PostgreSQL)', () => {
  const schema = uniqueName('schema');
  let root: string;
  let ds: DataSource;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'sentia-schema-pg-'));
    ds = await openDataSource(configFor(root, { DATABASE_URL: TEST_DATABASE_URL }), { schema });
  });
  afterAll(async () => {
    if (ds?.isInitialized) {
      await ds.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await ds.destroy();
    }
    rmSync(root, { recursive: true, force: true });
  });

  const upgradeSchema = uniqueName('schema_up');
  afterAll(() => dropSchema(upgradeSchema));
  upgradeSuite(() => ({
    config: configFor(root, { DATABASE_URL: TEST_DATABASE_URL }),
    overrides: { schema: upgradeSchema },
  }));

  schemaSuite('pg', () => ({
    async columns(table) {
      const rows: {
        column_name: string;
        data_type: string;
        character_maximum_length: number | null;
        is_nullable: string;
        column_default: string | null;
      }[] = await ds.query(
        `SELECT column_name, data_type, character_maximum_length, is_nullable, column_default
           FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
        [schema, table],
      );
      const typeOf = (r: (typeof rows)[number]) =>
        r.data_type === 'character varying'
          ? `varchar(${r.character_maximum_length})`
          : r.data_type === 'timestamp with time zone'
            ? 'timestamp'
            : r.data_type;
      return Object.fromEntries(
        rows.map((r) => [r.column_name, [typeOf(r), r.is_nullable === 'NO', r.column_default !== null]]),
      );
    },
    async primaryKey(table) {
      const rows: { column: string }[] = await ds.query(
        `SELECT a.attname AS column
           FROM pg_constraint c
           JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, n) ON true
           JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
          WHERE c.contype = 'p' AND c.conrelid = to_regclass($1)
          ORDER BY k.n`,
        [`"${schema}"."${table}"`],
      );
      return rows.map((r) => r.column);
    },
    async indexes() {
      const rows: { name: string; table: string; unique: boolean; partial: boolean; columns: string[] }[] =
        await ds.query(
          `SELECT ic.relname AS name, tc.relname AS table, i.indisunique AS unique, i.indpred IS NOT NULL AS partial,
                  ARRAY(SELECT CASE WHEN i.indkey[k - 1] = 0 THEN '(expr)' ELSE pg_get_indexdef(i.indexrelid, k, true) END
                               || CASE WHEN i.indoption[k - 1] & 1 = 1 THEN ' DESC' ELSE '' END
                          FROM generate_series(1, i.indnkeyatts) AS k ORDER BY k) AS columns
             FROM pg_index i
             JOIN pg_class ic ON ic.oid = i.indexrelid
             JOIN pg_class tc ON tc.oid = i.indrelid
             JOIN pg_namespace n ON n.oid = tc.relnamespace
            WHERE n.nspname = $1 AND tc.relname = ANY($2) AND NOT i.indisprimary`,
          [schema, Object.keys(COLUMNS)],
        );
      return Object.fromEntries(
        rows.map(({ name, ...index }) => [name, { ...index, columns: [...index.columns] }]),
      );
    },
  }));
});
