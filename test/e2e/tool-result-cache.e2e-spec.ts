/**
 * The connectors' answer cache end to end, with the Unleashed simulator as
 * the upstream (its requests are counted): the whole app on its embedded
 * shape (SQLite + memory store), then two instances sharing PostgreSQL and
 * Redis, driven by the real MCP SDK client with real keys and credentials.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import request from 'supertest';
import { MetricsService } from '../../src/metrics/metrics.service';
import { KeyValueStore } from '../../src/store/key-value-store';
import { TOOL_CACHE_PREFIX } from '../../src/connectors/http/tool-result-cache.service';
import {
  describeWithPostgresAndRedis,
  dropSchema,
  TEST_DATABASE_URL,
  TEST_REDIS_URL,
  uniqueName,
} from '../support/backends';
import { registerSecret } from '../support/capture';
import { startApp, StartedApp } from '../support/start-app';
import { startUnleashedSimulator, UnleashedSimulator } from '../simulators/unleashed.simulator';
import type { SimProduct } from '../simulators/unleashed.seed';
import { makeTenant } from '../simulators/xero-simulator-data';
import { XeroSimulator } from '../simulators/xero.simulator';
import { AUTH_ENV, bearer, issueKey } from './auth-helpers';

jest.setTimeout(60_000);

const CREDS = { apiId: '7a1d2c3b-4e5f-4a6b-8c7d-9e0f1a2b3c4d', apiKey: 'tool-cache-e2e-api-key-SECRET-0001' };
const OTHER = { apiId: CREDS.apiId, apiKey: 'tool-cache-e2e-other-key-SECRET-0002' };
for (const s of [CREDS.apiKey, OTHER.apiKey]) registerSecret(s, 'tool-result-cache api key');

interface ToolResult {
  isError?: boolean;
  content: { type: string; text?: string }[];
  structuredContent?: { items: { productCode: string; productDescription: string }[] };
}

const clients: Client[] = [];
async function connect(app: StartedApp, token: string): Promise<Client> {
  const client = new Client({ name: 'e2e-tool-cache', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${app.url}/mcp`), { requestInit: { headers: bearer(token) } }),
  );
  clients.push(client);
  return client;
}
const call = async (client: Client, args: Record<string, unknown>): Promise<ToolResult> =>
  (await client.callTool({ name: 'unleashed_list_products', arguments: args })) as ToolResult;
const descriptions = (r: ToolResult) => r.structuredContent!.items.map((i) => i.productDescription);

async function storeCredentials(app: StartedApp, org: string, creds: typeof CREDS): Promise<void> {
  const admin = await issueKey(app, org, ['credentials:write'], `admin ${org}`);
  const put = await request(app.url).put('/credentials/unleashed').set(bearer(admin.token)).send(creds);
  expect([200, 201]).toContain(put.status);
}

async function toolCacheCount(app: StartedApp, result: string): Promise<number> {
  const values = (await app.app.get(MetricsService).cacheRequestsTotal.get()).values;
  return values.find((v) => v.labels.cache === 'tool_result' && v.labels.result === result)?.value ?? 0;
}

/** Lookups of the stored credentials so far (cache_requests_total{cache="credentials"}, hits and misses). */
async function credentialLookups(app: StartedApp): Promise<number> {
  const values = (await app.app.get(MetricsService).cacheRequestsTotal.get()).values;
  return values.filter((v) => v.labels.cache === 'credentials').reduce((sum, v) => sum + v.value, 0);
}

afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
});

const TENANT = '5b2c7e1a-9d3f-4c8b-a6e0-1f2d3c4b5a69';
const XERO_CUSTOM = {
  clientId: 'TOOL-CACHE-XERO-CLIENT',
  clientSecret: 'tool-cache-xero-secret-SECRET-0003',
};
registerSecret(XERO_CUSTOM.clientSecret, 'tool-result-cache xero client secret');

