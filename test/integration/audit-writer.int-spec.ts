/**
 * The audit writer against the real databases (SQLite file and PostgreSQL):
 * group commit, hash chains and their verification, admin records in the
 * caller's transaction, the spool when the database is unreachable and its
 * replay, and refusal when nothing can be written. Query and pagination too.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Logger } from '@nestjs/common';
import { argsDigest, sha256Hex } from '../../src/audit/audit-record';
import { RequestContext } from '../../src/observability/request-context';
import { parseAuditQuery } from '../../src/audit/audit-query';
import { chainRows, newAuditChain } from '../../src/audit/audit-chain';
import { toAuditRow } from '../../src/audit/audit-row';
import { insertAuditRows, SQLITE_ROWS_PER_STATEMENT, storedTimeIso } from '../../src/audit/audit-sql';
import { verifyAuditChains } from '../../src/audit/audit-verify';
import { AuditUnavailableError } from '../../src/audit/audit.errors';
import { AuditService } from '../../src/audit/audit.service';
import {
  postgresRig,
  rec,
  Rig,
  RigFactory,
  sleep,
  sqliteRig,
  until,
  useAuditRig,
} from '../support/audit-rig';
import { describeWithPostgres } from '../support/backends';

jest.setTimeout(30_000);

function writerSuite(factory: RigFactory) {
  const { rig: getRig, makeWriter, rows, spoolDir: getSpoolDir } = useAuditRig(factory);
  let rig: Rig;
  let spoolDir: string;
  beforeEach(() => {
    rig = getRig();
    spoolDir = getSpoolDir();
  });

  it('group-commits 200 records queued in one turn into one INSERT batch, with every row stored once', async () => {
    const w = makeWriter(rig.ds);
    await Promise.all(Array.from({ length: 200 }, (_, i) => w.record(rec(i))));
    expect(w.stats.rowsWritten).toBe(200);
    // Queued in one event-loop turn, they share one INSERT (under batchMaxRows).
    expect(w.stats.batches).toBe(1);
    const stored = await rows(w.writerId);
    expect(stored.map((r) => r.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(new Set(stored.map((r) => r.request_id)).size).toBe(200);
    const first = stored.find((r) => r.request_id === 'req-7')!;
    expect(first).toMatchObject({
      organization_id: 'org-a',
      user_id: 'user-1',
      key_id: 'key-1',
      kind: 'tool_call',
      action: 'xero_list_invoices',
      outcome: 'success',
      duration_ms: 1,
      args: null,
      args_digest: argsDigest({ filter: { status: 'PAID' }, page: 7 }),
    });
    expect((await verifyAuditChains(rig.ds)).ok).toBe(true);
  });

  it("stores a caller's text that is not well-formed Unicode without failing its batch, and the chain verifies", async () => {
    // A lone surrogate in an unknown tool's name had PostgreSQL refuse the batch (22P02), and every
    // replay after it, so the instance's trail stayed in the spool; SQLite stored U+FFFD and the hash broke.
    const w = makeWriter(rig.ds, { storeArgs: true });
    await w.record(
      rec(1, { action: '\ud800', userAgent: `${'a'.repeat(511)}\u{1F600}`, args: { q: 'x\udc00' } }),
    );
    await w.record(rec(2));
    expect(w.isSpooling).toBe(false);
    const stored = await rows(w.writerId);
    expect(stored.map((r) => r.action)).toEqual(['\ufffd', 'xero_list_invoices']);
    expect(stored[0].user_agent).toBe('a'.repeat(511));
    expect(JSON.parse(String(stored[0].args))).toEqual({ q: 'x\ufffd' });
    expect(await verifyAuditChains(rig.ds)).toMatchObject({ ok: true, checked: 2 });
  });

  it("stores a caller's text holding NUL (U+0000) without failing its batch, and the chain verifies", async () => {
    // PostgreSQL refuses U+0000 in text (22021): an unknown tool's name holding one failed its batch, whose
    // records (other callers' too) went to the spool and then aside, leaving a gap audit verify names.
    const w = makeWriter(rig.ds);
    await Promise.all([w.record(rec(1, { action: 'x\u0000y', errorCode: 'e\u0000' })), w.record(rec(2))]);
    expect(w.isSpooling).toBe(false);
    const stored = await rows(w.writerId);
    expect(stored.map((r) => r.action)).toEqual(['x\ufffdy', 'xero_list_invoices']);
    expect(stored[0].error_code).toBe('e\ufffd');
    expect(await verifyAuditChains(rig.ds)).toMatchObject({ ok: true, checked: 2 });
  });

  it('stores redacted arguments only when storeArgs is on', async () => {
    const w = makeWriter(rig.ds, { storeArgs: true });
    await w.record(rec(1, { args: { query: 'x', apiKey: 'sk-live-123', nested: { password: 'p' } } }));
    const [row] = await rows(w.writerId);
    expect(JSON.parse(String(row.args))).toEqual({
      apiKey: '[REDACTED]',
      nested: { password: '[REDACTED]' },
      query: 'x',
    });
    // The digest is of the redacted arguments, the stored copy: a guessed secret cannot be tested against it.
    expect(row.args_digest).toBe(
      argsDigest({ query: 'x', apiKey: '[REDACTED]', nested: { password: '[REDACTED]' } }),
    );
    expect(row.args_digest).toBe(sha256Hex(String(row.args)));
  });

  it('in async mode resolves at once and writes on flush', async () => {
    const w = makeWriter(rig.ds, { mode: 'async', batchWindowMs: 1000 });
    await Promise.all(Array.from({ length: 20 }, (_, i) => w.record(rec(i))));
    expect(await rows(w.writerId)).toHaveLength(0);
    await w.flush();
    expect(await rows(w.writerId)).toHaveLength(20);
  });

  it('verify passes on a clean log and names the row after an UPDATE or a DELETE', async () => {
    // One write slot, so the 5 batches form one chain to tamper with.
    const w = makeWriter(rig.ds, { batchMaxRows: 7, batchesInFlight: 1 });
    await Promise.all(Array.from({ length: 30 }, (_, i) => w.record(rec(i))));
    expect(w.stats.batches).toBe(5); // none over batchMaxRows: 7, 7, 7, 7 and 2
    const stored = await rows(w.writerId);
    expect(await verifyAuditChains(rig.ds, { pageSize: 8 })).toMatchObject({
      ok: true,
      checked: 30,
      chains: 1,
    });

    const edited = stored[11];
    await rig.ds.query(`UPDATE audit_logs SET outcome = 'denied' WHERE id = ${edited.id}`);
    expect((await verifyAuditChains(rig.ds, { pageSize: 8 })).firstBroken).toMatchObject({
      id: edited.id,
      seq: 12,
      writerId: w.writerId,
      reason: 'hash_mismatch',
    });
    await rig.ds.query(`UPDATE audit_logs SET outcome = 'success' WHERE id = ${edited.id}`);
    expect((await verifyAuditChains(rig.ds)).ok).toBe(true);

    await rig.ds.query(`DELETE FROM audit_logs WHERE id = ${stored[19].id}`);
    expect((await verifyAuditChains(rig.ds, { pageSize: 8 })).firstBroken).toMatchObject({
      id: stored[20].id,
      seq: 21,
      reason: 'missing_link',
    });
    // A range starting after the deleted row still sees the link from its first row back to seq 20... which is gone.
    const from = new Date(storedTimeIso(stored[20].occurred_at as Date | string));
    const ranged = await verifyAuditChains(rig.ds, { from });
    expect(ranged.ok).toBe(false);
  });

  it('keeps the head of each chain in the database, and verify names a chain whose newest rows or whole self are gone', async () => {
    const w = makeWriter(rig.ds, { batchMaxRows: 4, batchesInFlight: 1 });
    await Promise.all(Array.from({ length: 10 }, (_, i) => w.record(rec(i))));
    await rig.ds.transaction((m) =>
      w.recordInTransaction(m, rec(90, { kind: 'admin', action: 'api_key.revoke' })),
    );
    const stored = await rows(w.writerId);
    const admin = (await rows()).find((r) => r.kind === 'admin')!;
    const heads = async () =>
      (
        (await rig.ds.query('SELECT writer_id, seq, hash FROM audit_chain_heads ORDER BY writer_id')) as {
          writer_id: string;
          seq: number | string;
          hash: string;
        }[]
      ).map((h) => [h.writer_id, Number(h.seq), h.hash]);
    // Advanced by the database in the statements that inserted the rows: each chain's last row.
    expect(await heads()).toEqual(
      [
        [w.writerId, 10, stored[9].hash],
        [admin.writer_id, 1, admin.hash],
      ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    );
    expect(await verifyAuditChains(rig.ds, { pageSize: 3 })).toMatchObject({ ok: true, chains: 2, heads: 2 });

    // The newest rows of a chain deleted: nothing in the chain shows it, its head does.
    await rig.ds.query(`DELETE FROM audit_logs WHERE writer_id = '${w.writerId}' AND seq > 8`);
    expect((await verifyAuditChains(rig.ds, { pageSize: 3 })).firstBroken).toMatchObject({
      id: null,
      writerId: w.writerId,
      seq: 10,
      reason: 'truncated',
    });
    // A whole chain deleted (an admin action's one-row chain).
    await rig.ds.query(`DELETE FROM audit_logs WHERE writer_id = '${admin.writer_id}'`);
    const both = await verifyAuditChains(rig.ds);
    expect([both.ok, both.heads]).toEqual([false, 2]);
    await rig.ds.query(`DELETE FROM audit_chain_heads WHERE writer_id = '${w.writerId}'`);
    expect((await verifyAuditChains(rig.ds)).firstBroken).toMatchObject({
      writerId: admin.writer_id,
      seq: 1,
      reason: 'truncated',
    });

    // A head moved back to hide a deletion no longer names the chain's last row.
    await rig.ds.query(`DELETE FROM audit_chain_heads`);
    const w2 = makeWriter(rig.ds, { batchesInFlight: 1 });
    await Promise.all(Array.from({ length: 3 }, (_, i) => w2.record(rec(i))));
    const [first] = await rows(w2.writerId);
    await rig.ds.query(
      `UPDATE audit_chain_heads SET seq = 1, hash = '${first.hash}' WHERE writer_id = '${w2.writerId}'`,
    );
    expect(
      (await verifyAuditChains(rig.ds, { from: new Date(Date.now() - 60_000) })).firstBroken,
    ).toMatchObject({
      writerId: w2.writerId,
      reason: 'head_mismatch',
    });
  });

  it('writes admin records in the caller transaction: committed with it, gone with a rollback', async () => {
    const w = makeWriter(rig.ds);
    await rig.ds.transaction(async (m) => {
      await w.recordInTransaction(m, rec(1, { kind: 'admin', action: 'api_key.create' }));
      await w.recordInTransaction(m, rec(2, { kind: 'admin', action: 'api_key.revoke' }));
    });
    await expect(
      rig.ds.transaction(async (m) => {
        await w.recordInTransaction(m, rec(3, { kind: 'admin', action: 'api_key.rotate' }));
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    await w.record(rec(4));
    const stored = await rows();
    expect(stored.map((r) => r.action).sort()).toEqual([
      'api_key.create',
      'api_key.revoke',
      'xero_list_invoices',
    ]);
    const admin = stored.filter((r) => r.kind === 'admin');
    expect(admin[0].writer_id).toBe(admin[1].writer_id);
    expect(admin.map((r) => r.seq)).toEqual([1, 2]);
    expect(await verifyAuditChains(rig.ds)).toMatchObject({ ok: true, checked: 3, chains: 2 });
  });

  it('writes, spools and replays outside the request that queued a record: no log line of it carries that request', async () => {
    const logged: Array<[string, string | undefined]> = [];
    const note = (level: string) => (message: unknown) =>
      void logged.push([`${level} ${String(message)}`, RequestContext.requestId()]);
    Logger.overrideLogger({
      log: note('log'),
      warn: note('warn'),
      error: note('error'),
      debug: note('debug'),
      verbose: note('verbose'),
    });
    try {
      const w = makeWriter(rig.breakable);
      await rig.breakDb();
      await RequestContext.run({ requestId: 'req-queued-it' }, () => w.record(rec(1)));
      expect(w.isSpooling).toBe(true);
      await rig.healDb();
      for (let i = 0; i < 200 && w.isSpooling; i++) await sleep(50); // the background replay
      expect(w.isSpooling).toBe(false);
      const lines = logged.filter(([m]) => /spool|could not be written|Replayed/.test(m));
      expect(lines.length).toBeGreaterThanOrEqual(2);
      expect(lines.filter(([, requestId]) => requestId !== undefined)).toEqual([]);
      // The failure names the database's own reason when it gave one (SQLite: the trigger's), never a host or port.
      const failed = lines.map(([m]) => m).find((m) => m.includes('could not be written to the database'));
      expect(failed).toMatch(
        rig.ds.options.type === 'better-sqlite3'
          ? /\(QueryFailedError SQLITE_CONSTRAINT_TRIGGER: database down\); spooling$/
          : /\((Error: Connection terminated unexpectedly|Error ECONNRE(SET|FUSED) \(\w+\))\); spooling$/,
      );
      expect(failed).not.toMatch(/127\.0\.0\.1|localhost|:\d{2,5}\b/);
    } finally {
      Logger.overrideLogger(false);
    }
  });

  it('spools while the database is unreachable and replays every record exactly once when it returns', async () => {
    const w = makeWriter(rig.breakable);
    await Promise.all(Array.from({ length: 10 }, (_, i) => w.record(rec(i))));
    await rig.breakDb();
    // Every call still succeeds: the spool is durable.
    await Promise.all(Array.from({ length: 50 }, (_, i) => w.record(rec(100 + i))));
    await Promise.all(Array.from({ length: 5 }, (_, i) => w.record(rec(200 + i))));
    expect(w.isSpooling).toBe(true);
    const spooled = readFileSync(w.spoolPath, 'utf8');
    expect(spooled.trim().split('\n')).toHaveLength(55);
    expect(await rows(w.writerId)).toHaveLength(10);

    await rig.healDb();
    for (let i = 0; i < 200 && w.isSpooling; i++) await sleep(50); // the background replay
    expect(w.isSpooling).toBe(false);
    await w.record(rec(300));
    let stored = await rows(w.writerId);
    expect(stored.map((r) => r.seq)).toEqual(Array.from({ length: 66 }, (_, i) => i + 1));
    expect(readFileSync(w.spoolPath, 'utf8')).toBe('');

    // A crash between the replay's insert and the spool's truncation replays it again: no duplicates.
    writeFileSync(w.spoolPath, spooled);
    const next = makeWriter(rig.ds);
    await next.onApplicationBootstrap();
    expect(await next.replayNow()).toBe(true);
    stored = await rows(w.writerId);
    expect(stored).toHaveLength(66);
    expect(await verifyAuditChains(rig.ds)).toMatchObject({ ok: true, checked: 66 });
  });

  it('refuses with AuditUnavailableError when neither the database nor the spool can be written, and recovers', async () => {
    const blocker = join(spoolDir, 'not-a-dir');
    writeFileSync(blocker, 'x');
    const w = makeWriter(rig.breakable, { spoolDir: join(blocker, 'spool') });
    await w.record(rec(1));
    const firstChain = w.writerId;
    await rig.breakDb();
    const results = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => w.record(rec(10 + i))));
    expect(results.every((r) => r.status === 'rejected' && r.reason instanceof AuditUnavailableError)).toBe(
      true,
    );
    expect(w.stats.unavailableRows).toBe(5);
    expect(w.writerId).not.toBe(firstChain);

    await rig.healDb();
    for (let i = 0; i < 200 && w.isSpooling; i++) await sleep(50);
    await w.record(rec(20));
    expect((await rows()).map((r) => r.request_id).sort()).toEqual(['req-1', 'req-20']);
    expect(await verifyAuditChains(rig.ds)).toMatchObject({ ok: true, chains: 2 });
  });

  it("lists an organisation's records newest first with filters and keyset pagination", async () => {
    const w = makeWriter(rig.ds);
    const base = Date.parse('2026-03-01T00:00:00Z');
    for (let i = 0; i < 12; i++) {
      await w.record(
        rec(i, {
          occurredAt: new Date(base + Math.floor(i / 2) * 1000),
          outcome: i % 3 === 0 ? 'denied' : 'success',
        }),
      );
    }
    await w.record(rec(99, { organizationId: 'org-b', occurredAt: new Date(base) }));
    const service = new AuditService(w, rig.ds);
    const principal = { keyId: 'k', userId: 'u', organizationId: 'org-a', permissions: ['audit:read'] };
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await service.list(
        principal,
        parseAuditQuery({ limit: '5', ...(cursor ? { cursor } : {}) }),
      );
      seen.push(...page.items.map((e) => e.requestId!));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toHaveLength(12);
    expect(new Set(seen).size).toBe(12);
    expect(seen).not.toContain('req-99');
    expect(seen.slice(0, 2).sort()).toEqual(['req-10', 'req-11']);

    const denied = await service.list(
      principal,
      parseAuditQuery({ outcome: 'denied', from: '2026-03-01T00:00:02Z', to: '2026-03-01T00:00:05Z' }),
    );
    expect(denied.items.map((e) => e.requestId).sort()).toEqual(['req-6', 'req-9']);
    expect(() => parseAuditQuery({ kind: 'bogus' })).toThrow(/^kind: must be one of/);
    expect(() => parseAuditQuery({ from: 'yesterday' })).toThrow(/^from: must be an ISO 8601 time/);
  });

  it("exports only the caller's organisation, takes `from` as inclusive and `to` as exclusive, and ends on a full page without a cursor", async () => {
    const w = makeWriter(rig.ds);
    const t0 = Date.parse('2026-04-01T00:00:00Z');
    for (let i = 0; i < 4; i++) await w.record(rec(i, { occurredAt: new Date(t0 + i * 1000) }));
    await w.record(rec(90, { organizationId: 'org-b', occurredAt: new Date(t0 + 1000) }));
    const service = new AuditService(w, rig.ds);
    const principal = { keyId: 'k', userId: 'u', organizationId: 'org-a', permissions: ['audit:read'] };
    const ids = (items: { requestId: string | null }[]) => items.map((e) => e.requestId);

    const exported: { requestId: string | null }[] = [];
    for await (const entry of service.exportRows(principal, {})) exported.push(entry);
    expect(ids(exported)).toEqual(['req-3', 'req-2', 'req-1', 'req-0']);

    const ranged = await service.list(
      principal,
      parseAuditQuery({ from: '2026-04-01T00:00:01Z', to: '2026-04-01T00:00:03Z' }),
    );
    expect(ids(ranged.items)).toEqual(['req-2', 'req-1']);

    const first = await service.list(principal, parseAuditQuery({ limit: '2' }));
    expect(first.nextCursor).not.toBeNull();
    const second = await service.list(principal, parseAuditQuery({ limit: '2', cursor: first.nextCursor! }));
    expect(ids(second.items)).toEqual(['req-1', 'req-0']);
    expect(second.nextCursor).toBeNull();
  });

  it('after a refused batch, spools every later one until the spool is replayed, even once the database answers again', async () => {
    // No background replay during the test: only replayNow empties the spool.
    const w = makeWriter(rig.breakable, { replayBaseDelayMs: 60_000, replayMaxDelayMs: 60_000 });
    await w.record(rec(1));
    await rig.breakDb();
    await w.record(rec(2));
    expect(w.isSpooling).toBe(true);
    await rig.healDb();
    // Written directly, seq 3 would be stored before seq 2: a hole in the chain until the replay.
    await w.record(rec(3));
    expect((await rows(w.writerId)).map((r) => r.seq)).toEqual([1]);
    expect(await verifyAuditChains(rig.ds)).toMatchObject({ ok: true, checked: 1 });
    expect(await w.replayNow()).toBe(true);
    expect((await rows(w.writerId)).map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(await verifyAuditChains(rig.ds)).toMatchObject({ ok: true, checked: 3 });
  });

  it('stores a batch larger than one statement whole or not at all', async () => {
    const batch = Array.from({ length: SQLITE_ROWS_PER_STATEMENT + 500 }, (_, i) =>
      toAuditRow(rec(i), false),
    );
    const chain = newAuditChain();
    chainRows(chain, batch);
    // A row of its second statement is stored already: that statement fails.
    await insertAuditRows(rig.ds, [batch[SQLITE_ROWS_PER_STATEMENT + 200]]);
    await expect(insertAuditRows(rig.ds, batch)).rejects.toThrow();
    expect((await rows(chain.writerId)).map((r) => r.seq)).toEqual([SQLITE_ROWS_PER_STATEMENT + 201]);
  });
}

describe('audit writer (SQLite)', () => writerSuite(sqliteRig()));

describeWithPostgres('audit writer (PostgreSQL)', () => writerSuite(postgresRig('audit')));

describe('audit writer (SQLite, a replay the database refuses)', () => {
  const { rig, makeWriter, rows } = useAuditRig(sqliteRig());

  it('keeps spooling after a refused replay: a later record does not reach the table ahead of a spooled one', async () => {
    const warnings = heardAt('warn');
    try {
      const w = makeWriter(rig().ds);
      await w.record(rec(1));
      // The database takes every row but the second (so the probe before each replay passes).
      await rig().ds.query(
        `CREATE TRIGGER refuse_second BEFORE INSERT ON audit_logs WHEN NEW.request_id = 'req-2'
         BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`,
      );
      await w.record(rec(2)); // refused: spooled
      expect(w.isSpooling).toBe(true);
      expect(await until(() => warnings.some((m) => m.includes('Audit spool replay failed')))).toBe(true);
      await w.record(rec(3)); // behind the spooled record, not in the table before it
      expect((await rows(w.writerId)).map((r) => r.seq)).toEqual([1]);
      await rig().ds.query('DROP TRIGGER refuse_second');
      expect(await until(() => !w.isSpooling)).toBe(true);
      expect((await rows(w.writerId)).map((r) => r.seq)).toEqual([1, 2, 3]);
      expect(await verifyAuditChains(rig().ds)).toMatchObject({ ok: true, checked: 3 });
    } finally {
      Logger.overrideLogger(false);
    }
  });
});

describeWithPostgres('audit writer (PostgreSQL that swallows packets)', () => {
  const { rig, makeWriter, rows } = useAuditRig(postgresRig('audit_hole'));

  it('tries no replay until the database answers a probe, so calls go on spooling at once', async () => {
    const warnings = heardAt('warn');
    try {
      const w = makeWriter(rig().breakable, { writeTimeoutMs: 300 });
      await w.record(rec(1));
      const hole = rig().blackholeDb!();
      await w.record(rec(2)); // its INSERT times out: spooled
      expect(w.isSpooling).toBe(true);
      // Replays fall due every 50-200 ms here; each would hold the writer for the 300 ms write timeout.
      for (let i = 0; i < 15; i++) {
        await w.record(rec(3 + i));
        await sleep(60);
      }
      expect(w.stats.replayProbesFailed).toBeGreaterThan(0);
      expect(warnings.filter((m) => m.includes('Audit spool replay failed'))).toEqual([]);
      hole.heal();
      expect(await until(() => !w.isSpooling)).toBe(true);
      expect((await rows(w.writerId)).map((r) => r.seq)).toEqual(Array.from({ length: 17 }, (_, i) => i + 1));
    } finally {
      Logger.overrideLogger(false);
    }
  });
});

describeWithPostgres('audit writer (PostgreSQL refusing a spooled row as data)', () => {
  const { rig, makeWriter, rows } = useAuditRig(postgresRig('audit_refused'));

  it('sets the refused row aside and replays the rest, instead of holding every later record in the spool', async () => {
    const errors = heardAt('error');
    try {
      const w = makeWriter(rig().breakable);
      await w.record(rec(1));
      await rig().breakDb();
      for (let i = 2; i <= 6; i++) await w.record(rec(i)); // spooled
      expect(w.isSpooling).toBe(true);
      // One spooled row the database cannot take as data (a row written before text was made well
      // formed, or by any other fault): PostgreSQL refuses it with 22P02, every time.
      const lines = readFileSync(w.spoolPath, 'utf8').trim().split('\n');
      const poisoned = JSON.parse(lines[2]) as { action: string };
      poisoned.action = '\ud800';
      lines[2] = JSON.stringify(poisoned);
      writeFileSync(w.spoolPath, `${lines.join('\n')}\n`);
      await rig().healDb();
      expect(await until(() => !w.isSpooling)).toBe(true);
      // Every other record is in the table; the refused one is kept beside the spool, and said so.
      expect((await rows(w.writerId)).map((r) => r.seq)).toEqual([1, 2, 3, 5, 6]);
      const refused = join(getSpoolDirOf(w), 'audit-spool.refused.ndjson');
      expect(
        readFileSync(refused, 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l).seq),
      ).toEqual([4]);
      expect(errors).toEqual([
        expect.stringMatching(/refused 1 spooled audit record\(s\) as data \(.*22P02/),
      ]);
      // The gap it leaves is what the chain verifier names.
      expect(await verifyAuditChains(rig().ds)).toMatchObject({ ok: false });
    } finally {
      Logger.overrideLogger(false);
    }
  });
});

/** What the application logs at `level` from now on (the rest is dropped); Logger.overrideLogger(false) restores. */
function heardAt(level: 'warn' | 'error'): string[] {
  const heard: string[] = [];
  const drop = () => undefined;
  const keep = (m: unknown) => void heard.push(String(m));
  Logger.overrideLogger({
    log: drop,
    warn: level === 'warn' ? keep : drop,
    error: level === 'error' ? keep : drop,
    debug: drop,
    verbose: drop,
  });
  return heard;
}

/** The directory a writer spools to. */
const getSpoolDirOf = (w: { spoolPath: string }): string => dirname(w.spoolPath);
