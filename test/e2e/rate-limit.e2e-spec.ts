jest.setTimeout(60_000);

import { DataSource } from 'typeorm';
import { AuditWriter } from '../../src/audit/audit.writer';
import { startApp, StartedApp } from '../support/start-app';
import { authHeaders, TestKey } from '../support/test-keys';
import { initializeRequest } from '../support/mcp-messages';
import { AUTH_ENV, decodeHeader, decodePayload, forge } from './auth-helpers';
import { awayFromWindowEdge, count, freshIp, send, statuses } from './rate-limit-helpers';

/**
 * Rate limits over HTTP against the embedded shape (SQLite + memory store),
 * with RATE_LIMIT_MAX=5 per key and RATE_LIMIT_IP_MAX=8 per IP. Each test
 * uses its own keys and client addresses (127.x.y.z), so the limits of one
 * test never touch another's.
 */
describe('rate limits (embedded shape)', () => {
  let app: StartedApp;
  const KEY_MAX = 5;
  const IP_MAX = 8;
  const keysRoute = '/admin/api-keys?limit=1';

  beforeAll(async () => {
    app = await startApp({ ...AUTH_ENV, RATE_LIMIT_MAX: String(KEY_MAX), RATE_LIMIT_IP_MAX: String(IP_MAX) });
  });
  afterAll(async () => {
    await app?.close();
  });
  beforeEach(() => awayFromWindowEdge());

  const adminKey = () => TestKey.create(app, { permissions: ['keys:admin'] });

  it('admits exactly RATE_LIMIT_MAX requests of a key, counting down, then 429 with Retry-After naming the key limit', async () => {
    const key = await adminKey();
    const ip = freshIp();
    const replies = [];
    for (let i = 0; i < KEY_MAX + 2; i++)
      replies.push(await send(app.url, keysRoute, { from: ip, headers: authHeaders(key) }));

    expect(statuses(replies)).toEqual([200, 200, 200, 200, 200, 429, 429]);
    // The key limit is the tighter one here (5 < 8), so the headers report it.
    expect(replies.map((r) => r.headers['ratelimit-limit'])).toEqual(
      Array(KEY_MAX + 2).fill(String(KEY_MAX)),
    );
    expect(replies.map((r) => r.headers['ratelimit-remaining'])).toEqual(['4', '3', '2', '1', '0', '0', '0']);
    for (const r of replies) {
      const reset = Number(r.headers['ratelimit-reset']);
      expect(reset).toBeGreaterThanOrEqual(1);
      expect(reset).toBeLessThanOrEqual(60);
    }
    const refused = replies[KEY_MAX];
    expect(refused.headers['retry-after']).toBe(refused.headers['ratelimit-reset']);
    expect(refused.headers['content-type']).toMatch(/application\/json/);
    expect(refused.body).toEqual({
      statusCode: 429,
      error: 'Too Many Requests',
      reason: 'rate_limited',
      code: 'rate_limited',
      limit: 'key',
      retryAfterSeconds: Number(refused.headers['retry-after']),
      message: expect.stringContaining('per API key'),
    });
    expect(refused.body.message).toContain(`retry after ${refused.headers['retry-after']} s`);
    expect(JSON.stringify(refused.body)).not.toContain(key.token);

    const metrics = await send(app.url, '/metrics', { from: freshIp(), headers: { accept: 'text/plain' } });
    expect(String(metrics.body)).toMatch(/rate_limited_total\{scope="key"\} [2-9]/);
  });

  it('audits the first refusal of a window for each caller as a security event, not every refusal', async () => {
    const key = await adminKey();
    const keyIp = freshIp();
    for (let i = 0; i < KEY_MAX + 3; i++)
      await send(app.url, keysRoute, {
        from: keyIp,
        headers: { ...authHeaders(key), 'x-request-id': `rl-key-${i}` },
      });
    const anonIp = freshIp();
    for (let i = 0; i < IP_MAX + 3; i++) await send(app.url, keysRoute, { from: anonIp });
    // A key refused by the per-IP limit too (its own limit, 5, comes first; the IP's, 8, after): no row per 429.
    const flooder = await adminKey();
    const floodIp = freshIp();
    const flood = [];
    for (let i = 0; i < IP_MAX + 3; i++)
      flood.push(await send(app.url, keysRoute, { from: floodIp, headers: authHeaders(flooder) }));
    expect(count(flood, 429)).toBe(6);
    await app.app.get(AuditWriter).flush();
    const rows: Array<Record<string, unknown>> = await app.app.get(DataSource).query(
      `SELECT kind, outcome, status, error_code, key_id, organization_id, ip, request_id, args_digest
           FROM audit_logs WHERE action = 'rate_limit.exceeded' AND ip IN (?, ?) ORDER BY id`,
      [keyIp, anonIp],
    );
    expect(rows).toEqual([
      {
        kind: 'security',
        outcome: 'denied',
        status: 429,
        error_code: 'rate_limited',
        key_id: key.keyId,
        organization_id: key.organizationId,
        ip: keyIp,
        request_id: `rl-key-${KEY_MAX}`,
        args_digest: expect.stringMatching(/^[0-9a-f]{64}$/),
      },
      // Before authentication: who it was is only its address.
      expect.objectContaining({ status: 429, error_code: 'rate_limited', key_id: null, ip: anonIp }),
    ]);
    const floodRows: Array<Record<string, unknown>> = await app.app
      .get(DataSource)
      .query(`SELECT kind, action, status FROM audit_logs WHERE ip = ? ORDER BY id`, [floodIp]);
    // One event for each limit's first refusal; none of the eleven answers has an admin row of its own.
    expect(floodRows.filter((r) => r.kind === 'admin' && r.status === 429)).toEqual([]);
    expect(floodRows.filter((r) => r.action === 'rate_limit.exceeded')).toHaveLength(2);
  });

  it('counts a key across client addresses and routes, and each key on its own; on /mcp the 429 is a JSON-RPC error', async () => {
    const shared = await adminKey();
    const other = await adminKey();
    const [ip1, ip2, ip3] = [freshIp(), freshIp(), freshIp()];

    const first = [];
    for (let i = 0; i < 3; i++)
      first.push(await send(app.url, keysRoute, { from: ip1, headers: authHeaders(shared) }));
    for (let i = 0; i < 2; i++)
      first.push(await send(app.url, keysRoute, { from: ip2, headers: authHeaders(shared) }));
    expect(statuses(first)).toEqual([200, 200, 200, 200, 200]);

    // Sixth request of the key, from the second address (3 of its 8), to another route.
    const mcp = await send(app.url, '/mcp', {
      method: 'POST',
      from: ip2,
      headers: authHeaders(shared),
      body: { jsonrpc: '2.0', id: 1, method: 'tools/list' },
    });
    expect(mcp.status).toBe(429);
    expect(mcp.headers['retry-after']).toMatch(/^\d+$/);
    expect(mcp.body).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: {
        code: -32000,
        message: expect.stringMatching(/per API key .*retry after \d+ s/),
        data: { limit: 'key', retryAfterSeconds: Number(mcp.headers['retry-after']) },
      },
    });

    // Another key is untouched by the first one's exhaustion.
    const others = [];
    for (let i = 0; i < KEY_MAX + 1; i++)
      others.push(await send(app.url, keysRoute, { from: ip3, headers: authHeaders(other) }));
    expect(statuses(others)).toEqual([200, 200, 200, 200, 200, 429]);
    expect(others[KEY_MAX].body.limit).toBe('key');
  });

  it('counts a served JSON-RPC batch (2025-03-26) as one request per message; a refused one as one request', async () => {
    const ping = (id: number) => ({ jsonrpc: '2.0', id, method: 'ping' });
    const pings = (n: number, from = 1) => Array.from({ length: n }, (_, i) => ping(from + i));
    const openSession = async () => {
      const key = await TestKey.create(app, { permissions: ['ai:invoke'] });
      const ip = freshIp();
      const mcp = (body: unknown, session?: string, path = '/mcp') =>
        send(app.url, path, {
          method: 'POST',
          from: ip,
          headers: { ...authHeaders(key), ...(session ? { 'mcp-session-id': session } : {}) },
          body,
        });
      const opened = await mcp(initializeRequest('2025-03-26'));
      expect(opened.status).toBe(200);
      return { mcp, session: String(opened.headers['mcp-session-id']) };
    };

    const a = await openSession(); // 1 used
    // More messages than the key may send in a minute: never servable, so 400, not a Retry-After.
    const six = await a.mcp(pings(6), a.session);
    expect([six.status, six.body.error.code]).toEqual([400, -32600]);
    expect(six.body.error.message).toBe(
      'Invalid Request: a batch of 6 messages is more than this key may send in a minute (5 requests); send smaller batches',
    );
    expect(six.headers['retry-after']).toBeUndefined();
    // 2 used (the refused batch as one request); a batch of 3 takes the other 3, on the route however spelt.
    const three = await a.mcp(pings(3), a.session, '/mcp/');
    expect([three.status, three.headers['ratelimit-remaining']]).toEqual([200, '0']);
    expect((await a.mcp(pings(2), a.session)).status).toBe(429);

    const b = await openSession(); // 1 used
    const five = await b.mcp(pings(5), b.session); // 1 + 5 > 5: refused whole, counted as one request
    expect(five.status).toBe(429);
    expect(five.headers['retry-after']).toMatch(/^\d+$/);
    expect(five.body.error.data).toMatchObject({ limit: 'key' });
    const after = await b.mcp(ping(9), b.session);
    expect([after.status, after.headers['ratelimit-remaining']]).toEqual([200, '2']); // 5 - 3
  });

  it('applies the IP limit before authentication: requests without a key are limited, and never reach the key limit', async () => {
    const ip = freshIp();
    const anonymous = [];
    for (let i = 0; i < IP_MAX + 2; i++) anonymous.push(await send(app.url, keysRoute, { from: ip }));
    expect(statuses(anonymous)).toEqual([...Array(IP_MAX).fill(401), 429, 429]);
    expect(anonymous.map((r) => r.headers['ratelimit-remaining'])).toEqual([
      '7',
      '6',
      '5',
      '4',
      '3',
      '2',
      '1',
      '0',
      '0',
      '0',
    ]);
    expect(anonymous[0].headers['ratelimit-limit']).toBe(String(IP_MAX));
    const refused = anonymous[IP_MAX];
    expect(refused.headers['retry-after']).toMatch(/^\d+$/);
    expect(refused.body).toMatchObject({
      statusCode: 429,
      limit: 'ip',
      message: expect.stringContaining('per client IP address'),
    });

    const mcp = await send(app.url, '/mcp', {
      method: 'POST',
      from: ip,
      body: { jsonrpc: '2.0', id: 7, method: 'tools/list' },
    });
    expect(mcp.status).toBe(429);
    expect(mcp.body).toMatchObject({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32000, data: { limit: 'ip' } },
    });
    expect(mcp.body.error.message).toMatch(/per client IP address .*retry after \d+ s/);

    // A valid key from the exhausted address is refused by the IP limit too: before
    // authentication, so its own counter is not touched.
    const key = await adminKey();
    const blocked = await send(app.url, keysRoute, { from: ip, headers: authHeaders(key) });
    expect(blocked.status).toBe(429);
    expect(blocked.body.limit).toBe('ip');
    const elsewhere = [];
    for (let i = 0; i < KEY_MAX + 1; i++)
      elsewhere.push(await send(app.url, keysRoute, { from: freshIp(), headers: authHeaders(key) }));
    expect(statuses(elsewhere)).toEqual([200, 200, 200, 200, 200, 429]);
  });

  it('counts a key only after authentication: forged tokens naming a key do not use up its limit', async () => {
    const victim = await adminKey();
    const forged = forge(
      decodeHeader(victim.token),
      decodePayload(victim.token),
      'not-the-server-secret-not-the-server-secret',
    );
    const ip = freshIp();
    const attempts = [];
    for (let i = 0; i < KEY_MAX + 2; i++)
      attempts.push(
        await send(app.url, keysRoute, { from: ip, headers: { authorization: `Bearer ${forged}` } }),
      );
    expect(statuses(attempts)).toEqual(Array(KEY_MAX + 2).fill(401)); // more than the key limit, fewer than the IP limit

    const real = [];
    for (let i = 0; i < KEY_MAX + 1; i++)
      real.push(await send(app.url, keysRoute, { from: freshIp(), headers: authHeaders(victim) }));
    expect(statuses(real)).toEqual([200, 200, 200, 200, 200, 429]);
  });

  it('does not limit the probes (/health, /health/ready, /metrics) and they use up no IP budget', async () => {
    const ip = freshIp();
    const probes = [];
    for (let i = 0; i < IP_MAX + 4; i++) {
      probes.push(await send(app.url, '/health', { from: ip }));
      probes.push(await send(app.url, '/health/ready', { from: ip }));
      probes.push(await send(app.url, '/metrics', { from: ip }));
    }
    expect(count(probes, 200)).toBe(probes.length);
    expect(probes.some((r) => r.headers['ratelimit-limit'] !== undefined)).toBe(false);

    const next = await send(app.url, '/.well-known/oauth-protected-resource', { from: ip });
    expect(next.status).toBe(200);
    expect(next.headers['ratelimit-remaining']).toBe(String(IP_MAX - 1));
  });

  it("keeps the first 200 characters of a refused request's path in its event, however long the URL", async () => {
    const ip = freshIp();
    const path = `/no/such/${'a'.repeat(12_000)}`;
    for (let i = 0; i < IP_MAX + 1; i++) await send(app.url, path, { from: ip });
    await app.app.get(AuditWriter).flush();
    const rows: Array<{ args: string }> = await app.app
      .get(DataSource)
      .query(`SELECT args FROM audit_logs WHERE action = 'rate_limit.exceeded' AND ip = ?`, [ip]);
    expect(rows).toHaveLength(1);
    expect((JSON.parse(rows[0].args) as { path: string }).path).toBe(`${path.slice(0, 200)}...`);
  });

  it('limits unknown routes per IP as well', async () => {
    const ip = freshIp();
    const replies = [];
    for (let i = 0; i < IP_MAX + 1; i++) replies.push(await send(app.url, '/no/such/route', { from: ip }));
    expect(replies[IP_MAX].status).toBe(429);
    expect(count(replies, 429)).toBe(1);
  });
});