describe('tool answer cache (embedded shape)', () => {
  let sim: UnleashedSimulator;
  let app: StartedApp;
  let reader: Client;

  beforeAll(async () => {
    sim = await startUnleashedSimulator(CREDS);
    app = await startApp({ ...AUTH_ENV, UNLEASHED_BASE_URL: sim.url });
    await storeCredentials(app, 'org-cache-a', CREDS);
    await storeCredentials(app, 'org-cache-b', CREDS);
    reader = await connect(app, (await issueKey(app, 'org-cache-a', ['unleashed:read'], 'reader a')).token);
  });

  beforeEach(() => sim.reset());

  afterAll(async () => {
    await app?.close();
    await sim?.close();
  });

  it('gives cached tools a `fresh` argument (false by default) and no other tool', async () => {
    const { tools } = await reader.listTools();
    const products = tools.find((t) => t.name === 'unleashed_list_products')!;
    const props = products.inputSchema.properties as Record<string, Record<string, unknown>>;
    expect(props.fresh).toMatchObject({ type: 'boolean', default: false });
    expect(String(props.fresh.description)).toContain('30 s');
    const all = await connect(app, (await issueKey(app, 'org-cache-a', ['admin'], 'all tools')).token);
    const listed = (await all.listTools()).tools;
    const withFresh = listed.filter((t) => 'fresh' in (t.inputSchema.properties ?? {})).map((t) => t.name);
    expect(withFresh.length).toBeGreaterThan(0);
    expect(withFresh.every((n) => /^(xero|shopify|unleashed)_/.test(n))).toBe(true);
    expect(withFresh).not.toContain('ai_anthropic_message');
    expect(withFresh).not.toContain('server_info');
  });

  it('answers the same call again from the cache, without calling the upstream', async () => {
    const [miss0, hit0] = [await toolCacheCount(app, 'miss'), await toolCacheCount(app, 'hit')];
    const first = await call(reader, { pageSize: 3, productCode: 'B' });
    const again = await call(reader, { productCode: 'B', pageSize: 3 });
    expect(first.isError).toBeFalsy();
    expect(again).toEqual(first);
    // Fetched or cached, the text block is the structured content as compact JSON.
    expect(again.content).toEqual([{ type: 'text', text: JSON.stringify(first.structuredContent) }]);
    expect(sim.requests).toHaveLength(1);
    expect(await toolCacheCount(app, 'miss')).toBe(miss0 + 1);
    expect(await toolCacheCount(app, 'hit')).toBe(hit0 + 1);
    // Other arguments are another question: the upstream is asked.
    await call(reader, { pageSize: 3, productCode: 'B', page: 2 });
    expect(sim.requests).toHaveLength(2);
  });

  it('`fresh: true` asks the upstream and keeps its newer answer for the next calls', async () => {
    const args = { pageSize: 2 };
    const before = await call(reader, args);
    const product = (sim.products as SimProduct[]).find(
      (p) => p.ProductCode === before.structuredContent!.items[0].productCode,
    )!;
    const original = product.ProductDescription;
    try {
      product.ProductDescription = 'Renamed upstream after the first read';
      expect(descriptions(await call(reader, args))[0]).toBe(original);
      expect(sim.requests).toHaveLength(1);
      expect(descriptions(await call(reader, { ...args, fresh: true }))[0]).toBe(product.ProductDescription);
      expect(sim.requests).toHaveLength(2);
      expect(descriptions(await call(reader, args))[0]).toBe(product.ProductDescription);
      expect(sim.requests).toHaveLength(2);
    } finally {
      product.ProductDescription = original;
    }
  });

  it('reads the stored credentials once per call, whether it misses, hits or is fresh', async () => {
    const args = { pageSize: 6, productCode: 'C' };
    const seen: [string, number][] = [];
    for (const [asked, expected] of [
      [args, 'miss'],
      [args, 'hit'],
      [{ ...args, fresh: true }, 'fresh'],
    ] as const) {
      const [lookups, counted] = [await credentialLookups(app), await toolCacheCount(app, expected)];
      expect((await call(reader, asked)).isError).toBeFalsy();
      expect(await toolCacheCount(app, expected)).toBe(counted + 1);
      seen.push([expected, (await credentialLookups(app)) - lookups]);
    }
    expect(seen).toEqual([
      ['miss', 1],
      ['hit', 1],
      ['fresh', 1],
    ]);
    expect(sim.requests).toHaveLength(2);
  });

  it('never shares an answer with another organisation, even with the same credentials', async () => {
    const otherOrg = await connect(
      app,
      (await issueKey(app, 'org-cache-b', ['unleashed:read'], 'reader b')).token,
    );
    const args = { pageSize: 4, includeObsolete: true };
    await call(reader, args);
    await call(otherOrg, args);
    expect(sim.requests).toHaveLength(2);
    await call(otherOrg, args);
    expect(sim.requests).toHaveLength(2);
  });

  it('drops answers fetched with credentials that have since been replaced, and caches no error', async () => {
    const org = 'org-cache-c';
    await storeCredentials(app, org, CREDS);
    const client = await connect(app, (await issueKey(app, org, ['unleashed:read'], 'reader c')).token);
    const args = { pageSize: 5 };
    expect((await call(client, args)).isError).toBeFalsy();
    await storeCredentials(app, org, OTHER);
    // The simulator only accepts CREDS: the new key is what is used now, and Unleashed refuses it.
    const refused = await call(client, args);
    expect(refused.isError).toBe(true);
    expect(sim.requests.map((r) => r.status)).toEqual([200, 403]);
    // The refusal was not kept: asked again, the upstream is asked again.
    expect((await call(client, args)).isError).toBe(true);
    expect(sim.requests).toHaveLength(3);
  });

  it('keeps answers encrypted, under keys that name neither the arguments nor the credentials', async () => {
    const store = app.app.get(KeyValueStore);
    const before = new Set(await store.scan(TOOL_CACHE_PREFIX));
    await call(reader, { pageSize: 1, productGroup: 'Beverages-marker' });
    const keys = await store.scan(TOOL_CACHE_PREFIX);
    const added = keys.filter((k) => !before.has(k));
    expect(added).toHaveLength(1);
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      expect(key).toMatch(/^tool-cache:org-cache-[abc]:unleashed_list_products:[A-Za-z0-9_-]{43}$/);
      const value = (await store.get(key))!;
      for (const plain of [
        'Beverages-marker',
        'productCode',
        CREDS.apiKey,
        CREDS.apiId,
        ...sim.products.map((p) => p.ProductCode),
      ])
        expect(value).not.toContain(plain);
    }
    // A value tampered with does not open: the call goes upstream, answers as before, and seals anew.
    const [key] = added;
    const sealed = Buffer.from((await store.get(key))!, 'base64');
    sealed[sealed.length - 1] ^= 1;
    const tampered = sealed.toString('base64');
    await store.set(key, tampered, { ttlMs: 30_000 });
    sim.reset();
    const answer = await call(reader, { pageSize: 1, productGroup: 'Beverages-marker' });
    expect(answer.isError).toBeFalsy();
    expect(sim.requests).toHaveLength(1);
    expect(await store.get(key)).not.toBe(tampered);
  });
});

