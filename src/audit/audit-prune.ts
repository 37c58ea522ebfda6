import type { DataSource, EntityManager } from 'typeorm';
import { AUDIT_TABLE, monthStartUtc, postgresSchema, quoteIdent } from '../database/audit-partitions';
import { DatabaseWriteGate } from '../database/database-write-gate';
import { chainRows, newAuditChain } from './audit-chain';
import { toAuditRow } from './audit-row';
import { insertAuditRows, isPostgres, placeholders, timeParam } from './audit-sql';
import { ChainBreak, verifyAuditChains } from './audit-verify';

/** The action of the audit record a prune leaves behind (kind `admin`). */
export const PRUNE_ACTION = 'audit.prune';

export interface PruneOptions {
  /** The first instant kept: the start of a UTC month, no later than the start of the current one. */
  before: Date;
  /** Count what would go, change nothing. */
  dryRun?: boolean;
  /** "Now", for the current-month bound (tests). */
  now?: Date;
  /** The key recorded on the prune's own audit record: `system:cli` (default) or `system:retention`. */
  actor?: string;
  /** The data source serves this prune alone (the command line's): its verify reads one snapshot on SQLite too. */
  ownConnection?: boolean;
  /**
   * A connection of its own for the verify, which then reads one snapshot
   * (the server's retention on SQLite, whose main connection the audit
   * writer shares). The prune itself still runs on `dataSource`.
   */
  verifyOn?: DataSource;
}

export interface PruneResult {
  /** `before`, ISO 8601. */
  before: string;
  dryRun: boolean;
  /** Records removed (or, dry, that would be). */
  records: number;
  /** Chains that lost records, each now anchored where its rows kept resume. */
  chains: number;
  /**
   * Records older than `before` that stay because a record of the same chain
   * written before them is newer than `before` (a chain's times are not always
   * in its order): removing them would cut the chain. The next prune takes them.
   */
  kept: number;
  /** PostgreSQL monthly partitions dropped whole (or, dry, that would be). */
  partitionsDropped: string[];
}

/** The trail before the cutoff does not verify: pruning it would take the evidence with it. */
export class PruneRefusedError extends Error {
  constructor(readonly broken: ChainBreak) {
    super(
      `the audit trail before the cutoff does not verify (record ${broken.id ?? '(gone)'} of chain ${broken.writerId}, ` +
        `seq ${broken.seq}: ${broken.reason.replace('_', ' ')}); run \`sentia-mcp audit verify\`, and keep these ` +
        'records until the break is explained',
    );
    this.name = 'PruneRefusedError';
  }
}

/**
 * How long the prune waits for a lock on PostgreSQL: a partition it drops,
 * and the table while it drops one. A long read holding `audit_logs` (an
 * export, a verify) would otherwise keep it waiting, and the audit writer's
 * INSERTs, queued behind its request, with it.
 */
export const PRUNE_LOCK_TIMEOUT_MS = 2_000;

/** A lock the prune needs is held by a long read: nothing was changed; try again later. */
export class PruneBusyError extends Error {
  constructor() {
    super(
      `the audit table is in use by a long read (an export or a verify, on this or another instance) and the ` +
        `prune did not get its locks within ${PRUNE_LOCK_TIMEOUT_MS / 1000} s; nothing was changed, try again`,
    );
    this.name = 'PruneBusyError';
  }
}

/** The cutoff is not the start of a month, or not in the past. */
export class PruneCutoffError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PruneCutoffError';
  }
}

/** A chain's records before the cutoff, and the newest position that may go without cutting it. */
interface ChainCut {
  writer_id: string;
  /** Position of the last record removed: the chain's anchor. */
  cut_seq: string | number;
  /** That record's hash (null only when that record is missing: a broken chain). */
  cut_hash: string | null;
  old_rows: string | number;
  pruned_rows: string | number;
}

/**
 * Removes the audit records older than `before` (`sentia-mcp audit prune`),
 * for a retention policy, without breaking `audit verify`:
 *
 * - It first verifies the trail up to the cutoff and refuses to prune one
 *   that does not verify.
 * - Per chain it removes a prefix only: the records older than the cutoff up
 *   to the chain's first record that is kept, and anchors the chain at the last
 *   one removed (`audit_chain_anchors`: its seq and hash), in the transaction
 *   that removes them.
 * - On PostgreSQL, when every chain's old records are such a prefix (the usual
 *   case), each monthly partition wholly before the cutoff is dropped, not
 *   emptied row by row; anything left before the cutoff (the default
 *   partition) is deleted.
 * - It writes one audit record of its own (kind `admin`, action
 *   `audit.prune`, key `system:cli`: the cutoff and the counts) in the same
 *   transaction.
 *
 * Export what must be kept first (`GET /admin/audit/export?to=...`). Runs
 * under the partition maintainer's lock on PostgreSQL, so it never races an
 * instance creating a partition.
 */
