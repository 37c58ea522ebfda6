/**
 * Several audit batches in flight at once (AuditWriter `batchesInFlight`),
 * against PostgreSQL: a record that arrives while a batch is being committed
 * is written beside it instead of after it; batches refused together reach
 * the spool in chain order; and a refused batch whose successor was stored is
 * written once more rather than leave a hole in its chain.
 *
 * A test trigger on audit_logs holds or refuses chosen rows: an action
 * starting `slow` waits for an advisory lock the test holds, one ending
 * `refused` is always refused, one ending `flaky` is refused the first time.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { verifyAuditChains } from '../../src/audit/audit-verify';
import { postgresRig, rec, sleep, useAuditRig } from '../support/audit-rig';
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
  const untilWaiting = async (n: number) => {
    for (let i = 0; i < 400 && (await waiting()) < n; i++) await sleep(10);
    expect(await waiting()).toBe(n);
  };
  const until = async (cond: () => boolean) => {
    for (let i = 0; i < 400 && !cond(); i++) await sleep(10);
    expect(cond()).toBe(true);
  };
  const spooledSeqs = (path: string): number[] =>
    readFileSync(path, 'utf8')
      .trim()
      .split('\n')
      .map((line) => Number((JSON.parse(line) as { seq: number }).seq));

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

  it('writes a record that arrives during a commit beside it, not after it', async () => {
    const w = makeWriter(getRig().ds);
    let slowDone = false;
    const slow = w.record(rec(1, { action: 'slow_call' })).then(() => (slowDone = true));
    await untilWaiting(1);
    await w.record(rec(2)); // durable while the first batch still waits in the database
    expect(slowDone).toBe(false);
    expect((await rows(w.writerId)).map((r) => r.request_id)).toEqual(['req-2']);

    await holder.query('SELECT pg_advisory_unlock($1)', [LOCK]);
    await slow;
    expect((await rows(w.writerId)).map((r) => [r.seq, r.request_id])).toEqual([
      [1, 'req-1'],
      [2, 'req-2'],
    ]);
    expect(await verifyAuditChains(getRig().ds)).toMatchObject({ ok: true, checked: 2, chains: 1 });
  });

  it('with batchesInFlight 1, a record waits for the batch being committed', async () => {
    const w = makeWriter(getRig().ds, { batchesInFlight: 1 });
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

  it('spools batches refused together in chain order, and replays them once', async () => {
    const w = makeWriter(getRig().ds);
    const first = w.record(rec(1, { action: 'slow_refused' }));
    await untilWaiting(1);
    const second = w.record(rec(2, { action: 'refused' })); // refused at once, while the first waits
    await until(() => w.stats.writeFailures === 1);
    await holder.query('SELECT pg_advisory_unlock($1)', [LOCK]);
    await Promise.all([first, second]); // both durable in the spool
    expect(w.stats.spooledRows).toBe(2);
    expect(spooledSeqs(w.spoolPath)).toEqual([1, 2]);

    await getRig().ds.query('DROP TRIGGER audit_test_gate ON audit_logs');
    await until(() => !w.isSpooling); // the background replay
    expect((await rows(w.writerId)).map((r) => r.seq)).toEqual([1, 2]);
    expect(await verifyAuditChains(getRig().ds)).toMatchObject({ ok: true, checked: 2 });
  });

  it('writes a refused batch once more when the batch after it was stored, so its chain keeps no hole', async () => {
    const blocker = join(spoolDir(), 'not-a-dir');
    writeFileSync(blocker, 'x'); // the spool cannot be written
    const w = makeWriter(getRig().ds, { spoolDir: join(blocker, 'spool') });
    const chain = w.writerId;
    const first = w.record(rec(1, { action: 'slow_flaky' }));
    await untilWaiting(1);
    await w.record(rec(2)); // stored while the first waits
    await holder.query('SELECT pg_advisory_unlock($1)', [LOCK]);
    await first; // refused once (database and spool), then written again: its caller is answered
    expect(w.stats).toMatchObject({ writeFailures: 1, unavailableRows: 0, batches: 2 });
    expect((await rows(chain)).map((r) => [r.seq, r.request_id])).toEqual([
      [1, 'req-1'],
      [2, 'req-2'],
    ]);
    expect(await verifyAuditChains(getRig().ds)).toMatchObject({ ok: true, checked: 2 });
  });

  it('refuses a batch that cannot be written again either; the chain then names the hole', async () => {
    const blocker = join(spoolDir(), 'not-a-dir');
    writeFileSync(blocker, 'x');
    const w = makeWriter(getRig().ds, { spoolDir: join(blocker, 'spool') });
    const chain = w.writerId;
    const first = w.record(rec(1, { action: 'slow_refused' }));
    await untilWaiting(1);
    await w.record(rec(2));
    await holder.query('SELECT pg_advisory_unlock($1)', [LOCK]);
    await expect(first).rejects.toMatchObject({ name: 'AuditUnavailableError' });
    expect(w.stats.unavailableRows).toBe(1);
    expect(await verifyAuditChains(getRig().ds)).toMatchObject({
      ok: false,
      firstBroken: { writerId: chain, seq: 2, reason: 'missing_link' },
    });
  });
});
