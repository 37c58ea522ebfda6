/**
 * The product's MCP prompts and resources on the whole app (SQLite + memory
 * store), driven by the real SDK clients of both protocol eras (v1: 2025-11-25
 * sessions; v2 pinned to 2026-07-28, stateless) with real API keys and
 * credentials stored over REST: prompts/list and resources/list filtered by
 * the key's permissions; prompts/get with valid arguments (every tool call a
 * prompt names is a call the tool's own schema takes, and one tools/list
 * shows the key) and invalid ones (each bad argument named); sentia://connectors
 * for an organisation with and without stored credentials, never another
 * organisation's and never a secret; the audit row of every resource read.
 */
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  Client as ClientV2,
  StreamableHTTPClientTransport as TransportV2,
} from '@modelcontextprotocol/client';
import request from 'supertest';
import { DataSource } from 'typeorm';
import type { Permission } from '../../src/auth/tokens/permissions';
import { McpRegistry } from '../../src/mcp/mcp-registry.service';
import { registerSecret } from '../support/capture';
import { startApp, StartedApp } from '../support/start-app';
import { AUTH_ENV, bearer, issueKey } from './auth-helpers';

const TENANT = '9a0e5d3b-7c1f-4e2a-8b6d-0f1e2d3c4b5a';
const XERO = {
  grantType: 'client_credentials',
  clientId: 'PROMPTS-E2E-1',
  clientSecret: 'xero-prompts-SECRET-0001',
};
const UNLEASHED = { apiId: '2f6c4e1a-0b7d-4c1e-9a55-3c2b1d0e9f87', apiKey: 'unleashed-prompts-SECRET-0002' };
const OPENAI = { apiKey: 'sk-openai-prompts-SECRET-0003' };
const SECRETS = [XERO.clientSecret, UNLEASHED.apiKey, OPENAI.apiKey];
for (const s of SECRETS) registerSecret(s, 'mcp-prompts-resources secret');

/** Each prompt and the permissions a key must hold, all of them, to use it. */
const PROMPTS: Record<string, Permission[]> = {
  xero_month_end_review: ['xero:read'],
  unleashed_reorder_check: ['unleashed:read'],
  shopify_sales_summary: ['shopify:read'],
  stock_vs_sales: ['shopify:read', 'unleashed:read'],
};

interface Connectors {
  organizationId: string | null;
  services: {
    service: string;
    permission: string;
    credentials: { stored: boolean; updatedAt?: string | null };
    circuit: { state: string; retryAfterSeconds: number | null };
    ready: boolean;
    tools: string[];
  }[];
}

type Era = 'v1' | 'v2';
/** The calls both SDK clients offer, as the tests use them. */
interface AnyClient {
  listTools(): Promise<{ tools: { name: string }[] }>;
  listPrompts(): Promise<{ prompts: { name: string; arguments?: { name: string; required?: boolean }[] }[] }>;
  getPrompt(p: {
    name: string;
    arguments?: Record<string, string>;
  }): Promise<{ messages: { role: string; content: { type: string; text?: string } }[] }>;
  listResources(): Promise<{ resources: { uri: string; mimeType?: string }[] }>;
  readResource(p: {
    uri: string;
  }): Promise<{ contents: { uri: string; mimeType?: string; text?: string }[] }>;
  complete(p: unknown): Promise<{ completion: { values: string[] } }>;
  close(): Promise<void>;
}

