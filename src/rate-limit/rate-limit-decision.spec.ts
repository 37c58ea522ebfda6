import type { Request, Response } from 'express';
import {
  isExemptPath,
  rateLimitBody,
  rememberIpDecision,
  setRateLimitHeaders,
  toDecision,
} from './rate-limit-decision';

function fakeRes() {
  const headers: Record<string, string> = {};
  return {
    headers,
    res: { headersSent: false, setHeader: (k: string, v: string) => (headers[k] = v) } as unknown as Response,
  };
}
const req = (url: string) => ({ originalUrl: url, url }) as Request;
const record = (totalHits: number, limit: number, timeToExpire = 42) => ({
  totalHits,
  timeToExpire,
  isBlocked: totalHits > limit,
  timeToBlockExpire: totalHits > limit ? timeToExpire : 0,
});

describe('rate-limit decisions', () => {
  it('reports the tighter of the IP and key limits in the RateLimit-* headers', () => {
    const r = req('/admin/api-keys');
    rememberIpDecision(r, toDecision('ip', 100, record(99, 100, 30)));
    const { headers, res } = fakeRes();
    setRateLimitHeaders(r, res, toDecision('key', 1000, record(10, 1000, 12)));
    expect(headers).toEqual({
      'RateLimit-Limit': '100',
      'RateLimit-Remaining': '1',
      'RateLimit-Reset': '30',
    });

    const r2 = req('/admin/api-keys');
    rememberIpDecision(r2, toDecision('ip', 100, record(3, 100, 30)));
    const second = fakeRes();
    setRateLimitHeaders(r2, second.res, toDecision('key', 5, record(4, 5, 12)));
    expect(second.headers).toEqual({
      'RateLimit-Limit': '5',
      'RateLimit-Remaining': '1',
      'RateLimit-Reset': '12',
    });
  });

  it('a refusal reports its own limit and Retry-After, and only the first refusal of a window is flagged', () => {
    const r = req('/x');
    rememberIpDecision(r, toDecision('ip', 100, record(100, 100, 30)));
    const { headers, res } = fakeRes();
    const refused = toDecision('key', 5, record(6, 5, 12));
    setRateLimitHeaders(r, res, refused);
    expect(headers).toEqual({
      'RateLimit-Limit': '5',
      'RateLimit-Remaining': '0',
      'RateLimit-Reset': '12',
      'Retry-After': '12',
    });
    expect(refused.firstRefusal).toBe(true);
    expect(toDecision('key', 5, record(7, 5)).firstRefusal).toBe(false);
    expect(toDecision('key', 5, record(5, 5)).exceeded).toBe(false);
  });

  it('answers JSON-RPC on /mcp and plain JSON elsewhere', () => {
    const d = toDecision('ip', 8, record(9, 8, 17));
    expect(rateLimitBody(req('/mcp?x=1'), d)).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: {
        code: -32000,
        message: 'Rate limit per client IP address exceeded (8 requests per minute); retry after 17 s',
        data: { limit: 'ip', retryAfterSeconds: 17 },
      },
    });
    expect(rateLimitBody(req('/admin/api-keys'), d)).toMatchObject({
      statusCode: 429,
      limit: 'ip',
      retryAfterSeconds: 17,
    });
  });

  it('exempts exactly the probe paths, /metrics only while it is public', () => {
    const exempt = (metricsPublic: boolean) => (p: string) => isExemptPath(p, metricsPublic);
    expect(['/health', '/health/ready', '/metrics'].map(exempt(true))).toEqual([true, true, true]);
    expect(['/health', '/health/ready', '/metrics'].map(exempt(false))).toEqual([true, true, false]);
    expect(
      ['/healthz', '/metrics/x', '/mcp', '/.well-known/oauth-protected-resource'].map(exempt(true)),
    ).toEqual([false, false, false, false]);
  });
});
