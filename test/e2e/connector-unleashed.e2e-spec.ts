/**
 * The Unleashed connector end to end: the whole app (SQLite + memory store)
 * against the local Unleashed simulator, driven by the real MCP SDK client
 * with real API keys and credentials stored over REST.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import request from 'supertest';
import { registerSecret } from '../support/capture';
import { startApp, StartedApp } from '../support/start-app';
import {
  startUnleashedSimulator,
  unleashedSignature,
  UnleashedSimulator,
} from '../simulators/unleashed.simulator';
import { FIRST_MODIFIED_MS } from '../simulators/unleashed.seed';
import type { SimCustomer, SimPurchaseOrder, SimSalesOrder } from '../simulators/unleashed-sales.seed';
import { AUTH_ENV, bearer, issueKey } from './auth-helpers';
import { CredentialsService } from '../../src/credentials/credentials.service';
import { MetricsService } from '../../src/metrics/metrics.service';

const CREDS = { apiId: '2f6c4e1a-0b7d-4c1e-9a55-3c2b1d0e9f87', apiKey: 'unleashed-e2e-api-key-SECRET-0001' };
const WRONG = { apiId: CREDS.apiId, apiKey: 'unleashed-e2e-wrong-key-SECRET-0002' };
for (const s of [CREDS.apiKey, WRONG.apiKey]) registerSecret(s, 'connector-unleashed api key');

interface ToolResult {
  isError?: boolean;
  content: { type: string; text?: string }[];
  structuredContent?: Record<string, unknown>;
}
interface Page<T> {
  items: T[];
  pagination: { page: number; pageSize: number; numberOfPages: number; numberOfItems: number };
}
type Product = Record<string, unknown> & { productCode: string; guid: string };
type Stock = Record<string, unknown> & { productCode: string; warehouseCode: string | null };
type Order = Record<string, unknown> & { orderNumber: string; orderStatus: string };
type Customer = Record<string, unknown> & { customerCode: string; obsolete: boolean };

const DAY = 86_400_000;
const textOf = (r: ToolResult) => r.content.map((c) => c.text ?? '').join('\n');
const msOf = (msDate: string) => Number(/-?\d+/.exec(msDate)![0]);
const iso = (msDate: string | null) => (msDate === null ? null : new Date(msOf(msDate)).toISOString());
/** What the tools should make of a seeded order: the simulator's data, mapped independently here. */
const orderOf = (o: SimSalesOrder | SimPurchaseOrder) => ({
  guid: o.Guid,
  orderNumber: o.OrderNumber,
  orderStatus: o.OrderStatus,
  orderDate: iso(o.OrderDate),
  requiredDate: iso(o.RequiredDate),
  completedDate: iso(o.CompletedDate),
  warehouseCode: o.Warehouse.WarehouseCode,
  currencyCode: o.Currency.CurrencyCode,
  subTotal: o.SubTotal,
  taxTotal: o.TaxTotal,
  total: o.Total,
  lineCount: 'SalesOrderLines' in o ? o.SalesOrderLines.length : o.PurchaseOrderLines.length,
  lastModifiedOn: iso(o.LastModifiedOn),
});
const customerOf = (c: SimCustomer) => ({
  guid: c.Guid,
  customerCode: c.CustomerCode,
  customerName: c.CustomerName,
  customerType: c.CustomerType,
  email: c.Email,
  phoneNumber: c.PhoneNumber,
  currencyCode: c.Currency.CurrencyCode,
  obsolete: c.Obsolete,
  createdOn: iso(c.CreatedOn),
  lastModifiedOn: iso(c.LastModifiedOn),
});

