/**
 * `audit verify` (src/audit/audit-verify.ts) against tampering that a plain
 * UPDATE or DELETE test does not reach, on both databases: a row edited and
 * rehashed (only the next row's link, or for a chain's last row only its
 * head, shows it), a chain start that claims a predecessor, oldest rows
 * deleted without a prune, the heads of many chains read page by page, the
 * earliest of several breaks, and a time range that follows its chains
 * through rows outside it. Rows are chained and inserted as the writer does
 * (chainRows, insertAuditRows), with chosen times.
 */
import type { DataSource } from 'typeorm';
import { AuditChain, chainRows, newAuditChain } from '../../src/audit/audit-chain';
import { AuditRow, chainHash } from '../../src/audit/audit-record';
import { toAuditRow } from '../../src/audit/audit-row';
import { fromStored, insertAuditRows, isPostgres, StoredAuditRow } from '../../src/audit/audit-sql';
import { verifyAuditChains } from '../../src/audit/audit-verify';
import { postgresRig, rec, RigFactory, sqliteRig, useAuditRig } from '../support/audit-rig';
import { describeWithPostgres } from '../support/backends';

jest.setTimeout(30_000);

type Row = AuditRow & { id: string };

/** Appends one record per time to `chain`, as a writer's batch does. */
async function append(ds: DataSource, chain: AuditChain, times: string[]): Promise<void> {
  const rows = times.map((t, i) => toAuditRow(rec(i, { occurredAt: new Date(t) }), false));
  await insertAuditRows(ds, rows, false, chainRows(chain, rows));
}

const q = (ds: DataSource, n: number): string => (isPostgres(ds) ? `$${n}` : '?');

/** The stored rows of a chain, by seq. */
async function chainOf(ds: DataSource, chain: AuditChain): Promise<Row[]> {
  const stored = (await ds.query(`SELECT * FROM audit_logs WHERE writer_id = ${q(ds, 1)} ORDER BY seq`, [
    chain.writerId,
  ])) as StoredAuditRow[];
  return stored.map(fromStored);
}

/**
 * Rewrites a stored row as someone with write access to the database would:
 * its outcome and prev_hash changed, its hash recomputed to match, so the row
 * itself verifies.
 */
async function rewrite(ds: DataSource, row: Row, change: Pick<Partial<AuditRow>, 'outcome' | 'prevHash'>) {
  const { id, hash: _hash, ...rest } = { ...row, ...change };
  const { prevHash, ...content } = rest;
  await ds.query(
    `UPDATE audit_logs SET outcome = ${q(ds, 1)}, prev_hash = ${q(ds, 2)}, hash = ${q(ds, 3)} WHERE id = ${q(ds, 4)}`,
    [content.outcome, prevHash, chainHash(prevHash, content), Number(id)],
  );
}

const OCT = (day: number, time = '10:00:00Z') => `2026-10-${String(day).padStart(2, '0')}T${time}`;

