import { Logger } from '@nestjs/common';
import type { MetricsService } from '../../metrics/metrics.service';
import type { KeyValueStore, SlotLease } from '../../store/key-value-store';
import { MemoryStore } from '../../store/memory.store';
import { SERVICE_NAMES, UpstreamService } from './upstream.errors';

/** A store failure is logged at most this often per service. */
const WARN_EVERY_MS = 60_000;

/**
 * Where the upstream limits (quotas, calls at a time, holds) are kept: the shared
 * store, so every instance draws on one budget; and, while the shared store
 * does not answer (Redis down), this instance's own memory, as the per-key
 * rate limits do (the failure policy: Redis down, limits per instance). Calls
 * then go on; each instance allows the whole limit, so the upstream may see
 * more than it allows and refuse some (a 429, answered as always). Each
 * count made here is `upstream_limit_local_counts_total{service}`, and a
 * warning says so at most once a minute per service.
 */
export class UpstreamLimitStore {
  private readonly logger = new Logger(UpstreamLimitStore.name);
  private readonly local = new MemoryStore();
  private readonly warnedAt = new Map<UpstreamService, number>();

  constructor(
    private readonly shared: KeyValueStore,
    private readonly metrics?: MetricsService,
  ) {}

  async incr(service: UpstreamService, key: string, ttlMs: number): Promise<number> {
    try {
      return await this.shared.incr(key, 1, ttlMs);
    } catch (e) {
      this.countedLocally(service, e);
      return this.local.incr(key, 1, ttlMs);
    }
  }

  async get(service: UpstreamService, key: string): Promise<string | null> {
    try {
      return await this.shared.get(key);
    } catch (e) {
      this.countedLocally(service, e);
      return this.local.get(key);
    }
  }

  async set(service: UpstreamService, key: string, value: string, ttlMs: number): Promise<void> {
    try {
      await this.shared.set(key, value, { ttlMs });
    } catch (e) {
      this.countedLocally(service, e);
      await this.local.set(key, value, { ttlMs });
    }
  }

  async tryAcquireSlot(
    service: UpstreamService,
    key: string,
    limit: number,
    ttlMs: number,
  ): Promise<SlotLease | null> {
    try {
      return await this.shared.tryAcquireSlot(key, limit, ttlMs);
    } catch (e) {
      this.countedLocally(service, e);
      return this.local.tryAcquireSlot(key, limit, ttlMs);
    }
  }

  close(): Promise<void> {
    return this.local.close();
  }

  private countedLocally(service: UpstreamService, error: unknown): void {
    this.metrics?.upstreamLimitCountedLocally(service);
    const now = Date.now();
    if (now - (this.warnedAt.get(service) ?? -Infinity) < WARN_EVERY_MS) return;
    this.warnedAt.set(service, now);
    this.logger.warn({
      message:
        `The shared store did not answer for ${SERVICE_NAMES[service]}'s limits; ` +
        'counting them on this instance until it does (each instance then allows the whole limit)',
      error,
    });
  }
}