describe('tool answer cache: a GUID is one question whatever the case of its letters', () => {
  let xero: XeroSimulator;
  let unleashed: UnleashedSimulator;
  let app: StartedApp;
  let reader: Client;
  const xeroApiCalls = () => xero.requests.filter((r) => r.path.startsWith('/api.xro/2.0/'));
  const contacts = async (args: Record<string, unknown>) =>
    (await reader.callTool({ name: 'xero_list_contacts', arguments: args })) as ToolResult;

  beforeAll(async () => {
    xero = await XeroSimulator.start();
    // The simulator, like the id Xero lists, spells the tenant in lower case.
    xero.addTenant(makeTenant(TENANT, 'Case Test Ltd', { invoices: 1, contacts: 3, seed: 9 }));
    xero.addCustomConnection(XERO_CUSTOM.clientId, XERO_CUSTOM.clientSecret, [TENANT]);
    unleashed = await startUnleashedSimulator(CREDS);
    app = await startApp({
      ...AUTH_ENV,
      XERO_API_BASE_URL: xero.url,
      XERO_IDENTITY_BASE_URL: xero.url,
      UNLEASHED_BASE_URL: unleashed.url,
    });
    const org = 'org-cache-case';
    const admin = await issueKey(app, org, ['credentials:write'], 'admin case');
    const put = await request(app.url)
      .put('/credentials/xero')
      .set(bearer(admin.token))
      .send({ grantType: 'client_credentials', ...XERO_CUSTOM });
    expect([200, 201]).toContain(put.status);
    await storeCredentials(app, org, CREDS);
    reader = await connect(
      app,
      (await issueKey(app, org, ['xero:read', 'unleashed:read'], 'reader case')).token,
    );
  });

  afterAll(async () => {
    for (const t of xero?.issued ?? []) registerSecret(t, 'xero simulator token');
    await app?.close();
    await xero?.close();
    await unleashed?.close();
  });

  it('a Xero tenantId in capitals is the cached answer of the same call in lower case, and Xero is sent one form', async () => {
    const lower = await contacts({ tenantId: TENANT, pageSize: 2 });
    expect(lower.isError).toBeFalsy();
    expect(xeroApiCalls()).toHaveLength(1);
    const hits = await toolCacheCount(app, 'hit');
    const upper = await contacts({ tenantId: TENANT.toUpperCase(), pageSize: 2 });
    expect(upper).toEqual(lower);
    expect(xeroApiCalls()).toHaveLength(1);
    expect(await toolCacheCount(app, 'hit')).toBe(hits + 1);
    // Asked afresh in capitals: Xero gets the tenant as it lists it, and the answer names it so.
    const fresh = await contacts({ tenantId: TENANT.toUpperCase(), pageSize: 2, fresh: true });
    expect(fresh.isError).toBeFalsy();
    expect((fresh.structuredContent as unknown as { tenantId: string }).tenantId).toBe(TENANT);
    expect(xeroApiCalls().map((r) => r.headers['xero-tenant-id'])).toEqual([TENANT, TENANT]);
  });

  it('tools/list shows the tenantId as a string whose pattern takes both cases, as the server does', async () => {
    const listed = (await reader.listTools()).tools.find((t) => t.name === 'xero_list_contacts')!;
    const prop = (listed.inputSchema.properties as Record<string, { type: string; pattern: string }>)
      .tenantId;
    expect(prop.type).toBe('string');
    const pattern = new RegExp(prop.pattern, 'u');
    expect(pattern.test(TENANT)).toBe(true);
    expect(pattern.test(TENANT.toUpperCase())).toBe(true);
  });

  it('an Unleashed productId in capitals is the cached answer of the same call in lower case', async () => {
    const guid = unleashed.products.map((p) => p.Guid.toLowerCase()).find((g) => /[a-f]/.test(g))!;
    const stock = async (productId: string) =>
      (await reader.callTool({ name: 'unleashed_stock_on_hand', arguments: { productId } })) as ToolResult;
    const lower = await stock(guid);
    expect(lower.isError).toBeFalsy();
    expect(await stock(guid.toUpperCase())).toEqual(lower);
    expect(unleashed.requests).toHaveLength(1);
  });
});

