/**
 * `audit prune` (src/audit/audit-prune.ts) on both databases: records older
 * than the cutoff go, the chains they leave are anchored so `audit verify`
 * still passes (and still catches tampering with what is left, or with the
 * anchors), a trail that does not verify is not pruned, and a chain whose
 * times are out of its order is cut only where it can be.
 */
import { AsyncResource } from 'node:async_hooks';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { AuditChain, chainRows, newAuditChain } from '../../src/audit/audit-chain';
import {
  PRUNE_LOCK_TIMEOUT_MS,
  PruneBusyError,
  PruneCutoffError,
  pruneAuditTrail,
  PruneRefusedError,
  PRUNE_ACTION,
} from '../../src/audit/audit-prune';
import { toAuditRow } from '../../src/audit/audit-row';
import { AuditRetention } from '../../src/audit/audit-retention.service';
import { MetricsService } from '../../src/metrics/metrics.service';
import { Logger } from '@nestjs/common';
import { insertAuditRows } from '../../src/audit/audit-sql';
import { verifyAuditChains, VerifyOptions, VerifyResult } from '../../src/audit/audit-verify';
import { ensureAuditPartitions } from '../../src/database/audit-partitions';
import { DatabaseWriteGate } from '../../src/database/database-write-gate';
import { openDataSource } from '../../src/database/open-data-source';
import { rec } from '../support/audit-rig';
import { describeWithPostgres, TEST_DATABASE_URL, uniqueName } from '../support/backends';
import { configFor } from '../support/test-config';

const NOW = new Date('2026-12-05T10:00:00Z');
const NOVEMBER = new Date('2026-11-01T00:00:00Z');

interface Db {
  ds: DataSource;
  pg: boolean;
  dir: string;
  schema?: string;
  close(): Promise<void>;
}

/** Appends one record per time to `chain`, as a writer's batch does. */
async function append(ds: DataSource, chain: AuditChain, times: string[]): Promise<void> {
  const rows = times.map((t, i) => toAuditRow(rec(i, { occurredAt: new Date(t) }), false));
  const canonical = chainRows(chain, rows);
  await insertAuditRows(ds, rows, false, canonical);
}

const count = async (ds: DataSource, where = '1 = 1'): Promise<number> =>
  Number(((await ds.query(`SELECT count(*) AS n FROM audit_logs WHERE ${where}`)) as { n: string }[])[0].n);

const q = (db: Db, n: number): string => (db.pg ? `$${n}` : '?');

/**
 * Verifies `ds` page by page and, right after its first page, runs a prune of
 * the records before `before` (November's start by default) through `other` (another connection, as another instance or
 * process has): waits for it, or for `waitMs` at most (a prune that waits for
 * the verify itself goes on after it).
 */
async function pruneBetweenVerifyPages(
  ds: DataSource,
  other: DataSource,
  options: VerifyOptions,
  waitMs?: number,
  before = NOVEMBER,
): Promise<{ result: VerifyResult; pruning: Promise<unknown> | undefined }> {
  let pruning: Promise<unknown> | undefined;
  const createQueryRunner = ds.createQueryRunner.bind(ds);
  jest.spyOn(ds, 'createQueryRunner').mockImplementation((mode) => {
    const runner = createQueryRunner(mode);
    const query = runner.query.bind(runner);
    runner.query = (async (sql: string, params?: unknown[]) => {
      const result: unknown = await query(sql, params);
      if (pruning === undefined && sql.includes('ORDER BY writer_id, seq, id LIMIT')) {
        pruning = pruneAuditTrail(other, { before, now: NOW });
        await (waitMs === undefined
          ? pruning
          : Promise.race([pruning, new Promise((r) => setTimeout(r, waitMs))]));
      }
      return result;
    }) as typeof runner.query;
    return runner;
  });
  try {
    return { result: await verifyAuditChains(ds, options), pruning };
  } finally {
    jest.restoreAllMocks();
  }
}

