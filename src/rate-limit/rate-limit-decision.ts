import type { ThrottlerStorage } from '@nestjs/throttler';
import type { Request, Response } from 'express';

/** What ThrottlerStorage.increment answers (the library does not export the type by name). */
export type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/** Which limit a decision is about: per client IP (before auth) or per API key (after auth). */
export type RateLimitScope = 'ip' | 'key';

/** Fixed windows of one minute, aligned to the clock so every instance shares them. */
export const RATE_LIMIT_WINDOW_MS = 60_000;

/** JSON-RPC error code of a rate-limited /mcp request (implementation-defined server error). */
export const RATE_LIMITED_JSON_RPC_CODE = -32000;

/** The outcome of counting one request against one limit. */
export interface RateLimitDecision {
  scope: RateLimitScope;
  limit: number;
  /** Requests this window still admits after this one. */
  remaining: number;
  /** Seconds until the window ends (at least 1). */
  resetSeconds: number;
  /** This request is over the limit: answer 429. */
  exceeded: boolean;
  /** The first refusal of this window for this caller (the one worth a security log line). */
  firstRefusal: boolean;
}

export function toDecision(
  scope: RateLimitScope,
  limit: number,
  record: ThrottlerStorageRecord,
): RateLimitDecision {
  const resetSeconds = Math.max(1, Math.ceil(record.timeToExpire));
  return {
    scope,
    limit,
    remaining: Math.max(0, limit - record.totalHits),
    resetSeconds,
    exceeded: record.isBlocked,
    firstRefusal: record.isBlocked && record.totalHits === limit + 1,
  };
}

/** The request's path without its query string (also correct inside middleware mounted below `/`). */
export function requestPath(req: Request): string {
  const url = req.originalUrl ?? req.url ?? '/';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/**
 * Probes and scrapes (`/health`, `/health/*`, and `/metrics` while it is
 * public) are limited by neither the IP nor the key limit: load balancers
 * and Prometheus call every instance from a handful of addresses, and a 429
 * there would take healthy instances out of rotation. Keep these paths off
 * the public internet. A `/metrics` that needs a key is limited like any
 * other route: otherwise a client could send it bad keys without end, each
 * a refused-key warning and a security event.
 */
export function isExemptPath(path: string, metricsPublic: boolean): boolean {
  return path === '/health' || path.startsWith('/health/') || (metricsPublic && path === '/metrics');
}

export function isMcpPath(path: string): boolean {
  return path === '/mcp' || path.startsWith('/mcp/');
}

const IP_DECISION = Symbol('sentia.rateLimit.ip');
type WithIpDecision = { [IP_DECISION]?: RateLimitDecision };

/** Remembers the IP decision on the request, so the key limit can report the tighter one. */
export function rememberIpDecision(req: Request, decision: RateLimitDecision): void {
  (req as Request & WithIpDecision)[IP_DECISION] = decision;
}

/**
 * Sets `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`
 * (seconds to the window end) for the tightest limit that applies to the
 * request: the one with the fewest requests remaining (a refusal always wins).
 */
export function setRateLimitHeaders(req: Request, res: Response, decision: RateLimitDecision): void {
  let shown = decision;
  const ip = (req as Request & WithIpDecision)[IP_DECISION];
  if (ip && ip !== decision && !decision.exceeded && ip.remaining < decision.remaining) shown = ip;
  if (res.headersSent) return;
  res.setHeader('RateLimit-Limit', String(shown.limit));
  res.setHeader('RateLimit-Remaining', String(shown.remaining));
  res.setHeader('RateLimit-Reset', String(shown.resetSeconds));
  if (decision.exceeded) res.setHeader('Retry-After', String(decision.resetSeconds));
}

const SCOPE_TEXT: Record<RateLimitScope, string> = {
  ip: 'per client IP address',
  key: 'per API key',
};

export function rateLimitMessage(d: RateLimitDecision): string {
  return `Rate limit ${SCOPE_TEXT[d.scope]} exceeded (${d.limit} requests per minute); retry after ${d.resetSeconds} s`;
}

/**
 * The 429 body: JSON naming the limit and when to retry, or on /mcp a
 * JSON-RPC error object (id null, code -32000) saying the same.
 */
export function rateLimitBody(req: Request, d: RateLimitDecision): Record<string, unknown> {
  const message = rateLimitMessage(d);
  if (isMcpPath(requestPath(req))) {
    return {
      jsonrpc: '2.0',
      id: null,
      error: {
        code: RATE_LIMITED_JSON_RPC_CODE,
        message,
        data: { limit: d.scope, retryAfterSeconds: d.resetSeconds },
      },
    };
  }
  return {
    statusCode: 429,
    error: 'Too Many Requests',
    reason: 'rate_limited',
    limit: d.scope,
    retryAfterSeconds: d.resetSeconds,
    message,
  };
}
