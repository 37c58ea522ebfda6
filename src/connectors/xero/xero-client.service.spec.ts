import { setTimeout as sleep } from 'node:timers/promises';
import type { AppConfig } from '../../config/config.types';
import type { ToolContext } from '../../mcp/mcp-context';
import { ToolError } from '../../mcp/tool-pipeline.service';
import { MemoryStore } from '../../store/memory.store';
import type { ConnectorCredentials } from '../http/connector-credentials.service';
import { UpstreamConcurrency } from '../http/upstream-concurrency.service';
import type { UpstreamHttp, UpstreamRequest } from '../http/upstream-http.service';
import { UpstreamQuota } from '../http/upstream-quota.service';
import { retryAfterMs } from '../http/retry-after';
import { UpstreamError } from '../http/upstream.errors';
import { storedTenantIds, XeroClient, xeroAppScope } from './xero-client.service';
import { tenantId as tenantIdArgument } from './xero-tool-args';
import type { XeroTokens } from './xero-token.service';

describe('storedTenantIds', () => {
  const app = { grantType: 'authorization_code' as const, clientId: 'c', clientSecret: 's' };
  const T1 = '9a0e5d3b-7c1f-4e2a-8b6d-0f1e2d3c4b5a';

  it('gives the stored GUIDs, or nothing when none are stored or the connection is a custom one', () => {
    expect(storedTenantIds({ ...app, tenantIds: [T1] })).toEqual([T1]);
    expect(storedTenantIds({ ...app, tenantIds: [] })).toBeUndefined();
    expect(storedTenantIds(app)).toBeUndefined();
    // In the one form a caller's tenantId is taken in, whatever case an admin stored them in.
    expect(storedTenantIds({ ...app, tenantIds: [T1.toUpperCase()] })).toEqual([T1]);
    expect(
      storedTenantIds({ grantType: 'client_credentials', clientId: 'c', clientSecret: 's' }),
    ).toBeUndefined();
  });

  it('refuses a record stored before the schema checked them, without quoting the bad value', () => {
    let caught: unknown;
    try {
      storedTenantIds({ ...app, tenantIds: [T1, `${T1}\r\nx-injected: 1`] });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ToolError);
    expect((caught as ToolError).code).toBe('xero_tenant_ids_invalid');
    expect((caught as ToolError).message).not.toContain('x-injected');
  });
});

describe('xeroAppScope', () => {
  it('names an app by a digest, never by its client id (a credential), one per client id', () => {
    const scope = xeroAppScope('CLIENT-ID-0001');
    expect(scope).toMatch(/^[0-9a-f]{32}$/);
    expect(scope).not.toContain('CLIENT');
    expect(xeroAppScope('CLIENT-ID-0001')).toBe(scope);
    expect(xeroAppScope('CLIENT-ID-0002')).not.toBe(scope);
  });
});

describe('XeroClient calls at a time', () => {
  const T = '9a0e5d3b-7c1f-4e2a-8b6d-0f1e2d3c4b5a';
  const ctx = { principal: { organizationId: 'org-1' }, requestId: 'r' } as unknown as ToolContext;
  let store: MemoryStore;
  afterEach(async () => {
    await store.close();
  });

  /** A client whose Xero answers only when `answerAll` is called; `sent` counts what reached it. */
  function rig(tenantIds = [T]) {
    store = new MemoryStore();
    const pending: (() => void)[] = [];
    const sent: string[] = [];
    const http = {
      send: (req: UpstreamRequest) => {
        sent.push(req.headers!['xero-tenant-id']);
        return new Promise((resolve) =>
          pending.push(() => resolve({ status: 200, headers: new Headers(), text: '{}', json: () => ({}) })),
        );
      },
    } as unknown as UpstreamHttp;
    const tokens = {
      get: () => Promise.resolve({ accessToken: 'at', usableUntil: Date.now() + 60_000, clientId: 'c' }),
    } as unknown as XeroTokens;
    const credentials = {
      get: () =>
        Promise.resolve({
          grantType: 'authorization_code',
          clientId: 'c',
          clientSecret: 's',
          tenantIds,
        }),
    } as unknown as ConnectorCredentials;
    const quota = { take: () => Promise.resolve() } as unknown as UpstreamQuota;
    const config = { connectors: { baseUrls: { xeroApi: 'http://xero.invalid' } } } as unknown as AppConfig;
    const client = new XeroClient(config, http, tokens, credentials, quota, new UpstreamConcurrency(store));
    const answerAll = () => pending.splice(0).forEach((answer) => answer());
    return { client, sent, answerAll };
  }

  it("holds a tenant to 5 in flight however the caller spells its GUID's letters", async () => {
    const { client, sent, answerAll } = rig();
    // As a tool gets it: through its argument schema.
    const call = (named: string) =>
      client.accounting(ctx, {
        tenantId: tenantIdArgument().parse(named),
        path: 'Invoices',
        query: {},
        what: 'invoices',
      });
    const first = Array.from({ length: 5 }, () => call(T));
    const sixth = call(T.toUpperCase());
    await sleep(300);
    expect(sent).toHaveLength(5);
    answerAll();
    await Promise.all(first);
    await sleep(50);
    expect(sent).toHaveLength(6);
    answerAll();
    await sixth;
    // Xero got one spelling of the tenant throughout.
    expect(new Set(sent)).toEqual(new Set([T]));
  });

  it('stored tenantIds in capitals: the same budget, and the tenant sent in lower case', async () => {
    const { client, sent, answerAll } = rig([T.toUpperCase()]);
    const call = (named?: string) =>
      client.accounting(ctx, { tenantId: named, path: 'Invoices', query: {}, what: 'invoices' });
    // The only stored tenant by default, and named by a caller (lower case, as the schema gives it).
    const first = [...Array.from({ length: 3 }, () => call()), call(T), call(T)];
    const sixth = call();
    await sleep(300);
    expect(sent).toEqual([T, T, T, T, T]);
    answerAll();
    await Promise.all(first);
    await sleep(50);
    expect(sent).toHaveLength(6);
    answerAll();
    await sixth;
  });
});

