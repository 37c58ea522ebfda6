/**
 * Transactions and standalone writes kept apart (DatabaseWriteGate). On
 * SQLite TypeORM runs everything on one connection, so without the gate a
 * write issued by another request while an admin transaction is open runs
 * inside that transaction and vanishes with its rollback; a second
 * transaction becomes a savepoint of the first. On PostgreSQL each
 * transaction has its own pooled connection and the same tests pass without
 * any waiting.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource, EntityManager } from 'typeorm';
import { AuditRecord } from '../../src/audit/audit-record';
import { resolveAuditOptions } from '../../src/audit/audit.options';
import { AuditWriter } from '../../src/audit/audit.writer';
import { ApiKey } from '../../src/auth/api-key.entity';
import { ApiKeyRepository } from '../../src/auth/api-key.repository';
import { KeyUsageRecorder } from '../../src/auth/key-usage.recorder';
import {
  DatabaseWriteGate,
  runInTransaction,
  runStandaloneWrite,
  WriteGateMisuseError,
} from '../../src/database/database-write-gate';
import { openDataSource } from '../../src/database/open-data-source';
import { describeWithPostgres, TEST_DATABASE_URL, uniqueName } from '../support/backends';
import { configFor } from '../support/test-config';

jest.setTimeout(20_000);

/** Long enough for a write that does not wait for the transaction to reach the database. */
const LET_OTHERS_RUN_MS = 100;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const rec = (action: string, extra: Partial<AuditRecord> = {}): AuditRecord => ({
  kind: 'tool_call',
  action,
  outcome: 'success',
  organizationId: 'org-iso',
  ...extra,
});

const key = (id: string): ApiKey =>
  Object.assign(new ApiKey(), {
    id,
    name: id,
    organizationId: 'org-iso',
    userId: 'u1',
    permissions: ['xero:read'],
    createdBy: 'test',
    createdAt: new Date(),
    expiresAt: null,
    lastUsedAt: null,
    revokedAt: null,
    revokedReason: null,
  });

class Rollback extends Error {}

/**
 * Opens a transaction that runs `inside`, then stays open until `finish` is
 * called; it then commits, or rolls back when asked to.
 */
function openTransaction(ds: DataSource, inside: (tx: EntityManager) => Promise<void>) {
  let opened!: () => void;
  let finish!: (rollback: boolean) => void;
  const isOpen = new Promise<void>((r) => (opened = r));
  const decided = new Promise<boolean>((r) => (finish = r));
  const done = runInTransaction(ds, async (tx) => {
    await inside(tx);
    opened();
    if (await decided) throw new Rollback();
  }).catch((err: unknown) => {
    if (!(err instanceof Rollback)) throw err;
  });
  return { isOpen, finish, done };
}

