/**
 * AUDIT_DURABILITY=journal against the real databases (SQLite file and
 * PostgreSQL): a record is durable once in the local journal and reaches the
 * table exactly once when shipped; the journal outlives a database outage;
 * journals left by processes that are gone are shipped at boot (and only
 * those); a journal that cannot be written falls back to the database.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { JOURNAL_DIR_NAME } from '../../src/audit/audit-journal';
import { verifyAuditChains } from '../../src/audit/audit-verify';
import { AuditUnavailableError } from '../../src/audit/audit.errors';
import { DatabaseWriteGate } from '../../src/database/database-write-gate';
import { MetricsService } from '../../src/metrics/metrics.service';
import type { AuditWriter } from '../../src/audit/audit.writer';
import { postgresRig, rec, RigFactory, sqliteRig, until, useAuditRig } from '../support/audit-rig';
import { describeWithPostgres } from '../support/backends';

jest.setTimeout(30_000);

const JOURNAL = { durability: 'journal' as const };
/** Ships only when a test says so (or at shutdown). */
const NO_AUTO_SHIP = { ...JOURNAL, journalShipIntervalMs: 600_000 };
const seqs = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

function journalSuite(factory: RigFactory) {
  const { rig, makeWriter, rows, spoolDir } = useAuditRig(factory);

  const journalDir = () => join(spoolDir(), JOURNAL_DIR_NAME);
  /** The journal's segment files (`<id>.<n>.ndjson`), of one journal or all. */
  const segments = (w?: AuditWriter) =>
    readdirSync(journalDir())
      .filter((f) => f.endsWith('.ndjson') && (!w || f.startsWith(w.journal.id)))
      .sort();
  const journaledLines = (w: AuditWriter) =>
    segments(w).flatMap((f) =>
      readFileSync(join(journalDir(), f), 'utf8')
        .split('\n')
        .filter((l) => l !== ''),
    );

  it('answers once a record is in the local journal, and ships each record to the table exactly once', async () => {
    const w = makeWriter(rig().ds, NO_AUTO_SHIP);
    await Promise.all(Array.from({ length: 50 }, (_, i) => w.record(rec(i))));
    // Durable before it is in the database: every row is in the journal, none in the table yet.
    expect(journaledLines(w)).toHaveLength(50);
    expect(await rows(w.writerId)).toHaveLength(0);
    expect(w.stats.journaledRows).toBe(50);
    // Queued in one event-loop turn, the 50 share one append and one fdatasync (which blocks the loop).
    expect(w.stats.journalAppends).toBe(1);

    expect(await w.shipJournal()).toBe(true);
    expect((await rows(w.writerId)).map((r) => r.seq)).toEqual(seqs(50));
    expect(w.journal.pendingRows).toBe(0);

    await Promise.all(Array.from({ length: 5 }, (_, i) => w.record(rec(100 + i))));
    expect(w.journal.pendingRows).toBe(5);
    expect(await w.shipJournal()).toBe(true);
    expect((await rows(w.writerId)).map((r) => r.seq)).toEqual(seqs(55));
    expect(await verifyAuditChains(rig().ds)).toMatchObject({ ok: true, checked: 55 });
    // A clean stop leaves nothing behind: every segment was shipped.
    await w.onApplicationShutdown();
    expect(readdirSync(journalDir())).toEqual([]);
  });

  it('starts a new segment once the open one is full, and deletes the full ones once shipped', async () => {
    const w = makeWriter(rig().ds, { ...NO_AUTO_SHIP, journalSegmentBytes: 2_000 });
    for (let i = 0; i < 12; i++) await w.record(rec(i));
    const full = segments(w);
    expect(full.length).toBeGreaterThan(2);
    expect(journaledLines(w)).toHaveLength(12);
    expect(await w.shipJournal()).toBe(true);
    // Only the open segment stays; the full ones, all shipped, are gone.
    expect(segments(w)).toEqual([full[full.length - 1]]);
    expect((await rows(w.writerId)).map((r) => r.seq)).toEqual(seqs(12));
  });

  it('ships in the background, keeps every record through a database outage, and ships them once it returns', async () => {
    const metrics = new MetricsService();
    const w = makeWriter(rig().breakable, { ...JOURNAL, journalShipIntervalMs: 5 }, metrics);
    w.onModuleInit();
    const pendingMetric = async () =>
      Number(/^audit_journal_pending (\d+)$/m.exec(await metrics.registry.metrics())?.[1]);
    await Promise.all(Array.from({ length: 10 }, (_, i) => w.record(rec(i))));
    await until(async () => (await rows(w.writerId)).length === 10);
    expect(await rows(w.writerId)).toHaveLength(10);

    await rig().breakDb();
    // Every call still succeeds: the journal is durable.
    await Promise.all(Array.from({ length: 40 }, (_, i) => w.record(rec(100 + i))));
    await until(() => w.stats.writeFailures > 0);
    expect(w.stats.writeFailures).toBeGreaterThan(0);
    expect(w.journal.pendingRows).toBe(40);
    expect(await pendingMetric()).toBe(40);
    expect(await rows(w.writerId)).toHaveLength(10);

    await rig().healDb();
    await until(() => w.journal.pendingRows === 0);
    expect((await rows(w.writerId)).map((r) => r.seq)).toEqual(seqs(50));
    expect(await pendingMetric()).toBe(0);
    await w.onApplicationShutdown();
    expect(readdirSync(journalDir())).toEqual([]);
  });

  it('after an outage longer than its memory holds, ships from the segments, each row once', async () => {
    const w = makeWriter(rig().breakable, { ...JOURNAL, journalShipIntervalMs: 5, journalMaxQueuedRows: 8 });
    await Promise.all(Array.from({ length: 5 }, (_, i) => w.record(rec(i))));
    await until(() => w.journal.pendingRows === 0);
    await rig().breakDb();
    // One at a time, so the memory limit is crossed part way (each record is a batch of its own).
    for (let i = 0; i < 30; i++) await w.record(rec(100 + i));
    await until(() => w.stats.writeFailures > 0);
    expect(w.journal.pendingRows).toBe(30);
    await rig().healDb();
    await until(() => w.journal.pendingRows === 0);
    expect((await rows(w.writerId)).map((r) => r.seq)).toEqual(seqs(35));
    // Back to shipping from memory: the next records are stored too.
    for (let i = 0; i < 3; i++) await w.record(rec(200 + i));
    await until(() => w.journal.pendingRows === 0);
    expect((await rows(w.writerId)).map((r) => r.seq)).toEqual(seqs(38));
  });

  it('ships at boot a journal left by a process that is gone, storing nothing twice', async () => {
    const dead = makeWriter(rig().ds, NO_AUTO_SHIP);
    await Promise.all(Array.from({ length: 20 }, (_, i) => dead.record(rec(i))));
    // 20 rows stored, still in the open segment, as a process leaves them when killed.
    expect(await dead.shipJournal()).toBe(true);
    await Promise.all(Array.from({ length: 10 }, (_, i) => dead.record(rec(100 + i))));
    expect(journaledLines(dead)).toHaveLength(30);

    // Same pid, another journal id: an earlier process of this pid, so gone.
    const next = makeWriter(rig().ds, NO_AUTO_SHIP);
    await next.onApplicationBootstrap();
    expect(await next.shipJournal()).toBe(true);
    expect((await rows(dead.writerId)).map((r) => r.seq)).toEqual(seqs(30));
    expect(readdirSync(journalDir()).filter((f) => f.startsWith(dead.journal.id))).toEqual([]);
    expect(await verifyAuditChains(rig().ds)).toMatchObject({ ok: true, checked: 30 });
  });

  it('ships such a journal at boot in database durability too (the setting changed since the crash)', async () => {
    const dead = makeWriter(rig().ds, NO_AUTO_SHIP);
    await Promise.all(Array.from({ length: 5 }, (_, i) => dead.record(rec(i))));
    const next = makeWriter(rig().ds); // durability: database, no hedging
    await next.onApplicationBootstrap();
    expect(await next.shipJournal()).toBe(true);
    expect((await rows(dead.writerId)).map((r) => r.seq)).toEqual(seqs(5));
    expect(segments(dead)).toEqual([]);
  });

  it('leaves alone a journal whose owner still runs, and ships it once that process is gone', async () => {
    const owner = makeWriter(rig().ds, NO_AUTO_SHIP);
    await Promise.all(Array.from({ length: 5 }, (_, i) => owner.record(rec(i))));
    // Hand the journal to a live process of this host: its owner file now names that process.
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
    const ownerFile = join(journalDir(), `${owner.journal.id}.owner`);
    const stat = readFileSync(`/proc/${other.pid}/stat`, 'utf8');
    const started = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    writeFileSync(ownerFile, JSON.stringify({ pid: other.pid, host: hostname(), started }));
    try {
      const bystander = makeWriter(rig().ds, NO_AUTO_SHIP);
      await bystander.onApplicationBootstrap();
      expect(await bystander.shipJournal()).toBe(true);
      expect(await rows(owner.writerId)).toHaveLength(0);
      expect(segments(owner)).toHaveLength(1);
    } finally {
      other.kill('SIGKILL');
      await new Promise((r) => other.once('exit', r));
    }
    const heir = makeWriter(rig().ds, NO_AUTO_SHIP);
    await heir.onApplicationBootstrap();
    expect(await heir.shipJournal()).toBe(true);
    expect((await rows(owner.writerId)).map((r) => r.seq)).toEqual(seqs(5));
  });

  it("judges another host's journal by its owner file's age", async () => {
    const owner = makeWriter(rig().ds, NO_AUTO_SHIP);
    await owner.record(rec(1));
    const ownerFile = join(journalDir(), `${owner.journal.id}.owner`);
    writeFileSync(ownerFile, JSON.stringify({ pid: 1, host: 'elsewhere.invalid' }));
    const early = makeWriter(rig().ds, NO_AUTO_SHIP);
    await early.onApplicationBootstrap();
    await early.shipJournal();
    expect(await rows(owner.writerId)).toHaveLength(0);

    const past = new Date(Date.now() - 60_000);
    utimesSync(ownerFile, past, past);
    const late = makeWriter(rig().ds, NO_AUTO_SHIP);
    await late.onApplicationBootstrap();
    expect(await late.shipJournal()).toBe(true);
    expect(await rows(owner.writerId)).toHaveLength(1);
  });

  it('writes to the database when the journal cannot be written, and refuses when neither can', async () => {
    const blocker = join(spoolDir(), 'not-a-dir');
    writeFileSync(blocker, 'x');
    const w = makeWriter(rig().breakable, { ...JOURNAL, spoolDir: join(blocker, 'data') });
    await w.record(rec(1));
    expect(w.stats).toMatchObject({ journaledRows: 0, rowsWritten: 1 });
    expect(await rows(w.writerId)).toHaveLength(1);

    await rig().breakDb();
    try {
      await expect(w.record(rec(2))).rejects.toBeInstanceOf(AuditUnavailableError);
    } finally {
      await rig().healDb();
    }
  });
}