/** Each "`tool` with arguments `{json}`" line of a prompt's text. */
function callsIn(text: string): { tool: string; args: Record<string, unknown> }[] {
  return [...text.matchAll(/`([a-z0-9_]+)` with arguments `(\{[^`]*\})`/g)].map((m) => ({
    tool: m[1],
    args: JSON.parse(m[2]) as Record<string, unknown>,
  }));
}

/** Every tool-like name in a text (a connector's prefix and a word). */
function toolNamesIn(text: string): string[] {
  return [...new Set([...text.matchAll(/\b(?:xero|shopify|unleashed|ai)_[a-z_]+\b/g)].map((m) => m[0]))];
}

describe('MCP prompts and resources (e2e)', () => {
  let started: StartedApp;
  let registry: McpRegistry;
  const clients: AnyClient[] = [];

  async function connect(token: string, era: Era): Promise<AnyClient> {
    const headers = bearer(token);
    let client: AnyClient;
    if (era === 'v1') {
      const c = new ClientV1({ name: 'e2e-prompts-v1', version: '1.0.0' });
      await c.connect(new TransportV1(new URL(`${started.url}/mcp`), { requestInit: { headers } }));
      client = c as unknown as AnyClient;
    } else {
      const c = new ClientV2(
        { name: 'e2e-prompts-v2', version: '1.0.0' },
        { versionNegotiation: { mode: { pin: '2026-07-28' } } },
      );
      await c.connect(new TransportV2(new URL(`${started.url}/mcp`), { requestInit: { headers } }));
      client = c as unknown as AnyClient;
    }
    clients.push(client);
    return client;
  }

  /** A new key in `org` holding `permissions`, and a client of `era` connected with it. */
  async function keyed(org: string, permissions: Permission[], era: Era = 'v1') {
    const key = await issueKey(started, org, permissions, `prompts ${permissions.join(',')}`);
    return { key, client: await connect(key.token, era) };
  }

  async function connectors(client: AnyClient): Promise<{ text: string; body: Connectors }> {
    const { contents } = await client.readResource({ uri: 'sentia://connectors' });
    expect(contents).toHaveLength(1);
    expect(contents[0]).toMatchObject({ uri: 'sentia://connectors', mimeType: 'application/json' });
    const text = contents[0].text!;
    return { text, body: JSON.parse(text) as Connectors };
  }

  /** The JSON-RPC error a request failed with. */
  async function failure(p: Promise<unknown>): Promise<{ code: number; message: string }> {
    try {
      await p;
    } catch (e) {
      return { code: (e as { code: number }).code, message: (e as Error).message };
    }
    throw new Error('expected the request to fail');
  }

  const auditRows = (keyId: string) =>
    started.app.get(DataSource).query(
      `SELECT kind, action, outcome, error_code, organization_id, key_id FROM audit_logs
          WHERE key_id = ? AND kind <> 'admin' ORDER BY id`,
      [keyId],
    ) as Promise<Record<string, unknown>[]>;

  beforeAll(async () => {
    // Many clients from one address in a minute: the per-IP limit is not under test here.
    started = await startApp({ ...AUTH_ENV, RATE_LIMIT_IP_MAX: '100000' });
    registry = started.app.get(McpRegistry);
    const admin = await issueKey(started, 'org-a', ['credentials:write'], 'admin a');
    for (const [service, body] of [
      ['xero', XERO],
      ['unleashed', UNLEASHED],
      ['openai', OPENAI],
    ] as const) {
      const put = await request(started.url)
        .put(`/credentials/${service}`)
        .set(bearer(admin.token))
        .send(body);
      expect(put.status).toBe(201);
    }
  });

  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    await started?.close();
  });

  describe.each<Era>(['v1', 'v2'])('listing (%s client)', (era) => {
    it('prompts/list shows each prompt only to a key holding its permission; admin sees them all', async () => {
      const names = async (permissions: Permission[]) =>
        (await (await keyed('org-a', permissions, era)).client.listPrompts()).prompts
          .map((p) => p.name)
          .sort();
      expect(await names(['xero:read'])).toEqual(['xero_month_end_review']);
      expect(await names(['shopify:read', 'unleashed:read'])).toEqual([
        'shopify_sales_summary',
        'stock_vs_sales',
        'unleashed_reorder_check',
      ]);
      // stock_vs_sales needs both systems: one of them is not enough.
      expect(await names(['shopify:read'])).toEqual(['shopify_sales_summary']);
      expect(await names(['unleashed:read', 'xero:read'])).toEqual([
        'unleashed_reorder_check',
        'xero_month_end_review',
      ]);
      expect(await names(['credentials:read', 'ai:invoke'])).toEqual([]);
      expect(await names(['admin'])).toEqual(Object.keys(PROMPTS).sort());
    });

    it('prompts/list describes each argument and whether it is required', async () => {
      const { prompts } = await (await keyed('org-a', ['admin'], era)).client.listPrompts();
      const args = Object.fromEntries(prompts.map((p) => [p.name, p.arguments]));
      expect(args.xero_month_end_review).toEqual([
        expect.objectContaining({ name: 'month', required: true }),
        expect.objectContaining({ name: 'tenantId', required: false }),
      ]);
      expect(args.unleashed_reorder_check).toEqual([
        expect.objectContaining({ name: 'warehouseCode', required: false }),
        expect.objectContaining({ name: 'threshold', required: false }),
      ]);
      expect(args.shopify_sales_summary).toEqual([
        expect.objectContaining({ name: 'from', required: true }),
        expect.objectContaining({ name: 'to', required: true }),
      ]);
      expect(args.stock_vs_sales).toEqual([
        expect.objectContaining({ name: 'from', required: true }),
        expect.objectContaining({ name: 'to', required: true }),
        expect.objectContaining({ name: 'warehouseCode', required: false }),
      ]);
    });

    it('resources/list shows sentia://connectors to any key', async () => {
      for (const permissions of [['credentials:read'], ['xero:read'], ['admin']] as Permission[][]) {
        const { resources } = await (await keyed('org-a', permissions, era)).client.listResources();
        expect(resources).toEqual([
          expect.objectContaining({ uri: 'sentia://connectors', mimeType: 'application/json' }),
        ]);
      }
    });
  });

  describe('prompts/get with valid arguments', () => {
    const cases: [string, Record<string, string>][] = [
      ['xero_month_end_review', { month: '2026-02' }],
      ['xero_month_end_review', { month: '2024-02', tenantId: TENANT.toUpperCase() }],
      ['unleashed_reorder_check', {}],
      ['unleashed_reorder_check', { warehouseCode: 'MAIN', threshold: '5' }],
      ['shopify_sales_summary', { from: '2026-01-01', to: '2026-01-31' }],
      ['stock_vs_sales', { from: '2026-01-01', to: '2026-01-31' }],
      ['stock_vs_sales', { from: '2025-03-01', to: '2026-02-28', warehouseCode: 'MAIN' }],
    ];

    it.each(cases)(
      '%s %j names only tools that exist, that the key may call, with arguments their schemas take',
      async (name, args) => {
        const { client } = await keyed('org-a', PROMPTS[name]);
        const listed = new Set((await client.listTools()).tools.map((t) => t.name));
        const { messages } = await client.getPrompt({ name, arguments: args });
        expect(messages).toHaveLength(1);
        expect(messages[0]).toMatchObject({ role: 'user', content: { type: 'text' } });
        const text = messages[0].content.text!;
        const calls = callsIn(text);
        expect(calls.length).toBeGreaterThan(0);
        for (const { tool, args: toolArgs } of calls) {
          expect(listed).toContain(tool);
          const parsed = registry.tools.get(tool)!.input.safeParse(toolArgs);
          expect(parsed.error?.issues ?? []).toEqual([]);
        }
        // Any tool named in passing (a fallback) exists and is the key's too.
        for (const tool of toolNamesIn(text)) expect(listed).toContain(tool);
      },
    );

    it('xero_month_end_review asks for the month against the one before, month-end balances and overdue invoices', async () => {
      const { client } = await keyed('org-a', ['xero:read'], 'v2');
      const { messages } = await client.getPrompt({
        name: 'xero_month_end_review',
        arguments: { month: '2024-02', tenantId: TENANT.toUpperCase() },
      });
      const calls = callsIn(messages[0].content.text!);
      expect(calls).toEqual([
        {
          tool: 'xero_profit_and_loss',
          args: {
            tenantId: TENANT,
            fromDate: '2024-02-01',
            toDate: '2024-02-29',
            periods: 1,
            timeframe: 'MONTH',
          },
        },
        {
          tool: 'xero_balance_sheet',
          args: { tenantId: TENANT, date: '2024-02-29', periods: 1, timeframe: 'MONTH' },
        },
        { tool: 'xero_list_invoices', args: { tenantId: TENANT, statuses: ['AUTHORISED'], pageSize: 1000 } },
      ]);
      expect(messages[0].content.text).toContain('dueDate on or before 2024-02-29');
    });

    it('unleashed_reorder_check and shopify_sales_summary carry their arguments into the calls', async () => {
      const { client } = await keyed('org-a', ['unleashed:read', 'shopify:read']);
      const reorder = await client.getPrompt({
        name: 'unleashed_reorder_check',
        arguments: { warehouseCode: 'MAIN', threshold: '5' },
      });
      expect(callsIn(reorder.messages[0].content.text!)).toEqual([
        { tool: 'unleashed_stock_on_hand', args: { warehouseCode: 'MAIN', pageSize: 1000 } },
        {
          tool: 'unleashed_list_purchase_orders',
          args: { orderStatus: ['Parked', 'Placed'], pageSize: 1000 },
        },
      ]);
      expect(reorder.messages[0].content.text).toContain(
        'availableQty (on hand less allocated) is 5 or less',
      );
      const sales = await client.getPrompt({
        name: 'shopify_sales_summary',
        arguments: { from: '2025-12-01', to: '2025-12-31' },
      });
      expect(callsIn(sales.messages[0].content.text!)).toEqual([
        {
          tool: 'shopify_list_orders',
          args: { query: 'created_at:>=2025-12-01 created_at:<2026-01-01', first: 100, newestFirst: false },
        },
      ]);
    });

    it('stock_vs_sales asks for the Shopify orders as shopify_sales_summary does, Unleashed stock and open purchase orders, and claims nothing per product', async () => {
      const { client } = await keyed('org-a', ['shopify:read', 'unleashed:read'], 'v2');
      const args = { from: '2025-12-01', to: '2025-12-31' };
      const stock = await client.getPrompt({
        name: 'stock_vs_sales',
        arguments: { ...args, warehouseCode: 'MAIN' },
      });
      const sales = await client.getPrompt({ name: 'shopify_sales_summary', arguments: args });
      const calls = callsIn(stock.messages[0].content.text!);
      expect(calls).toEqual([
        callsIn(sales.messages[0].content.text!)[0],
        { tool: 'unleashed_stock_on_hand', args: { warehouseCode: 'MAIN', pageSize: 1000 } },
        {
          tool: 'unleashed_list_purchase_orders',
          args: { orderStatus: ['Parked', 'Placed'], pageSize: 1000 },
        },
      ]);
      const text = stock.messages[0].content.text!;
      expect(text).toContain('no line items, products, SKUs or quantities');
      expect(text).toContain('do not work out sales, sell-through or days of cover per product');
      expect(text).toContain('Keep those of warehouseCode MAIN.');
      // Every field the prompt says an order, a stock row or a purchase order has is in the tool's description.
      const described = (tool: string) => registry.tools.get(tool)!.options.description;
      for (const field of [
        'name',
        'createdAt',
        'displayFinancialStatus',
        'totalPrice',
        'customerEmail',
        'pageInfo',
      ]) {
        expect(described('shopify_list_orders')).toContain(field);
      }
      for (const field of [
        'productCode',
        'productDescription',
        'qtyOnHand',
        'allocatedQty',
        'availableQty',
        'warehouseCode',
      ]) {
        expect(described('unleashed_stock_on_hand')).toContain(field);
      }
      for (const field of ['supplierCode', 'warehouseCode', 'requiredDate', 'total', 'lineCount']) {
        expect(described('unleashed_list_purchase_orders')).toContain(field);
      }
      expect(described('shopify_list_products')).toContain('sku');
      // ... and the orders carry no line items: the prompt's claim holds of the tool's output.
      expect(described('shopify_list_orders')).not.toMatch(/lineItems|sku|quantity/i);
      // One warehouse: its rows, one per product.
      expect(text).toContain('the stock of the warehouse MAIN, one row per product');
      // Without a warehouse, all warehouses, and no warehouseCode in the calls; the rows are read by their
      // warehouseCode, as the tool's description says (a total across warehouses has none).
      const all = await client.getPrompt({ name: 'stock_vs_sales', arguments: args });
      expect(callsIn(all.messages[0].content.text!)[1]).toEqual({
        tool: 'unleashed_stock_on_hand',
        args: { pageSize: 1000 },
      });
      const allText = all.messages[0].content.text!;
      expect(allText).toContain('all Unleashed warehouses');
      expect(allText).not.toMatch(/per product and warehouse/);
      expect(allText).toContain(
        'a row whose warehouseCode is null is a product’s total across all warehouses',
      );
      expect(allText).toContain('never add a total to rows of the same product');
      expect(described('unleashed_stock_on_hand')).toContain(
        'a row whose warehouseCode is null is the product’s total across all warehouses',
      );
    });

    it('completes the month of xero_month_end_review for a key that may use it; to one that may not the prompt is unknown (-32602)', async () => {
      const ref = { type: 'ref/prompt', name: 'xero_month_end_review' };
      const current = new Date().toISOString().slice(0, 7);
      const { client } = await keyed('org-a', ['xero:read']);
      const { completion } = await client.complete({
        ref,
        argument: { name: 'month', value: current.slice(0, 4) },
      });
      expect(completion.values[0]).toBe(current);
      expect(completion.values.every((v) => v.startsWith(current.slice(0, 4)))).toBe(true);
      const other = (await keyed('org-a', ['shopify:read'])).client;
      expect(await failure(other.complete({ ref, argument: { name: 'month', value: '' } }))).toEqual({
        code: -32602,
        message: expect.stringContaining('Unknown prompt: xero_month_end_review'),
      });
    });

    it('a completer that fails is a fault of ours: -32603 quoting the request id, never its text, and the next completion is served', async () => {
      const ref = { type: 'ref/prompt', name: 'xero_month_end_review' };
      const completers = started.app.get(McpRegistry).prompts.get('xero_month_end_review')!.options.complete!;
      const month = completers.month;
      // A fault injected into the product's completer: what a bug in one would do.
      completers.month = () => {
        throw new Error('engine text: relation "internal_table" at /srv/app/secret.ts:42');
      };
      const { client } = await keyed('org-a', ['xero:read']);
      try {
        const fault = await failure(client.complete({ ref, argument: { name: 'month', value: '' } }));
        expect(fault).toEqual({
          code: -32603,
          message: expect.stringMatching(/Internal error; quote request id \S+ when reporting it/),
        });
        expect(fault.message).not.toMatch(/engine text|internal_table|secret\.ts/);
      } finally {
        completers.month = month;
      }
      const { completion } = await client.complete({ ref, argument: { name: 'month', value: '' } });
      expect(completion.values.length).toBeGreaterThan(0);
    });

    it('completion/complete of a prompt, argument or resource that does not exist → -32602 naming it, as the spec asks', async () => {
      const { client } = await keyed('org-a', ['admin']);
      const complete = (ref: { type: string; name?: string; uri?: string }, name = 'month') =>
        failure(client.complete({ ref, argument: { name, value: '' } }));
      expect(await complete({ type: 'ref/prompt', name: 'no_such_prompt' })).toEqual({
        code: -32602,
        message: expect.stringContaining('Unknown prompt: no_such_prompt'),
      });
      expect(await complete({ type: 'ref/prompt', name: 'xero_month_end_review' }, 'mnth')).toEqual({
        code: -32602,
        message: expect.stringContaining(
          'Unknown argument "mnth" of prompt "xero_month_end_review" (it takes month, tenantId)',
        ),
      });
      expect(await complete({ type: 'ref/resource', uri: 'sentia://nothing/{id}' }, 'id')).toEqual({
        code: -32602,
        message: expect.stringContaining('Unknown resource or resource template: sentia://nothing/{id}'),
      });
      // A fixed resource the key may read, and an argument without completions, have nothing to complete.
      for (const [ref, name] of [
        [{ type: 'ref/resource', uri: 'sentia://connectors' }, 'x'],
        [{ type: 'ref/prompt', name: 'xero_month_end_review' }, 'tenantId'],
      ] as const) {
        const { completion } = await client.complete({ ref, argument: { name, value: '' } });
        expect(completion).toEqual({ values: [], total: 0, hasMore: false });
      }
    });
  });

  describe.each<Era>(['v1', 'v2'])('stock_vs_sales needs both permissions (%s client)', (era) => {
    const args = { from: '2026-01-01', to: '2026-01-31' };
    const ref = { type: 'ref/prompt', name: 'stock_vs_sales' };

    it('prompts/get: a key holding one of shopify:read and unleashed:read gets Unknown prompt; both or admin get it', async () => {
      for (const one of [
        ['shopify:read'],
        ['unleashed:read'],
        ['unleashed:read', 'xero:read'],
      ] as Permission[][]) {
        const { client } = await keyed('org-a', one, era);
        const denied = await failure(client.getPrompt({ name: 'stock_vs_sales', arguments: args }));
        expect(denied.code).toBe(-32602);
        expect(denied.message).toContain('Unknown prompt: stock_vs_sales');
      }
      for (const enough of [['shopify:read', 'unleashed:read'], ['admin']] as Permission[][]) {
        const { client } = await keyed('org-a', enough, era);
        const { messages } = await client.getPrompt({ name: 'stock_vs_sales', arguments: args });
        expect(callsIn(messages[0].content.text!).map((c) => c.tool)).toEqual([
          'shopify_list_orders',
          'unleashed_stock_on_hand',
          'unleashed_list_purchase_orders',
        ]);
      }
    });

    it('completion/complete completes from and to only for a key holding both', async () => {
      const thisMonth = new Date().toISOString().slice(0, 7);
      const today = new Date().toISOString().slice(0, 10);
      const both = (await keyed('org-a', ['shopify:read', 'unleashed:read'], era)).client;
      const from = await both.complete({ ref, argument: { name: 'from', value: thisMonth.slice(0, 4) } });
      expect(from.completion.values[0]).toBe(`${thisMonth}-01`);
      expect(from.completion.values.every((v) => v.startsWith(thisMonth.slice(0, 4)))).toBe(true);
      const to = await both.complete({ ref, argument: { name: 'to', value: '' } });
      expect(to.completion.values[0]).toBe(today);
      expect(to.completion.values).toHaveLength(13);

      // With the other end given (context.arguments), only values prompts/get would take are offered.
      const starts = (await both.complete({ ref, argument: { name: 'from', value: '' } })).completion.values;
      const ends = to.completion.values;
      // from: the first day of this month and of the twelve before it; to: today, then the last day of each
      // of the twelve months before this one; both newest first.
      const dayAfter = (d: string) => new Date(Date.parse(`${d}T00:00:00Z`) + 86_400_000).toISOString();
      expect(starts).toHaveLength(13);
      expect(starts.every((d) => d.endsWith('-01'))).toBe(true);
      // Each end after today is the last day of the month before a start: the day after it is that start.
      expect(ends.slice(1).map((d) => dayAfter(d).slice(0, 10))).toEqual(starts.slice(0, 12));
      const given = async (name: string, context: Record<string, string>) =>
        (await both.complete({ ref, argument: { name, value: '' }, context: { arguments: context } }))
          .completion.values;
      expect(await given('to', { from: starts[2] })).toEqual(ends.filter((d) => d >= starts[2]));
      expect(await given('from', { to: ends[3] })).toEqual(starts.filter((d) => d <= ends[3]));
      expect((await given('from', { to: ends[3] })).length).toBeLessThan(starts.length);
      // A given argument that is invalid on its own filters nothing (prompts/get names it).
      expect(await given('to', { from: '2026-02-30' })).toEqual(ends);
      // One the prompt does not take filters nothing either, whatever its name (not a fault of ours).
      for (const notAnArgument of ['constructor', 'toString', 'hasOwnProperty', 'warehouse'])
        expect(await given('to', { [notAnArgument]: 'x', from: starts[2] })).toEqual(
          ends.filter((d) => d >= starts[2]),
        );
      for (const one of [['shopify:read'], ['unleashed:read']] as Permission[][]) {
        const { client } = await keyed('org-a', one, era);
        for (const name of ['from', 'to']) {
          const denied = await failure(client.complete({ ref, argument: { name, value: '' } }));
          expect(denied.code).toBe(-32602);
          expect(denied.message).toContain('Unknown prompt: stock_vs_sales');
        }
      }
    });
  });

  describe.each<Era>(['v1', 'v2'])('prompts/get with invalid arguments (%s client)', (era) => {
    const nextMonth = () => {
      const now = new Date();
      return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString().slice(0, 7);
    };
    const cases: [string, Record<string, string>, string[]][] = [
      ['xero_month_end_review', {}, ['month: is required']],
      ['xero_month_end_review', { month: '2026-13' }, ['month: must be a month YYYY-MM']],
      ['xero_month_end_review', { month: 'May 2026' }, ['month: must be a month YYYY-MM']],
      ['xero_month_end_review', { month: 'NEXT' }, ['month: must not be a month after the current one']],
      ['xero_month_end_review', { month: '2026-01', tenantId: 'acme' }, ['tenantId: must be a GUID']],
      [
        'xero_month_end_review',
        { month: '26-1', tenantId: 'x' },
        ['month: must be a month', 'tenantId: must be a GUID'],
      ],
      [
        'xero_month_end_review',
        { month: '2026-01', tennantId: TENANT },
        ['tennantId: is not a known field (known: month, tenantId)'],
      ],
      ['unleashed_reorder_check', { threshold: 'ten' }, ['threshold: must be a whole number']],
      ['unleashed_reorder_check', { threshold: '-1', warehouseCode: '' }, ['threshold:', 'warehouseCode:']],
      ['shopify_sales_summary', { from: '2026-01-01' }, ['to: is required']],
      ['shopify_sales_summary', { from: '2026-02-30', to: '2026-03-01' }, ['from: must be a real date']],
      ['shopify_sales_summary', { from: '2026-03-01', to: '2026-02-01' }, ['to: must not be before from']],
      ['shopify_sales_summary', { from: '2024-01-01', to: '2025-06-01' }, ['to: must be within 366 days']],
      // The search would end at the day after 9999-12-31, which no date can spell.
      ['shopify_sales_summary', { from: '9999-12-31', to: '9999-12-31' }, ['from: must not be after today']],
      // stock_vs_sales takes shopify_sales_summary's range rules and the Unleashed tool's warehouseCode.
      ['stock_vs_sales', {}, ['from: is required', 'to: is required']],
      ['stock_vs_sales', { from: '2026-01-01' }, ['to: is required']],
      ['stock_vs_sales', { from: '2026-1-01', to: '2026-01-31' }, ['from: must be a date YYYY-MM-DD']],
      ['stock_vs_sales', { from: '2026-01-01', to: '2026-02-30' }, ['to: must be a real date']],
      ['stock_vs_sales', { from: '2026-03-01', to: '2026-02-01' }, ['to: must not be before from']],
      ['stock_vs_sales', { from: '2024-01-01', to: '2025-06-01' }, ['to: must be within 366 days']],
      ['stock_vs_sales', { from: '9999-12-31', to: '9999-12-31' }, ['from: must not be after today']],
      ['stock_vs_sales', { from: '2026-01-01', to: '2026-01-31', warehouseCode: '' }, ['warehouseCode:']],
      [
        'stock_vs_sales',
        { from: '2026-01-01', to: '2026-01-31', warehouseCode: 'W'.repeat(51) },
        ['warehouseCode:'],
      ],
      [
        'stock_vs_sales',
        { from: '2026-01-01', to: '2026-01-31', warehouse: 'MAIN' },
        ['warehouse: is not a known field (known: from, to, warehouseCode)'],
      ],
    ];

    it.each(cases)('%s %j → -32602 naming %j', async (name, args, named) => {
      const { client } = await keyed('org-a', ['admin'], era);
      const withNext = Object.fromEntries(
        Object.entries(args).map(([k, v]) => [k, v === 'NEXT' ? nextMonth() : v]),
      );
      const error = await failure(client.getPrompt({ name, arguments: withNext }));
      expect(error.code).toBe(-32602);
      expect(error.message).toContain(`Invalid arguments for prompt "${name}"`);
      for (const part of named) expect(error.message).toContain(part);
    });

    it('a prompt the key may not use is unknown to it (-32602), as one that does not exist', async () => {
      const { client } = await keyed('org-a', ['xero:read'], era);
      const denied = await failure(
        client.getPrompt({
          name: 'shopify_sales_summary',
          arguments: { from: '2026-01-01', to: '2026-01-02' },
        }),
      );
      expect(denied.code).toBe(-32602);
      expect(denied.message).toContain('Unknown prompt: shopify_sales_summary');
      const missing = await failure(client.getPrompt({ name: 'no_such_prompt' }));
      expect(missing.code).toBe(-32602);
      expect(missing.message).toContain('Unknown prompt: no_such_prompt');
    });
  });

  describe.each<Era>(['v1', 'v2'])('sentia://connectors (%s client)', (era) => {
    it('shows the services the key may use, with the organisation’s stored credentials and the key’s tools', async () => {
      const { client } = await keyed('org-a', ['xero:read', 'shopify:read', 'unleashed:read'], era);
      const { body, text } = await connectors(client);
      expect(body.organizationId).toBe('org-a');
      expect(body.services.map((s) => s.service)).toEqual(['xero', 'shopify', 'unleashed']);
      const by = Object.fromEntries(body.services.map((s) => [s.service, s]));
      expect(by.xero).toMatchObject({ permission: 'xero:read', credentials: { stored: true }, ready: true });
      expect(by.unleashed).toMatchObject({ credentials: { stored: true }, ready: true });
      expect(by.shopify).toMatchObject({ credentials: { stored: false }, ready: false });
      // updatedAt is credentials:read's to see, as on GET /admin/connectors.
      expect(text).not.toContain('updatedAt');
      expect(by.xero.tools).toEqual(expect.arrayContaining(['xero_profit_and_loss', 'xero_list_invoices']));
      expect(by.xero.tools.every((t) => t.startsWith('xero_'))).toBe(true);
      expect(by.shopify.tools).toContain('shopify_list_orders');
      // Exactly the tools tools/list gives the key, each under one service.
      const listed = (await client.listTools()).tools.map((t) => t.name).filter((t) => t !== 'server_info');
      expect(body.services.flatMap((s) => s.tools).sort()).toEqual(listed.sort());
    });

    it('an admin key sees every service, when its credentials were stored, and every connector tool once', async () => {
      const { client } = await keyed('org-a', ['admin'], era);
      const { body } = await connectors(client);
      expect(body.services.map((s) => [s.service, s.credentials.stored])).toEqual([
        ['xero', true],
        ['shopify', false],
        ['unleashed', true],
        ['anthropic', false],
        ['openai', true],
      ]);
      for (const s of body.services) {
        if (s.credentials.stored) expect(Date.parse(s.credentials.updatedAt!)).not.toBeNaN();
        else expect(s.credentials.updatedAt).toBeNull();
      }
      const all = [...registry.tools.keys()].filter((t) => t !== 'server_info').sort();
      expect(body.services.flatMap((s) => s.tools).sort()).toEqual(all);
      expect(Object.fromEntries(body.services.map((s) => [s.service, s.tools]))).toMatchObject({
        anthropic: ['ai_anthropic_message'],
        openai: ['ai_openai_chat'],
      });
    });

    it('another organisation sees only its own (nothing stored), never org-a’s', async () => {
      const { client } = await keyed('org-b', ['admin'], era);
      const { body } = await connectors(client);
      expect(body.organizationId).toBe('org-b');
      expect(body.services).toHaveLength(5);
      for (const s of body.services) {
        expect(s.credentials).toEqual({ stored: false, updatedAt: null });
        expect(s.ready).toBe(false);
      }
    });

    it('a key without a connector permission gets no services', async () => {
      const { client } = await keyed('org-a', ['credentials:read'], era);
      expect((await connectors(client)).body.services).toEqual([]);
    });

    it('holds no secret, nor anything of the stored credentials but their being there', async () => {
      const { client } = await keyed('org-a', ['admin'], era);
      const { text } = await connectors(client);
      for (const secret of [...SECRETS, XERO.clientId, UNLEASHED.apiId]) expect(text).not.toContain(secret);
    });

    it('every read is audited (kind resource_read), an unknown URI too; prompts/get is not', async () => {
      const { key, client } = await keyed('org-a', ['xero:read'], era);
      await connectors(client);
      const unknown = await failure(client.readResource({ uri: 'sentia://nothing-here' }));
      expect(unknown).toMatchObject({ code: -32602, message: expect.stringContaining('Resource not found') });
      await client.getPrompt({ name: 'xero_month_end_review', arguments: { month: '2026-01' } });
      expect(await auditRows(key.key.id)).toEqual([
        {
          kind: 'resource_read',
          action: 'sentia://connectors',
          outcome: 'success',
          error_code: null,
          organization_id: 'org-a',
          key_id: key.key.id,
        },
        {
          kind: 'resource_read',
          action: 'sentia://nothing-here',
          outcome: 'denied',
          error_code: 'resource_not_found',
          organization_id: 'org-a',
          key_id: key.key.id,
        },
      ]);
    });
  });

  describe('resources/subscribe (2025 era)', () => {
    it('subscribes to a resource the key may read; a URI that names none is not found (-32602), not taken and never updated', async () => {
      const { client } = await keyed('org-a', [], 'v1');
      const v1 = client as unknown as ClientV1;
      expect(await v1.subscribeResource({ uri: 'sentia://connectors' })).toEqual({});
      for (const uri of ['sentia://nothing-here', 'test://watched-resource']) {
        const refused = await failure(v1.subscribeResource({ uri }));
        expect(refused).toEqual({
          code: -32602,
          message: expect.stringContaining(`Resource not found: ${uri}`),
        });
      }
      expect(await v1.unsubscribeResource({ uri: 'sentia://connectors' })).toEqual({});
    });
  });
});
