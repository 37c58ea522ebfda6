/**
 * A local stand-in for the Shopify GraphQL Admin API (UPSTREAMS.md), on
 * 127.0.0.1 with a free port:
 *
 *   POST /admin/api/{YYYY-01|04|07|10}/graphql.json   X-Shopify-Access-Token
 *
 * It has no GraphQL engine or schema: it reads the operation
 * (shopify-operation.ts), refuses what Shopify's validation refuses (unused or undeclared variables,
 * values of the wrong type, unknown fields), answers the root fields `orders`,
 * `products`, `customers`, `inventoryItems` and `shop` from seeded data, from
 * their arguments (literals or variables), with real `first`/`after` cursor
 * paging (at most 250 a page), GIDs, camelCase and money as strings, and
 * keeps only the fields the query selects. A body not sent as
 * `Content-Type: application/json` is not read (400, as for a missing query).
 * Every answer carries `extensions.cost` from a real leaky bucket (default
 * 1000 points, restoring 100 a second); a query whose requested cost the
 * bucket lacks gets Shopify's HTTP 200 `THROTTLED` error with no `data`.
 * Costs follow Shopify's rules: an object 1 point, a connection 2 plus its
 * `first`, nested connections multiply; a query over 1000 points is refused
 * (`MAX_COST_EXCEEDED`). They are counted for the connector's own selections,
 * whatever fields a query selects.
 *
 *   const sim = await startShopifySimulator({ accessToken: 'shpat_x' });
 *   sim.failNext(429, { retryAfter: 1 });  sim.drain();  sim.setRestoreRate(1);
 *   sim.requests  // what was sent
 */
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  matchesSearch,
  seedCustomers,
  seedOrders,
  seedProducts,
  SimCustomer,
  SimOrder,
  SimProduct,
} from './shopify.data';
import { pageOf, pagingOf } from './shopify-paging';
import {
  argsOf,
  checkVariableUse,
  checkVariableValues,
  Field,
  fieldAt,
  GraphQlError,
  Operation,
  pickOperation,
  project,
  readOperations,
} from './shopify-operation';
import {
  inventoryAnswer,
  seedInventory,
  seedLocations,
  SimInventoryItem,
  SimLocation,
} from './shopify-inventory.data';

export interface ShopifySimulatorOptions {
  accessToken?: string;
  orders?: number;
  products?: number;
  customers?: number;
  /** Locations inventory is kept at (default 12); every product variant has an inventory item. */
  locations?: number;
  restoreRate?: number;
  maximumAvailable?: number;
  /** `shop { name }` (default "Sentia Simulated Store"). */
  shopName?: string;
}

export interface RecordedShopifyRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  operationName?: string;
  variables?: Record<string, unknown>;
  query?: string;
}

export interface ShopifySimulator {
  url: string;
  accessToken: string;
  orders: SimOrder[];
  products: SimProduct[];
  customers: SimCustomer[];
  locations: SimLocation[];
  inventoryItems: SimInventoryItem[];
  requests: RecordedShopifyRequest[];
  /** The next `times` (default 1) requests answer `status` (429, 503, ...), with Retry-After when given. */
  failNext(status: number, opts?: { retryAfter?: number; times?: number }): void;
  setRestoreRate(pointsPerSecond: number): void;
  /** Empties the bucket down to `to` points (default 0). */
  drain(to?: number): void;
  /** Points available now. */
  available(): number;
  /** Forgets recorded requests and pending failures; refills the bucket. */
  reset(): void;
  close(): Promise<void>;
}

export const MAX_QUERY_COST = 1000;
const PATH = /^\/admin\/api\/(\d{4}-(?:01|04|07|10))\/graphql\.json$/;
const UNAUTHORIZED = '[API] Invalid API key or access token (unrecognized login or wrong password)';

type Answer = {
  data?: unknown;
  errors?: GraphQlError[];
  requested: number;
  actual: (data: unknown) => number;
};