function isolationSuite(setup: () => Promise<DataSource>, teardown: () => Promise<void>) {
  let ds: DataSource;
  let spoolDir: string;
  let writer: AuditWriter;
  let keys: ApiKeyRepository;

  const actions = async (): Promise<string[]> =>
    ((await ds.query(`SELECT action FROM audit_logs ORDER BY action`)) as { action: string }[]).map(
      (r) => r.action,
    );
  const keyIds = async (): Promise<string[]> =>
    ((await ds.query(`SELECT id FROM api_keys ORDER BY id`)) as { id: string }[]).map((r) => r.id);

  beforeAll(async () => {
    ds = await setup();
    keys = new ApiKeyRepository(ds.getRepository(ApiKey));
  });
  afterAll(teardown);
  beforeEach(async () => {
    spoolDir = mkdtempSync(join(tmpdir(), 'tx-iso-spool-'));
    writer = new AuditWriter(ds, resolveAuditOptions({ spoolDir, batchWindowMs: 2 }));
    await ds.query('DELETE FROM audit_logs');
    await ds.query('DELETE FROM audit_chain_heads');
    await ds.query('DELETE FROM api_keys');
  });
  afterEach(async () => {
    await writer.onApplicationShutdown();
    rmSync(spoolDir, { recursive: true, force: true });
  });

  it('an audit batch written while an admin transaction is open survives its rollback', async () => {
    const tx = openTransaction(ds, async (m) => {
      await keys.create(key('k-rolled-back'), m);
      await writer.recordInTransaction(m, rec('api_key.create', { kind: 'admin' }));
    });
    await tx.isOpen;
    const recorded = writer.record(rec('xero_list_invoices'));
    await sleep(LET_OTHERS_RUN_MS);
    tx.finish(true);
    await tx.done;
    await recorded;
    expect(writer.isSpooling).toBe(false);
    expect(await actions()).toEqual(['xero_list_invoices']);
    expect(await keyIds()).toEqual([]);
  });

  it('standalone writes of other requests (key inserts, the last_used_at flush) survive a rollback', async () => {
    await keys.create(key('k-used'));
    const usage = new KeyUsageRecorder(keys);
    const usedAt = new Date('2030-01-02T03:04:05.000Z');
    const tx = openTransaction(ds, async (m) => {
      await keys.revoke('org-iso', 'k-used', 'test', new Date(), m);
    });
    await tx.isOpen;
    usage.record('k-used', usedAt);
    const writes = Promise.all([
      keys.create(key('k-standalone')),
      usage.flush(),
      runStandaloneWrite(ds, () => ds.getRepository(ApiKey).insert(key('k-plain'))),
    ]);
    await sleep(LET_OTHERS_RUN_MS);
    tx.finish(true);
    await tx.done;
    await writes;
    expect(await keyIds()).toEqual(['k-plain', 'k-standalone', 'k-used']);
    const [used] = await keys
      .listInOrg('org-iso', { limit: 10, now: new Date() })
      .then((all) => all.filter((k) => k.id === 'k-used'));
    expect(used.revokedAt).toBeNull();
    expect(used.lastUsedAt?.toISOString()).toBe(usedAt.toISOString());
  });

  it('a transaction that commits meanwhile is not undone by another one rolling back', async () => {
    const first = openTransaction(ds, (m) => keys.create(key('k-first'), m).then(() => undefined));
    await first.isOpen;
    const second = runInTransaction(ds, async (m) => {
      await keys.create(key('k-second'), m);
    });
    await sleep(LET_OTHERS_RUN_MS);
    first.finish(true);
    await first.done;
    await second;
    expect(await keyIds()).toEqual(['k-second']);
  });

  it('a write made through the transaction manager commits with it', async () => {
    const tx = openTransaction(ds, (m) =>
      writer.recordInTransaction(m, rec('api_key.revoke', { kind: 'admin' })),
    );
    await tx.isOpen;
    const recorded = writer.record(rec('tool_call_during_commit'));
    await sleep(LET_OTHERS_RUN_MS);
    tx.finish(false);
    await tx.done;
    await recorded;
    expect(await actions()).toEqual(['api_key.revoke', 'tool_call_during_commit']);
  });
}