describe('/metrics behind a key (METRICS_PUBLIC=false)', () => {
  it('is limited like any route: bad keys from one address run into the IP limit', async () => {
    const app = await startApp({ ...AUTH_ENV, METRICS_PUBLIC: 'false', RATE_LIMIT_IP_MAX: '3' });
    try {
      const ip = freshIp();
      const replies = [];
      for (let i = 0; i < 5; i++)
        replies.push(
          await send(app.url, '/metrics', { from: ip, headers: { authorization: 'Bearer nope' } }),
        );
      expect(statuses(replies)).toEqual([401, 401, 401, 429, 429]);
    } finally {
      await app.close();
    }
  });
});

describe('client address behind proxies (TRUST_PROXY_HOPS)', () => {
  const IP_MAX = 3;
  const forwarded = (i: number) => ({ 'x-forwarded-for': `198.51.100.${i}` });

  it('by default (0 hops outside staging and production) a forged X-Forwarded-For escapes nothing', async () => {
    const app = await startApp({ RATE_LIMIT_IP_MAX: String(IP_MAX) });
    try {
      const ip = freshIp();
      const replies = [];
      for (let i = 0; i < IP_MAX + 2; i++)
        replies.push(await send(app.url, '/admin/api-keys', { from: ip, headers: forwarded(i) }));
      expect(statuses(replies)).toEqual([401, 401, 401, 429, 429]);
    } finally {
      await app.close();
    }
  });

  it('with TRUST_PROXY_HOPS=1, each address the proxy names is counted on its own', async () => {
    const app = await startApp({ RATE_LIMIT_IP_MAX: String(IP_MAX), TRUST_PROXY_HOPS: '1' });
    try {
      const proxy = freshIp();
      const replies = [];
      for (let i = 0; i < IP_MAX + 2; i++)
        replies.push(await send(app.url, '/admin/api-keys', { from: proxy, headers: forwarded(i) }));
      expect(statuses(replies)).toEqual([401, 401, 401, 401, 401]);
      // The same forwarded client through the same proxy is limited as one client.
      const same = [];
      for (let i = 0; i < IP_MAX + 1; i++)
        same.push(await send(app.url, '/admin/api-keys', { from: proxy, headers: forwarded(99) }));
      expect(statuses(same)).toEqual([401, 401, 401, 429]);
    } finally {
      await app.close();
    }
  });
});
