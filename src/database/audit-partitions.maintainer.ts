import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ensureAuditPartitions } from './audit-partitions';

/** Months of audit partitions kept ready beyond the current one. */
export const AUDIT_PARTITION_MONTHS_AHEAD = 2;
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Keeps the PostgreSQL audit partitions created ahead: once at boot, then
 * daily. A failure is logged and retried on the next run; rows written in the
 * meantime land in the default partition and move out when their month's
 * partition is created. Does nothing on SQLite.
 */
@Injectable()
export class AuditPartitionsMaintainer implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(AuditPartitionsMaintainer.name);
  private timer?: NodeJS.Timeout;

  constructor(private readonly dataSource: DataSource) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.dataSource.options.type !== 'postgres') return;
    await this.run();
    this.timer = setInterval(() => void this.run(), DAY_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Returns the partitions created; never throws. */
  async run(now = new Date()): Promise<string[]> {
    try {
      const created = await ensureAuditPartitions(this.dataSource, now, AUDIT_PARTITION_MONTHS_AHEAD);
      if (created.length > 0) this.logger.log(`Created audit partitions: ${created.join(', ')}`);
      return created;
    } catch (err) {
      this.logger.warn(`Could not create audit partitions: ${(err as Error).message}`);
      return [];
    }
  }
}
