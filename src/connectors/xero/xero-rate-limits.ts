import { MAX_HOLD_MS } from '../http/upstream-quota.service';
import { UpstreamError } from '../http/upstream.errors';

/**
 * Which of Xero's limits a 429 says was hit, from `X-Rate-Limit-Problem`
 * (UPSTREAMS.md: `minute` or `day`; `appminute`, the app's minute across its
 * tenants, is the reading taken for the app's limit, unconfirmed). Anything
 * else, or no header, is `unknown`. The 429's body is never read.
 */
export type XeroRateLimitProblem = 'day' | 'minute' | 'appminute' | 'unknown';

export function rateLimitProblem(headers: Headers): XeroRateLimitProblem {
  const value = headers.get('x-rate-limit-problem')?.trim().toLowerCase();
  return value === 'day' || value === 'minute' || value === 'appminute' ? value : 'unknown';
}

/** The problems that are one tenant's (for one app): held for that tenant until Xero's wait is over. */
export const TENANT_PROBLEMS = ['day', 'minute'] as const;

export function isTenantProblem(problem: string): problem is (typeof TENANT_PROBLEMS)[number] {
  return (TENANT_PROBLEMS as readonly string[]).includes(problem);
}

/**
 * The wait a Xero 429 asked for, in ms, bounded to a day (Xero's longest
 * window); undefined when its Retry-After is absent or unreadable.
 */
export function boundedWaitMs(retryAfterMs: number | undefined): number | undefined {
  return retryAfterMs === undefined ? undefined : Math.min(retryAfterMs, MAX_HOLD_MS);
}

/**
 * Whether a successful answer says the tenant's day is spent
 * (`X-DayLimit-Remaining: 0`): the next call would get a 429.
 */
export function dayLimitSpent(headers: Headers): boolean {
  return /^\s*0+\s*$/.test(headers.get('x-daylimit-remaining') ?? '');
}

const DAY_MS = 86_400_000;

/** The ms from `now` to the end of its UTC day, the window this server counts Xero's day in. */
export function restOfUtcDayMs(now: number = Date.now()): number {
  return DAY_MS - (now % DAY_MS);
}

/** The tool error for a Xero limit hit: which one, and when to retry (`waitMs` undefined: not known). */
export function xeroLimitHit(
  problem: XeroRateLimitProblem,
  tenantId: string,
  waitMs: number | undefined,
): UpstreamError {
  const which = {
    day: `Xero's daily limit for tenant ${tenantId} (5000 calls a day per tenant and app)`,
    minute: `Xero's minute limit for tenant ${tenantId} (60 calls a minute per tenant and app)`,
    appminute:
      "Xero's minute limit for this organisation's Xero app (10000 calls a minute across its tenants)",
    unknown: `Xero's rate limit for tenant ${tenantId}`,
  }[problem];
  return UpstreamError.limitHit('xero', which, waitMs === undefined ? undefined : waitMs / 1000);
}
