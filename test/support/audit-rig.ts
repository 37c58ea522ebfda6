/**
 * Databases for the audit writer's integration tests, each with a second
 * connection whose database can be made unreachable and brought back:
 * SQLite (a trigger refuses audit inserts) and PostgreSQL (a TCP proxy is cut).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { AuditRecord } from '../../src/audit/audit-record';
import { AuditOptions, resolveAuditOptions } from '../../src/audit/audit.options';
import { AuditWriter } from '../../src/audit/audit.writer';
import { MetricsService } from '../../src/metrics/metrics.service';
import { openDataSource } from '../../src/database/open-data-source';
import { TEST_DATABASE_URL, uniqueName } from './backends';
import { TcpProxy } from './tcp-proxy';
import { configFor } from './test-config';

export const rec = (i: number, extra: Partial<AuditRecord> = {}): AuditRecord => ({
  kind: 'tool_call',
  action: 'xero_list_invoices',
  outcome: 'success',
  organizationId: 'org-a',
  userId: 'user-1',
  keyId: 'key-1',
  requestId: `req-${i}`,
  durationMs: 1.4,
  args: { page: i, filter: { status: 'PAID' } },
  ...extra,
});

export interface Rig {
  ds: DataSource;
  /** A second connection whose database can be made unreachable and brought back. */
  breakable: DataSource;
  breakDb(): Promise<void>;
  healDb(): Promise<void>;
  /** PostgreSQL only: the database stops answering without refusing (packets held); `heal` lets them through. */
  blackholeDb?(): { heal(): void };
}

export interface RigFactory {
  setup(): Promise<Rig>;
  teardown(): Promise<void>;
}

export function sqliteRig(): RigFactory {
  let dir: string;
  let ds: DataSource;
  return {
    async setup() {
      dir = mkdtempSync(join(tmpdir(), 'audit-sqlite-'));
      ds = await openDataSource(configFor(dir), { migrationsRun: true });
      return {
        ds,
        breakable: ds,
        // Every insert into audit_logs fails while the trigger exists; reads still work.
        breakDb: () =>
          ds.query(
            `CREATE TRIGGER audit_down BEFORE INSERT ON audit_logs BEGIN SELECT RAISE(ABORT, 'database down'); END`,
          ),
        healDb: () => ds.query('DROP TRIGGER audit_down'),
      };
    },
    async teardown() {
      await ds?.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Its own schema, named from `prefix`. */
export function postgresRig(prefix: string): RigFactory {
  const schema = uniqueName(prefix);
  let dir: string;
  let ds: DataSource;
  let proxied: DataSource;
  let proxy: TcpProxy | undefined;
  return {
    async setup() {
      dir = mkdtempSync(join(tmpdir(), 'audit-pg-'));
      ds = await openDataSource(configFor(dir, { DATABASE_URL: TEST_DATABASE_URL }), {
        schema,
        migrationsRun: true,
      });
      const cuttable = (proxy = await TcpProxy.to(TEST_DATABASE_URL));
      proxied = await openDataSource(configFor(dir, { DATABASE_URL: cuttable.urlFor(TEST_DATABASE_URL) }), {
        schema,
        migrationsRun: false,
      });
      return {
        ds,
        breakable: proxied,
        breakDb: () => cuttable.cut(),
        healDb: () => cuttable.restore(),
        blackholeDb: () => {
          cuttable.blackhole();
          return { heal: () => cuttable.heal() };
        },
      };
    },
    async teardown() {
      await proxy?.cut();
      await proxied?.destroy().catch(() => undefined);
      await ds?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
      await ds?.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 20 ms until it holds or `ms` pass; resolves to its last value. */
export async function until(cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<boolean> {
  for (const end = Date.now() + ms; ; await sleep(20)) {
    const ok = await cond();
    if (ok || Date.now() >= end) return ok;
  }
}

/**
 * Sets up the rig for a describe block: the database once, a fresh spool
 * directory and an empty audit_logs per test, every writer made shut down
 * after it. Accessors are valid inside tests and hooks.
 */
export function useAuditRig({ setup, teardown }: RigFactory) {
  let rig: Rig;
  let spoolDir: string;
  const writers: AuditWriter[] = [];
  const makeWriter = (ds: DataSource, o: Partial<AuditOptions> = {}, metrics?: MetricsService) => {
    const w = new AuditWriter(
      ds,
      resolveAuditOptions({ spoolDir, replayBaseDelayMs: 50, replayMaxDelayMs: 200, ...o }),
      metrics,
    );
    writers.push(w);
    return w;
  };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- raw rows of ad hoc SQL
  const rows = async (writerId?: string): Promise<Array<Record<string, any>>> =>
    (
      (await rig.ds.query(
        `SELECT * FROM audit_logs ${writerId ? `WHERE writer_id = '${writerId}'` : ''} ORDER BY writer_id, seq`,
      )) as Array<Record<string, unknown>>
    ).map((r) => ({ ...r, id: String(r.id), seq: Number(r.seq) }));

  beforeAll(async () => {
    rig = await setup();
  });
  afterAll(async () => {
    await teardown();
  });
  beforeEach(async () => {
    spoolDir = mkdtempSync(join(tmpdir(), 'audit-spool-'));
    // Each test starts with no chains: rows and the heads that name them (else verify reports them gone).
    await rig.ds.query('DELETE FROM audit_logs');
    await rig.ds.query('DELETE FROM audit_chain_heads');
  });
  afterEach(async () => {
    for (const w of writers.splice(0)) await w.onApplicationShutdown();
    rmSync(spoolDir, { recursive: true, force: true });
  });
  return { rig: () => rig, spoolDir: () => spoolDir, makeWriter, rows };
}