describe('audit journal (SQLite)', () => {
  journalSuite(sqliteRig());

  describe('slow writes in the embedded shape', () => {
    const { rig, makeWriter, rows } = useAuditRig(sqliteRig());

    it('answers from the journal while an admin transaction holds the only connection, and stores once', async () => {
      const w = makeWriter(rig().ds, { hedgeAfterMs: 20 });
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      // An admin transaction holds the write gate: the audit INSERT queues behind it.
      const tx = DatabaseWriteGate.of(rig().ds).transaction(() => held);
      await w.record(rec(1));
      expect(w.stats).toMatchObject({ hedgedRows: 1, rowsWritten: 0 });
      expect(await rows(w.writerId)).toHaveLength(0);

      release();
      await tx;
      expect(await until(() => w.stats.rowsWritten === 1 && w.journal.pendingRows === 0)).toBe(true);
      expect((await rows(w.writerId)).map((r) => r.request_id)).toEqual(['req-1']);
      expect(await verifyAuditChains(rig().ds)).toMatchObject({ ok: true, checked: 1 });
    });

    it('spools a batch held past writeTimeoutMs by an admin transaction, and stores it once', async () => {
      const w = makeWriter(rig().ds, { writeTimeoutMs: 200 });
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      const tx = DatabaseWriteGate.of(rig().ds).transaction(() => held);
      await w.record(rec(1)); // answered from the spool
      expect(w.stats).toMatchObject({ spooledRows: 1, rowsWritten: 0 });

      release();
      await tx;
      expect(await until(() => !w.isSpooling)).toBe(true);
      expect((await rows(w.writerId)).map((r) => r.request_id)).toEqual(['req-1']);
      expect(await verifyAuditChains(rig().ds)).toMatchObject({ ok: true, checked: 1 });
    });
  });
});

describeWithPostgres('audit journal (PostgreSQL)', () => journalSuite(postgresRig('journal')));