const T1 = '8c2f9b1e-3d4a-4f6b-9e7c-1a2b3c4d5e6f';
const T2 = '1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b';

/** A fresh memory store for each test of the describe it is called in, closed after it. */
function memoryStorePerTest(): () => MemoryStore {
  let store: MemoryStore;
  beforeEach(() => {
    store = new MemoryStore();
  });
  afterEach(async () => {
    await store.close();
  });
  return () => store;
}

/**
 * A XeroClient of the Xero app `clientId` (client credentials, a token always at hand) over `http`,
 * its quotas and concurrency in `store`; `ctx` is a call of the organisation `org-<clientId>`.
 */
function storeBackedClient(clientId: string, http: UpstreamHttp, quota: UpstreamQuota, store: MemoryStore) {
  const tokens = {
    get: () => Promise.resolve({ accessToken: 'at', usableUntil: Date.now() + 60_000, clientId }),
  } as unknown as XeroTokens;
  const credentials = {
    get: () => Promise.resolve({ grantType: 'client_credentials', clientId, clientSecret: 's' }),
  } as unknown as ConnectorCredentials;
  const config = { connectors: { baseUrls: { xeroApi: 'http://xero.invalid' } } } as unknown as AppConfig;
  const client = new XeroClient(config, http, tokens, credentials, quota, new UpstreamConcurrency(store));
  const ctx = { principal: { organizationId: `org-${clientId}` }, requestId: 'r' } as unknown as ToolContext;
  return { client, ctx };
}