function pruneSuite(name: string, pg: boolean, open: () => Promise<Db>): void {
  /** A case about PostgreSQL alone (its connections, its partitions): not defined for SQLite at all. */
  const itOnPostgres = (title: string, fn: () => Promise<void>) => (pg ? it(title, fn) : undefined);
  describe(`audit prune (${name})`, () => {
    let db: Db;
    /** A: 3 records in September, 2 in October, 2 in November. B: September only. C: November only. */
    let a: AuditChain;
    let b: AuditChain;
    let c: AuditChain;

    beforeEach(async () => {
      db = await open();
      if (db.pg) await ensureAuditPartitions(db.ds, new Date('2026-09-01T00:00:00Z'), 3);
      a = newAuditChain();
      b = newAuditChain();
      c = newAuditChain();
      await append(db.ds, a, ['2026-09-02T10:00:00Z', '2026-09-10T10:00:00Z', '2026-09-30T23:59:59.999Z']);
      await append(db.ds, b, ['2026-09-05T10:00:00Z', '2026-09-06T10:00:00Z']);
      await append(db.ds, a, ['2026-10-01T00:00:00Z', '2026-10-20T10:00:00Z']);
      await append(db.ds, a, ['2026-11-01T00:00:00Z', '2026-11-15T10:00:00Z']);
      await append(db.ds, c, ['2026-11-02T10:00:00Z', '2026-11-03T10:00:00Z']);
      expect((await verifyAuditChains(db.ds)).ok).toBe(true);
    });
    afterEach(async () => db.close());

    it('a dry run counts what would go and changes nothing', async () => {
      const result = await pruneAuditTrail(db.ds, { before: NOVEMBER, dryRun: true, now: NOW });
      expect(result).toEqual({
        before: NOVEMBER.toISOString(),
        dryRun: true,
        records: 7,
        chains: 2,
        kept: 0,
        partitionsDropped: db.pg ? ['audit_logs_y2026m09', 'audit_logs_y2026m10'] : [],
      });
      expect(await count(db.ds)).toBe(11);
      expect(await count(db.ds, `action = '${PRUNE_ACTION}'`)).toBe(0);
    });

    it('removes the records older than the cutoff, anchors their chains, records itself, and verify passes', async () => {
      const result = await pruneAuditTrail(db.ds, { before: NOVEMBER, now: NOW });
      expect(result).toMatchObject({ records: 7, chains: 2, kept: 0, dryRun: false });
      expect(await count(db.ds, `kind = 'tool_call'`)).toBe(4);
      expect(await count(db.ds, `occurred_at < '2026-11-01'`)).toBe(0);
      const anchors = (await db.ds.query('SELECT writer_id, seq FROM audit_chain_anchors ORDER BY seq')) as {
        writer_id: string;
        seq: string | number;
      }[];
      expect(anchors.map((r) => [r.writer_id, Number(r.seq)]).sort()).toEqual(
        [
          [a.writerId, 5],
          [b.writerId, 2],
        ].sort(),
      );
      const own = (await db.ds.query(
        `SELECT outcome, kind, key_id, args FROM audit_logs WHERE action = '${PRUNE_ACTION}'`,
      )) as { outcome: string; kind: string; key_id: string; args: string }[];
      expect(own).toHaveLength(1);
      expect(own[0]).toMatchObject({ outcome: 'success', kind: 'admin', key_id: 'system:cli' });
      expect(JSON.parse(own[0].args)).toMatchObject({
        before: NOVEMBER.toISOString(),
        records: 7,
        chains: 2,
      });
      if (db.pg) {
        const left = (await db.ds.query(
          `SELECT relname FROM pg_class WHERE relname LIKE 'audit_logs_y2026m%' AND relkind = 'r' AND relnamespace = current_schema()::regnamespace ORDER BY relname`,
        )) as { relname: string }[];
        expect(left.map((r) => r.relname)).toEqual(['audit_logs_y2026m11', 'audit_logs_y2026m12']);
      }

      const verified = await verifyAuditChains(db.ds);
      expect(verified).toMatchObject({ ok: true, anchored: 2, checked: 5 });
      // Nothing older is left: the same prune again removes nothing, and writes no second record.
      expect(await pruneAuditTrail(db.ds, { before: NOVEMBER, now: NOW })).toMatchObject({
        records: 0,
        chains: 0,
      });
      expect(await count(db.ds, `action = '${PRUNE_ACTION}'`)).toBe(1);
      // A chain keeps growing from where it was anchored.
      await append(db.ds, a, ['2026-12-01T10:00:00Z']);
      expect((await verifyAuditChains(db.ds)).ok).toBe(true);
    });

    it('after a prune, verify still names a deleted record, an edited anchor and a removed one', async () => {
      await pruneAuditTrail(db.ds, { before: NOVEMBER, now: NOW });
      const anchorHash = async (writer: string) =>
        (
          (await db.ds.query(`SELECT hash FROM audit_chain_anchors WHERE writer_id = ${q(db, 1)}`, [
            writer,
          ])) as {
            hash: string;
          }[]
        )[0].hash;

      const saved = await anchorHash(a.writerId);
      await db.ds.query(`UPDATE audit_chain_anchors SET hash = ${q(db, 1)} WHERE writer_id = ${q(db, 2)}`, [
        'f'.repeat(64),
        a.writerId,
      ]);
      expect((await verifyAuditChains(db.ds)).firstBroken).toMatchObject({
        writerId: a.writerId,
        seq: 6,
        reason: 'prev_mismatch',
      });
      await db.ds.query(`UPDATE audit_chain_anchors SET hash = ${q(db, 1)} WHERE writer_id = ${q(db, 2)}`, [
        saved,
        a.writerId,
      ]);
      expect((await verifyAuditChains(db.ds)).ok).toBe(true);

      // B was pruned whole: without its anchor, its head names a record that is gone.
      await db.ds.query(`DELETE FROM audit_chain_anchors WHERE writer_id = ${q(db, 1)}`, [b.writerId]);
      expect((await verifyAuditChains(db.ds)).firstBroken).toMatchObject({
        writerId: b.writerId,
        reason: 'truncated',
      });
      await db.ds.query(
        `INSERT INTO audit_chain_anchors (writer_id, seq, hash, pruned_before) VALUES (${q(db, 1)}, 2, ${q(db, 2)}, ${q(db, 3)})`,
        [b.writerId, b.lastHash, db.pg ? NOVEMBER.toISOString() : '2026-11-01 00:00:00.000'],
      );
      expect((await verifyAuditChains(db.ds)).ok).toBe(true);
      // Its anchor edited: it no longer accounts for the record its head names.
      await db.ds.query(`UPDATE audit_chain_anchors SET hash = ${q(db, 1)} WHERE writer_id = ${q(db, 2)}`, [
        'f'.repeat(64),
        b.writerId,
      ]);
      expect((await verifyAuditChains(db.ds)).firstBroken).toMatchObject({
        writerId: b.writerId,
        reason: 'truncated',
      });
      await db.ds.query(`UPDATE audit_chain_anchors SET hash = ${q(db, 1)} WHERE writer_id = ${q(db, 2)}`, [
        b.lastHash,
        b.writerId,
      ]);
      expect((await verifyAuditChains(db.ds)).ok).toBe(true);

      // The first record A kept, deleted: the anchor no longer meets its chain.
      await db.ds.query(`DELETE FROM audit_logs WHERE writer_id = ${q(db, 1)} AND seq = 6`, [a.writerId]);
      expect((await verifyAuditChains(db.ds)).firstBroken).toMatchObject({
        writerId: a.writerId,
        seq: 7,
        reason: 'missing_link',
      });
    });

    it('refuses a trail that does not verify before the cutoff, and changes nothing', async () => {
      await db.ds.query(`DELETE FROM audit_logs WHERE writer_id = ${q(db, 1)} AND seq = 2`, [a.writerId]);
      const error = await pruneAuditTrail(db.ds, { before: NOVEMBER, now: NOW }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PruneRefusedError);
      expect((error as PruneRefusedError).broken).toMatchObject({ writerId: a.writerId, seq: 3 });
      expect((error as Error).message).toContain('missing link');
      expect(await count(db.ds)).toBe(10);
      expect(await db.ds.query('SELECT * FROM audit_chain_anchors')).toEqual([]);
    });

    it('cuts a chain whose times are out of its order only before its first newer record', async () => {
      const d = newAuditChain();
      // seq 2 is newer than the cutoff, seq 3 older again (a clock stepped back): 3 must stay, or 2..4 break.
      await append(db.ds, d, [
        '2026-10-05T10:00:00Z',
        '2026-11-01T00:00:01Z',
        '2026-10-31T23:59:59Z',
        '2026-11-02T10:00:00Z',
      ]);
      // A range that leaves seq 2 out still links 1 to 3 through it (prune verifies up to its cutoff so).
      expect((await verifyAuditChains(db.ds, { to: NOVEMBER })).ok).toBe(true);
      const result = await pruneAuditTrail(db.ds, { before: NOVEMBER, now: NOW });
      expect(result).toMatchObject({ records: 8, chains: 3, kept: 1, partitionsDropped: [] });
      const left = (await db.ds.query(
        `SELECT seq FROM audit_logs WHERE writer_id = ${q(db, 1)} ORDER BY seq`,
        [d.writerId],
      )) as { seq: string | number }[];
      expect(left.map((r) => Number(r.seq))).toEqual([2, 3, 4]);
      expect(await verifyAuditChains(db.ds)).toMatchObject({ ok: true, anchored: 3 });
    });

    it('a spool or journal replay of rows already stored, after a prune took them, does not put them back', async () => {
      // A process crashed after its rows were stored but before it cut them from its spool (or
      // deleted its journal segment); it replays them, idempotently on (writer_id, seq), at its next
      // boot. If a prune removed them meanwhile, a replay must not re-insert them behind the anchor.
      const d = newAuditChain();
      const rows = ['2026-10-05T10:00:00Z', '2026-10-06T10:00:00Z', '2026-11-02T10:00:00Z'].map((t, i) =>
        toAuditRow(rec(i, { occurredAt: new Date(t) }), false),
      );
      const canonical = chainRows(d, rows);
      await insertAuditRows(db.ds, rows, false, canonical);
      await pruneAuditTrail(db.ds, { before: NOVEMBER, now: NOW });
      expect(await count(db.ds, `writer_id = '${d.writerId}'`)).toBe(1);
      await insertAuditRows(db.ds, rows, true, canonical);
      expect(await count(db.ds, `writer_id = '${d.writerId}'`)).toBe(1);
      expect(await verifyAuditChains(db.ds)).toMatchObject({ ok: true });
      expect(await verifyAuditChains(db.ds, { from: new Date('2026-10-01T00:00:00Z') })).toMatchObject({
        ok: true,
      });
    });

    it("runs its transaction through the write gate: a write of the server's beside it is never part of it", async () => {
      // A chain whose last record before the cutoff is gone, behind a newer one: the ranged verify
      // does not see it, the prune's transaction does, and rolls back.
      const d = newAuditChain();
      await append(db.ds, d, ['2026-10-05T10:00:00Z', '2026-10-06T10:00:00Z', '2026-10-07T10:00:00Z']);
      await append(db.ds, d, ['2026-11-02T10:00:00Z']);
      await db.ds.query(`DELETE FROM audit_logs WHERE writer_id = ${q(db, 1)} AND seq = 3`, [d.writerId]);
      const e = newAuditChain();
      let write: Promise<void> | undefined;
      // Bound here, so it starts as the writer's own work would, not inside the prune's transaction.
      const startWrite = AsyncResource.bind(() =>
        DatabaseWriteGate.of(db.ds).write(() => append(db.ds, e, ['2026-12-05T09:00:00Z'])),
      );
      const query = db.ds.query.bind(db.ds);
      const spy = jest.spyOn(db.ds, 'query').mockImplementation((sql: string, ...rest) => {
        // The audit writer stores a record while the prune's transaction is open.
        if (write === undefined && sql.includes('first_kept')) write = startWrite();
        return query(sql, ...rest);
      });
      try {
        await expect(pruneAuditTrail(db.ds, { before: NOVEMBER, now: NOW })).rejects.toThrow(
          PruneRefusedError,
        );
        await write;
      } finally {
        spy.mockRestore();
      }
      expect(write).toBeDefined();
      expect(await count(db.ds, `writer_id = '${e.writerId}'`)).toBe(1);
    });

    itOnPostgres(
      'a verify that a prune (another instance, its retention) commits under sees the trail before or after it, never half',
      async () => {
        const other = await openDataSource(configFor(db.dir, { DATABASE_URL: TEST_DATABASE_URL }), {
          schema: db.schema,
          migrationsRun: false,
        });
        try {
          // It may wait for this verify (dropping a partition it reads); then it goes on after.
          const { result, pruning } = await pruneBetweenVerifyPages(db.ds, other, { pageSize: 2 }, 1500);
          expect(await pruning).toMatchObject({ records: 7 });
          expect(result).toMatchObject({ ok: true });
          expect(await verifyAuditChains(db.ds)).toMatchObject({ ok: true, anchored: 2 });
        } finally {
          jest.restoreAllMocks();
          await other.destroy();
        }
      },
    );

    itOnPostgres(
      'a verify sees one snapshot even when a prune commits under it without waiting (it deletes rows, drops no partition)',
      async () => {
        // Records older than every monthly partition live in the default one: pruning them drops
        // nothing and locks no month, so the prune does not wait for the verify's reads.
        const d = newAuditChain();
        await append(db.ds, d, ['2026-05-02T10:00:00Z', '2026-05-03T10:00:00Z', '2026-05-04T10:00:00Z']);
        await append(db.ds, d, ['2026-10-02T10:00:00Z']);
        const other = await openDataSource(configFor(db.dir, { DATABASE_URL: TEST_DATABASE_URL }), {
          schema: db.schema,
          migrationsRun: false,
        });
        try {
          const june = new Date('2026-06-01T00:00:00Z');
          const { result, pruning } = await pruneBetweenVerifyPages(
            db.ds,
            other,
            { pageSize: 2 },
            5000,
            june,
          );
          expect(await pruning).toMatchObject({ records: 3, chains: 1, partitionsDropped: [] });
          expect(result).toMatchObject({ ok: true, checked: 15 }); // the trail as it was before the prune
          expect(await verifyAuditChains(db.ds)).toMatchObject({ ok: true, checked: 13, anchored: 1 });
        } finally {
          jest.restoreAllMocks();
          await other.destroy();
        }
      },
    );

    if (!pg)
      it("the command line's verify, on its own connection, reads one snapshot: another process's prune between its pages is not half seen", async () => {
        const other = await openDataSource(configFor(db.dir), { migrationsRun: false });
        try {
          const { result, pruning } = await pruneBetweenVerifyPages(db.ds, other, {
            pageSize: 2,
            ownConnection: true,
          });
          expect(await pruning).toMatchObject({ records: 7 });
          expect(result).toMatchObject({ ok: true, checked: 11 }); // the trail as it was before the prune
          expect(await verifyAuditChains(db.ds)).toMatchObject({ ok: true, anchored: 2 });
        } finally {
          jest.restoreAllMocks();
          await other.destroy();
        }
      });

    if (!pg)
      it("the server's retention on SQLite verifies on a read-only connection of its own: a command-line prune committing in the middle of it is not half seen", async () => {
        const dir = mkdtempSync(join(tmpdir(), 'audit-retention-'));
        const other = await openDataSource(configFor(db.dir), { migrationsRun: false });
        let pruning: Promise<unknown> | undefined;
        // Right after the retention's verify has read the anchors (none yet), before it reads a row,
        // another process prunes up to October and commits: chain A then starts at its 4th record.
        const createQueryRunner = DataSource.prototype.createQueryRunner;
        jest.spyOn(DataSource.prototype, 'createQueryRunner').mockImplementation(function (
          this: DataSource,
          mode,
        ) {
          const runner = createQueryRunner.call(this, mode);
          if (this === other) return runner;
          const query = runner.query.bind(runner);
          runner.query = (async (sql: string, params?: unknown[]) => {
            const result: unknown = await query(sql, params);
            if (pruning === undefined && sql.includes('FROM audit_chain_anchors')) {
              pruning = pruneAuditTrail(other, { before: new Date('2026-10-01T00:00:00Z'), now: NOW });
              await pruning;
            }
            return result;
          }) as typeof runner.query;
          return runner;
        });
        const error = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
        try {
          const retention = new AuditRetention(configFor(dir, { AUDIT_RETENTION_MONTHS: '1' }), db.ds);
          // It saw the trail as it was before that prune, whole, and pruned October's records after it.
          expect(await retention.run(NOW)).toMatchObject({ records: 2, chains: 1 });
          expect(await pruning).toMatchObject({ records: 5, chains: 2 });
          expect(error).not.toHaveBeenCalled();
          expect(await verifyAuditChains(db.ds)).toMatchObject({ ok: true, anchored: 2 });
        } finally {
          jest.restoreAllMocks();
          await other.destroy();
          rmSync(dir, { recursive: true, force: true });
        }
      });

    itOnPostgres(
      'gives up (busy, nothing changed) when a long read holds the table past its lock timeout, so the audit writer is not held behind it',
      async () => {
        const other = await openDataSource(configFor(db.dir, { DATABASE_URL: TEST_DATABASE_URL }), {
          schema: db.schema,
          migrationsRun: false,
        });
        const reader = other.createQueryRunner();
        try {
          // A long read of this month's records (an export): it holds the parent table, not the old months.
          await reader.startTransaction('REPEATABLE READ');
          await reader.query(`SELECT count(*) FROM audit_logs WHERE occurred_at >= '2026-12-01'`);
          const started = Date.now();
          const pruning = pruneAuditTrail(db.ds, { before: NOVEMBER, now: NOW }).catch((e: unknown) => e);
          await new Promise((r) => setTimeout(r, 500)); // the prune now waits to drop a partition
          const insert = Date.now();
          await append(db.ds, c, ['2026-12-05T09:00:00Z']); // the audit writer's INSERT, queued behind it
          expect(Date.now() - insert).toBeLessThan(PRUNE_LOCK_TIMEOUT_MS + 1_000);
          const error = await pruning;
          expect(error).toBeInstanceOf(PruneBusyError);
          expect(Date.now() - started).toBeLessThan(PRUNE_LOCK_TIMEOUT_MS + 2_000);
          expect(await count(db.ds)).toBe(12); // the 11, and the one written meanwhile
          expect(await db.ds.query('SELECT * FROM audit_chain_anchors')).toEqual([]);
          await reader.commitTransaction();
          expect(await pruneAuditTrail(db.ds, { before: NOVEMBER, now: NOW })).toMatchObject({ records: 7 });
          expect((await verifyAuditChains(db.ds)).ok).toBe(true);
        } finally {
          if (reader.isTransactionActive) await reader.rollbackTransaction();
          await reader.release();
          await other.destroy();
        }
      },
    );

    itOnPostgres(
      'a month partition it drops takes no row written into it meanwhile (a replay of older records)',
      async () => {
        const other = await openDataSource(configFor(db.dir, { DATABASE_URL: TEST_DATABASE_URL }), {
          schema: db.schema,
          migrationsRun: false,
        });
        const runner = other.createQueryRunner();
        try {
          // Chain B's third record, replayed from a spool, is being written as the prune starts.
          await runner.startTransaction();
          await append(runner.manager as unknown as DataSource, b, ['2026-09-07T10:00:00Z']);
          const pruning = pruneAuditTrail(db.ds, { before: NOVEMBER, now: NOW });
          await new Promise((r) => setTimeout(r, 1000));
          await runner.commitTransaction();
          await pruning;
          expect(await verifyAuditChains(db.ds)).toMatchObject({ ok: true });
        } finally {
          if (runner.isTransactionActive) await runner.rollbackTransaction();
          await runner.release();
          await other.destroy();
        }
      },
    );

    it("the server's retention (AUDIT_RETENTION_MONTHS) prunes as the command does, as system:retention", async () => {
      const dir = mkdtempSync(join(tmpdir(), 'audit-retention-'));
      try {
        const off = new AuditRetention(configFor(dir), db.ds);
        expect(await off.run(NOW)).toBeUndefined(); // 0, the default: nothing is removed
        expect(await count(db.ds)).toBe(11);
        const metrics = new MetricsService();
        const oneMonth = new AuditRetention(configFor(dir, { AUDIT_RETENTION_MONTHS: '1' }), db.ds, metrics);
        expect(await oneMonth.run(NOW)).toMatchObject({
          before: NOVEMBER.toISOString(),
          records: 7,
          chains: 2,
        });
        const own = (await db.ds.query(`SELECT key_id FROM audit_logs WHERE action = '${PRUNE_ACTION}'`)) as {
          key_id: string;
        }[];
        expect(own).toEqual([{ key_id: 'system:retention' }]);
        expect(await oneMonth.run(NOW)).toMatchObject({ records: 0 }); // the next pass finds nothing older
        expect((await verifyAuditChains(db.ds)).ok).toBe(true);

        // A trail that does not verify before the cutoff is left alone, and said so at error level.
        const e = newAuditChain();
        await append(db.ds, e, ['2026-10-01T10:00:00Z', '2026-10-02T10:00:00Z', '2026-10-03T10:00:00Z']);
        await db.ds.query(`DELETE FROM audit_logs WHERE writer_id = ${q(db, 1)} AND seq = 2`, [e.writerId]);
        const error = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
        try {
          expect(await oneMonth.run(NOW)).toBeUndefined();
          expect(String(error.mock.calls[0]?.[0])).toMatch(/^Audit retention did not prune: .*missing link/);
        } finally {
          error.mockRestore();
        }
        expect(await count(db.ds, `writer_id = '${e.writerId}'`)).toBe(2);
        // Each pass counted by its result, and the records it removed.
        const text = await metrics.registry.metrics();
        expect(text).toContain('audit_retention_runs_total{result="pruned"} 1');
        expect(text).toContain('audit_retention_runs_total{result="nothing"} 1');
        expect(text).toContain('audit_retention_runs_total{result="refused"} 1');
        expect(text).toMatch(/^audit_pruned_total 7$/m);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('takes only the start of a month, the current one at the latest', async () => {
      await expect(
        pruneAuditTrail(db.ds, { before: new Date('2026-11-02T00:00:00Z'), now: NOW }),
      ).rejects.toThrow(PruneCutoffError);
      await expect(
        pruneAuditTrail(db.ds, { before: new Date('2027-01-01T00:00:00Z'), now: NOW }),
      ).rejects.toThrow(/current month at the latest \(2026-12\)/);
      expect(
        await pruneAuditTrail(db.ds, { before: new Date('2026-12-01T00:00:00Z'), now: NOW }),
      ).toMatchObject({
        records: 11,
        chains: 3,
      });
      expect((await verifyAuditChains(db.ds)).ok).toBe(true);
    });
  });
}

pruneSuite('SQLite', false, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'audit-prune-'));
  const ds = await openDataSource(configFor(dir), { migrationsRun: true });
  return {
    ds,
    pg: false,
    dir,
    close: async () => {
      await ds.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describeWithPostgres('on PostgreSQL', () => {
  pruneSuite('PostgreSQL', true, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'audit-prune-'));
    const schema = uniqueName('auditprune');
    const ds = await openDataSource(configFor(dir, { DATABASE_URL: TEST_DATABASE_URL }), {
      schema,
      migrationsRun: true,
    });
    return {
      ds,
      pg: true,
      dir,
      schema,
      close: async () => {
        await ds.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
        await ds.destroy();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  });
});
