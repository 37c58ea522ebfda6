import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy, Optional } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { InjectConfig } from '../config/config.module';
import type { AppConfig } from '../config/config.types';
import { monthStartUtc } from '../database/audit-partitions';
import { MetricsService } from '../metrics/metrics.service';
import { PruneBusyError, pruneAuditTrail, PruneRefusedError, PruneResult } from './audit-prune';

/** The first run waits this long after boot (not in the way of the boot), then one every RUN_EVERY_MS. */
export const FIRST_RUN_AFTER_MS = 60_000;
export const RUN_EVERY_MS = 6 * 3_600_000;

/**
 * AUDIT_RETENTION_MONTHS: the server prunes the audit records older than the
 * start of the month that many months before the current one, as `sentia-mcp
 * audit prune` does (verifying the trail up to the cutoff first, anchoring the
 * chains, recording itself with key `system:retention`). A run after the
 * month's first finds no record older than its cutoff in one indexed look and
 * stops there, so running every few hours costs next to nothing. Several instances may run it
 * at once: on PostgreSQL the prune takes the partition lock, and the second
 * finds nothing left. A trail that does not verify is not pruned, and says so
 * at error level on every run until it is explained.
 */
@Injectable()
export class AuditRetention implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(AuditRetention.name);
  private timers: NodeJS.Timeout[] = [];

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    private readonly dataSource: DataSource,
    @Optional() private readonly metrics?: MetricsService,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.audit.retentionMonths === 0) return;
    const first = setTimeout(() => void this.run(), FIRST_RUN_AFTER_MS);
    const every = setInterval(() => void this.run(), RUN_EVERY_MS);
    first.unref();
    every.unref();
    this.timers = [first, every];
  }

  onModuleDestroy(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
  }

  /** One pass; never throws. Undefined when retention is off or the pass failed. */
  async run(now = new Date()): Promise<PruneResult | undefined> {
    const months = this.config.audit.retentionMonths;
    if (months === 0) return undefined;
    const before = monthStartUtc(now, -months);
    let reader: DataSource | undefined;
    try {
      reader = await openSnapshotReader(this.dataSource);
      const result = await pruneAuditTrail(this.dataSource, {
        before,
        now,
        actor: 'system:retention',
        verifyOn: reader,
      });
      this.metrics?.auditRetentionRun(result.records > 0 ? 'pruned' : 'nothing', result.records);
      if (result.records > 0 || result.kept > 0)
        this.logger.log(
          `Audit retention (${months} months): pruned ${result.records} records older than ` +
            `${result.before.slice(0, 7)} from ${result.chains} chains` +
            (result.partitionsDropped.length > 0
              ? ` (partitions dropped: ${result.partitionsDropped.join(', ')})`
              : '') +
            (result.kept > 0 ? `; ${result.kept} older records kept to keep their chains whole` : ''),
        );
      return result;
    } catch (err) {
      this.metrics?.auditRetentionRun(
        err instanceof PruneRefusedError ? 'refused' : err instanceof PruneBusyError ? 'busy' : 'error',
      );
      if (err instanceof PruneRefusedError)
        this.logger.error(`Audit retention did not prune: ${err.message}`);
      else if (err instanceof PruneBusyError)
        this.logger.warn(`Audit retention did not run this time (it retries later): ${err.message}`);
      else
        this.logger.warn(
          `Audit retention could not run (it retries later): ${(err as Error)?.message ?? err}`,
        );
      return undefined;
    } finally {
      await reader?.destroy().catch(() => undefined);
    }
  }
}

/**
 * On an SQLite file, a read-only connection of its own for the prune's
 * verify: in a transaction there it reads one snapshot (WAL), so a prune by
 * another process (`sentia-mcp audit prune`) committing between two of its
 * pages is not half seen as a break. The server's own connection cannot hold
 * that transaction: the audit writer's inserts would join it. None is needed
 * on PostgreSQL (its verify reads one snapshot anyway) or in memory.
 */
async function openSnapshotReader(dataSource: DataSource): Promise<DataSource | undefined> {
  const options = dataSource.options;
  if (options.type !== 'better-sqlite3' || options.database === ':memory:') return undefined;
  const reader = new DataSource({
    ...options,
    readonly: true,
    fileMustExist: true,
    enableWAL: false, // the file is in WAL mode already; a read-only connection may not set it
    migrationsRun: false,
    synchronize: false,
  });
  await reader.initialize();
  return reader;
}
