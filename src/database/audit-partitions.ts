import { DataSource, QueryRunner } from 'typeorm';

/**
 * Monthly partitions of `audit_logs` on PostgreSQL (`audit_logs_yYYYYmMM`,
 * UTC month bounds) plus `audit_logs_default` for anything outside them.
 * SQLite has one plain table, so everything here is a no-op there.
 */
export const AUDIT_TABLE = 'audit_logs';
export const AUDIT_DEFAULT_PARTITION = 'audit_logs_default';

/** First instant of the UTC month of `date`, moved by `addMonths`. */
export function monthStartUtc(date: Date, addMonths = 0): Date {
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + addMonths, 1));
}

/** `audit_logs_y2026m03` for any instant in March 2026 (UTC). */
export function auditPartitionName(date: Date): string {
  const month = String(date.getUTCMonth() + 1).padStart(2, '0');
  return `${AUDIT_TABLE}_y${date.getUTCFullYear()}m${month}`;
}

export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

const isQueryRunner = (db: DataSource | QueryRunner): db is QueryRunner =>
  typeof (db as QueryRunner).release === 'function';

/** Schema the audit tables live in: the DataSource's `schema` option, else the connection's current_schema(). */
export async function postgresSchema(queryRunner: QueryRunner): Promise<string> {
  const configured = (queryRunner.connection.options as { schema?: string }).schema;
  if (configured) return configured;
  const rows: { schema: string }[] = await queryRunner.query('SELECT current_schema() AS schema');
  return rows[0].schema;
}

async function relkind(qr: QueryRunner, schema: string, name: string): Promise<string | undefined> {
  const rows: { relkind: string }[] = await qr.query(
    `SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2`,
    [schema, name],
  );
  return rows[0]?.relkind;
}

/** Creates one month's partition; rows that already fell into the default partition move into it. */
async function createMonth(qr: QueryRunner, schema: string, monthStart: Date): Promise<boolean> {
  const name = auditPartitionName(monthStart);
  // Serialises instances that run this at the same moment; released with the transaction.
  await qr.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`${schema}.${AUDIT_TABLE}:partitions`]);
  if ((await relkind(qr, schema, name)) !== undefined) return false;

  const parent = `${quoteIdent(schema)}.${quoteIdent(AUDIT_TABLE)}`;
  const child = `${quoteIdent(schema)}.${quoteIdent(name)}`;
  const from = monthStart.toISOString();
  const to = monthStartUtc(monthStart, 1).toISOString();
  const bounds = `FOR VALUES FROM ('${from}') TO ('${to}')`;

  let stray = false;
  if ((await relkind(qr, schema, AUDIT_DEFAULT_PARTITION)) !== undefined) {
    const rows: { stray: boolean }[] = await qr.query(
      `SELECT EXISTS (SELECT 1 FROM ${quoteIdent(schema)}.${quoteIdent(AUDIT_DEFAULT_PARTITION)}
        WHERE occurred_at >= $1 AND occurred_at < $2) AS stray`,
      [from, to],
    );
    stray = rows[0].stray;
  }

  if (!stray) {
    await qr.query(`CREATE TABLE IF NOT EXISTS ${child} PARTITION OF ${parent} ${bounds}`);
    return true;
  }
  // A plain CREATE ... PARTITION OF would fail while the default partition holds rows of this
  // month, so build the table beside it, move those rows, then attach (indexes follow the parent).
  // Inserts wait meanwhile (reads do not): a row of this month inserted after the move would land
  // in the default partition and fail the ATTACH, and under steady writes every later run the same
  // way. Once this commits, they go into the new partition.
  await qr.query(`LOCK TABLE ONLY ${parent} IN SHARE ROW EXCLUSIVE MODE`);
  await qr.query(`CREATE TABLE ${child} (LIKE ${parent} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`);
  await qr.query(
    `WITH moved AS (
       DELETE FROM ${quoteIdent(schema)}.${quoteIdent(AUDIT_DEFAULT_PARTITION)}
        WHERE occurred_at >= $1 AND occurred_at < $2 RETURNING *)
     INSERT INTO ${child} SELECT * FROM moved`,
    [from, to],
  );
  await qr.query(`ALTER TABLE ${parent} ATTACH PARTITION ${child} ${bounds}`);
  return true;
}

/**
 * Makes sure `audit_logs` has a partition for the UTC month of `from` and for
 * each of the `monthsAhead` months after it. Idempotent and safe to run from
 * several instances at once; call it at boot and daily. Returns the names of
 * the partitions it created. No-op on SQLite or when `audit_logs` is not a
 * partitioned table (for example before the migrations ran).
 *
 * Pass the DataSource normally; a migration passes its QueryRunner so the work
 * joins the migration's transaction.
 */
export async function ensureAuditPartitions(
  db: DataSource | QueryRunner,
  from: Date,
  monthsAhead: number,
): Promise<string[]> {
  const dataSource = isQueryRunner(db) ? db.connection : db;
  if (dataSource.options.type !== 'postgres') return [];
  const qr = isQueryRunner(db) ? db : db.createQueryRunner();
  const created: string[] = [];
  try {
    const schema = await postgresSchema(qr);
    if ((await relkind(qr, schema, AUDIT_TABLE)) !== 'p') return [];
    for (let i = 0; i <= monthsAhead; i++) {
      const monthStart = monthStartUtc(from, i);
      const ownTransaction = !qr.isTransactionActive;
      if (ownTransaction) await qr.startTransaction();
      try {
        if (await createMonth(qr, schema, monthStart)) created.push(auditPartitionName(monthStart));
        if (ownTransaction) await qr.commitTransaction();
      } catch (err) {
        if (ownTransaction) await qr.rollbackTransaction();
        throw err;
      }
    }
    return created;
  } finally {
    if (!isQueryRunner(db)) await qr.release();
  }
}
