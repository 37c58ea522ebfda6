import { randomUUID } from 'node:crypto';
import { type AuditRow, canonicalRow, chainHashOf } from './audit-record';

/**
 * A hash chain of audit rows: one writer id, rows numbered `seq` 1, 2, ...,
 * each carrying the hash of the row before (`prev_hash`) and its own
 * `hash` = SHA-256(prev_hash || canonical row). `audit verify` walks them.
 */
export interface AuditChain {
  writerId: string;
  /** The last position handed out (0 before the first row). */
  seq: number;
  lastHash: string | null;
}

/** A chain nobody has written to: a fresh writer id, seq 0, no previous hash. */
export const newAuditChain = (): AuditChain => ({ writerId: randomUUID(), seq: 0, lastHash: null });

/**
 * Gives the rows (in place, in order) their next positions on `chain` and
 * their hashes, advancing the chain; returns each row's canonicalRow text
 * (what its hash covers), which the PostgreSQL insert sends on.
 */
export function chainRows(chain: AuditChain, rows: AuditRow[]): string[] {
  const canonical = new Array<string>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    row.writerId = chain.writerId;
    row.seq = ++chain.seq;
    row.prevHash = chain.lastHash;
    canonical[i] = canonicalRow(row);
    row.hash = chainHashOf(chain.lastHash, canonical[i]);
    chain.lastHash = row.hash;
  }
  return canonical;
}