describe('Unleashed connector (e2e, simulator)', () => {
  let sim: UnleashedSimulator;
  let started: StartedApp;
  const clients: Client[] = [];
  const results: ToolResult[] = [];
  let reader: Client;
  let readerToken: string;

  async function connect(token: string): Promise<Client> {
    const client = new Client({ name: 'e2e-unleashed', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(`${started.url}/mcp`), {
      requestInit: { headers: bearer(token) },
    });
    await client.connect(transport);
    clients.push(client);
    return client;
  }
  async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<ToolResult> {
    const result = (await client.callTool({ name, arguments: args })) as ToolResult;
    results.push(result);
    return result;
  }
  const ok = async <T>(name: string, args: Record<string, unknown> = {}): Promise<Page<T>> => {
    const result = await call(reader, name, args);
    if (result.isError) throw new Error(`unexpected tool error: ${textOf(result)}`);
    return result.structuredContent as unknown as Page<T>;
  };
  const live = () => sim.products.filter((p) => !p.Obsolete);

  beforeAll(async () => {
    sim = await startUnleashedSimulator(CREDS);
    // A Retry-After longer than 2 s is told to the caller rather than waited for.
    started = await startApp({
      ...AUTH_ENV,
      UNLEASHED_BASE_URL: sim.url,
      // These tests count what reaches the upstream; the answer cache has a spec of its own (tool-result-cache).
      MCP_TOOL_CACHE_TTL: '0',
      UPSTREAM_MAX_RETRY_WAIT_MS: '2000',
    });
    const admin = await issueKey(started, 'org-u', ['credentials:write'], 'admin');
    const put = await request(started.url).put('/credentials/unleashed').set(bearer(admin.token)).send(CREDS);
    expect(put.status).toBe(201);
    const badAdmin = await issueKey(started, 'org-wrong', ['credentials:write'], 'admin wrong');
    const putWrong = await request(started.url)
      .put('/credentials/unleashed')
      .set(bearer(badAdmin.token))
      .send(WRONG);
    expect(putWrong.status).toBe(201);
    readerToken = (await issueKey(started, 'org-u', ['unleashed:read'], 'reader')).token;
    reader = await connect(readerToken);
  });

  beforeEach(() => sim.reset());

  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    await started?.close();
    await sim?.close();
  });

  it('lists both tools, with bounded paging in their schemas', async () => {
    const { tools } = await reader.listTools();
    const products = tools.find((t) => t.name === 'unleashed_list_products');
    const stock = tools.find((t) => t.name === 'unleashed_stock_on_hand');
    expect(products?.annotations?.readOnlyHint).toBe(true);
    expect(stock).toBeDefined();
    const props = products!.inputSchema.properties as Record<string, Record<string, unknown>>;
    expect(props.pageSize).toMatchObject({ minimum: 1, maximum: 1000, default: 200 });
    expect(props.page).toMatchObject({ minimum: 1, default: 1 });
  });

  it('signs each request as Unleashed expects, with paging in the path', async () => {
    await ok('unleashed_list_products', { page: 2, pageSize: 10, productCode: 'BEV' });
    expect(sim.requests).toHaveLength(1);
    const [req] = sim.requests;
    expect(req.status).toBe(200);
    expect(req.method).toBe('GET');
    expect(req.path).toBe('/Products/2');
    expect(req.query).toBe('pageSize=10&productCode=BEV&includeObsolete=false');
    expect(req.headers['api-auth-id']).toBe(CREDS.apiId);
    expect(req.headers['api-auth-signature']).toBe(unleashedSignature(req.query, CREDS.apiKey));
    expect(req.headers.accept).toBe('application/json');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['client-type']).toBe('sentia/mcp');
    // The MCP caller's token never goes upstream.
    expect(req.headers.authorization).toBeUndefined();
    expect(JSON.stringify(req.headers)).not.toContain(readerToken.split('.').pop()!);
  });

  it('reads the stored credentials through the cache: a miss, then hits (cache_requests_total)', async () => {
    const metrics = started.app.get(MetricsService);
    const count = async (result: string) =>
      (await metrics.cacheRequestsTotal.get()).values.find(
        (v) => v.labels.cache === 'credentials' && v.labels.result === result,
      )?.value ?? 0;
    started.app.get(CredentialsService).clearCache();
    const [miss0, hit0] = [await count('miss'), await count('hit')];
    await ok('unleashed_list_products', { pageSize: 1 });
    await ok('unleashed_list_products', { pageSize: 1 });
    await ok('unleashed_stock_on_hand', { pageSize: 1 });
    expect((await count('miss')) - miss0).toBe(1);
    expect((await count('hit')) - hit0).toBe(2);
  });

  it('maps products to camelCase with ISO dates and pages through all of them', async () => {
    const first = await ok<Product>('unleashed_list_products', { pageSize: 10 });
    expect(first.pagination).toEqual({ page: 1, pageSize: 10, numberOfPages: 4, numberOfItems: 32 });
    const p = sim.products[0];
    expect(first.items[0]).toEqual({
      guid: p.Guid,
      productCode: p.ProductCode,
      productDescription: p.ProductDescription,
      barcode: p.Barcode,
      unitOfMeasure: 'EA',
      productGroup: 'Beverages',
      defaultSellPrice: p.DefaultSellPrice,
      defaultPurchasePrice: p.DefaultPurchasePrice,
      isSellable: true,
      obsolete: false,
      createdOn: new Date(FIRST_MODIFIED_MS - 30 * DAY).toISOString(),
      lastModifiedOn: '2024-01-01T09:30:00.000Z',
    });
    const codes = first.items.map((i) => i.productCode);
    for (let page = 2; page <= first.pagination.numberOfPages; page++) {
      const next = await ok<Product>('unleashed_list_products', { page, pageSize: 10 });
      expect(next.pagination.page).toBe(page);
      codes.push(...next.items.map((i) => i.productCode));
    }
    expect(codes).toEqual(live().map((l) => l.ProductCode));
    expect(sim.requests.map((r) => r.path)).toEqual([
      '/Products/1',
      '/Products/2',
      '/Products/3',
      '/Products/4',
    ]);
    // Nulls where Unleashed has none (every 5th product has no barcode).
    expect(first.items.find((i) => i.productCode === sim.products[4].ProductCode)?.barcode).toBeNull();
  });

  it('passes the product filters on', async () => {
    const beverages = await ok<Product>('unleashed_list_products', { productCode: 'bev' });
    expect(beverages.items.length).toBeGreaterThan(0);
    expect(beverages.items.every((i) => i.productCode.startsWith('BEV-') && i.obsolete === false)).toBe(true);
    const all = await ok<Product>('unleashed_list_products', { includeObsolete: true, pageSize: 1000 });
    expect(all.pagination.numberOfItems).toBe(sim.products.length);
    expect(all.items.filter((i) => i.obsolete)).toHaveLength(sim.products.length - live().length);
    const snacks = await ok<Product>('unleashed_list_products', { productGroup: 'Snacks' });
    expect(new Set(snacks.items.map((i) => i.productGroup))).toEqual(new Set(['Snacks']));
    const recent = await ok<Product>('unleashed_list_products', { modifiedSince: '2024-02-01' });
    expect(recent.items.map((i) => i.productCode)).toEqual(
      live()
        .filter((l) => Number(/\d+/.exec(l.LastModifiedOn)![0]) >= Date.UTC(2024, 1, 1))
        .map((l) => l.ProductCode),
    );
    expect(sim.requests.at(-1)?.query).toBe('pageSize=200&modifiedSince=2024-02-01&includeObsolete=false');
  });

  it('lists stock on hand with its filters', async () => {
    // Without warehouseCode, Unleashed's documented answer: one row per product, totalled across warehouses,
    // with empty warehouse fields, which the tool gives as null.
    const page = await ok<Stock>('unleashed_stock_on_hand', { pageSize: 25 });
    expect(page.pagination).toEqual({
      page: 1,
      pageSize: 25,
      numberOfPages: 2,
      numberOfItems: sim.stockTotals.length,
    });
    expect(sim.stockTotals.length).toBe(live().length);
    const total = sim.stockTotals[3];
    expect(total.WarehouseCode).toBe('');
    expect(page.items[3]).toEqual({
      productGuid: total.ProductGuid,
      productCode: total.ProductCode,
      productDescription: total.ProductDescription,
      warehouseCode: null,
      warehouseName: null,
      qtyOnHand: total.QtyOnHand,
      allocatedQty: total.AllocatedQty,
      availableQty: total.AvailableQty,
      avgCost: total.AvgCost,
      totalCost: total.TotalCost,
      lastModifiedOn: new Date(Number(/\d+/.exec(total.LastModifiedOn)![0])).toISOString(),
    });
    const product = sim.products[2];
    const one = await ok<Stock>('unleashed_stock_on_hand', {
      productId: product.Guid,
      warehouseCode: 'EAST',
    });
    const s = sim.stock.find((row) => row.ProductGuid === product.Guid && row.WarehouseCode === 'EAST')!;
    expect(one.items).toEqual([
      {
        productGuid: product.Guid,
        productCode: product.ProductCode,
        productDescription: product.ProductDescription,
        warehouseCode: 'EAST',
        warehouseName: 'East Depot',
        qtyOnHand: s.QtyOnHand,
        allocatedQty: s.AllocatedQty,
        availableQty: s.AvailableQty,
        avgCost: s.AvgCost,
        totalCost: s.TotalCost,
        lastModifiedOn: new Date(Number(/\d+/.exec(s.LastModifiedOn)![0])).toISOString(),
      },
    ]);
    expect(sim.requests.at(-1)).toMatchObject({
      path: '/StockOnHand/1',
      query: `pageSize=200&warehouseCode=EAST&productId=${product.Guid}`,
    });
  });

  it('gives each product’s total once, and the rows per warehouse add up to it', async () => {
    const totals = await ok<Stock>('unleashed_stock_on_hand', { pageSize: 1000 });
    const perWarehouse: Stock[] = [];
    for (const warehouseCode of ['MAIN', 'EAST'])
      perWarehouse.push(
        ...(await ok<Stock>('unleashed_stock_on_hand', { warehouseCode, pageSize: 1000 })).items,
      );
    const codes = totals.items.map((t) => t.productCode);
    expect(codes).toEqual(live().map((l) => l.ProductCode));
    expect(totals.items.every((t) => t.warehouseCode === null && t.warehouseName === null)).toBe(true);
    expect(perWarehouse).toHaveLength(2 * codes.length);
    for (const t of totals.items) {
      const rows = perWarehouse.filter((r) => r.productCode === t.productCode);
      expect(rows.map((r) => r.warehouseCode)).toEqual(['MAIN', 'EAST']);
      for (const field of ['qtyOnHand', 'allocatedQty', 'availableQty'])
        expect([t.productCode, field, t[field]]).toEqual([
          t.productCode,
          field,
          rows.reduce((n, r) => n + (r[field] as number), 0),
        ]);
      expect(t.totalCost).toBeCloseTo(
        rows.reduce((n, r) => n + (r.totalCost as number), 0),
        6,
      );
    }
  });

  it('lists the order and customer tools as read-only, with their filters and bounded paging', async () => {
    const { tools } = await reader.listTools();
    for (const name of [
      'unleashed_list_sales_orders',
      'unleashed_list_purchase_orders',
      'unleashed_list_customers',
    ]) {
      const tool = tools.find((t) => t.name === name);
      expect(tool?.annotations).toMatchObject({
        readOnlyHint: true,
        idempotentHint: true,
        openWorldHint: true,
      });
      const props = tool!.inputSchema.properties as Record<string, Record<string, unknown>>;
      expect(props.pageSize).toMatchObject({ minimum: 1, maximum: 1000, default: 200 });
      expect(tool!.description).toContain('numberOfPages');
    }
    const sales = tools.find((t) => t.name === 'unleashed_list_sales_orders')!;
    expect(Object.keys(sales.inputSchema.properties!).sort()).toEqual(
      ['customerCode', 'endDate', 'modifiedSince', 'orderStatus', 'page', 'pageSize', 'startDate'].sort(),
    );
  });

  it('maps sales orders with their customer, signing the filtered request', async () => {
    const page = await ok<Order>('unleashed_list_sales_orders', {
      orderStatus: ['Completed', 'Placed'],
      customerCode: 'harb',
      startDate: '2024-03-02',
      endDate: '2024-04-10',
      pageSize: 50,
    });
    const [req] = sim.requests;
    expect(req.path).toBe('/SalesOrders/1');
    expect(req.query).toBe(
      'pageSize=50&orderStatus=Completed%2CPlaced&startDate=2024-03-02&endDate=2024-04-10&customerCode=harb',
    );
    expect(req.headers['api-auth-id']).toBe(CREDS.apiId);
    expect(req.headers['api-auth-signature']).toBe(unleashedSignature(req.query, CREDS.apiKey));
    expect(req.headers.authorization).toBeUndefined();

    const expected = sim.salesOrders.filter(
      (o) =>
        ['Completed', 'Placed'].includes(o.OrderStatus) &&
        o.Customer.CustomerCode.startsWith('HARB') &&
        msOf(o.OrderDate) >= Date.UTC(2024, 2, 2) &&
        msOf(o.OrderDate) <= Date.UTC(2024, 3, 10),
    );
    expect(expected.length).toBeGreaterThan(1);
    expect(page.items).toEqual(
      expected.map((o) => ({
        ...orderOf(o),
        customerCode: o.Customer.CustomerCode,
        customerName: o.Customer.CustomerName,
      })),
    );
    expect(page.items.some((i) => i.completedDate === null)).toBe(true);
    expect(page.items.some((i) => typeof i.completedDate === 'string')).toBe(true);
  });

  it('pages through sales orders, Deleted ones left out unless asked for', async () => {
    const numbers: string[] = [];
    const first = await ok<Order>('unleashed_list_sales_orders', { pageSize: 10 });
    for (let page = 1; page <= first.pagination.numberOfPages; page++) {
      const next =
        page === 1 ? first : await ok<Order>('unleashed_list_sales_orders', { page, pageSize: 10 });
      expect(next.pagination.page).toBe(page);
      numbers.push(...next.items.map((i) => i.orderNumber));
    }
    const live = sim.salesOrders.filter((o) => o.OrderStatus !== 'Deleted');
    expect(first.pagination).toMatchObject({
      numberOfItems: live.length,
      numberOfPages: Math.ceil(live.length / 10),
    });
    expect(numbers).toEqual(live.map((o) => o.OrderNumber));
    expect(sim.requests.map((r) => r.path)).toEqual([
      '/SalesOrders/1',
      '/SalesOrders/2',
      '/SalesOrders/3',
      '/SalesOrders/4',
    ]);
    const deleted = await ok<Order>('unleashed_list_sales_orders', { orderStatus: ['Deleted'] });
    expect(deleted.items.map((i) => i.orderStatus)).toEqual(
      sim.salesOrders.filter((o) => o.OrderStatus === 'Deleted').map(() => 'Deleted'),
    );
  });

  it('maps purchase orders with their supplier and pages them', async () => {
    const first = await ok<Order>('unleashed_list_purchase_orders', { pageSize: 4 });
    const live = sim.purchaseOrders.filter((o) => o.OrderStatus !== 'Deleted');
    expect(first.pagination).toEqual({
      page: 1,
      pageSize: 4,
      numberOfPages: Math.ceil(live.length / 4),
      numberOfItems: live.length,
    });
    expect(first.items).toEqual(
      live.slice(0, 4).map((o) => ({
        ...orderOf(o),
        supplierCode: o.Supplier.SupplierCode,
        supplierName: o.Supplier.SupplierName,
      })),
    );
    const last = await ok<Order>('unleashed_list_purchase_orders', {
      page: first.pagination.numberOfPages,
      pageSize: 4,
    });
    expect(last.items.map((i) => i.orderNumber)).toEqual(
      live.slice((first.pagination.numberOfPages - 1) * 4).map((o) => o.OrderNumber),
    );
    const receipted = await ok<Order>('unleashed_list_purchase_orders', {
      orderStatus: ['Receipted', 'Costed'],
      modifiedSince: '2024-03-05',
    });
    expect(receipted.items.length).toBeGreaterThan(0);
    expect(receipted.items.every((i) => ['Receipted', 'Costed'].includes(i.orderStatus))).toBe(true);
    expect(sim.requests.map((r) => `${r.path}?${r.query}`)).toEqual([
      '/PurchaseOrders/1?pageSize=4',
      `/PurchaseOrders/${first.pagination.numberOfPages}?pageSize=4`,
      '/PurchaseOrders/1?pageSize=200&orderStatus=Receipted%2CCosted&modifiedSince=2024-03-05',
    ]);
    expect(
      sim.requests.every(
        (r) => r.headers['api-auth-signature'] === unleashedSignature(r.query, CREDS.apiKey),
      ),
    ).toBe(true);
  });

  it('maps customers, leaving obsolete ones out unless asked, and filters by code and name', async () => {
    const page = await ok<Customer>('unleashed_list_customers', { pageSize: 5, page: 2 });
    const live = sim.customers.filter((c) => !c.Obsolete);
    expect(page.pagination).toEqual({
      page: 2,
      pageSize: 5,
      numberOfPages: Math.ceil(live.length / 5),
      numberOfItems: live.length,
    });
    expect(page.items).toEqual(live.slice(5, 10).map(customerOf));
    expect(page.items.some((c) => c.phoneNumber === null)).toBe(true);
    const all = await ok<Customer>('unleashed_list_customers', { includeObsolete: true, pageSize: 1000 });
    expect(all.items).toEqual(sim.customers.map(customerOf));
    const named = await ok<Customer>('unleashed_list_customers', {
      customerName: 'Kauri',
      customerCode: 'KAUR',
    });
    expect(named.items.map((c) => c.customerCode)).toEqual(
      live.filter((c) => c.CustomerName.startsWith('Kauri')).map((c) => c.CustomerCode),
    );
    expect(sim.requests.map((r) => `${r.path}?${r.query}`)).toEqual([
      '/Customers/2?pageSize=5&includeObsolete=false',
      '/Customers/1?pageSize=1000&includeObsolete=true',
      '/Customers/1?pageSize=200&customerCode=KAUR&customerName=Kauri&includeObsolete=false',
    ]);
    expect(sim.requests.map((r) => r.status)).toEqual([200, 200, 200]);
  });

  it('refuses bad order and customer arguments, naming each field, without calling Unleashed', async () => {
    const status = await call(reader, 'unleashed_list_sales_orders', { orderStatus: ['Shipped'] });
    expect(status.isError).toBe(true);
    expect(textOf(status)).toContain(
      'orderStatus.0: must be one of: Parked, Placed, Backordered, Completed, Deleted',
    );
    // The range is checked once each field is valid on its own.
    const range = await call(reader, 'unleashed_list_sales_orders', {
      startDate: '2024-03-10',
      endDate: '2024-03-01',
    });
    expect(range.isError).toBe(true);
    expect(textOf(range)).toContain('endDate: must not be before startDate');
    const purchase = await call(reader, 'unleashed_list_purchase_orders', {
      startDate: '2024-13-01',
      orderStatus: ['Placed', 'Placed'],
    });
    expect(textOf(purchase)).toContain('startDate: must be a calendar date YYYY-MM-DD');
    expect(textOf(purchase)).toContain('orderStatus: must not name a status twice');
    const wrongKind = await call(reader, 'unleashed_list_purchase_orders', { orderStatus: ['Backordered'] });
    expect(textOf(wrongKind)).toContain('orderStatus');
    const customers = await call(reader, 'unleashed_list_customers', {
      customerCode: '',
      pageSize: 0,
      supplierCode: 'X',
    });
    expect(customers.isError).toBe(true);
    for (const field of ['customerCode', 'pageSize', 'supplierCode'])
      expect(textOf(customers)).toContain(field);
    expect(sim.requests).toHaveLength(0);
  });

  it('refuses the order and customer tools to a key without unleashed:read, and hides them', async () => {
    const other = await connect((await issueKey(started, 'org-u', ['shopify:read'], 'shopify only')).token);
    for (const name of [
      'unleashed_list_sales_orders',
      'unleashed_list_purchase_orders',
      'unleashed_list_customers',
    ]) {
      const denied = await call(other, name);
      expect(denied.isError).toBe(true);
      expect(textOf(denied)).toContain('unleashed:read');
    }
    const names = (await other.listTools()).tools.map((t) => t.name);
    expect(names.filter((n) => n.startsWith('unleashed_'))).toEqual([]);
    expect(sim.requests).toHaveLength(0);
  });

  it('refuses invalid arguments by name, without calling Unleashed', async () => {
    const bad = await call(reader, 'unleashed_list_products', {
      modifiedSince: '01/02/2024',
      pageSize: 5000,
    });
    expect(bad.isError).toBe(true);
    expect(textOf(bad)).toContain('modifiedSince');
    expect(textOf(bad)).toContain('pageSize');
    const badId = await call(reader, 'unleashed_stock_on_hand', { productId: 'BEV-001', page: 0 });
    expect(textOf(badId)).toContain('productId');
    expect(textOf(badId)).toContain('page');
    expect(sim.requests).toHaveLength(0);
  });

  it('refuses a key without unleashed:read', async () => {
    const other = await connect((await issueKey(started, 'org-u', ['xero:read'], 'xero only')).token);
    const denied = await call(other, 'unleashed_list_products');
    expect(denied.isError).toBe(true);
    expect(textOf(denied)).toContain('unleashed:read');
    expect(sim.requests).toHaveLength(0);
  });

  it('says how to fix missing credentials', async () => {
    const none = await connect((await issueKey(started, 'org-none', ['unleashed:read'], 'no creds')).token);
    const result = await call(none, 'unleashed_stock_on_hand');
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain('PUT /credentials/unleashed');
    expect(sim.requests).toHaveLength(0);
  });

  it('says how to fix credentials Unleashed refuses', async () => {
    const wrong = await connect((await issueKey(started, 'org-wrong', ['unleashed:read'], 'wrong')).token);
    const result = await call(wrong, 'unleashed_list_products');
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain('HTTP 403');
    expect(textOf(result)).toContain('PUT /credentials/unleashed');
    expect(sim.requests.map((r) => r.status)).toEqual([403]);
  });

  it('passes on a 400 message from a known field only', async () => {
    sim.failNext(400, {
      body: { Description: 'The productGroup does not exist.', Debug: 'internal-SECRET' },
    });
    const result = await call(reader, 'unleashed_list_products', { productGroup: 'Nope' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain('The productGroup does not exist.');
    expect(textOf(result)).not.toContain('internal-SECRET');
  });

  it('waits out a 429 with Retry-After and retries', async () => {
    sim.failNext(429, { retryAfter: 1 });
    const t0 = Date.now();
    const page = await ok<Product>('unleashed_list_products', { pageSize: 5 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(page.items).toHaveLength(5);
    expect(sim.requests.map((r) => r.status)).toEqual([429, 200]);
    // The retry is signed afresh, as the first.
    expect(sim.requests[1].headers['api-auth-signature']).toBe(
      unleashedSignature(sim.requests[1].query, CREDS.apiKey),
    );
  });

  it('retries a 503 on these reads', async () => {
    sim.failNext(503);
    const page = await ok<Stock>('unleashed_stock_on_hand', { pageSize: 5 });
    expect(page.items).toHaveLength(5);
    expect(sim.requests.map((r) => r.status)).toEqual([503, 200]);
  });

  it('says when to retry if the 429 persists', async () => {
    sim.failNext(429, { retryAfter: 7, times: 20 });
    const result = await call(reader, 'unleashed_list_products');
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/retry after 7 ?s/i);
    // 7 s is over the longest wait configured here, so the caller is told at once.
    expect(sim.requests.map((r) => r.status)).toEqual([429]);
  });

  it('reports an upstream that keeps failing', async () => {
    sim.failNext(500, { times: 20 });
    const result = await call(reader, 'unleashed_stock_on_hand');
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain('Unleashed is failing (HTTP 500)');
    // The first attempt and the foundation's two retries (UPSTREAM_MAX_RETRIES default).
    expect(sim.requests.map((r) => r.status)).toEqual([500, 500, 500]);
  });

  it('never puts a stored secret in a tool result', () => {
    expect(results.length).toBeGreaterThan(10);
    const all = JSON.stringify(results);
    for (const secret of [CREDS.apiKey, WRONG.apiKey]) {
      for (const form of [
        secret,
        Buffer.from(secret).toString('base64'),
        Buffer.from(secret).toString('hex'),
      ])
        expect(all).not.toContain(form);
    }
    expect(all).not.toContain(readerToken);
  });
});
