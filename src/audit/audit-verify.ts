import type { DataSource, EntityManager } from 'typeorm';
import { chainHash } from './audit-record';
import { fromStored, isPostgres, placeholders, StoredAuditRow, storedTimeIso, timeParam } from './audit-sql';

type Db = DataSource | EntityManager;

export type ChainBreakReason =
  'hash_mismatch' | 'missing_link' | 'prev_mismatch' | 'duplicate_seq' | 'truncated' | 'head_mismatch';

export interface ChainBreak {
  /** `audit_logs.id` of the row at which the chain breaks; null when that row is gone (truncated). */
  id: string | null;
  writerId: string;
  seq: number;
  occurredAt: string;
  /**
   * hash_mismatch: the row's content does not hash to its `hash` (edited row).
   * missing_link:  the row before it in its chain (seq - 1) is gone (deleted row).
   * prev_mismatch: its `prev_hash` is not the previous row's hash (a row before it was edited and rehashed, or replaced).
   * duplicate_seq: a second row claims the same chain position (inserted row).
   * truncated:     the row the chain's head (audit_chain_heads) names is gone: rows were deleted
   *                from the end of the chain, or the whole chain. `seq` is the head's, `occurredAt`
   *                the time the head last moved.
   * head_mismatch: the chain's head does not match its last row (the head was edited).
   */
  reason: ChainBreakReason;
}

export interface VerifyResult {
  ok: boolean;
  /** Rows checked. */
  checked: number;
  /** Chains (writer ids) seen. */
  chains: number;
  /** Chain heads checked against their chain's last row. */
  heads: number;
  /** Chains whose oldest rows were removed by `audit prune` (they resume at an anchor). */
  anchored: number;
  /** The earliest break (by occurred_at) of any chain. */
  firstBroken?: ChainBreak;
}

export interface VerifyOptions {
  from?: Date;
  to?: Date;
  /** Rows read per query (default 5000). */
  pageSize?: number;
  /**
   * The data source serves this verify alone (the command line's): on SQLite
   * it then reads one snapshot too, as it always does on PostgreSQL. Not in
   * the server, whose one SQLite connection the audit writer shares: its
   * inserts would join the verify's transaction.
   */
  ownConnection?: boolean;
}

type Row = ReturnType<typeof fromStored>;
/** Where a chain breaks. */
type BreakAt = Omit<ChainBreak, 'reason'>;

/**
 * Walks every writer's hash chain in `audit_logs` (`sentia-mcp audit verify
 * [--from --to]`): each row must hash to its `hash`, follow seq - 1 of its
 * writer, and carry that row's hash as `prev_hash`; a chain starts at seq 1
 * with no prev_hash. With a time range, the first row of a chain inside it is
 * linked to its predecessor outside the range. Reads page by page in
 * (writer_id, seq) order. Deleting the newest rows of a chain, or a whole
 * chain, leaves no trace in the chain itself: each chain's head (kept by a
 * trigger in `audit_chain_heads`) must still name its last row (with a time
 * range, the heads that moved within it). A chain whose oldest rows `audit
 * prune` removed resumes at its anchor (`audit_chain_anchors`): the first row
 * kept must follow the anchor's seq and carry its hash, and a chain pruned
 * whole must end where its head says. What no check here can see is a
 * chain deleted together with its head, or rows rewritten and rehashed by
 * someone with write access to the database: ship the logs elsewhere too.
 */
export async function verifyAuditChains(
  dataSource: DataSource,
  options: VerifyOptions = {},
): Promise<VerifyResult> {
  // One snapshot on PostgreSQL: a prune (or the partition maintainer) committing between two of its
  // queries would otherwise show a chain half pruned, its anchor not yet read: a break that is not one.
  if (isPostgres(dataSource))
    return dataSource.transaction('REPEATABLE READ', async (tx) => {
      await tx.query('SET TRANSACTION READ ONLY');
      return verifyIn(tx, options);
    });
  // WAL: the read transaction does not hold back another process's writes.
  if (options.ownConnection) return dataSource.transaction((tx) => verifyIn(tx, options));
  return verifyIn(dataSource, options);
}

