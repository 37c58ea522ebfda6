/**
 * Audit writer throughput and added latency into PostgreSQL.
 *
 *   npm run build && node dist/bench/audit.bench.js
 *
 * Env (bench harness only): BENCH_DATABASE_URL or TEST_DATABASE_URL (default
 * postgres://postgres@127.0.0.1:5432/test), AUDIT_BENCH_SECONDS (default 5),
 * AUDIT_BENCH_PRODUCERS (comma list, default 16,64,256,1024),
 * AUDIT_BENCH_RATES (comma list of offered records/s, default
 * 10000,20000,30000,40000), AUDIT_BENCH_ARRIVALS (poisson, the default, or
 * uniform). Runs in its own schema, dropped afterwards.
 *
 * Two views of the same writer, both in sync mode (record() resolves once
 * the row is durable, as a tool call waits for it):
 * - closed loop: N producers each await record() in a loop. Throughput is
 *   then N / latency, so it shows how the batch grows with concurrency.
 * - open loop: records are offered at a fixed rate whatever the writer does
 *   (as independent clients do); latency runs from each record's scheduled
 *   time, so a writer that falls behind shows it (no coordinated omission).
 *   A rate is sustained when the achieved rate matches the offered one and
 *   the queue stays bounded.
 * `ckpt`: PostgreSQL checkpoints begun during the run (see `checkpoints`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { AuditRecord } from '../src/audit/audit-record';
import { verifyAuditChains } from '../src/audit/audit-verify';
import { resolveAuditOptions } from '../src/audit/audit.options';
import { AuditWriter } from '../src/audit/audit.writer';
import { loadConfig } from '../src/config/load-config';
import { openDataSource } from '../src/database/open-data-source';

const url =
  process.env.BENCH_DATABASE_URL ??
  process.env.TEST_DATABASE_URL ??
  'postgres://postgres@127.0.0.1:5432/test';
const seconds = Number(process.env.AUDIT_BENCH_SECONDS ?? 5);
const producerCounts = (process.env.AUDIT_BENCH_PRODUCERS ?? '16,64,256,1024').split(',').map(Number);
const offeredRates = (process.env.AUDIT_BENCH_RATES ?? '10000,20000,30000,40000').split(',').map(Number);
const arrivals = process.env.AUDIT_BENCH_ARRIVALS === 'uniform' ? 'uniform' : 'poisson';

let serial = 0;
const benchRecord = (p: number): AuditRecord => ({
  kind: 'tool_call',
  action: 'xero_list_invoices',
  outcome: 'success',
  organizationId: 'org-bench',
  userId: `user-${p}`,
  keyId: `key-${p}`,
  requestId: `r-${p}-${serial++}`,
  durationMs: 12,
  ip: '10.0.0.1',
  userAgent: 'bench/1',
  args: { page: serial, where: { status: 'PAID', contact: 'Acme' } },
});

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/**
 * Offers `rate` records/s for `seconds`: every tick issues the records whose
 * scheduled time has come. Achieved = records durable within the run / run
 * time (records still queued at the end do not count).
 */
async function openLoop(
  writer: AuditWriter,
  rate: number,
  seconds: number,
): Promise<{ achieved: number; latencies: number[]; maxQueue: number }> {
  const latencies: number[] = [];
  const waits: Promise<void>[] = [];
  const started = performance.now();
  const end = started + seconds * 1000;
  let issued = 0;
  let durable = 0;
  let maxQueue = 0;
  // Arrivals `next` ms after the start: evenly spaced, or a Poisson process (independent
  // callers; seeded, so runs are comparable) whose bursts are what group commit meets in practice.
  let next = 0;
  let random = 0x2545f491;
  const gap = (): number => {
    if (arrivals === 'uniform') return 1000 / rate;
    random = (Math.imul(random, 1664525) + 1013904223) >>> 0;
    return (-Math.log(1 - random / 2 ** 32) * 1000) / rate;
  };
  while (performance.now() < end) {
    const now = performance.now() - started;
    for (; next <= now; next += gap(), issued++) {
      const scheduled = started + next;
      waits.push(
        writer.record(benchRecord(issued % 64)).then(() => {
          durable++;
          latencies.push(performance.now() - scheduled);
        }),
      );
    }
    maxQueue = Math.max(maxQueue, writer.queueDepth);
    await new Promise((r) => setImmediate(r));
  }
  const elapsed = (performance.now() - started) / 1000;
  const achieved = durable / elapsed;
  await Promise.all(waits);
  await writer.flush();
  latencies.sort((a, b) => a - b);
  return { achieved, latencies, maxQueue };
}

/** The writer's defaults, but for AUDIT_BATCH_WINDOW_MS when set (to compare settings). */
function benchOptions(dataDir: string) {
  const window = process.env.AUDIT_BATCH_WINDOW_MS;
  return resolveAuditOptions({
    spoolDir: dataDir,
    batchWindowMs: window === undefined ? undefined : Number(window),
  });
}

