/**
 * Connector health for admins (GET /admin/connectors, POST
 * /admin/connectors/:service/check) on the whole app (SQLite + memory store)
 * against the five simulators, with real API keys and credentials stored
 * over REST: each service's live check succeeding, refused, without
 * credentials; the listing following PUT and DELETE and a circuit that
 * opened; permissions, organisation scoping, bad input, the audit row, and no
 * secret in any response.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { registerSecret } from '../support/capture';
import { startApp, StartedApp } from '../support/start-app';
import { AnthropicSimulator } from '../simulators/anthropic.simulator';
import { OpenAiSimulator } from '../simulators/openai.simulator';
import { startShopifySimulator, ShopifySimulator } from '../simulators/shopify.simulator';
import { startUnleashedSimulator, UnleashedSimulator } from '../simulators/unleashed.simulator';
import { makeTenant } from '../simulators/xero-simulator-data';
import { XeroSimulator } from '../simulators/xero.simulator';
import { AUTH_ENV, bearer, issueKey, waitFor } from './auth-helpers';

const T1 = '11111111-1111-4111-8111-111111111111';
const T2 = '22222222-2222-4222-8222-222222222222';
const XERO = {
  grantType: 'client_credentials',
  clientId: 'HEALTH-CUSTOM-1',
  clientSecret: 'xero-health-SECRET-0001',
};
const XERO_WRONG = { ...XERO, clientSecret: 'xero-health-WRONG-SECRET-0002' };
const XERO_OAUTH = { clientId: 'HEALTH-OAUTH-2', clientSecret: 'xero-health-oauth-SECRET-0003' };
const SHOPIFY = {
  shop: 'health-e2e.myshopify.com',
  accessToken: 'shpat_HEALTH_SECRET_0004',
  apiVersion: '2025-07',
};
const SHOPIFY_WRONG = { ...SHOPIFY, accessToken: 'shpat_HEALTH_WRONG_0005' };
const UNLEASHED = { apiId: '2f6c4e1a-0b7d-4c1e-9a55-3c2b1d0e9f87', apiKey: 'unleashed-health-SECRET-0006' };
const UNLEASHED_WRONG = { ...UNLEASHED, apiKey: 'unleashed-health-WRONG-0007' };
const ANTHROPIC = { apiKey: 'sk-ant-health-SECRET-0008' };
const ANTHROPIC_WRONG = { apiKey: 'sk-ant-health-WRONG-0009' };
const OPENAI = { apiKey: 'sk-openai-health-SECRET-0010' };
const OPENAI_WRONG = { apiKey: 'sk-openai-health-WRONG-0011' };

const GOOD = { xero: XERO, shopify: SHOPIFY, unleashed: UNLEASHED, anthropic: ANTHROPIC, openai: OPENAI };
const WRONG = {
  xero: XERO_WRONG,
  shopify: SHOPIFY_WRONG,
  unleashed: UNLEASHED_WRONG,
  anthropic: ANTHROPIC_WRONG,
  openai: OPENAI_WRONG,
};
const SERVICES = ['xero', 'shopify', 'unleashed', 'anthropic', 'openai'] as const;

const SECRETS = [
  XERO.clientSecret,
  XERO_WRONG.clientSecret,
  XERO_OAUTH.clientSecret,
  SHOPIFY.accessToken,
  SHOPIFY_WRONG.accessToken,
  UNLEASHED.apiKey,
  UNLEASHED_WRONG.apiKey,
  ANTHROPIC.apiKey,
  ANTHROPIC_WRONG.apiKey,
  OPENAI.apiKey,
  OPENAI_WRONG.apiKey,
];
for (const s of SECRETS) registerSecret(s, 'connector-health secret');

interface Check {
  service: string;
  ok: boolean;
  checkedAt: string;
  durationMs: number;
  detail?: string;
  code?: string;
  message?: string;
  retryAfterSeconds?: number;
}
interface Status {
  service: string;
  credentials: { stored: boolean; updatedAt: string | null };
  circuit: { state: string; scope: string; retryAfterSeconds: number | null };
}

describe('connector health (e2e, simulators)', () => {
  let xero: XeroSimulator;
  let shopify: ShopifySimulator;
  let unleashed: UnleashedSimulator;
  let anthropic: AnthropicSimulator;
  let openai: OpenAiSimulator;
  let started: StartedApp;
  /** org-good: every service stored and right; org-wrong: every service stored and refused; org-empty: none. */
  const admin: Record<'good' | 'wrong' | 'empty' | 'lists', string> = {} as never;
  let readerGood: string;
  let writerOnly: string;
  let xeroReader: string;
  const responses: string[] = [];

  const api = () => request(started.url);
  const keep = async (test: request.Test) => {
    const res = await test;
    responses.push(`${res.status} ${JSON.stringify(res.headers)} ${res.text ?? ''}`);
    return res;
  };
  const check = async (token: string, service: string): Promise<request.Response> =>
    keep(api().post(`/admin/connectors/${service}/check`).set(bearer(token)));
  const checked = async (token: string, service: string): Promise<Check> => {
    const res = await check(token, service);
    expect([service, res.status]).toEqual([service, 200]);
    return res.body as Check;
  };
  const listing = async (token: string): Promise<Record<string, Status>> => {
    const res = await keep(api().get('/admin/connectors').set(bearer(token)));
    expect(res.status).toBe(200);
    const items = res.body.items as Status[];
    expect(items.map((i) => i.service)).toEqual([...SERVICES]);
    return Object.fromEntries(items.map((i) => [i.service, i]));
  };
  const put = async (token: string, service: string, body: object) => {
    const res = await keep(api().put(`/credentials/${service}`).set(bearer(token)).send(body));
    expect([200, 201]).toContain(res.status);
    return res.body as { updatedAt: string };
  };
  /** Requests each simulator received, in one count. */
  const upstreamCounts = () => ({
    xero: xero.requests.length,
    shopify: shopify.requests.length,
    unleashed: unleashed.requests.length,
    anthropic: anthropic.requests.length,
    openai: openai.requests.length,
  });

  beforeAll(async () => {
    xero = await XeroSimulator.start();
    xero.addTenant(makeTenant(T1, 'Health Demo (NZ)', { invoices: 1, contacts: 1, seed: 1 }));
    xero.addTenant(makeTenant(T2, 'Health Second Ltd', { invoices: 1, contacts: 1, seed: 2 }));
    xero.addCustomConnection(XERO.clientId, XERO.clientSecret, [T1, T2]);
    shopify = await startShopifySimulator({
      accessToken: SHOPIFY.accessToken,
      shopName: 'Health "Test" Store',
    });
    unleashed = await startUnleashedSimulator(UNLEASHED);
    anthropic = new AnthropicSimulator({ apiKeys: [ANTHROPIC.apiKey] });
    await anthropic.start();
    openai = new OpenAiSimulator({ apiKeys: [OPENAI.apiKey] });
    await openai.start();
    started = await startApp({
      ...AUTH_ENV,
      XERO_API_BASE_URL: xero.url,
      XERO_IDENTITY_BASE_URL: xero.url,
      SHOPIFY_BASE_URL: shopify.url,
      UNLEASHED_BASE_URL: unleashed.url,
      ANTHROPIC_BASE_URL: anthropic.url,
      OPENAI_BASE_URL: openai.url,
      // A failure is one request (no retries), and three in a row open a circuit for a minute.
      UPSTREAM_MAX_RETRIES: '0',
      UPSTREAM_BREAKER_FAILURES: '3',
      UPSTREAM_BREAKER_OPEN_MS: '60000',
      RATE_LIMIT_IP_MAX: '100000',
      RATE_LIMIT_MAX: '100000',
    });
    for (const org of ['good', 'wrong', 'empty', 'lists'] as const)
      admin[org] = (await issueKey(started, `org-health-${org}`, ['admin'], `${org} admin`)).token;
    readerGood = (await issueKey(started, 'org-health-good', ['credentials:read'], 'reader')).token;
    writerOnly = (await issueKey(started, 'org-health-good', ['credentials:write'], 'writer')).token;
    xeroReader = (await issueKey(started, 'org-health-good', ['xero:read'], 'xero reader')).token;
    for (const service of SERVICES) {
      await put(admin.good, service, GOOD[service]);
      await put(admin.wrong, service, WRONG[service]);
    }
  });

  beforeEach(() => {
    xero.clearRecords();
    xero.requests.length = 0;
    shopify.reset();
    unleashed.reset();
    anthropic.reset();
    openai.reset();
  });

  afterAll(async () => {
    for (const t of xero?.issued ?? []) registerSecret(t, 'connector-health xero token');
    await started?.close();
    await Promise.all([
      xero?.close(),
      shopify?.close(),
      unleashed?.close(),
      anthropic?.stop(),
      openai?.stop(),
    ]);
  });

  it('checks Xero: a token, then GET /connections, and says how many tenants', async () => {
    const res = await checked(readerGood, 'xero');
    expect(res).toEqual({
      service: 'xero',
      ok: true,
      checkedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      durationMs: expect.any(Number),
      detail: 'Xero accepted the credentials; 2 tenants connected',
    });
    expect(Date.now() - Date.parse(res.checkedAt)).toBeLessThan(60_000);
    expect(xero.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /connect/token',
      'GET /connections',
    ]);
    // Live each time: the token is reused, the tenants are asked for again (never a kept answer).
    expect((await checked(readerGood, 'xero')).ok).toBe(true);
    expect(xero.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /connect/token',
      'GET /connections',
      'GET /connections',
    ]);
  });

  it('checks Xero with stored tenantIds: how many of the connected tenants they allow', async () => {
    const org = (await issueKey(started, 'org-health-tenants', ['admin'], 'tenants admin')).token;
    const refreshToken = xero.addOAuthApp(XERO_OAUTH.clientId, XERO_OAUTH.clientSecret, [T1, T2]);
    registerSecret(refreshToken, 'connector-health xero refresh token');
    await put(org, 'xero', { ...XERO_OAUTH, refreshToken, tenantIds: [T2] });
    expect((await checked(org, 'xero')).detail).toBe(
      'Xero accepted the credentials; 2 tenants connected, 1 of them among the stored tenantIds',
    );
    // The refresh went through the usual path: the rotated refresh token was stored.
    expect(xero.refreshCount).toBe(1);
  });

  it("checks Shopify: the shop's name, one GraphQL query with the stored token and version", async () => {
    const res = await checked(readerGood, 'shopify');
    expect(res).toMatchObject({
      ok: true,
      detail: 'Shopify accepted the credentials; shop "Health \\"Test\\" Store"',
    });
    expect(shopify.requests).toHaveLength(1);
    expect(shopify.requests[0]).toMatchObject({
      path: '/admin/api/2025-07/graphql.json',
      operationName: 'ShopName',
      headers: expect.objectContaining({ 'x-shopify-access-token': SHOPIFY.accessToken }),
    });
  });

  it('checks Unleashed: one signed request for one product', async () => {
    const res = await checked(readerGood, 'unleashed');
    expect(res).toMatchObject({
      ok: true,
      detail: 'Unleashed is reachable and accepted the request signature',
    });
    expect(unleashed.requests.map((r) => [r.method, r.path, r.query, r.status])).toEqual([
      ['GET', '/Products/1', 'pageSize=1', 200],
    ]);
  });

  it('checks Anthropic and OpenAI with their models list (nothing generated)', async () => {
    expect(await checked(readerGood, 'anthropic')).toMatchObject({
      ok: true,
      detail: 'Anthropic accepted the API key',
    });
    expect(anthropic.requests.map((r) => [r.method, r.path])).toEqual([['GET', '/v1/models?limit=1']]);
    expect(anthropic.requests[0].headers).toMatchObject({
      'x-api-key': ANTHROPIC.apiKey,
      'anthropic-version': '2023-06-01',
    });
    expect(await checked(readerGood, 'openai')).toMatchObject({
      ok: true,
      detail: 'OpenAI accepted the API key',
    });
    expect(openai.requests.map((r) => [r.method, r.path])).toEqual([['GET', '/v1/models']]);
    expect(openai.requests[0].headers.authorization).toBe(`Bearer ${OPENAI.apiKey}`);
  });

  it('reports refused credentials with the code and message a tool gives', async () => {
    for (const service of SERVICES) {
      const res = await checked(admin.wrong, service);
      const { checkedAt, durationMs, ...rest } = res;
      expect(typeof checkedAt).toBe('string');
      expect(typeof durationMs).toBe('number');
      expect(rest).toEqual({
        service,
        ok: false,
        code: 'upstream_rejected_credentials',
        message: expect.stringContaining(`PUT /credentials/${service}`),
      });
    }
    expect(upstreamCounts()).toEqual({ xero: 1, shopify: 1, unleashed: 1, anthropic: 1, openai: 1 });
  });

  it('reports missing credentials without reaching any upstream', async () => {
    for (const service of SERVICES) {
      const res = await checked(admin.empty, service);
      expect(res).toMatchObject({ service, ok: false, code: 'credentials_missing' });
      expect(res.message).toMatch(
        new RegExp(
          `^No \\w+ credentials are stored for this organisation; an admin can store them with PUT /credentials/${service}\\.$`,
        ),
      );
      expect(res.detail).toBeUndefined();
    }
    expect(upstreamCounts()).toEqual({ xero: 0, shopify: 0, unleashed: 0, anthropic: 0, openai: 0 });
  });

  it("never uses another organisation's credentials, nor shows them in the listing", async () => {
    const empty = await listing(admin.empty);
    for (const service of SERVICES)
      expect(empty[service].credentials).toEqual({ stored: false, updatedAt: null });
    const good = await listing(readerGood);
    for (const service of SERVICES) expect(good[service].credentials.stored).toBe(true);
    // The listing carries metadata only: no fingerprint, key id or anything of the secret.
    expect(Object.keys(good.xero.credentials).sort()).toEqual(['stored', 'updatedAt']);
  });

  it('the listing follows a PUT and a DELETE of the credentials', async () => {
    const before = await listing(admin.lists);
    expect(before.anthropic.credentials).toEqual({ stored: false, updatedAt: null });
    const stored = await put(admin.lists, 'anthropic', ANTHROPIC);
    const after = await listing(admin.lists);
    expect(after.anthropic.credentials).toEqual({ stored: true, updatedAt: stored.updatedAt });
    expect(after.openai.credentials.stored).toBe(false);
    // A user's own credentials are not the organisation's: the tools do not use them, nor does the listing.
    await keep(api().put('/credentials/openai?userId=bob').set(bearer(admin.lists)).send(OPENAI));
    expect((await listing(admin.lists)).openai.credentials.stored).toBe(false);
    expect((await checked(admin.lists, 'openai')).code).toBe('credentials_missing');
    const deleted = await keep(api().delete('/credentials/anthropic').set(bearer(admin.lists)));
    expect(deleted.status).toBe(204);
    expect((await listing(admin.lists)).anthropic.credentials).toEqual({ stored: false, updatedAt: null });
  });

  it('needs credentials:read for both routes (403 naming it)', async () => {
    for (const token of [writerOnly, xeroReader]) {
      for (const res of [
        await keep(api().get('/admin/connectors').set(bearer(token))),
        await check(token, 'xero'),
      ]) {
        expect(res.status).toBe(403);
        expect(res.body).toMatchObject({ code: 'insufficient_scope', permission: 'credentials:read' });
      }
    }
    expect((await keep(api().get('/admin/connectors'))).status).toBe(401);
    expect(xero.requests).toHaveLength(0);
  });

  it('answers an unknown service 404 naming the services there are', async () => {
    const valid = 'xero, shopify, unleashed, anthropic, openai';
    const long = 'x'.repeat(300);
    const cases: Array<[string, string]> = [
      ['bogus', '"bogus"'],
      ['XERO', '"XERO"'],
      ['xero%20', '"xero "'],
      ['%E2%80%AEorez', '"\u202eorez"'],
      ['xero%2Fcheck', '"xero/check"'],
      ['__proto__', '"__proto__"'],
      [long, `"${'x'.repeat(100)}..."`],
    ];
    for (const [segment, shown] of cases) {
      const res = await check(admin.good, segment);
      expect([segment, res.status]).toEqual([segment, 404]);
      expect(res.body).toEqual({
        statusCode: 404,
        error: 'Not Found',
        code: 'unknown_service',
        message: `unknown service ${shown}: must be one of ${valid}`,
        errors: [{ field: 'service', message: `must be one of ${valid}` }],
      });
    }
    // Not a route at all: the router's own answers.
    expect((await keep(api().post('/admin/connectors/xero/checks').set(bearer(admin.good)))).body.code).toBe(
      'not_found',
    );
    const get = await keep(api().get('/admin/connectors/xero/check').set(bearer(admin.good)));
    expect([get.status, get.body.code]).toEqual([405, 'method_not_allowed']);
    expect(upstreamCounts()).toEqual({ xero: 0, shopify: 0, unleashed: 0, anthropic: 0, openai: 0 });
  });

  it('refuses query parameters and a body that says anything, naming them', async () => {
    const query = await keep(api().post('/admin/connectors/xero/check?fresh=true').set(bearer(admin.good)));
    expect(query.status).toBe(400);
    expect(query.body).toMatchObject({ code: 'invalid_query', field: 'fresh' });
    expect(query.body.message).toContain('fresh');
    const listQuery = await keep(api().get('/admin/connectors?service=xero').set(bearer(admin.good)));
    expect(listQuery.status).toBe(400);
    expect(listQuery.body).toMatchObject({ code: 'invalid_query', field: 'service' });

    const body = await keep(
      api().post('/admin/connectors/xero/check').set(bearer(admin.good)).send({ apiKey: 'x', force: true }),
    );
    expect(body.status).toBe(400);
    expect(body.body.code).toBe('invalid_body');
    expect(body.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['apiKey', 'force']);
    const array = await keep(api().post('/admin/connectors/xero/check').set(bearer(admin.good)).send([]));
    expect(array.body).toMatchObject({
      statusCode: 400,
      code: 'invalid_body',
      message: '(body): must be a JSON object',
    });
    const text = await keep(
      api()
        .post('/admin/connectors/xero/check')
        .set(bearer(admin.good))
        .set('content-type', 'text/plain')
        .send('go'),
    );
    expect([text.status, text.body.code]).toEqual([415, 'unsupported_media_type']);
    expect(xero.requests).toHaveLength(0);
    // An empty object says nothing: the check runs.
    const empty = await keep(
      api().post('/admin/connectors/unleashed/check').set(bearer(admin.good)).send({}),
    );
    expect([empty.status, empty.body.ok]).toEqual([200, true]);
  });

  it('is audited: one admin row per check, with its status, the caller, and the code of a failed check', async () => {
    const ds = started.app.get(DataSource);
    const rowOf = async (id: string) =>
      (await ds.query(
        'SELECT kind, action, outcome, status, error_code, organization_id, key_id FROM audit_logs WHERE request_id = ?',
        [id],
      )) as Array<Record<string, unknown>>;
    const ok = await keep(
      api()
        .post('/admin/connectors/anthropic/check')
        .set(bearer(readerGood))
        .set('x-request-id', 'health-audit-ok'),
    );
    expect(ok.body.ok).toBe(true);
    expect(await rowOf('health-audit-ok')).toEqual([
      expect.objectContaining({
        kind: 'admin',
        action: 'POST /admin/connectors/:service/check',
        outcome: 'success',
        status: 200,
        error_code: null,
        organization_id: 'org-health-good',
      }),
    ]);
    // A check that ran and found the service failing: a 200, its code in the row.
    const empty = await keep(
      api()
        .post('/admin/connectors/anthropic/check')
        .set(bearer(admin.empty))
        .set('x-request-id', 'health-audit-missing'),
    );
    expect([empty.status, empty.body.ok]).toEqual([200, false]);
    expect(await rowOf('health-audit-missing')).toEqual([
      expect.objectContaining({ outcome: 'success', status: 200, error_code: 'credentials_missing' }),
    ]);
    await keep(
      api()
        .post('/admin/connectors/nope/check')
        .set(bearer(readerGood))
        .set('x-request-id', 'health-audit-404'),
    );
    expect(await rowOf('health-audit-404')).toEqual([
      expect.objectContaining({ outcome: 'client_error', status: 404, error_code: 'unknown_service' }),
    ]);
    await keep(
      api().get('/admin/connectors').set(bearer(readerGood)).set('x-request-id', 'health-audit-list'),
    );
    expect(await rowOf('health-audit-list')).toEqual([
      expect.objectContaining({ action: 'GET /admin/connectors', status: 200 }),
    ]);
  });

  it('documents both routes in OpenAPI', async () => {
    const doc = (await keep(api().get('/docs/openapi.json'))).body;
    expect(Object.keys(doc.paths['/admin/connectors'])).toEqual(['get']);
    const post = doc.paths['/admin/connectors/{service}/check'].post;
    expect(post.parameters.find((p: { name: string }) => p.name === 'service').schema.enum).toEqual([
      ...SERVICES,
    ]);
    expect(Object.keys(post.responses).sort()).toEqual(['200', '400', '401', '403', '404', '429', '503']);
    // The listing takes no body: its 400 is about a query parameter only.
    expect(doc.paths['/admin/connectors'].get.responses['400'].description).not.toContain('invalid_body');
    expect(post.responses['400'].description).toContain('invalid_body');
    expect(doc.components.schemas.ConnectorCheckDto.required).toEqual(
      expect.arrayContaining(['service', 'ok', 'checkedAt', 'durationMs']),
    );
    // Exactly those: detail (when ok), code and message (when not) are not always there.
    expect([...doc.components.schemas.ConnectorCheckDto.required].sort()).toEqual([
      'checkedAt',
      'durationMs',
      'ok',
      'service',
    ]);
    expect([...doc.components.schemas.ConnectorStatusDto.required].sort()).toEqual([
      'circuit',
      'credentials',
      'service',
    ]);
    expect(doc.components.schemas.ConnectorsErrorDto.properties.code.enum).toEqual([
      'unknown_service',
      'invalid_query',
      'invalid_body',
    ]);
  });

  it('reports a rate limit with when to retry, and no upstream body', async () => {
    anthropic.failNext(429, { retryAfter: 30, message: 'simulated limit body text' });
    const res = await checked(readerGood, 'anthropic');
    expect(res).toMatchObject({
      ok: false,
      code: 'upstream_rate_limited',
      message: 'Anthropic is rate limiting requests for this organisation; retry after 30 s.',
      retryAfterSeconds: 30,
    });
    expect(JSON.stringify(res)).not.toContain('simulated limit body text');
    expect(anthropic.requests).toHaveLength(1);
  });

  // Last: it leaves OpenAI's circuit open on this instance for the rest of the run.
  it('shows a circuit that opened after failures in a row as open, and a check then fails fast', async () => {
    const before = await listing(readerGood);
    for (const service of SERVICES)
      expect([service, before[service].circuit]).toEqual([
        service,
        { state: 'closed', scope: service === 'shopify' ? 'shop' : 'service', retryAfterSeconds: null },
      ]);
    openai.failNext(500, { times: 3 });
    for (let i = 0; i < 3; i++)
      expect((await checked(readerGood, 'openai')).code).toBe('upstream_unavailable');
    const after = await listing(readerGood);
    expect(after.openai.circuit).toEqual({
      state: 'open',
      scope: 'service',
      retryAfterSeconds: expect.any(Number),
    });
    expect(after.openai.circuit.retryAfterSeconds).toBeGreaterThan(50);
    expect(after.openai.circuit.retryAfterSeconds).toBeLessThanOrEqual(60);
    for (const service of ['xero', 'shopify', 'unleashed', 'anthropic'])
      expect([service, after[service].circuit.state]).toEqual([service, 'closed']);
    // Open: refused at once, without a request to OpenAI.
    const fast = await checked(readerGood, 'openai');
    expect(fast).toMatchObject({
      ok: false,
      code: 'upstream_circuit_open',
      retryAfterSeconds: expect.any(Number),
    });
    expect(openai.requests).toHaveLength(3);
  });

  it('no secret appears in any response of the run', () => {
    expect(responses.length).toBeGreaterThan(60);
    const all = responses.join('\n');
    for (const secret of SECRETS)
      for (const form of [secret, Buffer.from(secret).toString('base64')])
        if (all.includes(form)) throw new Error(`a secret appeared in a response: ${secret.slice(0, 12)}…`);
    for (const token of xero.issued)
      if (all.includes(token)) throw new Error('a Xero token appeared in a response');
  });
});

