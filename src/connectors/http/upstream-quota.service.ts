import { Injectable, OnModuleDestroy, Optional } from '@nestjs/common';
import { MetricsService } from '../../metrics/metrics.service';
import { KeyValueStore } from '../../store/key-value-store';
import { UpstreamLimitStore } from './upstream-limit-store';
import { UpstreamError, UpstreamService } from './upstream.errors';

export interface QuotaLimit {
  /** Calls allowed in one window. */
  max: number;
  windowMs: number;
  /** The limit as a person reads it, after "allows": `60 calls a minute per tenant`. */
  what: string;
}

/** A hold is never kept longer than a day, whatever an upstream asked. */
export const MAX_HOLD_MS = 86_400_000;

/** A hold in place: why (as `hold` was given it) and how long is left, in ms. */
export interface Held {
  reason: string;
  leftMs: number;
}

/** Kept past a calendar month's end, so that a clock a little behind on another instance still finds the count. */
const MONTH_KEY_SLACK_MS = 86_400_000;

/**
 * Keeps this server under an upstream's own published limits (Xero's 60
 * calls a minute per tenant, say) so that the upstream never has to refuse
 * us: a fixed-window counter per service and scope in the shared store, so
 * every instance counts against the same budget in the cluster shape. Past
 * the limit the call is refused here, without reaching the upstream, with
 * the seconds left in the window. While the shared store does not answer,
 * each instance counts on its own (UpstreamLimitStore). It also keeps the
 * holds an upstream asks for (`hold`): a limit it says is used up until a
 * given time, refused here until then.
 */
@Injectable()
export class UpstreamQuota implements OnModuleDestroy {
  private readonly store: UpstreamLimitStore;

  constructor(store: KeyValueStore, @Optional() metrics?: MetricsService) {
    this.store = new UpstreamLimitStore(store, metrics);
  }

  onModuleDestroy(): Promise<void> {
    return this.store.close();
  }

  async take(service: UpstreamService, scope: string, limit: QuotaLimit): Promise<void> {
    const window = Math.floor(Date.now() / limit.windowMs);
    const key = `upstream:quota:${service}:${limit.windowMs}:${scope}:${window}`;
    const used = await this.store.incr(service, key, limit.windowMs);
    if (used <= limit.max) return;
    const left = (window + 1) * limit.windowMs - Date.now();
    throw UpstreamError.limitReached(service, limit.what, Math.max(1, left / 1000));
  }

  /**
   * Holds every call of `service` for `scope` for `ms` (at most MAX_HOLD_MS)
   * on every instance: the upstream said that scope's limit is used up and
   * when it frees. `reason` says which limit, for the caller's message. Each
   * reason is kept apart, so that a shorter hold for one limit (a minute)
   * never replaces a longer one for another (the day), even when two 429s
   * arrive at once; of the same reason, a hold in place that lasts longer is kept.
   */
  async hold(service: UpstreamService, scope: string, reason: string, ms: number): Promise<void> {
    // Whole ms, as a store's TTL is: a Retry-After such as "30.0005" is read as 30000.5 ms.
    const wait = Math.ceil(Math.min(ms, MAX_HOLD_MS));
    if (!(wait >= 1)) return;
    const until = Date.now() + wait;
    const current = await this.heldFor(service, scope, reason);
    if (current && Date.now() + current.leftMs >= until) return;
    await this.store.set(service, holdKey(service, scope, reason), JSON.stringify({ reason, until }), wait);
  }

  /** The longest of the holds in place for `scope` among `reasons` (`hold`), if any. */
  async held(service: UpstreamService, scope: string, reasons: readonly string[]): Promise<Held | undefined> {
    const holds = await Promise.all(reasons.map((reason) => this.heldFor(service, scope, reason)));
    let longest: Held | undefined;
    for (const h of holds) if (h && (!longest || h.leftMs > longest.leftMs)) longest = h;
    return longest;
  }

  private async heldFor(service: UpstreamService, scope: string, reason: string): Promise<Held | undefined> {
    const value = await this.store.get(service, holdKey(service, scope, reason));
    if (value === null) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      return undefined;
    }
    const { reason: stored, until } = (parsed ?? {}) as { reason?: unknown; until?: unknown };
    if (stored !== reason || typeof until !== 'number') return undefined;
    const leftMs = Math.min(until - Date.now(), MAX_HOLD_MS);
    return leftMs > 0 ? { reason, leftMs } : undefined;
  }

  /**
   * One call of `max` a calendar month (UTC) for `scope`, counted in the
   * shared store as `take` counts; past it the call is refused until the
   * first of the next month, 00:00 UTC.
   */
  async takeMonthly(service: UpstreamService, scope: string, max: number, now = Date.now()): Promise<void> {
    const { id, endsAt } = calendarMonth(now);
    const key = `upstream:quota:${service}:month:${scope}:${id}`;
    const used = await this.store.incr(service, key, endsAt - now + MONTH_KEY_SLACK_MS);
    if (used <= max) return;
    throw UpstreamError.monthlyQuotaUsed(service, max, endsAt, (endsAt - now) / 1000);
  }
}

function holdKey(service: UpstreamService, scope: string, reason: string): string {
  return `upstream:hold:${service}:${scope}:${reason}`;
}

/** The UTC calendar month holding `now`: `YYYY-MM`, and the instant the next one begins. */
export function calendarMonth(now: number): { id: string; endsAt: number } {
  const d = new Date(now);
  const year = d.getUTCFullYear();
  const month = d.getUTCMonth();
  return {
    id: `${year}-${String(month + 1).padStart(2, '0')}`,
    endsAt: Date.UTC(year, month + 1, 1),
  };
}
