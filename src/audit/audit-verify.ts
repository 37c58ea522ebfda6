import type { DataSource } from 'typeorm';
import { chainHash } from './audit-record';
import { fromStored, placeholders, StoredAuditRow, timeParam } from './audit-sql';

export type ChainBreakReason = 'hash_mismatch' | 'missing_link' | 'prev_mismatch' | 'duplicate_seq';

export interface ChainBreak {
  /** `audit_logs.id` of the row at which the chain breaks. */
  id: string;
  writerId: string;
  seq: number;
  occurredAt: string;
  /**
   * hash_mismatch: the row's content does not hash to its `hash` (edited row).
   * missing_link:  the row before it in its chain (seq - 1) is gone (deleted row).
   * prev_mismatch: its `prev_hash` is not the previous row's hash (a row before it was edited and rehashed, or replaced).
   * duplicate_seq: a second row claims the same chain position (inserted row).
   */
  reason: ChainBreakReason;
}

export interface VerifyResult {
  ok: boolean;
  /** Rows checked. */
  checked: number;
  /** Chains (writer ids) seen. */
  chains: number;
  /** The earliest break (by occurred_at) of any chain. */
  firstBroken?: ChainBreak;
}

export interface VerifyOptions {
  from?: Date;
  to?: Date;
  /** Rows read per query (default 5000). */
  pageSize?: number;
}

type Row = ReturnType<typeof fromStored>;

/**
 * Walks every writer's hash chain in `audit_logs` (`sentia-mcp audit verify
 * [--from --to]`): each row must hash to its `hash`, follow seq - 1 of its
 * writer, and carry that row's hash as `prev_hash`; a chain starts at seq 1
 * with no prev_hash. With a time range, the first row of a chain inside it is
 * linked to its predecessor outside the range. Reads page by page in
 * (writer_id, seq) order. Limits: deleting the newest rows of a chain, or a
 * whole chain, leaves no trace in the chain itself.
 */
export async function verifyAuditChains(
  dataSource: DataSource,
  options: VerifyOptions = {},
): Promise<VerifyResult> {
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

  let checked = 0;
  let chains = 0;
  let firstBroken: ChainBreak | undefined;
  const broken = (row: Row, reason: ChainBreakReason) => {
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
        await checkChainStart(dataSource, row, ranged, broken);
      } else if (row.seq === prev.seq) {
        broken(row, 'duplicate_seq');
      } else if (row.seq !== prev.seq + 1) {
        broken(row, 'missing_link');
      } else if (row.prevHash !== prev.hash) {
        broken(row, 'prev_mismatch');
      }
      prev = row;
    }
    if (page.length < pageSize) break;
    const last = fromStored(page[page.length - 1]);
    after = { writerId: last.writerId, seq: last.seq, id: last.id };
  }
  return { ok: firstBroken === undefined, checked, chains, ...(firstBroken ? { firstBroken } : {}) };
}

async function checkChainStart(
  dataSource: DataSource,
  row: Row,
  ranged: boolean,
  broken: (row: Row, reason: ChainBreakReason) => void,
): Promise<void> {
  if (row.seq === 1) {
    if (row.prevHash !== null) broken(row, 'prev_mismatch');
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
