import type { DataSource, EntityManager } from 'typeorm';
import { type AuditRow, CANONICAL_FIELDS, canonicalRow } from './audit-record';

/**
 * SQL for `audit_logs` on both dialects (migrations/1795780800000-InitialSchema.ts).
 * Table names are unqualified: the DataSource's search_path (PostgreSQL schema
 * override) or the SQLite file decides where they resolve.
 */
/** Every column the writer inserts: the canonical (hashed) fields, then the chain links. */
export const AUDIT_COLUMNS = [...CANONICAL_FIELDS.map(([, column]) => column), 'prev_hash', 'hash'] as const;

/** Rows per SQLite statement (17-19 parameters each; SQLite allows 32766). */
export const SQLITE_ROWS_PER_STATEMENT = 1000;

type Db = DataSource | EntityManager;

export const isPostgres = (db: Db): boolean =>
  ('options' in db ? db.options : db.connection.options).type === 'postgres';

/** SQLite keeps datetimes as TypeORM's UTC text, `YYYY-MM-DD HH:MM:SS.SSS`, which sorts as time. */
export const sqliteTime = (iso: string): string => iso.replace('T', ' ').replace('Z', '').slice(0, 23);

/** A row's SQLite parameters, in AUDIT_COLUMNS order. */
function sqliteValues(row: AuditRow): unknown[] {
  const out: unknown[] = CANONICAL_FIELDS.map(([field]) =>
    field === 'occurredAt' ? sqliteTime(row.occurredAt) : row[field],
  );
  out.push(row.prevHash, row.hash);
  return out;
}

/**
 * On PostgreSQL a batch travels as one JSON array of arrays: each element is
 * the row's canonical form (canonicalRow, the text its hash covers, which the
 * writer has built anyway) with prev_hash and hash appended. Column i of
 * PG_ROW_COLUMNS is element i.
 */
const PG_ROW_COLUMNS: ReadonlyArray<readonly [column: string, type: string]> = [
  ...CANONICAL_FIELDS.map(([, column, type]) => [column, type] as const),
  ['prev_hash', 'varchar'],
  ['hash', 'varchar'],
];

/**
 * The rows ($1) and, in the same statement, their chains' heads ($2: `[writer
 * id, seq, hash]` of each chain's last row in the batch), moved forward only
 * (audit_chain_heads, migrations/1796428800000-AuditChainHeads.ts). A
 * data-modifying WITH runs to completion whether or not the outer statement
 * reads it, and the two commit or fail together. A statement-level trigger
 * with a transition table did the same but copied every row once more: the
 * audit bench (one run each, 1,024 producers) gave 25,247 records/s with it
 * against 36,664 with this.
 */
const pgInsert = (ignoreDuplicates: boolean): string => {
  const columns = PG_ROW_COLUMNS.map(([column]) => column).join(', ');
  const fields = PG_ROW_COLUMNS.map(([, type], i) => `(r->>${i})::${type}`).join(', ');
  const onConflict = ignoreDuplicates ? ' ON CONFLICT DO NOTHING' : '';
  // A replay skips rows a prune already took (at or before their chain's anchor), too.
  const w = AUDIT_COLUMNS.indexOf('writer_id');
  const seq = AUDIT_COLUMNS.indexOf('seq');
  const pruned = ignoreDuplicates
    ? ` WHERE NOT EXISTS (SELECT 1 FROM audit_chain_anchors a WHERE a.writer_id = r->>${w} AND a.seq >= (r->>${seq})::bigint)`
    : '';
  return (
    `WITH inserted AS (INSERT INTO audit_logs (${columns}) SELECT ${fields} FROM jsonb_array_elements($1::jsonb) AS r${pruned}${onConflict}) ` +
    `INSERT INTO audit_chain_heads AS h (writer_id, seq, hash) ` +
    `SELECT e->>0, (e->>1)::bigint, e->>2 FROM jsonb_array_elements($2::jsonb) AS e ` +
    `ON CONFLICT (writer_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, updated_at = now() ` +
    `WHERE h.seq < excluded.seq`
  );
};

/** `[writer id, seq, hash]` of the last row (highest seq) of each chain in `rows`, as JSON. */
function chainHeadsJson(rows: readonly AuditRow[]): string {
  const heads = new Map<string, AuditRow>();
  for (const row of rows) {
    const known = heads.get(row.writerId);
    if (!known || row.seq > known.seq) heads.set(row.writerId, row);
  }
  return JSON.stringify([...heads.values()].map((r) => [r.writerId, r.seq, r.hash]));
}
const PG_INSERT = { name: 'sentia_audit_insert', text: pgInsert(false) };
const PG_INSERT_IGNORE = { name: 'sentia_audit_insert_ignore', text: pgInsert(true) };

interface PgPool {
  query(query: { name: string; text: string; values: unknown[] }): Promise<unknown>;
}

/**
 * The DataSource's pg Pool, for a named (prepared) statement: each pooled
 * connection then parses and plans the INSERT once instead of for every
 * batch (measured: p50 0.95 against 1.10-1.33 ms a one-row commit). Not for
 * an EntityManager: a transaction's statements must go on its own connection,
 * nor for a pool behind a proxy that loses prepared statements (below).
 */
function pgPool(db: Db): PgPool | undefined {
  if (!('driver' in db)) return undefined;
  const master = (db.driver as { master?: Partial<PgPool> }).master;
  return typeof master?.query === 'function' && !unnamedOnly.has(master) ? (master as PgPool) : undefined;
}

/**
 * Pools that answered a named statement with "prepared statement does not
 * exist" (26000) or "already exists" (42P05): a connection pooler in
 * transaction mode (PgBouncer before 1.21) hands each statement to any server
 * connection. Such a statement did not run, so it is sent again unnamed,
 * and so is every later one on that pool.
 */
