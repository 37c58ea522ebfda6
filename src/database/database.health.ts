import { Injectable } from '@nestjs/common';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { DataSource } from 'typeorm';

/** How long `SELECT 1` may take before the database counts as down. */
export const DATABASE_HEALTH_TIMEOUT_MS = 1500;

class HealthTimeoutError extends Error {}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HealthTimeoutError()), ms);
  });
  // A late failure of the abandoned query must not become an unhandled rejection.
  work.catch(() => undefined);
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

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
      await withTimeout(this.dataSource.query('SELECT 1'), timeoutMs);
      return indicator.up({ type });
    } catch (err) {
      const message = err instanceof HealthTimeoutError ? `no answer within ${timeoutMs} ms` : 'query failed';
      return indicator.down({ type, message });
    }
  }
}
