/**
 * Several audit batches in flight at once (AuditWriter `batchesInFlight`),
 * against PostgreSQL: a record that arrives while a batch is being committed
 * is written beside it, on its write slot's own chain, instead of after it,
 * so the table verifies at every instant (what a crash would leave); batches
 * refused together both reach the spool; a batch refused everywhere restarts
 * only its slot's chain. Hedging (`hedgeAfterMs`): a batch whose commit is
 * held is answered from the local journal and stored once all the same.
 * A batch held past `writeTimeoutMs` goes to the spool like a refused one.
 *
 * A test trigger on audit_logs holds or refuses chosen rows: an action
 * starting `slow` waits for an advisory lock the test holds, one ending
 * `refused` is always refused, one ending `flaky` is refused the first time.
 */
import { mkdirSync, promises as fsPromises, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { Client } from 'pg';
import { verifyAuditChains } from '../../src/audit/audit-verify';
import { AuditUnavailableError } from '../../src/audit/audit.errors';
import { postgresRig, rec, sleep, until, useAuditRig } from '../support/audit-rig';
import { describeWithPostgres, TEST_DATABASE_URL } from '../support/backends';

jest.setTimeout(30_000);

const LOCK = 7_270_401;

describeWithPostgres('audit writer, batches in flight (PostgreSQL)', () => {
  const { rig: getRig, makeWriter, rows, spoolDir } = useAuditRig(postgresRig('auditflight'));
  let holder: Client;

  const waiting = async (): Promise<number> =>
    Number(
      (
        await holder.query<{ n: string }>(
          `SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND NOT granted`,
          [LOCK],
        )
      ).rows[0].n,
    );
  /** Until `n` inserts wait for the test's lock. */
  const untilWaiting = async (n: number) =>
    expect(await until(async () => (await waiting()) === n)).toBe(true);
  const untilTrue = async (cond: () => boolean) => expect(await until(cond)).toBe(true);
  /**
   * Lets every row through from now on, while a writer may be inserting:
   * the gate function is replaced, not the trigger dropped. DROP TRIGGER on
   * the partitioned table locks a partition before the parent, and an
   * INSERT in flight holds the parent and waits for that partition: a
   * deadlock that PostgreSQL breaks by failing the DROP.
   */
  const openGate = () =>
    getRig().ds.query(
      'CREATE OR REPLACE FUNCTION audit_test_gate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$',
    );
  /** The spool's rows as [writer id, seq, request id], in file order. */
  const spooled = (path: string): Array<[string, number, string]> =>
    readFileSync(path, 'utf8')
      .trim()
      .split('\n')
      .map((line) => {
        const r = JSON.parse(line) as { writerId: string; seq: number; requestId: string };
        return [r.writerId, Number(r.seq), r.requestId];
      });

  beforeAll(async () => {
    holder = new Client({ connectionString: TEST_DATABASE_URL });
    await holder.connect();
  });
  afterAll(async () => {
    await holder.end();
  });
  beforeEach(async () => {
    await getRig().ds.query(`
      CREATE SEQUENCE IF NOT EXISTS audit_test_flaky;
      CREATE OR REPLACE FUNCTION audit_test_gate() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.action LIKE 'slow%' THEN PERFORM pg_advisory_xact_lock_shared(${LOCK}); END IF;
        IF NEW.action LIKE '%refused' THEN RAISE EXCEPTION 'refused by the test'; END IF;
        IF NEW.action LIKE '%flaky' AND nextval('audit_test_flaky') = 1 THEN RAISE EXCEPTION 'flaky'; END IF;
        RETURN NEW;
      END $$;
      DROP TRIGGER IF EXISTS audit_test_gate ON audit_logs;
      CREATE TRIGGER audit_test_gate BEFORE INSERT ON audit_logs FOR EACH ROW EXECUTE FUNCTION audit_test_gate();
      ALTER SEQUENCE audit_test_flaky RESTART WITH 1;
    `);
    await holder.query('SELECT pg_advisory_lock($1)', [LOCK]);
  });
  afterEach(async () => {
    await holder.query('SELECT pg_advisory_unlock_all()');
    await getRig().ds.query('DROP TRIGGER IF EXISTS audit_test_gate ON audit_logs');
  });

  it('writes a record that arrives during a commit beside it, on a chain of its own, so the table verifies at every instant', async () => {
    const w = makeWriter(getRig().ds);
    const [first, second] = w.writerIds;
    expect(first).not.toBe(second);
    let slowDone = false;
    const slow = w.record(rec(1, { action: 'slow_call' })).then(() => (slowDone = true));
    await untilWaiting(1);
    await w.record(rec(2)); // durable while the first batch still waits in the database
    expect(slowDone).toBe(false);
    expect((await rows()).map((r) => [r.writer_id, r.seq, r.request_id])).toEqual([[second, 1, 'req-2']]);
    // What a crash now would leave behind verifies: the batch committed ahead starts a chain of its own.
    expect(await verifyAuditChains(getRig().ds)).toMatchObject({ ok: true, checked: 1, chains: 1 });

    await holder.query('SELECT pg_advisory_unlock($1)', [LOCK]);
    await slow;
    expect((await rows(first)).map((r) => [r.seq, r.request_id])).toEqual([[1, 'req-1']]);
    expect(await verifyAuditChains(getRig().ds)).toMatchObject({ ok: true, checked: 2, chains: 2 });
    // An idle writer goes on with the first slot's chain.
    await w.record(rec(3));
    expect((await rows(first)).map((r) => [r.seq, r.request_id])).toEqual([
      [1, 'req-1'],
      [2, 'req-3'],
    ]);
  });

  it('with batchesInFlight 1, a record waits for the batch being committed', async () => {
    const w = makeWriter(getRig().ds, { batchesInFlight: 1 });
    expect(w.writerIds).toHaveLength(1);
    const slow = w.record(rec(1, { action: 'slow_call' }));
    await untilWaiting(1);
    const next = w.record(rec(2));
    await sleep(50);
    expect(w.queueDepth).toBe(1); // not sent: the only slot is taken
    expect(await rows(w.writerId)).toHaveLength(0);
    await holder.query('SELECT pg_advisory_unlock($1)', [LOCK]);
    await Promise.all([slow, next]);
    expect((await rows(w.writerId)).map((r) => r.seq)).toEqual([1, 2]);
    expect(w.stats.batches).toBe(2);
  });

  it('flush waits for a batch being written, not only for queued records (what SIGTERM relies on)', async () => {
    const w = makeWriter(getRig().ds, { mode: 'async' });
    await w.record(rec(1, { action: 'slow_call' })); // answered at once
    await untilWaiting(1); // its batch is in the database, held
    expect(w.queueDepth).toBe(0);
    let flushed = false;
    const flushing = w.flush().then(() => (flushed = true));
    await holder.query('SELECT 1'); // a round trip: a flush that did not wait has resolved by now
    expect(flushed).toBe(false);
    await holder.query('SELECT pg_advisory_unlock($1)', [LOCK]);
    await flushing;
    expect((await rows(w.writerId)).map((r) => r.request_id)).toEqual(['req-1']);
  });

  it('spools two batches refused together, each on its own chain, and replays them once', async () => {
    const w = makeWriter(getRig().ds);
    const first = w.record(rec(1, { action: 'slow_refused' }));
    await untilWaiting(1);
    const second = w.record(rec(2, { action: 'refused' })); // refused at once, while the first waits
    await untilTrue(() => w.stats.spooledRows === 1);
    await holder.query('SELECT pg_advisory_unlock($1)', [LOCK]);
    await Promise.all([first, second]); // both durable in the spool
    expect(w.stats.spooledRows).toBe(2);
    expect(spooled(w.spoolPath)).toEqual([
      [w.writerIds[1], 1, 'req-2'],
      [w.writerIds[0], 1, 'req-1'],
    ]);

    await openGate();
    await untilTrue(() => !w.isSpooling); // the background replay
    expect(await rows()).toHaveLength(2);
    expect(await verifyAuditChains(getRig().ds)).toMatchObject({ ok: true, checked: 2, chains: 2 });
  });

  it("refuses a batch that can be written nowhere and restarts only its slot's chain: no hole", async () => {
    const blocker = join(spoolDir(), 'not-a-dir');
    writeFileSync(blocker, 'x'); // the spool cannot be written
    const w = makeWriter(getRig().ds, { spoolDir: join(blocker, 'spool') });
    const [first, second] = w.writerIds;
    const refused = w.record(rec(1, { action: 'slow_refused' }));
    await untilWaiting(1);
    await w.record(rec(2)); // stored on the other slot while the first waits
    await holder.query('SELECT pg_advisory_unlock($1)', [LOCK]);
    await expect(refused).rejects.toBeInstanceOf(AuditUnavailableError);
    expect(w.stats.unavailableRows).toBe(1);
    expect(w.writerIds[0]).not.toBe(first);
    expect(w.writerIds[1]).toBe(second);

    await untilTrue(() => !w.isSpooling); // the replay of an empty spool ends spooling
    await w.record(rec(3)); // the first slot, on its new chain
    expect((await rows()).map((r) => [r.writer_id, r.seq, r.request_id]).sort()).toEqual(
      [
        [second, 1, 'req-2'],
        [w.writerIds[0], 1, 'req-3'],
      ].sort(),
    );
    expect(await verifyAuditChains(getRig().ds)).toMatchObject({ ok: true, checked: 2, chains: 2 });
  });

  it('spools a batch whose INSERT hangs past writeTimeoutMs, answers its caller, and stores it once', async () => {
    const w = makeWriter(getRig().ds, { writeTimeoutMs: 200 });
    await w.record(rec(1, { action: 'slow_call' })); // answered once the batch is in the spool
    expect(await waiting()).toBeGreaterThanOrEqual(1); // its INSERT still hangs in the database
    expect(w.stats.spooledRows).toBe(1);
    expect(w.isSpooling).toBe(true);

    await holder.query('SELECT pg_advisory_unlock($1)', [LOCK]);
    // The hung INSERT commits late and the replay skips its row (or the other way round): one row.
    await untilTrue(() => !w.isSpooling);
    expect((await rows(w.writerId)).map((r) => [r.seq, r.request_id])).toEqual([[1, 'req-1']]);
    expect(await verifyAuditChains(getRig().ds)).toMatchObject({ ok: true, checked: 1 });
  });

  it('replays the spool only once no batch is in flight: a spool append still on its way is replayed too, not left behind', async () => {
    const w = makeWriter(getRig().ds, { replayBaseDelayMs: 400, replayMaxDelayMs: 400 });
    await w.record(rec(1, { action: 'refused' })); // spooling from now on; a replay is due in 400 ms
    expect(w.isSpooling).toBe(true);
    await openGate();
    // The next batch goes to the spool; its append is held before it takes the spool's lock.
    let releaseAppend!: () => void;
    const held = new Promise<void>((resolve) => (releaseAppend = resolve));
    const realMkdir = fsPromises.mkdir.bind(fsPromises);
    let armed = true;
    const mkdir = jest.spyOn(fsPromises, 'mkdir').mockImplementation(async (...args) => {
      if (armed) {
        armed = false;
        await held;
      }
      return realMkdir(...args);
    });
    try {
      const second = w.record(rec(2));
      await untilTrue(() => !armed);
      await sleep(600); // the replay falls due meanwhile
      // A record arriving wakes the drain, which finds the replay due: it must wait for the batch in flight
      // (a replay now would empty the spool and end spooling, and the held append would then stay there).
      const third = w.record(rec(3));
      await until(async () => (await rows()).length > 0, 1_000); // what a replay that did not wait does
      releaseAppend();
      await Promise.all([second, third]);
    } finally {
      releaseAppend();
      mkdir.mockRestore();
    }
    await untilTrue(() => !w.isSpooling);
    expect((await rows()).map((r) => r.request_id).sort()).toEqual(['req-1', 'req-2', 'req-3']);
    expect(statSync(w.spoolPath).size).toBe(0);
    expect(await verifyAuditChains(getRig().ds)).toMatchObject({ ok: true, checked: 3 });
  });

  describe('hedging a slow commit to the local journal (hedgeAfterMs)', () => {
    const HEDGE = { hedgeAfterMs: 20 };

    it('answers from the journal while the commit is held, and stores the record once when it lands', async () => {
      const w = makeWriter(getRig().ds, HEDGE);
      await w.record(rec(1)); // a quick commit: no hedge
      expect(w.stats).toMatchObject({ rowsWritten: 1, hedgedRows: 0 });

      await w.record(rec(2, { action: 'slow_call' })); // answered although its INSERT waits in the database
      expect(await waiting()).toBeGreaterThanOrEqual(1);
      expect(w.stats).toMatchObject({ rowsWritten: 1, hedgedBatches: 1, hedgedRows: 1 });
      expect(w.journal.pendingRows).toBe(1);
      expect(await rows(w.writerId)).toHaveLength(1);

      await holder.query('SELECT pg_advisory_unlock($1)', [LOCK]);
      // The commit lands and the journal's copy is shipped too: one row, the chain intact.
      await untilTrue(() => w.stats.rowsWritten === 2 && w.journal.pendingRows === 0);
      expect((await rows(w.writerId)).map((r) => [r.seq, r.request_id])).toEqual([
        [1, 'req-1'],
        [2, 'req-2'],
      ]);
      expect(await verifyAuditChains(getRig().ds)).toMatchObject({ ok: true, checked: 2, chains: 1 });
    });

    it('journals every batch after a hedge until the journal is shipped, then writes directly again', async () => {
      const w = makeWriter(getRig().ds, HEDGE);
      await w.record(rec(1, { action: 'slow_call' })); // hedged
      expect(w.isJournaling).toBe(true);
      // The database is slow now: these are answered from the journal, behind the first, not written directly.
      await w.record(rec(2));
      await w.record(rec(3));
      expect(w.stats).toMatchObject({ rowsWritten: 0, hedgedRows: 3 });
      expect(await rows()).toHaveLength(0); // the ship waits behind the held row, in append order

      await holder.query('SELECT pg_advisory_unlock($1)', [LOCK]);
      await untilTrue(() => !w.isJournaling && w.journal.pendingRows === 0);
      await w.record(rec(4)); // written directly again
      expect(w.stats.hedgedRows).toBe(3);
      expect((await rows()).map((r) => r.request_id).sort()).toEqual(['req-1', 'req-2', 'req-3', 'req-4']);
      expect(await verifyAuditChains(getRig().ds)).toMatchObject({ ok: true, checked: 4 });
    });

    it('keeps a hedged record whose commit is then refused: stored once, from the journal or the spool', async () => {
      const w = makeWriter(getRig().ds, HEDGE);
      await w.record(rec(1, { action: 'slow_flaky' })); // answered from the journal
      expect(w.stats.hedgedRows).toBe(1);
      await holder.query('SELECT pg_advisory_unlock($1)', [LOCK]);
      // One of the two INSERTs of the row (the writer's, the journal's ship) is refused, once.
      await untilTrue(() => w.stats.writeFailures >= 1);
      await untilTrue(() => w.journal.pendingRows === 0 && !w.isSpooling);
      expect((await rows()).map((r) => [r.seq, r.request_id])).toEqual([[1, 'req-1']]);
      expect(await verifyAuditChains(getRig().ds)).toMatchObject({ ok: true, checked: 1 });
    });

    it('does not answer from a journal that refused the hedge: the caller waits for the commit', async () => {
      writeFileSync(join(spoolDir(), 'audit-journal'), 'in the way'); // the journal cannot be created
      const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      try {
        const w = makeWriter(getRig().ds, HEDGE);
        let answered = false;
        const call = w.record(rec(1, { action: 'slow_call' })).then(() => (answered = true));
        await untilTrue(() => warn.mock.calls.some(([m]) => String(m).includes('could not be journaled')));
        await holder.query('SELECT 1'); // a round trip: an answer given at the hedge has arrived by now
        expect(answered).toBe(false);
        expect(w.stats.hedgedRows).toBe(0);
        await holder.query('SELECT pg_advisory_unlock($1)', [LOCK]);
        await call;
        expect((await rows(w.writerId)).map((r) => r.request_id)).toEqual(['req-1']);
      } finally {
        warn.mockRestore();
      }
    });

    it('answers from the journal even when the commit and the spool both fail, and keeps the chain', async () => {
      mkdirSync(join(spoolDir(), 'audit-spool.ndjson')); // the spool cannot be appended to; the journal can
      const w = makeWriter(getRig().ds, HEDGE);
      const chain = w.writerId;
      await w.record(rec(1, { action: 'slow_refused' })); // answered from the journal
      await holder.query('SELECT pg_advisory_unlock($1)', [LOCK]);
      await untilTrue(() => w.stats.writeFailures >= 1);
      await w.flush(); // the writer's own INSERT was refused and its spool append failed: the journal holds it
      expect(w.stats.unavailableRows).toBe(0);
      expect(w.writerId).toBe(chain); // durable, so the chain goes on
      expect(w.journal.pendingRows).toBe(1);

      await openGate(); // the database takes the row again: the journal ships it
      await untilTrue(() => w.journal.pendingRows === 0);
      expect((await rows(chain)).map((r) => [r.seq, r.request_id])).toEqual([[1, 'req-1']]);
    });
  });
});
