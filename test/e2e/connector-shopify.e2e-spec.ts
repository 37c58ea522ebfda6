/**
 * The Shopify connector on the whole app against the GraphQL Admin API
 * simulator: real API keys, credentials stored through PUT /credentials/shopify,
 * tools called with the real MCP client. Covers mapping and paging, the auth
 * header sent upstream, Shopify's cost throttling (HTTP 200 THROTTLED), HTTP
 * 429/503 with Retry-After, and every error a model must be able to act on.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import request from 'supertest';
import { registerSecret } from '../support/capture';
import { startApp, StartedApp } from '../support/start-app';
import { authHeaders, TestKey } from '../support/test-keys';
import { startShopifySimulator, ShopifySimulator } from '../simulators/shopify.simulator';
import type { SimInventoryItem } from '../simulators/shopify-inventory.data';
import type { InventoryItemSummary as InventoryItem } from '../../src/connectors/shopify/shopify-inventory.queries';
import type { CustomerSummary as Customer } from '../../src/connectors/shopify/shopify.queries';
import { AUTH_ENV } from './auth-helpers';

const SHOPIFY = {
  shop: 'e2e-store.myshopify.com',
  accessToken: 'shpat_E2E_SHOPIFY_SECRET_0101',
  apiVersion: '2025-10',
};
const WRONG_TOKEN = 'shpat_E2E_SHOPIFY_WRONG_0102';
registerSecret(SHOPIFY.accessToken, 'connector-shopify access token');
registerSecret(WRONG_TOKEN, 'connector-shopify wrong access token');

type Result = { isError?: boolean; content: { type: string; text?: string }[]; structuredContent?: unknown };
type Page<K extends string, T> = Record<K, T[]> & {
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
};
type Order = {
  id: string;
  name: string;
  createdAt: string;
  displayFinancialStatus: string | null;
  totalPrice: { amount: string; currencyCode: string };
  customerEmail: string | null;
};
type Product = {
  id: string;
  title: string;
  status: string;
  totalInventory: number | null;
  variantsCount: number;
  variants: { sku: string | null; price: string }[];
};

/** What shopify_inventory_levels should answer for a seeded item: its first 10 locations. */
const inventoryOf = (item: SimInventoryItem): InventoryItem => ({
  id: item.id,
  sku: item.sku,
  tracked: item.tracked,
  updatedAt: new Date(item.updatedAt).toISOString(),
  variant: { id: item.variant.id, title: item.variant.title },
  product: item.variant.product,
  levels: item.levels.slice(0, 10).map((l) => ({
    locationId: l.location.id,
    locationName: l.location.name,
    available: l.quantities.available,
    onHand: l.quantities.on_hand,
    updatedAt: new Date(l.updatedAt).toISOString(),
  })),
  moreLevels: item.levels.length > 10,
});