export async function pruneAuditTrail(dataSource: DataSource, options: PruneOptions): Promise<PruneResult> {
  const before = options.before;
  const now = options.now ?? new Date();
  if (Number.isNaN(before.getTime()) || monthStartUtc(before).getTime() !== before.getTime())
    throw new PruneCutoffError('the cutoff must be the start of a UTC month (YYYY-MM)');
  if (before.getTime() > monthStartUtc(now).getTime())
    throw new PruneCutoffError(
      `the cutoff may be the current month at the latest (${monthStartUtc(now).toISOString().slice(0, 7)}): ` +
        'records of this month are still being written',
    );

  // Most passes of the retention find nothing older (the month's first pass took it): one indexed
  // look (partitions before the cutoff only, on PostgreSQL) instead of reading every chain.
  const p0 = placeholders(dataSource);
  const older = (await dataSource.query(
    `SELECT 1 AS x FROM audit_logs WHERE occurred_at < ${p0(1)} LIMIT 1`,
    [timeParam(dataSource, before)],
  )) as unknown[];
  if (older.length === 0)
    return {
      before: before.toISOString(),
      dryRun: options.dryRun === true,
      records: 0,
      chains: 0,
      kept: 0,
      partitionsDropped: [],
    };

  const check = await verifyAuditChains(options.verifyOn ?? dataSource, {
    to: before,
    ownConnection: options.ownConnection === true || options.verifyOn !== undefined,
  });
  if (!check.ok) throw new PruneRefusedError(check.firstBroken!);

  // Through the gate: on SQLite a transaction is a state of the one connection the writer shares.
  return DatabaseWriteGate.of(dataSource)
    .transaction((tx) => pruneIn(tx, before, options))
    .catch((err: unknown) => {
      // 55P03 lock_not_available: a lock_timeout ran out.
      if ((err as { code?: string })?.code === '55P03') throw new PruneBusyError();
      throw err;
    });
}

async function pruneIn(tx: EntityManager, before: Date, options: PruneOptions): Promise<PruneResult> {
  const pg = isPostgres(tx);
  const schema = pg ? await postgresSchema(tx.queryRunner!) : undefined;
  if (pg) {
    await tx.query(`SET LOCAL lock_timeout = ${PRUNE_LOCK_TIMEOUT_MS}`);
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`${schema}.${AUDIT_TABLE}:partitions`]);
  }

  const partitions = pg ? await partitionsBefore(tx, schema!, before) : [];
  // Locked before the chains are read: a row written into one meanwhile (a spool or journal
  // replay of older records) is then either seen below, or waits and goes to the default partition.
  if (pg && partitions.length > 0 && !options.dryRun)
    await tx.query(
      `LOCK TABLE ${partitions.map((name) => `${quoteIdent(schema!)}.${quoteIdent(name)}`).join(', ')} IN ACCESS EXCLUSIVE MODE`,
    );
  const cuts = await chainCuts(tx, before);
  const records = cuts.reduce((n, c) => n + Number(c.pruned_rows), 0);
  const kept = cuts.reduce((n, c) => n + Number(c.old_rows) - Number(c.pruned_rows), 0);
  const pruned = cuts.filter((c) => Number(c.pruned_rows) > 0);
  const unanchored = pruned.find((c) => c.cut_hash === null);
  // Verified above; a record gone since then is a break found now.
  if (unanchored)
    throw new PruneRefusedError({
      id: null,
      writerId: unanchored.writer_id,
      seq: Number(unanchored.cut_seq),
      occurredAt: before.toISOString(),
      reason: 'missing_link',
    });
  // Whole partitions may go only when no chain keeps a record older than the cutoff.
  const dropWhole = kept === 0 ? partitions : [];
  const result: PruneResult = {
    before: before.toISOString(),
    dryRun: options.dryRun === true,
    records,
    chains: pruned.length,
    kept,
    partitionsDropped: dropWhole,
  };
  if (options.dryRun || pruned.length === 0) return result;

  await writeAnchors(tx, pruned, before);
  const p = placeholders(tx);
  for (const name of dropWhole) await tx.query(`DROP TABLE ${quoteIdent(schema!)}.${quoteIdent(name)}`);
  await tx.query(
    `DELETE FROM audit_logs WHERE occurred_at < ${p(1)} AND EXISTS (
       SELECT 1 FROM audit_chain_anchors c WHERE c.writer_id = audit_logs.writer_id AND audit_logs.seq <= c.seq)`,
    [timeParam(tx, before)],
  );
  const row = toAuditRow(
    {
      kind: 'admin',
      action: PRUNE_ACTION,
      keyId: options.actor ?? 'system:cli', // as the command line's key changes are recorded
      outcome: 'success',
      args: { before: result.before, records, chains: result.chains, kept, partitionsDropped: dropWhole },
      argsAreServerFacts: true,
    },
    false,
  );
  const canonical = chainRows(newAuditChain(), [row]);
  await insertAuditRows(tx, [row], false, canonical);
  return result;
}