async function verifyIn(dataSource: Db, options: VerifyOptions): Promise<VerifyResult> {
  const pageSize = options.pageSize ?? 5000;
  const p = placeholders(dataSource);
  const range: string[] = [];
  const rangeParams: unknown[] = [];
  if (options.from) {
    rangeParams.push(timeParam(dataSource, options.from));
    range.push(`occurred_at >= ${p(rangeParams.length)}`);
  }
  if (options.to) {
    rangeParams.push(timeParam(dataSource, options.to));
    range.push(`occurred_at < ${p(rangeParams.length)}`);
  }
  const ranged = range.length > 0;
  const anchors = await loadAnchors(dataSource);

  let checked = 0;
  let chains = 0;
  let firstBroken: ChainBreak | undefined;
  const broken = (row: BreakAt, reason: ChainBreakReason) => {
    if (firstBroken && firstBroken.occurredAt <= row.occurredAt) return;
    firstBroken = { id: row.id, writerId: row.writerId, seq: row.seq, occurredAt: row.occurredAt, reason };
  };

  let prev: Row | undefined;
  let after: { writerId: string; seq: number; id: string } | undefined;
  for (;;) {
    const where = [...range];
    const params = [...rangeParams];
    if (after) {
      params.push(after.writerId, after.writerId, after.seq, after.seq, after.id);
      const n = params.length;
      where.push(
        `(writer_id > ${p(n - 4)} OR (writer_id = ${p(n - 3)} AND (seq > ${p(n - 2)} OR (seq = ${p(n - 1)} AND id > ${p(n)}))))`,
      );
    }
    params.push(pageSize);
    const page: StoredAuditRow[] = await dataSource.query(
      `SELECT * FROM audit_logs ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY writer_id, seq, id LIMIT ${p(params.length)}`,
      params,
    );
    for (const stored of page) {
      const row = fromStored(stored);
      checked++;
      const { id: _id, prevHash: _p, hash, ...content } = row;
      if (chainHash(row.prevHash, content) !== hash) broken(row, 'hash_mismatch');
      if (!prev || prev.writerId !== row.writerId) {
        chains++;
        await checkChainStart(dataSource, row, ranged, anchors.get(row.writerId), broken);
      } else if (row.seq === prev.seq) {
        broken(row, 'duplicate_seq');
      } else if (row.seq !== prev.seq + 1) {
        // With a range, the rows between may lie outside it (a chain's times are not always in its order).
        if (!ranged || !(await linkedOutsideRange(dataSource, prev, row))) broken(row, 'missing_link');
      } else if (row.prevHash !== prev.hash) {
        broken(row, 'prev_mismatch');
      }
      prev = row;
    }
    if (page.length < pageSize) break;
    const last = fromStored(page[page.length - 1]);
    after = { writerId: last.writerId, seq: last.seq, id: last.id };
  }
  const heads = await checkHeads(dataSource, options, pageSize, anchors, broken);
  return {
    ok: firstBroken === undefined,
    checked,
    chains,
    heads,
    anchored: anchors.size,
    ...(firstBroken ? { firstBroken } : {}),
  };
}

interface HeadRow {
  writer_id: string;
  seq: string | number;
  hash: string;
  updated_at: Date | string;
  row_id: string | number | null;
  row_hash: string | null;
  max_seq: string | number | null;
}

/**
 * Each chain head (in the range, by the time it last moved) against the
 * rows: the row it names must exist with its hash, and no row may lie past
 * it. Returns the heads checked; a database without the heads table (not
 * migrated yet) has none.
 */
async function checkHeads(
  dataSource: Db,
  options: VerifyOptions,
  pageSize: number,
  anchors: ReadonlyMap<string, Anchor>,
  broken: (at: BreakAt, reason: ChainBreakReason) => void,
): Promise<number> {
  const p = placeholders(dataSource);
  let checked = 0;
  let after: string | undefined;
  for (;;) {
    const where: string[] = [];
    const params: unknown[] = [];
    if (after !== undefined) {
      params.push(after);
      where.push(`h.writer_id > ${p(params.length)}`);
    }
    if (options.from) {
      params.push(timeParam(dataSource, options.from));
      where.push(`h.updated_at >= ${p(params.length)}`);
    }
    if (options.to) {
      params.push(timeParam(dataSource, options.to));
      where.push(`h.updated_at < ${p(params.length)}`);
    }
    params.push(pageSize);
    let page: HeadRow[];
    if (checked === 0 && !(await hasTable(dataSource, 'audit_chain_heads'))) return 0;
    try {
      page = await dataSource.query(
        `SELECT h.writer_id, h.seq, h.hash, h.updated_at, l.id AS row_id, l.hash AS row_hash,
                (SELECT max(b.seq) FROM audit_logs b WHERE b.writer_id = h.writer_id) AS max_seq
           FROM (SELECT * FROM audit_chain_heads h ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
                  ORDER BY h.writer_id LIMIT ${p(params.length)}) h
           LEFT JOIN audit_logs l ON l.writer_id = h.writer_id AND l.seq = h.seq
          ORDER BY h.writer_id`,
        params,
      );
    } catch (err) {
      if (checked === 0 && isMissingTable(err)) return 0;
      throw err;
    }
    const byWriter = new Map<string, HeadRow[]>();
    for (const r of page) byWriter.set(r.writer_id, [...(byWriter.get(r.writer_id) ?? []), r]);
    for (const [writerId, rows] of byWriter) {
      checked++;
      const head = rows[0];
      const at = { writerId, seq: Number(head.seq), occurredAt: storedTimeIso(head.updated_at) };
      const named = rows.filter((r) => r.row_id !== null);
      const anchor = anchors.get(writerId);
      // A chain pruned whole: its last row went with the prune, which anchored it there.
      const prunedWhole = anchor !== undefined && anchor.seq === at.seq && anchor.hash === head.hash;
      if (named.length === 0) {
        if (!prunedWhole) broken({ id: null, ...at }, 'truncated');
      } else if (!named.some((r) => r.row_hash === head.hash) || Number(head.max_seq) > Number(head.seq))
        broken({ id: String(named[0].row_id), ...at }, 'head_mismatch');
    }
    if (byWriter.size < pageSize) break;
    after = page[page.length - 1].writer_id;
  }
  return checked;
}

