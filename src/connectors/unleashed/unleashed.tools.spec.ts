import type { ToolContext } from '../../mcp/mcp-context';
import { MCP_TOOL, type ToolOptions } from '../../mcp/mcp.decorators';
import type { PageRequest, UnleashedClient, UnleashedQuery } from './unleashed.client';
import { STOCK_ON_HAND } from './unleashed.schemas';
import { UnleashedTools } from './unleashed.tools';

type Method = 'listProducts' | 'stockOnHand' | 'listSalesOrders' | 'listPurchaseOrders' | 'listCustomers';
const METHODS: Method[] = [
  'listProducts',
  'stockOnHand',
  'listSalesOrders',
  'listPurchaseOrders',
  'listCustomers',
];

const optionsOf = (method: Method) =>
  Reflect.getMetadata(MCP_TOOL, UnleashedTools.prototype[method]) as ToolOptions;

/** Calls `method` with `args` parsed by its schema; gives what the tool asked the client for. */
async function requested(method: Method, args: Record<string, unknown>) {
  const calls: { resource: string; paging: PageRequest; query: UnleashedQuery }[] = [];
  const client = {
    list: (_ctx: ToolContext, resource: string, paging: PageRequest, query: UnleashedQuery) => {
      calls.push({ resource, paging, query });
      return Promise.resolve({
        items: [],
        pagination: { page: paging.page, pageSize: paging.pageSize, numberOfPages: 0, numberOfItems: 0 },
      });
    },
  } as unknown as UnleashedClient;
  const tools = new UnleashedTools(client);
  const call = tools[method].bind(tools) as (ctx: ToolContext, args: unknown) => Promise<unknown>;
  await call({} as ToolContext, optionsOf(method).input!.parse(args));
  expect(calls).toHaveLength(1);
  return calls[0];
}

describe('Unleashed tools: arguments to the request', () => {
  it.each([
    ['listProducts', 'Products', { includeObsolete: false }],
    ['stockOnHand', 'StockOnHand', {}],
    ['listSalesOrders', 'SalesOrders', {}],
    ['listPurchaseOrders', 'PurchaseOrders', {}],
    ['listCustomers', 'Customers', { includeObsolete: false }],
  ] as const)('%s reads %s, page 1 of 200 by default', async (method, resource, filters) => {
    const { resource: read, paging, query } = await requested(method, {});
    expect(read).toBe(resource);
    expect(paging).toEqual({ page: 1, pageSize: 200 });
    // Filters not given stay out of the query string (the client leaves undefined ones out).
    expect(Object.fromEntries(Object.entries(query).filter(([, v]) => v !== undefined))).toEqual(filters);
  });

  it('passes the paging on in the path, never as a filter', async () => {
    const { paging, query } = await requested('stockOnHand', { page: 3, pageSize: 500 });
    expect(paging).toEqual({ page: 3, pageSize: 500 });
    expect(query).not.toHaveProperty('page');
    expect(query).not.toHaveProperty('pageSize');
  });

  it('passes every filter on under its Unleashed name', async () => {
    const productId = '0f6b1c1e-2a3d-4e5f-8a9b-0c1d2e3f4a5b';
    expect(
      (await requested('stockOnHand', { warehouseCode: 'MAIN', productId, modifiedSince: '2025-01-02' }))
        .query,
    ).toEqual({
      warehouseCode: 'MAIN',
      productId,
      modifiedSince: '2025-01-02',
    });
    expect(
      (
        await requested('listProducts', {
          productCode: 'BLEND',
          productGroup: 'Coffee',
          includeObsolete: true,
        })
      ).query,
    ).toEqual({ productCode: 'BLEND', productGroup: 'Coffee', includeObsolete: true });
    expect(
      (await requested('listCustomers', { customerCode: 'AC', customerName: 'Acme', includeObsolete: true }))
        .query,
    ).toEqual({
      customerCode: 'AC',
      customerName: 'Acme',
      includeObsolete: true,
    });
  });

  it('sends several order statuses comma-separated, with the date filters', async () => {
    const args = {
      orderStatus: ['Parked', 'Placed'],
      startDate: '2025-01-01',
      endDate: '2025-01-31',
      customerCode: 'AC',
    };
    expect((await requested('listSalesOrders', args)).query).toEqual({
      orderStatus: 'Parked,Placed',
      startDate: '2025-01-01',
      endDate: '2025-01-31',
      customerCode: 'AC',
    });
    expect(
      (await requested('listPurchaseOrders', { orderStatus: ['Costed', 'Receipted', 'Complete'] })).query,
    ).toMatchObject({
      orderStatus: 'Costed,Receipted,Complete',
    });
  });

  it('declares each tool read-only, for unleashed:read, its cached answers tied to the Unleashed credentials', () => {
    for (const method of METHODS) {
      const options = optionsOf(method);
      expect(options.permission).toBe('unleashed:read');
      expect(options.cache).toEqual({ credentials: 'unleashed' });
      expect(options.annotations).toEqual({ readOnlyHint: true, idempotentHint: true, openWorldHint: true });
    }
  });

  it('tells how to read a stock row by its warehouseCode, true whether Unleashed totals the list or not', () => {
    // Unleashed documents GET /StockOnHand without warehouseCode as one total per product; UPSTREAMS.md
    // leaves it unconfirmed, so the description must not promise rows per warehouse.
    const { description } = optionsOf('stockOnHand');
    expect(description).not.toMatch(/one row per product and warehouse/);
    expect(description).toContain('a row with a warehouseCode is that warehouse’s stock of the product only');
    expect(description).toContain(
      'a row whose warehouseCode is null is the product’s total across all warehouses',
    );
    expect(description).toContain('never both');
    const warehouse = (optionsOf('stockOnHand').input as typeof STOCK_ON_HAND).shape.warehouseCode;
    expect(warehouse.description).toContain('totalled across all warehouses (warehouseCode null)');
  });
});