const unnamedOnly = new WeakSet<object>();
const PREPARED_STATEMENT_LOST = new Set(['26000', '42P05']);

async function pgQuery(db: Db, statement: { name: string; text: string }, values: unknown[]): Promise<void> {
  const pool = pgPool(db);
  if (pool) {
    try {
      await pool.query({ ...statement, values });
      return;
    } catch (err) {
      if (!PREPARED_STATEMENT_LOST.has((err as { code?: string })?.code ?? '')) throw err;
      unnamedOnly.add(pool);
    }
  }
  await db.query(statement.text, values);
}

/** A row's element of the PostgreSQL batch array, from its canonicalRow text (a JSON array). */
const pgRowJson = (canonical: string, row: AuditRow): string =>
  `${canonical.slice(0, -1)},${JSON.stringify(row.prevHash)},${JSON.stringify(row.hash)}]`;

/**
 * Inserts rows in as few statements as possible: on PostgreSQL one
 * `INSERT ... SELECT FROM jsonb_array_elements($1)` (one JSON parameter
 * whatever the batch size) that moves the chains' heads too; on SQLite
 * multi-row VALUES statements in one transaction (a row trigger moves the
 * heads). `ignoreDuplicates` (spool replay) skips rows whose
 * (writer_id, seq) is already stored, which makes a replay idempotent, and
 * rows `audit prune` already removed (at or before their chain's anchor).
 * `canonical[i]`, when given, is canonicalRow(rows[i]), already built for
 * the hash (PostgreSQL sends it on instead of serialising the row again).
 */
export async function insertAuditRows(
  db: Db,
  rows: readonly AuditRow[],
  ignoreDuplicates = false,
  canonical?: readonly string[],
): Promise<void> {
  if (rows.length === 0) return;
  if (isPostgres(db)) {
    // One JSON parameter: JSON.stringify and PostgreSQL's JSON parser are far cheaper than
    // the driver's per-element array escaping, and the statement text never changes.
    let json = '[';
    for (let i = 0; i < rows.length; i++) {
      if (i > 0) json += ',';
      json += pgRowJson(canonical?.[i] ?? canonicalRow(rows[i]), rows[i]);
    }
    await pgQuery(db, ignoreDuplicates ? PG_INSERT_IGNORE : PG_INSERT, [json + ']', chainHeadsJson(rows)]);
    return;
  }
  const cols = AUDIT_COLUMNS.join(', ');
  const statement = async (m: Db) => {
    for (let i = 0; i < rows.length; i += SQLITE_ROWS_PER_STATEMENT) {
      const chunk = rows.slice(i, i + SQLITE_ROWS_PER_STATEMENT);
      const tuple = `(${AUDIT_COLUMNS.map(() => '?').join(', ')})`;
      const values = chunk.map(() => tuple).join(', ');
      await m.query(
        ignoreDuplicates
          ? `INSERT OR IGNORE INTO audit_logs (${cols}) SELECT * FROM (VALUES ${values}) AS v WHERE NOT EXISTS (` +
              `SELECT 1 FROM audit_chain_anchors a WHERE a.writer_id = v.column${AUDIT_COLUMNS.indexOf('writer_id') + 1} ` +
              `AND a.seq >= v.column${AUDIT_COLUMNS.indexOf('seq') + 1})`
          : `INSERT INTO audit_logs (${cols}) VALUES ${values}`,
        chunk.flatMap(sqliteValues),
      );
    }
  };
  // One statement is atomic by itself; several go in one transaction (a caller's EntityManager brings its own).
  const isDataSource = 'manager' in db;
  if (isDataSource && rows.length > SQLITE_ROWS_PER_STATEMENT) await db.transaction((m) => statement(m));
  else await statement(db);
}

/** Raw row as read back from either dialect. */
export interface StoredAuditRow {
  id: string | number;
  occurred_at: Date | string;
  organization_id: string | null;
  user_id: string | null;
  key_id: string | null;
  kind: string;
  action: string;
  outcome: string;
  status: number | null;
  error_code: string | null;
  duration_ms: number | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  args_digest: string | null;
  args: string | null;
  writer_id: string;
  seq: string | number;
  prev_hash: string | null;
  hash: string;
}

/** A stored time as ISO 8601 UTC (PostgreSQL gives a Date, SQLite TypeORM's UTC text). */
export function storedTimeIso(value: Date | string): string {
  if (value instanceof Date) return value.toISOString();
  return new Date(value.includes('T') ? value : `${value.replace(' ', 'T')}Z`).toISOString();
}

/** The writer's view of a stored row (for hashing and export). */
export function fromStored(r: StoredAuditRow): AuditRow & { id: string } {
  return {
    id: String(r.id),
    occurredAt: storedTimeIso(r.occurred_at),
    organizationId: r.organization_id,
    userId: r.user_id,
    keyId: r.key_id,
    kind: r.kind,
    action: r.action,
    outcome: r.outcome,
    status: r.status == null ? null : Number(r.status),
    errorCode: r.error_code,
    durationMs: r.duration_ms == null ? null : Number(r.duration_ms),
    ip: r.ip,
    userAgent: r.user_agent,
    requestId: r.request_id,
    argsDigest: r.args_digest,
    args: r.args,
    writerId: r.writer_id,
    seq: Number(r.seq),
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

/** `$1, $2` on PostgreSQL, `?` on SQLite. */
export function placeholders(db: Db): (n: number) => string {
  return isPostgres(db) ? (n) => `$${n}` : () => '?';
}

/** A time parameter in the dialect's stored form. */
export const timeParam = (db: Db, d: Date): string =>
  isPostgres(db) ? d.toISOString() : sqliteTime(d.toISOString());
