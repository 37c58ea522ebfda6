import { UpstreamError } from '../http/upstream.errors';
import {
  boundedWaitMs,
  dayLimitSpent,
  isTenantProblem,
  rateLimitProblem,
  restOfUtcDayMs,
  xeroLimitHit,
} from './xero-rate-limits';

const T = '9a0e5d3b-7c1f-4e2a-8b6d-0f1e2d3c4b5a';
const h = (init: Record<string, string>) => new Headers(init);

describe("Xero's rate-limit headers", () => {
  it('reads X-Rate-Limit-Problem whatever its case and spaces; anything else, or none, is unknown', () => {
    expect(rateLimitProblem(h({ 'x-rate-limit-problem': 'day' }))).toBe('day');
    expect(rateLimitProblem(h({ 'X-Rate-Limit-Problem': ' Minute ' }))).toBe('minute');
    expect(rateLimitProblem(h({ 'x-rate-limit-problem': 'AppMinute' }))).toBe('appminute');
    expect(rateLimitProblem(h({ 'x-rate-limit-problem': 'concurrent' }))).toBe('unknown');
    expect(rateLimitProblem(h({ 'x-rate-limit-problem': 'day, minute' }))).toBe('unknown');
    expect(rateLimitProblem(h({}))).toBe('unknown');
  });

  it("holds a tenant for its own minute and day only, not for the app's limit or an unknown one", () => {
    expect(isTenantProblem('day')).toBe(true);
    expect(isTenantProblem('minute')).toBe(true);
    expect(isTenantProblem('appminute')).toBe(false);
    expect(isTenantProblem('unknown')).toBe(false);
  });

  it('bounds the wait to a day; an absent or unreadable Retry-After stays unknown', () => {
    expect(boundedWaitMs(3_000)).toBe(3_000);
    expect(boundedWaitMs(86_400_000)).toBe(86_400_000);
    expect(boundedWaitMs(10 * 86_400_000)).toBe(86_400_000);
    expect(boundedWaitMs(undefined)).toBeUndefined();
  });

  it('reads X-DayLimit-Remaining: 0 as the day spent, and nothing else', () => {
    expect(dayLimitSpent(h({ 'x-daylimit-remaining': '0' }))).toBe(true);
    expect(dayLimitSpent(h({ 'x-daylimit-remaining': ' 00 ' }))).toBe(true);
    expect(dayLimitSpent(h({ 'x-daylimit-remaining': '1' }))).toBe(false);
    expect(dayLimitSpent(h({ 'x-daylimit-remaining': '-0' }))).toBe(false);
    expect(dayLimitSpent(h({ 'x-daylimit-remaining': '' }))).toBe(false);
    expect(dayLimitSpent(h({ 'x-minlimit-remaining': '0' }))).toBe(false);
  });

  it('counts the rest of the UTC day', () => {
    expect(restOfUtcDayMs(Date.parse('2026-12-05T23:00:00Z'))).toBe(3_600_000);
    expect(restOfUtcDayMs(Date.parse('2026-12-05T00:00:00Z'))).toBe(86_400_000);
  });
});

describe('xeroLimitHit', () => {
  const hit = (problem: Parameters<typeof xeroLimitHit>[0], waitMs?: number) => {
    const e = xeroLimitHit(problem, T, waitMs);
    expect(e).toBeInstanceOf(UpstreamError);
    expect(e.code).toBe('upstream_rate_limited');
    return e;
  };
  const at = /\(at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\)\.$/;

  it('names the limit hit and says when to retry, in the rate-limited error with its seconds', () => {
    const day = hit('day', 3_600_000);
    expect(day.message).toMatch(
      new RegExp(
        `^Xero's daily limit for tenant ${T} \\(5000 calls a day per tenant and app\\) was reached; retry after 3600 s `,
      ),
    );
    expect(day.message).toMatch(at);
    expect(day.retryAfterSeconds).toBe(3600);
    const minute = hit('minute', 1_500);
    expect(minute.message).toMatch(
      new RegExp(
        `^Xero's minute limit for tenant ${T} \\(60 calls a minute per tenant and app\\) was reached; retry after 2 s `,
      ),
    );
    expect(minute.retryAfterSeconds).toBe(2);
    expect(hit('appminute', 30_000).message).toMatch(
      /^Xero's minute limit for this organisation's Xero app \(10000 calls a minute across its tenants\) was reached; retry after 30 s /,
    );
    expect(hit('unknown', 5_000).message).toMatch(
      new RegExp(`^Xero's rate limit for tenant ${T} was reached; retry after 5 s `),
    );
  });

  it('without a readable wait, says to retry later and gives no seconds', () => {
    const e = hit('day');
    expect(e.message).toBe(
      `Xero's daily limit for tenant ${T} (5000 calls a day per tenant and app) was reached; retry later.`,
    );
    expect(e.retryAfterSeconds).toBeUndefined();
  });
});
