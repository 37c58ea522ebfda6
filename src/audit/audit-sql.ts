import type { DataSource, EntityManager } from 'typeorm';
import type { AuditRow } from './audit-record';

/**
 * SQL for `audit_logs` on both dialects (migrations/1795780800000-InitialSchema.ts).
 * Table names are unqualified: the DataSource's search_path (PostgreSQL schema
 * override) or the SQLite file decides where they resolve.
 */
export const AUDIT_COLUMNS = [
  'occurred_at',
  'organization_id',
  'user_id',
  'key_id',
  'kind',
  'action',
  'outcome',
  'status',
  'error_code',
  'duration_ms',
  'ip',
  'user_agent',
  'request_id',
  'args_digest',
  'args',
  'writer_id',
  'seq',
  'prev_hash',
  'hash',
] as const;

const PG_TYPES = [
  'timestamptz',
  'varchar',
  'varchar',
  'varchar',
  'varchar',
  'varchar',
  'varchar',
  'int4',
  'varchar',
  'int4',
  'varchar',
  'varchar',
  'varchar',
  'varchar',
  'text',
  'varchar',
  'int8',
  'varchar',
  'varchar',
];

/** Rows per SQLite statement (17-19 parameters each; SQLite allows 32766). */
export const SQLITE_ROWS_PER_STATEMENT = 1000;

type Db = DataSource | EntityManager;

export const isPostgres = (db: Db): boolean =>
  ('options' in db ? db.options : db.connection.options).type === 'postgres';

/** SQLite keeps datetimes as TypeORM's UTC text, `YYYY-MM-DD HH:MM:SS.SSS`, which sorts as time. */
export const sqliteTime = (iso: string): string => iso.replace('T', ' ').replace('Z', '').slice(0, 23);

function values(row: AuditRow, pg: boolean): unknown[] {
  return [
    pg ? row.occurredAt : sqliteTime(row.occurredAt),
    row.organizationId,
    row.userId,
    row.keyId,
    row.kind,
    row.action,
    row.outcome,
    row.status,
    row.errorCode,
    row.durationMs,
    row.ip,
    row.userAgent,
    row.requestId,
    row.argsDigest,
    row.args,
    row.writerId,
    row.seq,
    row.prevHash,
    row.hash,
  ];
}

/** A row keyed by column name, for json_to_recordset. */
const pgJsonRow = (r: AuditRow) => ({
  occurred_at: r.occurredAt,
  organization_id: r.organizationId,
  user_id: r.userId,
  key_id: r.keyId,
  kind: r.kind,
  action: r.action,
  outcome: r.outcome,
  status: r.status,
  error_code: r.errorCode,
  duration_ms: r.durationMs,
  ip: r.ip,
  user_agent: r.userAgent,
  request_id: r.requestId,
  args_digest: r.argsDigest,
  args: r.args,
  writer_id: r.writerId,
  seq: r.seq,
  prev_hash: r.prevHash,
  hash: r.hash,
});

/**
 * Inserts rows in as few statements as possible: on PostgreSQL one
 * `INSERT ... SELECT FROM json_to_recordset($1)` (one JSON parameter whatever
 * the batch size); on SQLite multi-row VALUES statements in one
 * transaction. `ignoreDuplicates` (spool replay) skips rows whose
 * (writer_id, seq) is already stored, which makes a replay idempotent.
 */
export async function insertAuditRows(
  db: Db,
  rows: readonly AuditRow[],
  ignoreDuplicates = false,
): Promise<void> {
  if (rows.length === 0) return;
  const cols = AUDIT_COLUMNS.join(', ');
  if (isPostgres(db)) {
    // One JSON parameter: JSON.stringify and PostgreSQL's JSON parser are far cheaper than
    // the driver's per-element array escaping, and the statement text never changes.
    const json = JSON.stringify(rows.map(pgJsonRow));
    const typed = AUDIT_COLUMNS.map((c, i) => `${c} ${PG_TYPES[i]}`).join(', ');
    await db.query(
      `INSERT INTO audit_logs (${cols}) SELECT ${cols} FROM json_to_recordset($1::json) AS r(${typed})${ignoreDuplicates ? ' ON CONFLICT DO NOTHING' : ''}`,
      [json],
    );
    return;
  }
  const statement = async (m: Db) => {
    for (let i = 0; i < rows.length; i += SQLITE_ROWS_PER_STATEMENT) {
      const chunk = rows.slice(i, i + SQLITE_ROWS_PER_STATEMENT);
      const tuple = `(${AUDIT_COLUMNS.map(() => '?').join(', ')})`;
      await m.query(
        `INSERT ${ignoreDuplicates ? 'OR IGNORE ' : ''}INTO audit_logs (${cols}) VALUES ${chunk.map(() => tuple).join(', ')}`,
        chunk.flatMap((r) => values(r, false)),
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