function verifySuite(factory: RigFactory) {
  const { rig } = useAuditRig(factory);
  let ds: DataSource;
  let chain: AuditChain;
  let rows: Row[];

  beforeEach(async () => {
    ds = rig().ds;
    chain = newAuditChain();
    await append(ds, chain, [OCT(1), OCT(2), OCT(3)]);
    await append(ds, chain, [OCT(4), OCT(5), OCT(6)]);
    rows = await chainOf(ds, chain);
    expect(await verifyAuditChains(ds, { pageSize: 3 })).toMatchObject({ ok: true, checked: 6, heads: 1 });
  });

  it('names the row after one edited and rehashed: its link no longer matches (prev_mismatch), across a page boundary', async () => {
    await rewrite(ds, rows[2], { outcome: 'denied' });
    // seq 3 ends the first page of 3, seq 4 starts the next.
    expect((await verifyAuditChains(ds, { pageSize: 3 })).firstBroken).toEqual({
      id: rows[3].id,
      writerId: chain.writerId,
      seq: 4,
      occurredAt: new Date(OCT(4)).toISOString(),
      reason: 'prev_mismatch',
    });
  });

  it('names a chain whose last row was edited and rehashed: nothing follows it, its head shows it (head_mismatch)', async () => {
    await rewrite(ds, rows[5], { outcome: 'denied' });
    expect((await verifyAuditChains(ds)).firstBroken).toMatchObject({
      id: rows[5].id,
      writerId: chain.writerId,
      seq: 6,
      reason: 'head_mismatch',
    });
  });

  it('names a first row that claims a predecessor (prev_mismatch at seq 1)', async () => {
    await rewrite(ds, rows[0], { prevHash: 'a'.repeat(64) });
    expect((await verifyAuditChains(ds)).firstBroken).toMatchObject({
      id: rows[0].id,
      seq: 1,
      reason: 'prev_mismatch',
    });
  });

  it('names the first row left when the oldest rows were deleted without a prune (no anchor): missing_link', async () => {
    await ds.query(`DELETE FROM audit_logs WHERE writer_id = ${q(ds, 1)} AND seq <= 2`, [chain.writerId]);
    expect((await verifyAuditChains(ds)).firstBroken).toMatchObject({
      id: rows[2].id,
      seq: 3,
      reason: 'missing_link',
    });
  });

  it('reports the earliest break of all chains, whichever chain it reads first', async () => {
    const later = newAuditChain();
    await append(ds, later, [OCT(20), OCT(21)]);
    const [, laterSecond] = await chainOf(ds, later);
    // Edited in place (not rehashed): both rows fail their own hash.
    for (const row of [rows[1], laterSecond])
      await ds.query(`UPDATE audit_logs SET outcome = 'denied' WHERE id = ${Number(row.id)}`);
    expect((await verifyAuditChains(ds)).firstBroken).toMatchObject({
      id: rows[1].id,
      writerId: chain.writerId,
      reason: 'hash_mismatch',
    });
  });

  it("checks every chain's head, page after page: a chain truncated on a later page is named", async () => {
    const chains = [chain];
    for (let i = 0; i < 4; i++) {
      const c = newAuditChain();
      await append(ds, c, [OCT(10 + i), OCT(10 + i, '11:00:00Z')]);
      chains.push(c);
    }
    // The chain read last (writer ids in the database's order) loses its newest row.
    const [{ writer_id: last }] = (await ds.query(
      'SELECT writer_id FROM audit_chain_heads ORDER BY writer_id DESC LIMIT 1',
    )) as { writer_id: string }[];
    const head = chains.find((c) => c.writerId === last)!.seq;
    await ds.query(`DELETE FROM audit_logs WHERE writer_id = ${q(ds, 1)} AND seq = ${q(ds, 2)}`, [
      last,
      head,
    ]);
    expect(await verifyAuditChains(ds, { pageSize: 2 })).toMatchObject({
      ok: false,
      heads: 5,
      firstBroken: { id: null, writerId: last, seq: head, reason: 'truncated' },
    });
  });

  it('links the first row of a range to the row before it, outside the range: one rehashed or deleted there is a break', async () => {
    const from = new Date(OCT(3));
    expect(await verifyAuditChains(ds, { from })).toMatchObject({ ok: true, checked: 4 });
    await rewrite(ds, rows[1], { outcome: 'denied' });
    expect((await verifyAuditChains(ds, { from })).firstBroken).toMatchObject({
      id: rows[2].id,
      seq: 3,
      reason: 'prev_mismatch',
    });

    await ds.query(`DELETE FROM audit_logs WHERE id = ${Number(rows[1].id)}`);
    expect((await verifyAuditChains(ds, { from })).firstBroken).toMatchObject({
      id: rows[2].id,
      seq: 3,
      reason: 'missing_link',
    });
  });

  it('follows a chain through rows a range leaves out (times out of chain order): one deleted or rehashed there is a break', async () => {
    const d = newAuditChain();
    // seq 2 is newer than the range's end (a clock stepped back after it): the range holds 1, 3 and 4.
    await append(ds, d, [OCT(7), '2026-11-02T10:00:00Z', OCT(8), OCT(9)]);
    const to = new Date('2026-11-01T00:00:00Z');
    expect(await verifyAuditChains(ds, { to })).toMatchObject({ ok: true, checked: 9 });
    const [, second, third] = await chainOf(ds, d);

    await rewrite(ds, second, { outcome: 'denied' });
    expect((await verifyAuditChains(ds, { to })).firstBroken).toMatchObject({
      id: third.id,
      writerId: d.writerId,
      seq: 3,
      reason: 'missing_link',
    });

    await ds.query(`DELETE FROM audit_logs WHERE id = ${Number(second.id)}`);
    expect((await verifyAuditChains(ds, { to })).firstBroken).toMatchObject({
      id: third.id,
      seq: 3,
      reason: 'missing_link',
    });
  });
}

describe('audit verify against tampering (SQLite)', () => verifySuite(sqliteRig()));

describeWithPostgres('audit verify against tampering (PostgreSQL)', () => verifySuite(postgresRig('verify')));

describeWithPostgres('audit verify, a second row at a position already taken (PostgreSQL)', () => {
  const { rig } = useAuditRig(postgresRig('verify_dup'));

  it('is named (duplicate_seq): the unique key there includes occurred_at, so the database lets it in', async () => {
    const ds = rig().ds;
    const chain = newAuditChain();
    await append(ds, chain, [OCT(1), OCT(2), OCT(3), OCT(4)]);
    const rows = await chainOf(ds, chain);
    // A forged third record, chained properly onto the second, a millisecond after the real one.
    const { id: _id, ...real } = rows[2];
    const forged: AuditRow = {
      ...real,
      outcome: 'denied',
      occurredAt: new Date(OCT(3)).toISOString().replace('.000Z', '.001Z'),
    };
    forged.hash = chainHash(forged.prevHash, forged);
    await insertAuditRows(ds, [forged]);
    const [dup] = (
      (await ds.query(`SELECT id FROM audit_logs WHERE writer_id = $1 AND outcome = 'denied'`, [
        chain.writerId,
      ])) as { id: string }[]
    ).map((r) => String(r.id));
    expect((await verifyAuditChains(ds)).firstBroken).toMatchObject({
      id: dup,
      writerId: chain.writerId,
      seq: 3,
      reason: 'duplicate_seq',
    });
  });
});