describeWithPostgresAndRedis('tool answer cache shared through Redis by two instances', () => {
  const schema = uniqueName('tool_cache');
  let sim: UnleashedSimulator;
  let a: StartedApp;
  let b: StartedApp;

  beforeAll(async () => {
    sim = await startUnleashedSimulator(CREDS);
    const env = {
      ...AUTH_ENV,
      DATABASE_URL: TEST_DATABASE_URL,
      DATABASE_SCHEMA: schema,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: `${schema}:`,
      UNLEASHED_BASE_URL: sim.url,
    };
    a = await startApp(env);
    b = await startApp(env);
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await sim?.close();
    await dropSchema(schema);
  });

  it('an answer fetched on one instance is reused on the other', async () => {
    const org = uniqueName('org_cache');
    await storeCredentials(a, org, CREDS);
    const onA = await connect(a, (await issueKey(a, org, ['unleashed:read'], 'reader on a')).token);
    const onB = await connect(b, (await issueKey(b, org, ['unleashed:read'], 'reader on b')).token);
    const first = await call(onA, { pageSize: 3 });
    expect(first.isError).toBeFalsy();
    const hits = await toolCacheCount(b, 'hit');
    expect(await call(onB, { pageSize: 3 })).toEqual(first);
    expect(sim.requests).toHaveLength(1);
    expect(await toolCacheCount(b, 'hit')).toBe(hits + 1);
  });
});