describe('XeroClient quotas (memory store)', () => {
  const store = memoryStorePerTest();

  /** A client whose organisation stores the Xero app `clientId`; `sent` counts the requests that left. */
  function clientFor(clientId: string) {
    const sent: string[] = [];
    const http = {
      send: async (req: UpstreamRequest) => {
        await req.beforeAttempt?.();
        sent.push(req.headers!['xero-tenant-id']);
        return { status: 200, headers: new Headers(), text: '{}', json: () => ({}) };
      },
    } as unknown as UpstreamHttp;
    const quota = new UpstreamQuota(store());
    const { client, ctx } = storeBackedClient(clientId, http, quota, store());
    const refusals: string[] = [];
    const call = (tenantId: string) =>
      client.accounting(ctx, { tenantId, path: 'Invoices', query: {}, what: 'invoices' }).then(
        () => 'sent',
        (e: unknown) => {
          if (!(e instanceof UpstreamError)) return String(e);
          refusals.push(e.message);
          return e.code;
        },
      );
    return { call, sent, quota, refusals };
  }

  it("holds a tenant to Xero's 5,000 calls a day per app; the app's other tenants have their own", async () => {
    const app = clientFor('APP-DAY');
    // Start well inside a UTC day, so the day's window does not turn during the test.
    if (Date.now() % 86_400_000 > 86_395_000) await sleep(86_400_000 - (Date.now() % 86_400_000) + 50);
    // 5,000 of T1's day spent already (earlier in the day, other instances, other organisations on the app).
    for (let i = 0; i < 5_000; i++)
      await app.quota.take('xero', `${xeroAppScope('APP-DAY')}:${T1}`, {
        max: 5_000,
        windowMs: 86_400_000,
        what: 'the tenant day',
      });
    expect(await app.call(T1)).toBe('upstream_rate_limited');
    expect(app.refusals[0]).toMatch(
      /^Xero allows 5000 calls a day per tenant and app, and that many have been made; retry after \d+ s\.$/,
    );
    expect(await app.call(T2)).toBe('sent');
    expect(app.sent).toEqual([T2]);
  });

  it("holds an app to Xero's 10,000 calls a minute across its tenants; another app has its own", async () => {
    const app = clientFor('APP-ONE');
    // Start well inside a minute, so the fixed window does not turn during the test.
    if (Date.now() % 60_000 > 55_000) await sleep(60_000 - (Date.now() % 60_000) + 50);
    // 9,999 of the app's minute spent elsewhere (other tenants, other instances).
    for (let i = 0; i < 9_999; i++)
      await app.quota.take('xero', xeroAppScope('APP-ONE'), {
        max: 10_000,
        windowMs: 60_000,
        what: 'the app minute',
      });
    expect(await app.call(T1)).toBe('sent');
    // The app's 10,000th call is spent: a tenant with calls of its own left is refused too.
    expect(await app.call(T2)).toBe('upstream_rate_limited');
    expect(app.sent).toEqual([T1]);
    const other = clientFor('APP-TWO');
    expect(await other.call(T2)).toBe('sent');
  });

  it("a call its tenant's own limit refuses spends none of the app's minute, which the app's other tenants share", async () => {
    const app = clientFor('APP-THREE');
    if (Date.now() % 60_000 > 55_000) await sleep(60_000 - (Date.now() % 60_000) + 50);
    for (let i = 0; i < 9_999; i++)
      await app.quota.take('xero', xeroAppScope('APP-THREE'), {
        max: 10_000,
        windowMs: 60_000,
        what: 'the app minute',
      });
    // T1 has used its 60 of the minute.
    for (let i = 0; i < 60; i++)
      await app.quota.take('xero', `${xeroAppScope('APP-THREE')}:${T1}`, {
        max: 60,
        windowMs: 60_000,
        what: 'the tenant minute',
      });
    for (let i = 0; i < 3; i++) expect(await app.call(T1)).toBe('upstream_rate_limited');
    // The app's last call of the minute is still there for another tenant.
    expect(await app.call(T2)).toBe('sent');
    expect(app.sent).toEqual([T2]);
  });
});

