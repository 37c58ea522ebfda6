/**
 * A local stand-in for the Unleashed API (https://api.unleashedsoftware.com),
 * built from the facts in UPSTREAMS.md, for e2e tests of the Unleashed
 * connector. It behaves like the real API wherever the client depends on it:
 *
 * - Auth: `api-auth-id` must be the configured API id and `api-auth-signature`
 *   base64(HMAC-SHA256(key = API key as UTF-8, message = the raw query string
 *   as sent, without `?`; "" when there is none)). Anything else: 403.
 * - `client-type` must be sent (Unleashed requires it since 30 June 2025, API
 *   change log; its value is free text). Without it: 400 (the status the real
 *   API answers is unconfirmed; this is one plausible reading).
 * - `Accept` must allow `application/json`; otherwise the answer is XML, as
 *   the real API's default is (so a client that forgets the header gets a body
 *   it cannot parse as JSON).
 * - Paging in the path: `/{Resource}/{page}?pageSize=N` (page 1 when absent,
 *   pageSize 1-1000, default 200; out of range: 400). A page past the end
 *   answers an empty `Items`.
 * - Envelope `{"Pagination":{NumberOfItems,PageSize,PageNumber,NumberOfPages},"Items":[...]}`
 *   with `/Date(ms)/` dates.
 * - Resources: `Products` (productCode: code starts with it, case-insensitive;
 *   modifiedSince; includeObsolete, default false; productGroup: group name),
 *   `StockOnHand` (without warehouseCode one row per product totalled across
 *   warehouses, Guid = ProductGuid and the warehouse fields empty, as
 *   Unleashed's example shows; with warehouseCode that warehouse's rows;
 *   productId: one product Guid or several comma-separated; modifiedSince),
 *   `SalesOrders` (orderStatus: comma-separated, Deleted left
 *   out without it; customerCode: starts with it; startDate and endDate on the
 *   order date, both days included; modifiedSince), `PurchaseOrders` (the same
 *   without customerCode) and `Customers` (customerCode and customerName: start
 *   with it; modifiedSince; includeObsolete, default false). A bad filter value
 *   answers 400 `{"Description": "..."}` (Unleashed's error body shape is
 *   unconfirmed; this is one plausible reading).
 * - Unknown path: 404 with an HTML body.
 *
 * Tests can make the next requests fail (`failNext(429, { retryAfter: 1 })`),
 * and read every request received (`requests`).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { seedProducts, seedStock, SimProduct, SimStockOnHand, stockTotals } from './unleashed.seed';
import {
  BadRequest,
  filterCustomers,
  filterOrders,
  filterProducts,
  filterStock,
  startsWith,
} from './unleashed-filters';
import {
  seedCustomers,
  seedPurchaseOrders,
  seedSalesOrders,
  SimCustomer,
  SimPurchaseOrder,
  SimSalesOrder,
} from './unleashed-sales.seed';

export interface RecordedRequest {
  method: string;
  /** Path without the query, as sent (`/Products/2`). */
  path: string;
  /** The raw query string without `?` ("" when none). */
  query: string;
  headers: Record<string, string | undefined>;
  /** The status the simulator answered. */
  status: number;
}

export interface FailOptions {
  /** Seconds for the `Retry-After` header. */
  retryAfter?: number;
  /** How many next requests fail this way (default 1). */
  times?: number;
  /** The JSON body to answer with (default `{"Description": "Simulated failure"}`). */
  body?: unknown;
}

export interface UnleashedSimulator {
  /** Base URL, e.g. `http://127.0.0.1:43121` (no trailing slash). */
  url: string;
  apiId: string;
  apiKey: string;
  products: readonly SimProduct[];
  /** One row per product and warehouse: what a warehouseCode filter picks from. */
  stock: readonly SimStockOnHand[];
  /** One row per product, its warehouses totalled: the answer without warehouseCode. */
  stockTotals: readonly SimStockOnHand[];
  customers: readonly SimCustomer[];
  salesOrders: readonly SimSalesOrder[];
  purchaseOrders: readonly SimPurchaseOrder[];
  requests: RecordedRequest[];
  failNext(status: number, options?: FailOptions): void;
  /** Forgets recorded requests and pending failures. */
  reset(): void;
  close(): Promise<void>;
}

const MAX_PAGE_SIZE = 1000;
const DEFAULT_PAGE_SIZE = 200;
const ROUTE = /^\/(products|stockonhand|salesorders|purchaseorders|customers)(?:\/([^/]+))?\/?$/i;

/** What a correct client signs: base64 HMAC-SHA256 of the query string with the API key. */
export function unleashedSignature(query: string, apiKey: string): string {
  return createHmac('sha256', Buffer.from(apiKey, 'utf8')).update(query, 'utf8').digest('base64');
}