/**
 * PostgreSQL checkpoints so far (timed and requested). A checkpoint that
 * starts during a run makes the next write of each page log a full page
 * image, so WAL, and the commits waiting on it, grow for a while: runs are
 * printed with how many began during them. PostgreSQL 17 moved the
 * counters to pg_stat_checkpointer; undefined when neither view answers.
 */
async function checkpoints(ds: DataSource): Promise<number | undefined> {
  for (const sql of [
    'SELECT checkpoints_timed + checkpoints_req AS n FROM pg_stat_bgwriter',
    'SELECT num_timed + num_requested AS n FROM pg_stat_checkpointer',
  ]) {
    try {
      const [row] = (await ds.query(sql)) as Array<{ n: string | number }>;
      return Number(row.n);
    } catch {
      /* the other view */
    }
  }
  return undefined;
}

const during = (before: number | undefined, after: number | undefined): string =>
  (before === undefined || after === undefined ? '-' : String(after - before)).padStart(5);

/** Every run starts on an empty table, so its figures do not depend on the runs before it. */
async function freshWriter(ds: DataSource, dataDir: string): Promise<AuditWriter> {
  await ds.query('TRUNCATE audit_logs, audit_chain_heads');
  return new AuditWriter(ds, benchOptions(dataDir));
}

async function main(): Promise<void> {
  Logger.overrideLogger(['error']);
  const schema = `audit_bench_${process.pid}_${Date.now().toString(36)}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'audit-bench-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    DATA_DIR: dataDir,
    DATABASE_URL: url,
    JWT_SECRET: 'x'.repeat(40),
    MASTER_ENCRYPTION_KEY: 'ab'.repeat(32),
  });
  const ds = await openDataSource(config, { schema, migrationsRun: true });
  try {
    const o = benchOptions(dataDir);
    console.log(
      `audit bench: PostgreSQL, ${seconds} s per run, ${o.mode} mode, window ${o.batchWindowMs} ms, ` +
        `batch max ${o.batchMaxRows}`,
    );
    console.log('producers  records/s   batches  rows/batch  p50 ms  p99 ms  max ms  ckpt');
    for (const producers of producerCounts) {
      const writer = await freshWriter(ds, dataDir);
      const ckptBefore = await checkpoints(ds);
      const latencies: number[] = [];
      const deadline = performance.now() + seconds * 1000;
      const started = performance.now();
      const produce = async (p: number) => {
        while (performance.now() < deadline) {
          const rec = benchRecord(p);
          const t = performance.now();
          await writer.record(rec);
          latencies.push(performance.now() - t);
        }
      };
      await Promise.all(Array.from({ length: producers }, (_, p) => produce(p)));
      await writer.flush();
      const elapsed = (performance.now() - started) / 1000;
      const ckpt = during(ckptBefore, await checkpoints(ds));
      latencies.sort((a, b) => a - b);
      const s = writer.stats;
      console.log(
        [
          String(producers).padStart(9),
          Math.round(s.rowsWritten / elapsed)
            .toString()
            .padStart(10),
          String(s.batches).padStart(9),
          (s.rowsWritten / Math.max(1, s.batches)).toFixed(1).padStart(11),
          percentile(latencies, 50).toFixed(2).padStart(7),
          percentile(latencies, 99).toFixed(2).padStart(7),
          latencies[latencies.length - 1].toFixed(2).padStart(7),
          ckpt,
        ].join(' '),
      );
      if (s.spooledRows > 0 || s.unavailableRows > 0)
        console.log(`  (spooled ${s.spooledRows}, refused ${s.unavailableRows})`);
    }
    console.log(
      '\nopen loop: offered records/s, achieved, p50/p99/max ms from the scheduled time, max queue',
    );
    console.log('  offered  achieved   batches  rows/batch  p50 ms  p99 ms  max ms  max queue  ckpt');
    for (const rate of offeredRates) {
      const writer = await freshWriter(ds, dataDir);
      const ckptBefore = await checkpoints(ds);
      const r = await openLoop(writer, rate, seconds);
      const ckpt = during(ckptBefore, await checkpoints(ds));
      const s = writer.stats;
      console.log(
        [
          String(rate).padStart(9),
          Math.round(r.achieved).toString().padStart(9),
          String(s.batches).padStart(9),
          (s.rowsWritten / Math.max(1, s.batches)).toFixed(1).padStart(11),
          percentile(r.latencies, 50).toFixed(2).padStart(7),
          percentile(r.latencies, 99).toFixed(2).padStart(7),
          r.latencies[r.latencies.length - 1].toFixed(2).padStart(7),
          String(r.maxQueue).padStart(10),
          ckpt,
        ].join(' '),
      );
      if (s.spooledRows > 0) console.log(`  (spooled ${s.spooledRows} rows)`);
    }
    const verified = await verifyAuditChains(ds);
    console.log(
      `verify (last run's rows): ok=${verified.ok} checked=${verified.checked} chains=${verified.chains}`,
    );
  } finally {
    await ds.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await ds.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