describe('transaction isolation (SQLite)', () => {
  let dir: string;
  let ds: DataSource;
  isolationSuite(
    async () => {
      dir = mkdtempSync(join(tmpdir(), 'tx-iso-sqlite-'));
      ds = await openDataSource(configFor(dir), { entities: [ApiKey], migrationsRun: true });
      return ds;
    },
    async () => {
      await ds?.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  );

  it('fails fast instead of hanging when a transaction awaits a standalone write or a nested transaction', async () => {
    await expect(
      runInTransaction(ds, () => runStandaloneWrite(ds, () => ds.query('SELECT 1'))),
    ).rejects.toBeInstanceOf(WriteGateMisuseError);
    await expect(runInTransaction(ds, () => runInTransaction(ds, async () => 1))).rejects.toBeInstanceOf(
      WriteGateMisuseError,
    );
    // The gate is free again afterwards.
    expect(DatabaseWriteGate.of(ds).transactionOpen).toBe(false);
    await expect(runStandaloneWrite(ds, async () => 'ok')).resolves.toBe('ok');
  });

  /** A standalone write that is still running when the next caller arrives: it inserts after a pause. */
  const slowInsert = (id: string) =>
    runStandaloneWrite(ds, async () => {
      await sleep(LET_OTHERS_RUN_MS);
      await ds.getRepository(ApiKey).insert(key(id));
    });
  const ids = async (): Promise<string[]> =>
    ((await ds.query(`SELECT id FROM api_keys ORDER BY id`)) as { id: string }[]).map((r) => r.id);

  it('a transaction waits for the standalone writes already running, so its rollback cannot take them with it', async () => {
    await ds.query('DELETE FROM api_keys');
    // Straight away: the write is running when the transaction arrives.
    const write = slowInsert('k-running-write');
    const tx = openTransaction(ds, (m) =>
      m
        .getRepository(ApiKey)
        .insert(key('k-tx-rolled-back'))
        .then(() => undefined),
    );
    await write;
    tx.finish(true);
    await tx.done;
    expect(await ids()).toEqual(['k-running-write']);

    // Queued behind another transaction: the write let in first is still running when the next transaction's turn comes.
    const first = openTransaction(ds, async () => undefined);
    await first.isOpen;
    expect(DatabaseWriteGate.of(ds).transactionOpen).toBe(true);
    const queuedWrite = slowInsert('k-queued-write');
    const second = openTransaction(ds, (m) =>
      m
        .getRepository(ApiKey)
        .insert(key('k-tx2-rolled-back'))
        .then(() => undefined),
    );
    first.finish(false);
    await first.done;
    await queuedWrite;
    second.finish(true);
    await second.done;
    expect(await ids()).toEqual(['k-queued-write', 'k-running-write']);
  });

  it('lets a waiting transaction in before standalone writes that arrive after it', async () => {
    const order: string[] = [];
    const first = runStandaloneWrite(ds, async () => {
      order.push('write 1 starts');
      await sleep(LET_OTHERS_RUN_MS);
      order.push('write 1 ends');
    });
    const tx = runInTransaction(ds, async () => {
      order.push('transaction');
    });
    const later = runStandaloneWrite(ds, async () => {
      order.push('write 2');
    });
    await Promise.all([first, tx, later]);
    expect(order).toEqual(['write 1 starts', 'write 1 ends', 'transaction', 'write 2']);
  });

  it('lets the standalone writes that waited for a transaction in together, not one after another', async () => {
    const order: string[] = [];
    const tx = openTransaction(ds, async () => undefined);
    await tx.isOpen;
    const waiting = ['write 1', 'write 2'].map((name) =>
      runStandaloneWrite(ds, async () => {
        order.push(`${name} starts`);
        await sleep(LET_OTHERS_RUN_MS);
        order.push(`${name} ends`);
      }),
    );
    tx.finish(false);
    await Promise.all([tx.done, ...waiting]);
    expect(order.slice(0, 2).sort()).toEqual(['write 1 starts', 'write 2 starts']);
  });

  it('a standalone write that throws before it awaits anything rejects, and the gate is free afterwards', async () => {
    const boom = new Error('thrown synchronously');
    await expect(
      runStandaloneWrite(ds, () => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    await expect(runInTransaction(ds, async () => 'tx ran')).resolves.toBe('tx ran');
  });
});

describeWithPostgres('transaction isolation (PostgreSQL)', () => {
  const schema = uniqueName('txiso');
  let dir: string;
  let ds: DataSource;
  isolationSuite(
    async () => {
      dir = mkdtempSync(join(tmpdir(), 'tx-iso-pg-'));
      ds = await openDataSource(configFor(dir, { DATABASE_URL: TEST_DATABASE_URL }), {
        schema,
        entities: [ApiKey],
        migrationsRun: true,
      });
      expect(DatabaseWriteGate.of(ds).serialises).toBe(false);
      return ds;
    },
    async () => {
      await ds?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
      await ds?.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  );
});