/** Whether the table exists (asked, not tried: a failed query ends a PostgreSQL transaction). */
async function hasTable(db: Db, name: string): Promise<boolean> {
  const rows = (await (isPostgres(db)
    ? db.query('SELECT 1 FROM pg_class WHERE oid = to_regclass($1)', [name])
    : db.query(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`, [name]))) as unknown[];
  return rows.length > 0;
}

/** "relation does not exist" (PostgreSQL 42P01) or "no such table" (SQLite). */
const isMissingTable = (err: unknown): boolean =>
  (err as { code?: string })?.code === '42P01' || /no such table/.test((err as Error)?.message ?? '');

/**
 * Whether the rows of `row`'s chain between `prev` and it, which a time range
 * left out, are all there, the last of them carrying the hash `row` names.
 * They are outside the range, so not checked themselves.
 */
async function linkedOutsideRange(dataSource: Db, prev: Row, row: Row): Promise<boolean> {
  const p = placeholders(dataSource);
  const between: { seq: string | number; hash: string }[] = await dataSource.query(
    `SELECT seq, hash FROM audit_logs WHERE writer_id = ${p(1)} AND seq > ${p(2)} AND seq < ${p(3)} ORDER BY seq`,
    [row.writerId, prev.seq, row.seq],
  );
  const expected = row.seq - prev.seq - 1;
  const last = between[between.length - 1];
  return (
    between.length === expected &&
    new Set(between.map((b) => Number(b.seq))).size === expected &&
    last !== undefined &&
    last.hash === row.prevHash
  );
}

/** The last row `audit prune` removed from a chain: where the rows kept resume. */
interface Anchor {
  seq: number;
  hash: string;
}

/** Every chain's anchor (audit_chain_anchors); none on a database not yet migrated to have them. */
async function loadAnchors(dataSource: Db): Promise<Map<string, Anchor>> {
  let rows: { writer_id: string; seq: string | number; hash: string }[];
  if (!(await hasTable(dataSource, 'audit_chain_anchors'))) return new Map();
  try {
    rows = await dataSource.query('SELECT writer_id, seq, hash FROM audit_chain_anchors');
  } catch (err) {
    if (isMissingTable(err)) return new Map();
    throw err;
  }
  return new Map(rows.map((r) => [r.writer_id, { seq: Number(r.seq), hash: r.hash }]));
}

async function checkChainStart(
  dataSource: Db,
  row: Row,
  ranged: boolean,
  anchor: Anchor | undefined,
  broken: (row: Row, reason: ChainBreakReason) => void,
): Promise<void> {
  if (row.seq === 1) {
    if (row.prevHash !== null) broken(row, 'prev_mismatch');
    return;
  }
  if (anchor !== undefined && row.seq === anchor.seq + 1) {
    // The row before it was pruned; the anchor keeps that row's hash.
    if (row.prevHash !== anchor.hash) broken(row, 'prev_mismatch');
    return;
  }
  if (!ranged) {
    broken(row, 'missing_link'); // the chain's earlier rows are gone
    return;
  }
  const p = placeholders(dataSource);
  const before: StoredAuditRow[] = await dataSource.query(
    `SELECT * FROM audit_logs WHERE writer_id = ${p(1)} AND seq = ${p(2)}`,
    [row.writerId, row.seq - 1],
  );
  if (before.length === 0) broken(row, 'missing_link');
  else if (!before.some((b) => b.hash === row.prevHash)) broken(row, 'prev_mismatch');
}