export async function startShopifySimulator(opts: ShopifySimulatorOptions = {}): Promise<ShopifySimulator> {
  const accessToken = opts.accessToken ?? 'shpat_simulator_token_0001';
  const maximum = opts.maximumAvailable ?? 1000;
  let rate = opts.restoreRate ?? 100;
  let level = maximum;
  let levelAt = performance.now();
  const failures: { status: number; retryAfter?: number }[] = [];
  const orders = seedOrders(opts.orders ?? 60);
  const products = seedProducts(opts.products ?? 40);
  const customers = seedCustomers(opts.customers ?? 45);
  const locations = seedLocations(opts.locations ?? 12);
  const inventoryItems = seedInventory(products, locations);
  const requests: RecordedShopifyRequest[] = [];

  const refill = (): number => {
    const now = performance.now();
    level = Math.min(maximum, level + ((now - levelAt) / 1000) * rate);
    levelAt = now;
    return level;
  };
  const cost = (requested: number, actual: number | null) => ({
    requestedQueryCost: requested,
    actualQueryCost: actual,
    throttleStatus: {
      maximumAvailable: maximum,
      currentlyAvailable: Math.floor(refill()),
      restoreRate: rate,
    },
  });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const raw = await readBody(req);
    const path = (req.url ?? '').split('?')[0];
    const record: RecordedShopifyRequest = { method: req.method ?? '', path, headers: req.headers };
    requests.push(record);
    const failure = failures.shift();
    if (failure) {
      const headers: Record<string, string> =
        failure.retryAfter !== undefined ? { 'retry-after': String(failure.retryAfter) } : {};
      const message = failure.status === 429 ? 'Exceeded 2 calls per second for api client.' : 'Unavailable';
      return send(res, failure.status, { errors: message }, headers);
    }
    if (req.method !== 'POST' || !PATH.test(path)) return send(res, 404, { errors: 'Not Found' });
    if (req.headers['x-shopify-access-token'] !== accessToken)
      return send(res, 401, { errors: UNAUTHORIZED });
    // A JSON body is read only when declared so (Content-Type: application/json); otherwise there is no
    // query parameter to find (the status and body are this simulator's reading, not confirmed).
    if (!/^application\/json\s*(;|$)/i.test(String(req.headers['content-type'] ?? '')))
      return send(res, 400, { errors: { query: 'Required parameter missing or invalid' } });
    let body: { query?: unknown; variables?: unknown; operationName?: unknown };
    try {
      body = JSON.parse(raw) as typeof body;
    } catch {
      return send(res, 400, { errors: { query: 'Required parameter missing or invalid' } });
    }
    if (typeof body?.query !== 'string') {
      return send(res, 400, { errors: { query: 'Required parameter missing or invalid' } });
    }
    const query = body.query;
    const variables = (isRecord(body.variables) ? body.variables : {}) as Record<string, unknown>;
    const named = typeof body.operationName === 'string' ? body.operationName : undefined;
    const ops = readOperations(query);
    const op = Array.isArray(ops) ? pickOperation(ops, named) : ops;
    const operationName = named ?? ('selections' in op ? op.name : undefined);
    Object.assign(record, { query, variables, operationName });
    const refuse = (errors: GraphQlError[]) => send(res, 200, { errors, extensions: { cost: cost(0, 0) } });

    // Checked before anything runs, as Shopify does: the document, then the variables' use, then their values.
    if (!('selections' in op)) return refuse([op]);
    const misused = checkVariableUse(op);
    if (misused.length > 0) return refuse(misused);
    const invalid = checkVariableValues(op, variables);
    if (invalid.length > 0) return refuse(invalid);

    // Each root field answered from its arguments (literals or variables, by argument, not by variable name).
    const data: Record<string, unknown> = {};
    let requested = 0;
    const actuals: (() => number)[] = [];
    for (const field of op.selections) {
      const answer = answerFor(field, op, variables);
      if (answer.errors) return refuse(answer.errors);
      // Only the fields the query selects, as Shopify answers; a field the data lacks is refused.
      const shaped = project(answer.data, field);
      if ('errors' in shaped) return refuse(shaped.errors);
      data[field.key] = shaped.data;
      requested += answer.requested;
      actuals.push(() => answer.actual(answer.data));
    }
    if (requested > MAX_QUERY_COST) {
      const message = `Query cost is ${requested}, which exceeds the single query max cost limit (${MAX_QUERY_COST}).`;
      return send(res, 200, {
        errors: [
          { message, extensions: { code: 'MAX_COST_EXCEEDED', cost: requested, maxCost: MAX_QUERY_COST } },
        ],
        extensions: { cost: cost(requested, null) },
      });
    }
    if (refill() < requested) {
      return send(res, 200, {
        errors: [{ message: 'Throttled', extensions: { code: 'THROTTLED' } }],
        extensions: { cost: cost(requested, null) },
      });
    }
    const actual = actuals.reduce((n, a) => n + a(), 0);
    level -= actual;
    send(res, 200, { data, extensions: { cost: cost(requested, actual) } });
  };

  /** The unshaped answer to one root field; `project` keeps what the query selects. */
  const answerFor = (field: Field, op: Operation, vars: Record<string, unknown>): Answer => {
    const args = argsOf(field, op, vars);
    const nested = (...path: string[]) => {
      const at = fieldAt(field.selections, ...path);
      return at ? argsOf(at, op, vars) : undefined;
    };
    // The connector only reads: the simulator has no mutation (or subscription) fields.
    if (op.kind !== 'query') {
      const root = op.kind === 'mutation' ? 'Mutation' : 'Subscription';
      return fail(`Field '${field.name}' doesn't exist on type '${root}'`, 'undefinedField');
    }
    if (field.name === 'shop') {
      // shop: one object, one point; not a connection, so no paging.
      return { data: { name: opts.shopName ?? 'Sentia Simulated Store' }, requested: 1, actual: () => 1 };
    }
    const connections = ['orders', 'products', 'customers', 'inventoryItems'];
    if (!connections.includes(field.name))
      return fail(`Field '${field.name}' doesn't exist on type 'QueryRoot'`, 'undefinedField');
    const paging = pagingOf(args);
    if (typeof paging === 'string') return fail(paging);
    const search = typeof args.query === 'string' ? args.query : undefined;
    if (field.name === 'orders') {
      // sortKey: CREATED_AT (the seed is in creation order); `reverse: true` is newest first.
      const all = orders.filter((o) =>
        matchesSearch(search, o.name, { financial_status: o.displayFinancialStatus }),
      );
      if (args.reverse === true) all.reverse();
      const page = pageOf(all, paging, 'Order');
      if (typeof page === 'string') return fail(page);
      // orders(first) + pageInfo; each order: itself, totalPriceSet, shopMoney, customer, defaultEmailAddress.
      return { data: page, requested: 3 + paging.first * 5, actual: () => 3 + page.nodes.length * 5 };
    }
    if (field.name === 'products') {
      const variantsArgs = nested('nodes', 'variants');
      const variants = variantsArgs ? pagingOf(variantsArgs) : { first: 0 };
      if (typeof variants === 'string') return fail(variants);
      const all = products.filter((p) => matchesSearch(search, p.title, { status: p.status }));
      const page = pageOf(all, paging, 'Product');
      if (typeof page === 'string') return fail(page);
      const shaped = {
        ...page,
        nodes: page.nodes.map((p) => ({
          ...p,
          variantsCount: { count: p.variants.length },
          variants: { nodes: p.variants.slice(0, variants.first) },
        })),
      };
      // products(first) + pageInfo; each product: itself, variantsCount, variants(first) (2 + first).
      return {
        data: shaped,
        requested: 3 + paging.first * (4 + variants.first),
        actual: () => 3 + shaped.nodes.reduce((n, p) => n + 4 + p.variants.nodes.length, 0),
      };
    }
    if (field.name === 'customers') {
      const all = customers.filter((c) =>
        matchesSearch(search, `${c.displayName} ${c.defaultEmailAddress?.emailAddress ?? ''}`, {
          state: c.state,
          email: c.defaultEmailAddress?.emailAddress ?? null,
        }),
      );
      const page = pageOf(all, paging, 'Customer');
      if (typeof page === 'string') return fail(page);
      // customers(first) + pageInfo; each customer: itself, defaultEmailAddress, amountSpent.
      return { data: page, requested: 3 + paging.first * 3, actual: () => 3 + page.nodes.length * 3 };
    }
    const levelsArgs = nested('nodes', 'inventoryLevels');
    const levels = levelsArgs ? pagingOf(levelsArgs) : { first: 0 };
    if (typeof levels === 'string') return fail(levels);
    const quantities = nested('nodes', 'inventoryLevels', 'nodes', 'quantities');
    const answer = inventoryAnswer(inventoryItems, paging, search, levels.first, quantities);
    if (typeof answer === 'string') return fail(answer);
    return { data: answer.data, requested: answer.requested, actual: () => answer.actual };
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => send(res, 500, { errors: 'Internal Server Error' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    accessToken,
    orders,
    products,
    customers,
    locations,
    inventoryItems,
    requests,
    failNext: (status, o = {}) => {
      for (let i = 0; i < (o.times ?? 1); i++) failures.push({ status, retryAfter: o.retryAfter });
    },
    setRestoreRate: (r) => {
      refill();
      rate = r;
    },
    drain: (to = 0) => {
      refill();
      level = to;
    },
    available: () => refill(),
    reset: () => {
      requests.length = 0;
      failures.length = 0;
      rate = opts.restoreRate ?? 100;
      level = maximum;
      levelAt = performance.now();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function fail(message: string, code = 'argumentLiteralsIncompatible'): Answer {
  return { errors: [{ message, extensions: { code } }], requested: 0, actual: () => 0 };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(text);
}
