import { Injectable } from '@nestjs/common';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { DataSource } from 'typeorm';
import { withDeadline } from '../common/deadline';

/** How long `SELECT 1` may take before the database counts as down. */
export const DATABASE_HEALTH_TIMEOUT_MS = 1500;

class HealthTimeoutError extends Error {}

/**
 * Readiness check for the database: `SELECT 1` bounded by a short timeout, so
 * a dead or hung database reports `down` quickly instead of stalling /health/ready.
 * The result never carries driver messages (they can name hosts or users).
 */
@Injectable()
export class DatabaseHealthIndicator {
  constructor(
    private readonly dataSource: DataSource,
    private readonly health: HealthIndicatorService,
  ) {}

  /** `isHealthy('database', timeoutMs)`; named like StoreHealthIndicator.check. */
  check(timeoutMs = DATABASE_HEALTH_TIMEOUT_MS): Promise<HealthIndicatorResult> {
    return this.isHealthy('database', timeoutMs);
  }

  async isHealthy(key = 'database', timeoutMs = DATABASE_HEALTH_TIMEOUT_MS): Promise<HealthIndicatorResult> {
    const indicator = this.health.check(key);
    const type = this.dataSource.options.type;
    if (!this.dataSource.isInitialized) return indicator.down({ type, message: 'not connected' });
    try {
      await withDeadline(this.dataSource.query('SELECT 1'), timeoutMs, () => new HealthTimeoutError());
      return indicator.up({ type });
    } catch (err) {
      const message = err instanceof HealthTimeoutError ? `no answer within ${timeoutMs} ms` : 'query failed';
      return indicator.down({ type, message });
    }
  }
}
