import { Injectable } from '@nestjs/common';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { withDeadline } from '../common/deadline';
import { KeyValueStore } from './key-value-store';

/** How long PING may take before Redis counts as down. */
export const STORE_HEALTH_TIMEOUT_MS = 1500;

class StoreHealthTimeoutError extends Error {}

/**
 * Readiness check for the store, under the key `store` in both shapes (so a
 * probe or dashboard reads one name), its `kind` saying which: `redis`, PING
 * bounded by a short timeout; `memory`, always up. The result never carries
 * client error messages.
 */
@Injectable()
export class StoreHealthIndicator {
  constructor(
    private readonly store: KeyValueStore,
    private readonly health: HealthIndicatorService,
  ) {}

  async check(timeoutMs = STORE_HEALTH_TIMEOUT_MS): Promise<HealthIndicatorResult> {
    if (this.store.kind === 'memory') return this.health.check('store').up({ kind: 'memory' });
    const indicator = this.health.check('store');
    try {
      await withDeadline(this.store.ping(), timeoutMs, () => new StoreHealthTimeoutError());
      return indicator.up({ kind: 'redis' });
    } catch (err) {
      const message =
        err instanceof StoreHealthTimeoutError ? `no answer within ${timeoutMs} ms` : 'unreachable';
      return indicator.down({ kind: 'redis', message });
    }
  }

  /** Same as check(); named like DatabaseHealthIndicator.isHealthy. */
  isHealthy(timeoutMs = STORE_HEALTH_TIMEOUT_MS): Promise<HealthIndicatorResult> {
    return this.check(timeoutMs);
  }
}