export async function startUnleashedSimulator(credentials: {
  apiId: string;
  apiKey: string;
}): Promise<UnleashedSimulator> {
  const products = seedProducts();
  const stock = seedStock(products);
  const totals = stockTotals(stock);
  const customers = seedCustomers();
  const salesOrders = seedSalesOrders(customers, products);
  const purchaseOrders = seedPurchaseOrders(products);
  /** Each resource's items matching the query's filters (path segments are case-insensitive). */
  const resources: Record<string, (params: URLSearchParams) => unknown[]> = {
    products: (params) => filterProducts(products, params),
    stockonhand: (params) => filterStock(stock, totals, params),
    salesorders: (params) =>
      filterOrders(salesOrders, params).filter((o) =>
        startsWith(o.Customer.CustomerCode, params.get('customerCode')),
      ),
    purchaseorders: (params) => filterOrders(purchaseOrders, params),
    customers: (params) => filterCustomers(customers, params),
  };
  const requests: RecordedRequest[] = [];
  let failures: { status: number; retryAfter?: number; body?: unknown }[] = [];

  const handle = (req: IncomingMessage, res: ServerResponse): number => {
    const { path, query } = splitUrl(req.url);

    const failure = failures.shift();
    if (failure) {
      const headers: Record<string, string> = {};
      if (failure.retryAfter !== undefined) headers['retry-after'] = String(failure.retryAfter);
      return json(res, failure.status, failure.body ?? { Description: 'Simulated failure' }, headers);
    }
    if (!authorised(req, query, credentials))
      return json(res, 403, { Description: 'Forbidden: the request signature is not valid.' });
    if (String(req.headers['client-type'] ?? '').trim() === '')
      return json(res, 400, { Description: 'The client-type header is required.' });
    if (req.method !== 'GET') return json(res, 405, { Description: 'Method not allowed' });
    const route = ROUTE.exec(path);
    if (!route) return html(res, 404, '<html><body><h1>404 Not Found</h1></body></html>');

    try {
      const params = new URLSearchParams(query);
      const page = parsePage(route[2]);
      const pageSize = parsePageSize(params.get('pageSize'));
      const items = resources[route[1].toLowerCase()](params);
      const envelope = {
        Pagination: {
          NumberOfItems: items.length,
          PageSize: pageSize,
          PageNumber: page,
          NumberOfPages: Math.ceil(items.length / pageSize),
        },
        Items: items.slice((page - 1) * pageSize, page * pageSize),
      };
      if (!acceptsJson(req.headers.accept)) return xml(res, envelope);
      return json(res, 200, envelope);
    } catch (e) {
      if (e instanceof BadRequest) return json(res, 400, { Description: e.message });
      throw e;
    }
  };

  const server: Server = createServer((req, res) => {
    // Unleashed GETs carry no body; drain whatever came so the socket stays usable.
    req.resume();
    req.on('end', () => {
      const status = handle(req, res);
      const headers = { ...req.headers } as Record<string, string | undefined>;
      requests.push({ method: req.method ?? '', ...splitUrl(req.url), headers, status });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    apiId: credentials.apiId,
    apiKey: credentials.apiKey,
    products,
    stock,
    stockTotals: totals,
    customers,
    salesOrders,
    purchaseOrders,
    requests,
    failNext(status, options = {}) {
      for (let i = 0; i < (options.times ?? 1); i++)
        failures.push({ status, retryAfter: options.retryAfter, body: options.body });
    },
    reset() {
      requests.length = 0;
      failures = [];
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}

function splitUrl(url: string | undefined): { path: string; query: string } {
  const raw = url ?? '/';
  const q = raw.indexOf('?');
  return q < 0 ? { path: raw, query: '' } : { path: raw.slice(0, q), query: raw.slice(q + 1) };
}

function authorised(req: IncomingMessage, query: string, creds: { apiId: string; apiKey: string }): boolean {
  const id = req.headers['api-auth-id'];
  const signature = req.headers['api-auth-signature'];
  if (typeof id !== 'string' || typeof signature !== 'string') return false;
  if (id.toLowerCase() !== creds.apiId.toLowerCase()) return false;
  const expected = Buffer.from(unleashedSignature(query, creds.apiKey));
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function acceptsJson(accept: string | undefined): boolean {
  return (accept ?? '').split(',').some((part) => /^\s*application\/json\s*(;|$)/i.test(part));
}

function parsePage(segment: string | undefined): number {
  if (segment === undefined) return 1;
  if (!/^\d{1,9}$/.test(segment) || Number(segment) < 1)
    throw new BadRequest('The page number must be a whole number of at least 1.');
  return Number(segment);
}

function parsePageSize(value: string | null): number {
  if (value === null) return DEFAULT_PAGE_SIZE;
  const n = /^\d{1,9}$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1 && n <= MAX_PAGE_SIZE))
    throw new BadRequest(`pageSize must be between 1 and ${MAX_PAGE_SIZE}.`);
  return n;
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
  return status;
}

function html(res: ServerResponse, status: number, body: string): number {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
  res.end(body);
  return status;
}

/** The real API's default representation; only its shape (not JSON) matters to a client. */
function xml(res: ServerResponse, envelope: { Pagination: Record<string, number>; Items: unknown[] }) {
  const pagination = Object.entries(envelope.Pagination)
    .map(([k, v]) => `<${k}>${v}</${k}>`)
    .join('');
  res.writeHead(200, { 'content-type': 'application/xml; charset=utf-8' });
  res.end(
    `<?xml version="1.0" encoding="utf-8"?><Response><Pagination>${pagination}</Pagination>` +
      `<Items count="${envelope.Items.length}"/></Response>`,
  );
  return 200;
}
