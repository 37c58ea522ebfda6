import type { ToolContext } from '../../mcp/mcp-context';
import { MCP_TOOL, type ToolOptions } from '../../mcp/mcp.decorators';
import type { ShopifyClient, ShopifyOperation } from './shopify.client';
import { INVENTORY_LEVELS } from './shopify-inventory.queries';
import { LIST_CUSTOMERS, LIST_ORDERS, LIST_PRODUCTS } from './shopify.queries';
import { ShopifyTools } from './shopify.tools';

type Method = 'listOrders' | 'listProducts' | 'listCustomers' | 'inventoryLevels';

const optionsOf = (method: Method) =>
  Reflect.getMetadata(MCP_TOOL, ShopifyTools.prototype[method]) as ToolOptions;

/** The tool's arguments as the MCP layer hands them to it: parsed by its input schema, defaults applied. */
const parse = (method: Method, args: Record<string, unknown>) => optionsOf(method).input!.safeParse(args);

/** An empty last page of each operation, as Shopify answers it. */
const EMPTY: Record<string, unknown> = {
  ListOrders: { orders: { nodes: [], pageInfo: { hasNextPage: false, endCursor: null } } },
  ListProducts: { products: { nodes: [], pageInfo: { hasNextPage: false, endCursor: null } } },
  ListCustomers: { customers: { nodes: [], pageInfo: { hasNextPage: false, endCursor: null } } },
  InventoryLevels: { inventoryItems: { nodes: [], pageInfo: { hasNextPage: false, endCursor: null } } },
};

/** Calls `method` with `args` parsed by its schema; gives the operation the tool sent to Shopify. */
async function sent(method: Method, args: Record<string, unknown>) {
  const ops: ShopifyOperation<unknown>[] = [];
  const client = {
    query: (_ctx: ToolContext, op: ShopifyOperation<unknown>) => {
      ops.push(op);
      return Promise.resolve(op.data.parse(EMPTY[op.name]));
    },
  } as unknown as ShopifyClient;
  const tools = new ShopifyTools(client);
  const call = tools[method].bind(tools) as (ctx: ToolContext, args: unknown) => Promise<unknown>;
  await call({} as ToolContext, optionsOf(method).input!.parse(args));
  expect(ops).toHaveLength(1);
  return { name: ops[0].name, query: ops[0].query, variables: ops[0].variables };
}

describe('Shopify tools: arguments to GraphQL variables', () => {
  it('asks for 50 orders newest first by default, without a cursor or a search', async () => {
    expect(await sent('listOrders', {})).toEqual({
      name: 'ListOrders',
      query: LIST_ORDERS,
      variables: { first: 50, after: null, query: null, reverse: true },
    });
  });

  it('passes the page size, cursor, search and order on as variables, never into the operation text', async () => {
    const search = 'email:"jo@example.com") { nodes { id } } #';
    const args = { first: 7, after: 'cursor-1', query: search, newestFirst: false };
    expect(await sent('listOrders', args)).toEqual({
      name: 'ListOrders',
      query: LIST_ORDERS,
      variables: { first: 7, after: 'cursor-1', query: search, reverse: false },
    });
  });

  it.each([
    ['listProducts', 'ListProducts', 50, LIST_PRODUCTS],
    ['listCustomers', 'ListCustomers', 50, LIST_CUSTOMERS],
    ['inventoryLevels', 'InventoryLevels', 10, INVENTORY_LEVELS],
  ] as const)(
    '%s sends %s, %i a page by default, and passes the paging and search on',
    async (method, name, byDefault, query) => {
      expect(await sent(method, {})).toEqual({
        name,
        query,
        variables: { first: byDefault, after: null, query: null },
      });
      expect(await sent(method, { first: 3, after: 'c2', query: 'sku:"ABC-1" OR title:x' })).toEqual({
        name,
        query,
        variables: { first: 3, after: 'c2', query: 'sku:"ABC-1" OR title:x' },
      });
    },
  );
});

describe('Shopify tools: argument bounds', () => {
  it.each([
    ['listOrders', 100],
    ['listProducts', 100],
    ['listCustomers', 100],
    ['inventoryLevels', 20],
  ] as const)('%s takes 1 to %i a page', (method, max) => {
    expect(parse(method, { first: 1 }).success).toBe(true);
    expect(parse(method, { first: max }).success).toBe(true);
    expect(parse(method, { first: 0 }).success).toBe(false);
    expect(parse(method, { first: max + 1 }).success).toBe(false);
    expect(parse(method, { first: 1.5 }).success).toBe(false);
  });

  it.each(['listOrders', 'listProducts', 'listCustomers', 'inventoryLevels'] as const)(
    '%s takes a cursor of 1-2000 characters and a search of 1-500',
    (method) => {
      expect(parse(method, { after: 'c'.repeat(2000), query: 'q'.repeat(500) }).success).toBe(true);
      expect(parse(method, { after: '' }).success).toBe(false);
      expect(parse(method, { after: 'c'.repeat(2001) }).success).toBe(false);
      expect(parse(method, { query: '' }).success).toBe(false);
      expect(parse(method, { query: 'q'.repeat(501) }).success).toBe(false);
    },
  );

  it('declares each tool read-only, for shopify:read, its cached answers tied to the Shopify credentials', () => {
    for (const method of ['listOrders', 'listProducts', 'listCustomers', 'inventoryLevels'] as const) {
      const options = optionsOf(method);
      expect(options.permission).toBe('shopify:read');
      expect(options.cache).toEqual({ credentials: 'shopify' });
      expect(options.annotations).toEqual({ readOnlyHint: true, idempotentHint: true, openWorldHint: true });
    }
  });
});