describe('connector health: the admin going away', () => {
  /** An "Anthropic" that takes each request and never answers, noting when the caller let go of it. */
  const held: Array<{ path: string; closedAt?: number }> = [];
  const hanging = createServer((req) => {
    const entry: { path: string; closedAt?: number } = { path: req.url ?? '' };
    held.push(entry);
    req.socket.on('close', () => (entry.closedAt = Date.now()));
  });
  let started: StartedApp;

  beforeAll(async () => {
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    const { port } = hanging.address() as AddressInfo;
    started = await startApp({
      ...AUTH_ENV,
      ANTHROPIC_BASE_URL: `http://127.0.0.1:${port}`,
      UPSTREAM_TIMEOUT_MS: '30000',
      UPSTREAM_MAX_RETRIES: '0',
    });
  });
  afterAll(async () => {
    await started?.close();
    hanging.closeAllConnections();
    await new Promise<void>((resolve) => hanging.close(() => resolve()));
  });

  it("stops the check's upstream call when the admin's client goes away, not at the upstream timeout", async () => {
    const admin = (await issueKey(started, 'org-health-gone', ['admin'], 'gone admin')).token;
    const stored = await request(started.url)
      .put('/credentials/anthropic')
      .set(bearer(admin))
      .send(ANTHROPIC);
    expect(stored.status).toBe(201);
    const leaving = new AbortController();
    const check = fetch(`${started.url}/admin/connectors/anthropic/check`, {
      method: 'POST',
      headers: bearer(admin),
      signal: leaving.signal,
    }).catch((e: unknown) => e);
    expect(await waitFor(() => Promise.resolve(held.length === 1), 5_000)).toBeDefined();
    expect(held[0].path).toBe('/v1/models?limit=1');
    const left = Date.now();
    leaving.abort();
    expect(await check).toMatchObject({ name: 'AbortError' });
    expect(await waitFor(() => Promise.resolve(held[0].closedAt !== undefined), 5_000)).toBeDefined();
    expect(held[0].closedAt! - left).toBeLessThan(5_000);
  });
});

describe('connector health without a fixed Shopify host', () => {
  let started: StartedApp;
  beforeAll(async () => (started = await startApp({ ...AUTH_ENV })));
  afterAll(async () => started?.close());

  it("says Shopify's circuit is unknown: it is per shop, and the shop is only in the encrypted credentials", async () => {
    const token = (await issueKey(started, 'org-health-shop', ['credentials:read'], 'reader')).token;
    const res = await request(started.url).get('/admin/connectors').set(bearer(token));
    expect(res.status).toBe(200);
    const shop = (res.body.items as Status[]).find((i) => i.service === 'shopify');
    expect(shop?.circuit).toEqual({ state: 'unknown', scope: 'shop', retryAfterSeconds: null });
  });
});