describe("XeroClient and Xero's 429s (memory store)", () => {
  const store = memoryStorePerTest();

  interface Answer {
    status: number;
    headers?: Record<string, string>;
  }

  /**
   * A client of the Xero app `clientId` whose Xero answers `script` in order (then 200s), through a
   * stand-in for UpstreamHttp that keeps its contract: beforeAttempt before sending; a 429 not retried
   * ends the call with what onRateLimited gives. `sent` counts what reached Xero.
   */
  function clientFor(clientId: string, script: Answer[] = []) {
    const sent: string[] = [];
    const http = {
      send: async (req: UpstreamRequest) => {
        await req.beforeAttempt?.();
        sent.push(req.headers!['xero-tenant-id']);
        const answer = script.shift() ?? { status: 200 };
        const headers = new Headers(answer.headers);
        if (answer.status === 429)
          throw (
            (await req.onRateLimited?.(headers, retryAfterMs(headers))) ??
            UpstreamError.rateLimited('xero', undefined)
          );
        return { status: answer.status, headers, text: '{}', json: () => ({}) };
      },
    } as unknown as UpstreamHttp;
    const { client, ctx } = storeBackedClient(clientId, http, new UpstreamQuota(store()), store());
    const call = (tenantId: string): Promise<UpstreamError | 'sent'> =>
      client.accounting(ctx, { tenantId, path: 'Invoices', query: {}, what: 'invoices' }).then(
        () => 'sent' as const,
        (e: unknown) => {
          if (e instanceof UpstreamError) return e;
          throw e;
        },
      );
    return { call, sent };
  }
  const limited = (problem: string | undefined, retryAfter: string | undefined): Answer => ({
    status: 429,
    headers: {
      ...(problem === undefined ? {} : { 'x-rate-limit-problem': problem }),
      ...(retryAfter === undefined ? {} : { 'retry-after': retryAfter }),
    },
  });
  const dayMessage = (tenantId: string, seconds: number) =>
    new RegExp(
      `^Xero's daily limit for tenant ${tenantId} \\(5000 calls a day per tenant and app\\) was reached; ` +
        `retry after ${seconds} s \\(at \\S+Z\\)\\.$`,
    );

  it("a day problem names the tenant's daily limit, then holds the tenant unsent; its app's other tenants and other apps go on", async () => {
    const app = clientFor('APP-429-DAY', [limited('day', '3600')]);
    const first = await app.call(T1);
    expect(first).toBeInstanceOf(UpstreamError);
    expect((first as UpstreamError).code).toBe('upstream_rate_limited');
    expect((first as UpstreamError).retryAfterSeconds).toBe(3600);
    expect((first as UpstreamError).message).toMatch(dayMessage(T1, 3600));
    const again = (await app.call(T1)) as UpstreamError;
    expect(again.code).toBe('upstream_rate_limited');
    expect(again.retryAfterSeconds).toBeGreaterThan(3590);
    expect(again.retryAfterSeconds).toBeLessThanOrEqual(3600);
    expect(again.message).toMatch(dayMessage(T1, again.retryAfterSeconds!));
    expect(app.sent).toEqual([T1]);
    expect(await app.call(T2)).toBe('sent');
    // Xero counts per app and tenant: another app on the same tenant has its own budget.
    const other = clientFor('APP-429-OTHER');
    expect(await other.call(T1)).toBe('sent');
  });

  it("a minute problem names the tenant's minute limit and holds it; calls flow again once the wait is over", async () => {
    const app = clientFor('APP-429-MINUTE', [limited('minute', '1')]);
    const first = (await app.call(T1)) as UpstreamError;
    expect(first.message).toMatch(
      new RegExp(
        `^Xero's minute limit for tenant ${T1} \\(60 calls a minute per tenant and app\\) was reached; retry after 1 s `,
      ),
    );
    const again = (await app.call(T1)) as UpstreamError;
    expect(again.code).toBe('upstream_rate_limited');
    expect(again.message.replace(/\(at \S+\)/, '')).toBe(first.message.replace(/\(at \S+\)/, ''));
    expect(app.sent).toEqual([T1]);
    await sleep(1_100);
    expect(await app.call(T1)).toBe('sent');
    expect(app.sent).toEqual([T1, T1]);
  });

  it("the app's minute, an unknown problem or none: named as such, and nothing held", async () => {
    const app = clientFor('APP-429-OTHERS', [
      limited('appminute', '30'),
      limited('concurrent', '30'),
      limited(undefined, '30'),
    ]);
    expect(((await app.call(T1)) as UpstreamError).message).toMatch(
      /^Xero's minute limit for this organisation's Xero app \(10000 calls a minute across its tenants\) was reached; retry after 30 s /,
    );
    for (let i = 0; i < 2; i++)
      expect(((await app.call(T1)) as UpstreamError).message).toMatch(
        new RegExp(`^Xero's rate limit for tenant ${T1} was reached; retry after 30 s `),
      );
    expect(await app.call(T1)).toBe('sent');
    expect(app.sent).toHaveLength(4);
  });

  it('a malformed Retry-After is not held; one longer than a day is held for a day', async () => {
    const app = clientFor('APP-429-MALFORMED', [limited('day', 'tomorrow'), limited('day', '999999999')]);
    expect(((await app.call(T1)) as UpstreamError).message).toBe(
      `Xero's daily limit for tenant ${T1} (5000 calls a day per tenant and app) was reached; retry later.`,
    );
    expect(((await app.call(T1)) as UpstreamError).retryAfterSeconds).toBe(86_400);
    const held = (await app.call(T1)) as UpstreamError;
    expect(held.retryAfterSeconds).toBeLessThanOrEqual(86_400);
    expect(held.retryAfterSeconds).toBeGreaterThan(86_300);
    expect(app.sent).toHaveLength(2);
  });

  it('a Retry-After in fractions of a second (as the header may be read) is held, whole milliseconds, not a fault', async () => {
    const app = clientFor('APP-429-FRACTION', [limited('minute', '30.0005')]);
    const first = (await app.call(T1)) as UpstreamError;
    expect(first).toBeInstanceOf(UpstreamError);
    expect(first.code).toBe('upstream_rate_limited');
    expect(first.retryAfterSeconds).toBe(31);
    const held = (await app.call(T1)) as UpstreamError;
    expect(held.code).toBe('upstream_rate_limited');
    expect(held.message).toMatch(/^Xero's minute limit for tenant /);
    expect(app.sent).toEqual([T1]);
  });

  it('an answer saying the day is spent (X-DayLimit-Remaining: 0) holds the tenant until the UTC day ends', async () => {
    const app = clientFor('APP-DAY-SPENT', [
      { status: 200, headers: { 'x-daylimit-remaining': '1' } },
      { status: 200, headers: { 'x-daylimit-remaining': '0' } },
    ]);
    expect(await app.call(T1)).toBe('sent');
    expect(await app.call(T1)).toBe('sent');
    const held = (await app.call(T1)) as UpstreamError;
    expect(held.code).toBe('upstream_rate_limited');
    expect(held.message).toMatch(dayMessage(T1, held.retryAfterSeconds!));
    expect(held.retryAfterSeconds).toBeLessThanOrEqual(
      Math.ceil((86_400_000 - (Date.now() % 86_400_000)) / 1000),
    );
    expect(app.sent).toEqual([T1, T1]);
    expect(await app.call(T2)).toBe('sent');
  });
});