/**
 * For each chain with records older than `before`: how many, how many may go
 * (those up to the chain's first record kept, or all when it keeps none), and
 * the position and hash of the last that may go.
 */
async function chainCuts(tx: EntityManager, before: Date): Promise<ChainCut[]> {
  const p = placeholders(tx);
  const t = timeParam(tx, before);
  return tx.query(
    `WITH s AS (
       SELECT writer_id,
              sum(CASE WHEN occurred_at < ${p(1)} THEN 1 ELSE 0 END) AS old_rows,
              max(CASE WHEN occurred_at < ${p(2)} THEN seq END) AS last_old,
              min(CASE WHEN occurred_at >= ${p(3)} THEN seq END) AS first_kept
         FROM audit_logs GROUP BY writer_id),
     c AS (
       SELECT writer_id, old_rows,
              CASE WHEN first_kept IS NULL THEN last_old ELSE first_kept - 1 END AS cut_seq
         FROM s WHERE old_rows > 0)
     SELECT c.writer_id, c.cut_seq, l.hash AS cut_hash, c.old_rows,
            (SELECT count(*) FROM audit_logs a
              WHERE a.writer_id = c.writer_id AND a.seq <= c.cut_seq AND a.occurred_at < ${p(4)}) AS pruned_rows
       FROM c LEFT JOIN audit_logs l ON l.writer_id = c.writer_id AND l.seq = c.cut_seq
      ORDER BY c.writer_id`,
    [t, t, t, t],
  );
}

/** Monthly partitions whose whole month lies before `before`, oldest first. */
async function partitionsBefore(tx: EntityManager, schema: string, before: Date): Promise<string[]> {
  const rows: { name: string }[] = await tx.query(
    `SELECT c.relname AS name FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhrelid
       JOIN pg_class parent ON parent.oid = i.inhparent
       JOIN pg_namespace n ON n.oid = parent.relnamespace
      WHERE n.nspname = $1 AND parent.relname = $2 AND c.relname ~ '^audit_logs_y[0-9]{4}m[0-9]{2}$'
      ORDER BY c.relname`,
    [schema, AUDIT_TABLE],
  );
  return rows
    .map((r) => r.name)
    .filter((name) => {
      const [, year, month] = /^audit_logs_y(\d{4})m(\d{2})$/.exec(name)!;
      return Date.UTC(Number(year), Number(month), 1) <= before.getTime(); // the month after it starts by the cutoff
    });
}

/** Rows of anchors per statement (4 parameters each). */
const ANCHORS_PER_STATEMENT = 500;

/** Moves each pruned chain's anchor to its last removed record (never back). */
async function writeAnchors(tx: EntityManager, cuts: ChainCut[], before: Date): Promise<void> {
  const p = placeholders(tx);
  for (let i = 0; i < cuts.length; i += ANCHORS_PER_STATEMENT) {
    const chunk = cuts.slice(i, i + ANCHORS_PER_STATEMENT);
    const values = chunk.map(
      (_, j) => `(${p(4 * j + 1)}, ${p(4 * j + 2)}, ${p(4 * j + 3)}, ${p(4 * j + 4)})`,
    );
    await tx.query(
      `INSERT INTO audit_chain_anchors AS a (writer_id, seq, hash, pruned_before) VALUES ${values.join(', ')}
       ON CONFLICT (writer_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash,
         pruned_before = excluded.pruned_before, pruned_at = excluded.pruned_at
       WHERE excluded.seq > a.seq`,
      chunk.flatMap((c) => [c.writer_id, Number(c.cut_seq), c.cut_hash!, timeParam(tx, before)]),
    );
  }
}
