import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import { Counter, Gauge } from 'prom-client';
import { MetricsService } from '../metrics/metrics.service';
import { KeyValueStore } from '../store/key-value-store';
import { MemoryStore } from '../store/memory.store';
import { withDeadline } from '../common/deadline';
import type { ThrottlerStorageRecord } from './rate-limit-decision';

/** Window keys outlive their window a little, so a slow clock never resurrects a count. */
const EXPIRY_GRACE_MS = 5_000;
/** While the store is failing, one request per interval tries it again (in the background); all count locally. */
export const STORE_RETRY_INTERVAL_MS = 1_000;
/**
 * How long a request waits for the shared count before it is counted locally
 * instead. Far above a healthy Redis's answer (well under a millisecond), far
 * below its 2 s command timeout: a Redis that swallows packets rather than
 * refusing them costs the requests of that moment this much, once.
 */
export const STORE_DECISION_BUDGET_MS = 500;

class StoreTooSlowError extends Error {
  constructor() {
    super(`no answer within ${STORE_DECISION_BUDGET_MS} ms`);
  }
}

/** The store's count, or StoreTooSlowError once the decision budget has passed. */
const withinBudget = <T>(answer: Promise<T>): Promise<T> =>
  withDeadline(answer, STORE_DECISION_BUDGET_MS, () => new StoreTooSlowError());

/**
 * `ThrottlerStorage` (of @nestjs/throttler) over our KeyValueStore: fixed
 * windows aligned to the clock (`<key>:<window index>`), counted with one
 * atomic `incr` that sets the TTL when it creates the key. With Redis every
 * instance counts in the same key, so together they admit exactly the limit;
 * in the embedded shape the store is process memory.
 *
 * Failure policy: when the store throws (Redis down), requests are counted
 * in a per-instance memory store instead (each instance then admits up to
 * the limit on its own), a warning is logged once per outage, and
 * `rate_limit_store_degraded` is 1 and `rate_limit_local_counts_total` grows
 * until the store answers again. `increment` never throws, and never waits
 * long for the store: a count that takes longer than
 * STORE_DECISION_BUDGET_MS is a failure too, and while degraded the
 * retries run beside the requests (each counted locally), not in their way.
 */
@Injectable()
export class StoreThrottlerStorage implements ThrottlerStorage, OnApplicationShutdown {
  private readonly logger = new Logger(StoreThrottlerStorage.name);
  private readonly local = new MemoryStore();
  private readonly degradedGauge: Gauge;
  private readonly localCounts: Counter;
  private degraded = false;
  private nextRetryAt = 0;
  private probing = false;

  constructor(
    private readonly store: KeyValueStore,
    metrics: MetricsService,
  ) {
    const registers = [metrics.registry];
    this.degradedGauge = new Gauge({
      name: 'rate_limit_store_degraded',
      help: '1 while the shared rate-limit store (Redis) fails and limits are counted per instance.',
      registers,
    });
    this.localCounts = new Counter({
      name: 'rate_limit_local_counts_total',
      help: 'Requests counted against a per-instance rate limit because the shared store failed.',
      registers,
    });
  }

  /** True while requests are counted per instance (the store failed and has not answered since). */
  get isDegraded(): boolean {
    return this.degraded;
  }

  async increment(
    key: string,
    ttl: number,
    limit: number,
    _blockDuration: number,
    _throttlerName: string,
    /** How many requests this one counts as (a JSON-RPC batch: one per message); negative refunds. */
    hits = 1,
  ): Promise<ThrottlerStorageRecord> {
    const now = Date.now();
    const windowMs = Math.max(1, Math.floor(ttl));
    const window = Math.floor(now / windowMs);
    const msLeft = (window + 1) * windowMs - now;
    const totalHits = await this.count(`${key}:${window}`, msLeft + EXPIRY_GRACE_MS, now, hits);
    const timeToExpire = Math.max(1, Math.ceil(msLeft / 1000));
    const isBlocked = totalHits > limit;
    return { totalHits, timeToExpire, isBlocked, timeToBlockExpire: isBlocked ? timeToExpire : 0 };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.local.close();
  }

  private async count(key: string, ttlMs: number, now: number, hits: number): Promise<number> {
    if (this.degraded) {
      if (hits > 0 && now >= this.nextRetryAt && !this.probing) this.probe(key, ttlMs, hits);
    } else {
      try {
        return await withinBudget(this.store.incr(key, hits, ttlMs));
      } catch (err) {
        this.failed(err);
      }
    }
    if (hits > 0) this.localCounts.inc(hits); // a refund (negative) is no request
    return this.local.incr(key, hits, ttlMs);
  }

  /** Counts this request in the store as well, in the background; its answer ends the outage. */
  private probe(key: string, ttlMs: number, hits: number): void {
    this.probing = true;
    withinBudget(this.store.incr(key, hits, ttlMs))
      .then(
        () => this.recovered(),
        () => undefined,
      )
      .finally(() => {
        this.probing = false;
        this.nextRetryAt = Date.now() + STORE_RETRY_INTERVAL_MS;
      });
  }

  private failed(err: unknown): void {
    if (this.degraded) return;
    this.degraded = true;
    this.nextRetryAt = Date.now() + STORE_RETRY_INTERVAL_MS;
    this.degradedGauge.set(1);
    this.logger.warn({
      message: 'Rate-limit store unavailable: counting per instance until it answers again',
      event: 'rate_limit.degraded',
      store: this.store.kind,
      error: err instanceof Error ? err.message : 'error',
    });
  }

  private recovered(): void {
    if (!this.degraded) return;
    this.degraded = false;
    this.degradedGauge.set(0);
    this.logger.log({
      message: 'Rate-limit store answers again: limits are shared across instances',
      event: 'rate_limit.restored',
      store: this.store.kind,
    });
  }
}
