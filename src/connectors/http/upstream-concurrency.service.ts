import { Injectable, Logger, OnModuleDestroy, Optional } from '@nestjs/common';
import { ToolError } from '../../mcp/tool-pipeline.service';
import { MetricsService } from '../../metrics/metrics.service';
import { KeyValueStore, SlotLease } from '../../store/key-value-store';
import { UpstreamLimitStore } from './upstream-limit-store';
import { SERVICE_NAMES, UpstreamError, UpstreamService } from './upstream.errors';

export interface ConcurrencyLimit {
  /** Calls in flight at once. */
  max: number;
  /** How long a call waits for a slot before it is refused, in ms. */
  waitMs: number;
}

/**
 * How long a slot outlives its holder. A running call extends its lease
 * every third of this, so only a holder that is gone (a crash, a frozen
 * process) loses it, and its slot is free again within this time.
 */
export const SLOT_LEASE_MS = 15_000;
/** What a call refused for want of a slot is told to wait before it retries. */
export const BUSY_RETRY_AFTER_SECONDS = 2;
/** Between two tries for a slot: doubling from the first to the last, with jitter. */
const POLL_FIRST_MS = 25;
const POLL_LAST_MS = 250;

/**
 * Keeps this server under an upstream's own limit of calls at a time (Xero's
 * 5 per tenant): a counting semaphore per service and scope in the shared
 * store, so the instances together never have more calls in flight than the
 * limit. A call waits (bounded, and cancellable) for a slot; one that gets
 * none in time is refused with the seconds to wait, without reaching the
 * upstream. A slot is held for the whole of `call`, retries included.
 */
@Injectable()
export class UpstreamConcurrency implements OnModuleDestroy {
  private readonly logger = new Logger(UpstreamConcurrency.name);
  /** Waiters of this instance by semaphore key, woken as soon as a slot of theirs is freed here. */
  private readonly waiters = new Map<string, Set<() => void>>();
  /** The lease's life (SLOT_LEASE_MS; lowered by tests only). */
  leaseMs = SLOT_LEASE_MS;

  /** The shared store, or this instance's own memory while it does not answer (UpstreamLimitStore). */
  private readonly store: UpstreamLimitStore;

  constructor(store: KeyValueStore, @Optional() metrics?: MetricsService) {
    this.store = new UpstreamLimitStore(store, metrics);
  }

  onModuleDestroy(): Promise<void> {
    return this.store.close();
  }

  async run<T>(
    service: UpstreamService,
    scope: string,
    limit: ConcurrencyLimit,
    signal: AbortSignal | undefined,
    call: () => Promise<T>,
  ): Promise<T> {
    const key = `upstream:concurrency:${service}:${scope}`;
    const lease = await this.acquire(service, key, limit, signal);
    const renewal = setInterval(() => void this.renew(lease, renewal, service), Math.floor(this.leaseMs / 3));
    renewal.unref();
    try {
      return await call();
    } finally {
      clearInterval(renewal);
      // A lease that cannot be released (the store is unreachable) expires on its own.
      await lease.release().catch(() => false);
      for (const wake of this.waiters.get(key) ?? []) wake();
    }
  }

  private async acquire(
    service: UpstreamService,
    key: string,
    limit: ConcurrencyLimit,
    signal: AbortSignal | undefined,
  ): Promise<SlotLease> {
    const deadline = Date.now() + limit.waitMs;
    for (let pause = POLL_FIRST_MS; ; pause = Math.min(pause * 2, POLL_LAST_MS)) {
      if (signal?.aborted) throw cancelled();
      const lease = await this.store.tryAcquireSlot(service, key, limit.max, this.leaseMs);
      if (lease) return lease;
      const left = deadline - Date.now();
      if (left <= 0) throw UpstreamError.busy(service, limit.max, limit.waitMs, BUSY_RETRY_AFTER_SECONDS);
      await this.waitForSlot(key, Math.min(left, pause / 2 + Math.random() * pause), signal);
    }
  }

  /** Resolves after `ms`, or sooner when a slot of `key` is freed on this instance; rejects when the call is cancelled. */
  private waitForSlot(key: string, ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let waiting = this.waiters.get(key);
      if (!waiting) this.waiters.set(key, (waiting = new Set()));
      const set = waiting;
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        set.delete(wake);
        if (set.size === 0 && this.waiters.get(key) === set) this.waiters.delete(key);
      };
      const wake = () => {
        done();
        resolve();
      };
      const onAbort = () => {
        done();
        reject(cancelled());
      };
      const timer = setTimeout(wake, ms);
      set.add(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private async renew(lease: SlotLease, renewal: NodeJS.Timeout, service: UpstreamService): Promise<void> {
    const held = await lease.extend(this.leaseMs).catch(() => undefined);
    if (held !== false) return; // extended, or the store did not answer (the next renewal tries again)
    clearInterval(renewal);
    this.logger.warn(
      `A call to ${SERVICE_NAMES[service]} outlived its concurrency slot (not renewed within ${this.leaseMs} ms); ` +
        'another call may have taken it',
    );
  }
}

function cancelled(): ToolError {
  return new ToolError('The call was cancelled before the upstream service answered.', 'cancelled');
}