describe('Shopify connector (whole app + GraphQL Admin API simulator)', () => {
  let sim: ShopifySimulator;
  let started: StartedApp;
  const clients: Client[] = [];
  const results: string[] = [];
  let reader: Client; // org-a, shopify:read, credentials stored
  let unstored: Client; // org-b, shopify:read, no credentials
  let wrongToken: Client; // org-c, shopify:read, a token Shopify refuses
  let noPermission: Client; // org-a, xero:read only

  async function connect(
    organizationId: string,
    permissions: TestKey['permissions'][number][],
  ): Promise<Client> {
    const key = await TestKey.create(started, { organizationId, permissions: [...permissions] });
    const client = new Client({ name: 'e2e-shopify', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${started.url}/mcp`), {
        requestInit: { headers: authHeaders(key) },
      }),
    );
    clients.push(client);
    return client;
  }

  async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<Result> {
    const result = (await client.callTool({ name, arguments: args })) as Result;
    results.push(JSON.stringify(result));
    return result;
  }
  const text = (r: Result) => r.content.map((c) => c.text ?? '').join('\n');
  const orders = (r: Result) => r.structuredContent as Page<'orders', Order>;
  const products = (r: Result) => r.structuredContent as Page<'products', Product>;
  const customers = (r: Result) => r.structuredContent as Page<'customers', Customer>;
  const inventory = (r: Result) => r.structuredContent as Page<'inventoryItems', InventoryItem>;
  /** Every item of `key` over the pages of `tool`, following endCursor (at most 10 pages). */
  async function everyPage<T>(tool: string, key: string, args: Record<string, unknown>): Promise<T[]> {
    const all: T[] = [];
    let after: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const result = await call(reader, tool, { ...args, ...(after ? { after } : {}) });
      expect(result.isError).toBeFalsy();
      const page = result.structuredContent as Page<string, T>;
      all.push(...page[key]);
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor!;
    }
    return all;
  }

  /** The one request sent: the stored token to the stored API version, never the caller's key. */
  function sentOnce(operationName: string, variables: Record<string, unknown>) {
    expect(sim.requests).toHaveLength(1);
    const sent = sim.requests[0];
    expect(sent.method).toBe('POST');
    expect(sent.path).toBe('/admin/api/2025-10/graphql.json');
    expect(sent.headers['x-shopify-access-token']).toBe(SHOPIFY.accessToken);
    expect(sent.headers.authorization).toBeUndefined(); // the MCP caller's key never goes upstream
    expect(sent.operationName).toBe(operationName);
    expect(sent.variables).toEqual(variables);
    return sent;
  }

  async function storeCredentials(organizationId: string, value: typeof SHOPIFY): Promise<void> {
    const admin = await TestKey.create(started, { organizationId, permissions: ['credentials:write'] });
    const res = await request(started.url).put('/credentials/shopify').set(authHeaders(admin)).send(value);
    expect([200, 201]).toContain(res.status);
  }

  beforeAll(async () => {
    sim = await startShopifySimulator({
      accessToken: SHOPIFY.accessToken,
      orders: 60,
      products: 40,
      customers: 45,
    });
    started = await startApp({
      ...AUTH_ENV,
      SHOPIFY_BASE_URL: sim.url,
      // These tests count what reaches the upstream; the answer cache has a spec of its own (tool-result-cache).
      MCP_TOOL_CACHE_TTL: '0',
      UPSTREAM_BREAKER_FAILURES: '100',
      RATE_LIMIT_MAX: '10000',
    });
    await storeCredentials('org-a', SHOPIFY);
    await storeCredentials('org-c', { ...SHOPIFY, accessToken: WRONG_TOKEN });
    reader = await connect('org-a', ['shopify:read']);
    unstored = await connect('org-b', ['shopify:read']);
    wrongToken = await connect('org-c', ['shopify:read']);
    noPermission = await connect('org-a', ['xero:read']);
  });

  beforeEach(() => sim.reset());

  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    await started?.close();
    await sim?.close();
  });

  it('lists orders newest first, mapped, sending the stored token to the stored shop API version only', async () => {
    const result = await call(reader, 'shopify_list_orders', { first: 3 });
    expect(result.isError).toBeFalsy();
    const page = orders(result);
    const newest = sim.orders[sim.orders.length - 1];
    expect(page.orders).toHaveLength(3);
    expect(page.orders[0]).toEqual({
      id: newest.id,
      name: newest.name,
      createdAt: new Date(newest.createdAt).toISOString(),
      displayFinancialStatus: newest.displayFinancialStatus,
      totalPrice: { amount: newest.totalPriceSet.shopMoney.amount, currencyCode: 'AUD' },
      customerEmail: newest.customer?.defaultEmailAddress?.emailAddress ?? null,
    });
    expect(page.orders[0].createdAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(page.orders[0].totalPrice.amount).toMatch(/^\d+\.\d{2}$/);
    expect(page.pageInfo.hasNextPage).toBe(true);

    sentOnce('ListOrders', { first: 3, after: null, query: null, reverse: true });
  });

  it('maps orders without a customer or a default email to a null email', async () => {
    const page = orders(await call(reader, 'shopify_list_orders', { first: 60, newestFirst: false }));
    expect(page.orders.map((o) => o.name)).toEqual(sim.orders.map((o) => o.name));
    expect(page.orders[6].customerEmail).toBeNull(); // order 7: no customer
    expect(page.orders[10].customerEmail).toBeNull(); // order 11: no default email address
    expect(page.orders[0].customerEmail).toBe('customer1@example.com');
  });

  it('pages through every order with endCursor, in order, without repeats', async () => {
    const seen = await everyPage<Order>('shopify_list_orders', 'orders', { first: 25, newestFirst: false });
    expect(seen.map((o) => o.id)).toEqual(sim.orders.map((o) => o.id));
    expect(sim.requests).toHaveLength(3);
    expect(sim.requests[1].variables?.after).toEqual(expect.any(String));
  });

  it('passes a search filter through', async () => {
    const page = orders(
      await call(reader, 'shopify_list_orders', { query: 'financial_status:paid', first: 100 }),
    );
    expect(page.orders.length).toBe(sim.orders.filter((o) => o.displayFinancialStatus === 'PAID').length);
    expect(page.orders.every((o) => o.displayFinancialStatus === 'PAID')).toBe(true);
    expect(sim.requests[0].variables?.query).toBe('financial_status:paid');
  });

  it('lists products with status, inventory and variants, paging with endCursor', async () => {
    const all = await everyPage<Product>('shopify_list_products', 'products', { first: 15 });
    expect(all.map((p) => p.id)).toEqual(sim.products.map((p) => p.id));
    const fifth = all[4]; // product 5: three variants, the first without a SKU
    expect(fifth).toEqual({
      id: sim.products[4].id,
      title: sim.products[4].title,
      status: sim.products[4].status,
      totalInventory: sim.products[4].totalInventory,
      variantsCount: 3,
      variants: sim.products[4].variants,
    });
    expect(fifth.variants[0].sku).toBeNull();
    expect(sim.requests[0].operationName).toBe('ListProducts');
    expect(sim.requests.every((r) => r.headers['x-shopify-access-token'] === SHOPIFY.accessToken)).toBe(true);
  });

  it('lists customers mapped, asking for defaultEmailAddress with the stored token', async () => {
    const result = await call(reader, 'shopify_list_customers', { first: 10 });
    expect(result.isError).toBeFalsy();
    const page = customers(result);
    expect(page.customers).toEqual(
      sim.customers.slice(0, 10).map((c) => ({
        id: c.id,
        displayName: c.displayName,
        email: c.defaultEmailAddress?.emailAddress ?? null,
        state: c.state,
        numberOfOrders: Number(c.numberOfOrders),
        amountSpent: c.amountSpent,
        tags: c.tags,
        createdAt: new Date(c.createdAt).toISOString(),
        updatedAt: new Date(c.updatedAt).toISOString(),
      })),
    );
    expect(page.customers[8].email).toBeNull(); // customer 9: no default email address
    expect(typeof page.customers[0].numberOfOrders).toBe('number');
    expect(page.pageInfo.hasNextPage).toBe(true);

    const sent = sentOnce('ListCustomers', { first: 10, after: null, query: null });
    expect(sent.query).toContain('defaultEmailAddress { emailAddress }');
    expect(sent.query).not.toMatch(/^\s*email\s*$/m); // the deprecated Customer.email
  });

  it('pages through every customer with endCursor and passes a search filter through', async () => {
    const seen = await everyPage<Customer>('shopify_list_customers', 'customers', { first: 20 });
    expect(seen.map((c) => c.id)).toEqual(sim.customers.map((c) => c.id));
    expect(sim.requests.map((r) => r.variables?.after === null)).toEqual([true, false, false]);

    const disabled = customers(
      await call(reader, 'shopify_list_customers', { query: 'state:disabled', first: 100 }),
    );
    expect(disabled.customers.map((c) => c.id)).toEqual(
      sim.customers.filter((c) => c.state === 'DISABLED').map((c) => c.id),
    );
    expect(sim.requests.at(-1)?.variables?.query).toBe('state:disabled');
  });

  it('refuses bad customer arguments naming each, and callers without shopify:read, without calling Shopify', async () => {
    const tooMany = await call(reader, 'shopify_list_customers', { first: 101 });
    expect(tooMany.isError).toBe(true);
    expect(text(tooMany)).toMatch(/first.*at most 100/);
    const empty = await call(reader, 'shopify_list_customers', { after: '', query: '' });
    expect(text(empty)).toContain('after');
    expect(text(empty)).toContain('query');
    const unknown = await call(reader, 'shopify_list_customers', { email: 'jo@example.com' });
    expect(unknown.isError).toBe(true);
    expect(text(unknown)).toContain('email');
    const denied = await call(noPermission, 'shopify_list_customers', {});
    expect(denied.isError).toBe(true);
    expect(text(denied)).toContain('requires the permission "shopify:read"');
    expect((await noPermission.listTools()).tools.map((t) => t.name)).not.toContain('shopify_list_customers');
    expect(sim.requests).toHaveLength(0);
  });

  it('tells how much of a SKU there is at each location, asking with the stored token for available and on_hand', async () => {
    const seeded = sim.inventoryItems[10]; // SKU-5-3: tracked, at 4 locations, one of them oversold
    expect(seeded.levels.map((l) => l.quantities.available)).toContain(-2);
    const result = await call(reader, 'shopify_inventory_levels', { query: `sku:${seeded.sku}` });
    expect(result.isError).toBeFalsy();
    const page = inventory(result);
    expect(page.inventoryItems).toEqual([inventoryOf(seeded)]);
    const [item] = page.inventoryItems;
    expect(item).toMatchObject({ sku: 'SKU-5-3', tracked: true, moreLevels: false });
    expect(item.product).toEqual({ id: sim.products[4].id, title: sim.products[4].title });
    expect(item.levels).toHaveLength(4);
    expect(item.levels[0].locationId).toMatch(/^gid:\/\/shopify\/Location\/\d+$/);
    expect(item.levels[0].updatedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(page.pageInfo.hasNextPage).toBe(false);

    const sent = sentOnce('InventoryLevels', { first: 10, after: null, query: 'sku:SKU-5-3' });
    expect(sent.query).toContain('quantities(names: ["available","on_hand"]) { name quantity }');
  });

  it('pages through every inventory item with endCursor at the largest page, each with its first 10 locations', async () => {
    // 923 points requested a page: at Shopify Plus's 1000 a second the bucket is waited out between pages.
    sim.setRestoreRate(1000);
    const seen = await everyPage<InventoryItem>('shopify_inventory_levels', 'inventoryItems', { first: 20 });
    expect(seen).toEqual(sim.inventoryItems.map(inventoryOf));
    const pagesAsked = [...new Set(sim.requests.map((r) => r.variables?.after))];
    expect(pagesAsked).toHaveLength(Math.ceil(sim.inventoryItems.length / 20));
    expect(pagesAsked[0]).toBeNull();
    // Item 1 is stocked at all 12 locations: 10 listed, and moreLevels says so.
    expect(seen[0].levels).toHaveLength(10);
    expect(seen[0].moreLevels).toBe(true);
    expect(seen[5].tracked).toBe(false);
    expect(seen.some((i) => i.sku === null)).toBe(true);
  });

  it('refuses bad inventory arguments naming each, and callers without shopify:read, without calling Shopify', async () => {
    const tooMany = await call(reader, 'shopify_inventory_levels', { first: 21 });
    expect(tooMany.isError).toBe(true);
    expect(text(tooMany)).toMatch(/first: must be at most 20/);
    const none = await call(reader, 'shopify_inventory_levels', { first: 0 });
    expect(text(none)).toMatch(/first: must be at least 1/);
    const empty = await call(reader, 'shopify_inventory_levels', { after: '', query: '' });
    expect(empty.isError).toBe(true);
    expect(text(empty)).toMatch(/after: must be at least 1 character/);
    expect(text(empty)).toMatch(/query: must be at least 1 character/);
    const bySku = await call(reader, 'shopify_inventory_levels', { sku: 'SKU-1-1' });
    expect(bySku.isError).toBe(true);
    expect(text(bySku)).toMatch(/sku: is not a known field \(known: .*query/);
    const denied = await call(noPermission, 'shopify_inventory_levels', {});
    expect(denied.isError).toBe(true);
    expect(text(denied)).toContain('requires the permission "shopify:read"');
    expect((await noPermission.listTools()).tools.map((t) => t.name)).not.toContain(
      'shopify_inventory_levels',
    );
    expect(sim.requests).toHaveLength(0);
  });

  // [tool, result key, first, its cost in the simulator's bucket]: orders 3 + 5 points each, customers
  // 3 + 3, inventory items 3 + (6 + 10 × 4) (so two, to keep the wait short).
  const THROTTLED_CASES = [
    ['shopify_list_orders', 'orders', 10, 53],
    ['shopify_list_customers', 'customers', 10, 33],
    ['shopify_inventory_levels', 'inventoryItems', 2, 95],
  ] as const;

  it.each(THROTTLED_CASES)(
    '%s waits out a drained cost bucket and then succeeds (HTTP 200 THROTTLED)',
    async (tool, key, first, cost) => {
      sim.drain(); // at 100 points a second: cost / 100 seconds
      const startedAt = Date.now();
      const result = await call(reader, tool, { first });
      expect(result.isError).toBeFalsy();
      expect((result.structuredContent as Record<string, unknown[]>)[key]).toHaveLength(first);
      expect(Date.now() - startedAt).toBeGreaterThanOrEqual(cost * 10 - 30);
      expect(sim.requests).toHaveLength(2);
    },
  );

  it.each(THROTTLED_CASES)(
    '%s tells when to retry when the bucket restores too slowly to wait for',
    async (tool, _key, first, cost) => {
      sim.setRestoreRate(1);
      sim.drain(); // at 1 point a second: `cost` seconds, too long to wait
      const result = await call(reader, tool, { first });
      expect(result.isError).toBe(true);
      expect(text(result)).toMatch(new RegExp(`Shopify is rate limiting requests.*retry after ${cost} s`));
      expect(sim.requests).toHaveLength(1);
    },
  );

  it('honours an HTTP 429 Retry-After and retries; a persisting 429 says when to retry', async () => {
    sim.failNext(429, { retryAfter: 1 });
    const ok = await call(reader, 'shopify_list_products', { first: 2 });
    expect(ok.isError).toBeFalsy();
    expect(products(ok).products).toHaveLength(2);
    expect(sim.requests).toHaveLength(2);

    sim.reset();
    sim.failNext(429, { retryAfter: 120, times: 5 });
    const limited = await call(reader, 'shopify_list_products', { first: 2 });
    expect(limited.isError).toBe(true);
    expect(text(limited)).toContain('retry after 120 s');
  });

  it('retries a 503 and reports one that persists', async () => {
    sim.failNext(503, { retryAfter: 0 });
    expect((await call(reader, 'shopify_list_orders', { first: 1 })).isError).toBeFalsy();
    expect(sim.requests).toHaveLength(2);

    sim.reset();
    sim.failNext(503, { retryAfter: 0, times: 10 });
    const failed = await call(reader, 'shopify_list_orders', { first: 1 });
    expect(failed.isError).toBe(true);
    expect(text(failed)).toContain('Shopify is failing (HTTP 503)');
  });

  it('names the fix for refused, missing credentials and for a GraphQL error', async () => {
    const refused = await call(wrongToken, 'shopify_list_orders', {});
    expect(refused.isError).toBe(true);
    expect(text(refused)).toContain('Shopify refused the stored credentials (HTTP 401)');
    expect(text(refused)).toContain('PUT /credentials/shopify');
    expect(sim.requests[0].headers['x-shopify-access-token']).toBe(WRONG_TOKEN);

    const missing = await call(unstored, 'shopify_list_products', {});
    expect(missing.isError).toBe(true);
    expect(text(missing)).toContain('No Shopify credentials are stored for this organisation');

    const badCursor = await call(reader, 'shopify_list_orders', { after: 'not-a-cursor' });
    expect(badCursor.isError).toBe(true);
    expect(text(badCursor)).toContain('Shopify refused the request: Invalid cursor');
  });

  it('refuses invalid arguments naming them, and callers without shopify:read, without calling Shopify', async () => {
    const tooMany = await call(reader, 'shopify_list_orders', { first: 250 });
    expect(tooMany.isError).toBe(true);
    expect(text(tooMany)).toMatch(/first.*at most 100/);
    const badQuery = await call(reader, 'shopify_list_products', { query: 'x'.repeat(501) });
    expect(badQuery.isError).toBe(true);
    expect(text(badQuery)).toMatch(/query.*at most 500 characters/);
    const denied = await call(noPermission, 'shopify_list_orders', {});
    expect(denied.isError).toBe(true);
    expect(text(denied)).toContain('requires the permission "shopify:read"');
    expect(sim.requests).toHaveLength(0);
  });

  it('lists the tools only to callers with shopify:read', async () => {
    const names = (c: Client) => c.listTools().then((l) => l.tools.map((t) => t.name));
    expect(await names(reader)).toEqual(
      expect.arrayContaining([
        'shopify_list_orders',
        'shopify_list_products',
        'shopify_list_customers',
        'shopify_inventory_levels',
      ]),
    );
    expect(await names(noPermission)).not.toContain('shopify_list_orders');
  });

  it('never shows a stored token in any tool result', () => {
    expect(results.length).toBeGreaterThan(10);
    for (const r of results) {
      expect(r).not.toContain(SHOPIFY.accessToken);
      expect(r).not.toContain(WRONG_TOKEN);
    }
  });
});
