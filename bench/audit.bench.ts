/**
 * Audit writer throughput and added latency into PostgreSQL.
 *
 *   npm run build && node dist/bench/audit.bench.js
 *
 * Env (bench harness only): BENCH_DATABASE_URL or TEST_DATABASE_URL (default
 * postgres://postgres@127.0.0.1:5432/test), AUDIT_BENCH_SECONDS (default 5),
 * AUDIT_BENCH_PRODUCERS (comma list, default 16,64,256,1024). Runs in its own
 * schema, dropped afterwards. For each producer count, every producer awaits
 * record() in a loop (sync mode, as a tool call does): records/s sustained
 * and the latency record() adds (p50/p99/max).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
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

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

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
    console.log(`audit bench: PostgreSQL, ${seconds} s per run, sync mode, window 2 ms, batch max 500`);
    console.log('producers  records/s   batches  rows/batch  p50 ms  p99 ms  max ms');
    for (const producers of producerCounts) {
      const writer = new AuditWriter(ds, resolveAuditOptions({ spoolDir: dataDir }));
      const latencies: number[] = [];
      const deadline = performance.now() + seconds * 1000;
      const started = performance.now();
      let n = 0;
      const produce = async (p: number) => {
        while (performance.now() < deadline) {
          const rec: AuditRecord = {
            kind: 'tool_call',
            action: 'xero_list_invoices',
            outcome: 'success',
            organizationId: 'org-bench',
            userId: `user-${p}`,
            keyId: `key-${p}`,
            requestId: `r-${p}-${n++}`,
            durationMs: 12,
            ip: '10.0.0.1',
            userAgent: 'bench/1',
            args: { page: n, where: { status: 'PAID', contact: 'Acme' } },
          };
          const t = performance.now();
          await writer.record(rec);
          latencies.push(performance.now() - t);
        }
      };
      await Promise.all(Array.from({ length: producers }, (_, p) => produce(p)));
      await writer.flush();
      const elapsed = (performance.now() - started) / 1000;
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
        ].join(' '),
      );
      if (s.spooledRows > 0 || s.unavailableRows > 0)
        console.log(`  (spooled ${s.spooledRows}, refused ${s.unavailableRows})`);
    }
    const verified = await verifyAuditChains(ds);
    console.log(`verify: ok=${verified.ok} checked=${verified.checked} chains=${verified.chains}`);
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
