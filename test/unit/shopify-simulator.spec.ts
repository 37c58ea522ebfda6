/**
 * The Shopify simulator refuses what the GraphQL Admin API refuses, in
 * Shopify's shape: the connector is tested against it, so whatever it accepts
 * that Shopify would not is a connector bug it would hide.
 */
import { SHOP_NAME } from '../../src/connectors/shopify/shopify.health';
import { INVENTORY_LEVELS } from '../../src/connectors/shopify/shopify-inventory.queries';
import { LIST_CUSTOMERS, LIST_ORDERS, LIST_PRODUCTS } from '../../src/connectors/shopify/shopify.queries';
import { ShopifySimulator, startShopifySimulator } from '../simulators/shopify.simulator';

type Body = {
  data?: Record<string, unknown>;
  errors?: { message: string; extensions?: Record<string, unknown> }[] | string | Record<string, unknown>;
  extensions?: { cost?: unknown };
};

describe('Shopify GraphQL Admin API simulator', () => {
  let sim: ShopifySimulator;
  const page = { first: 2, after: null, query: null };

  beforeAll(async () => {
    sim = await startShopifySimulator({ accessToken: 'shpat_unit', orders: 5, products: 3, customers: 3 });
  });
  beforeEach(() => sim.reset());
  afterAll(() => sim.close());

  async function post(
    body: unknown,
    opts: { version?: string; token?: string; contentType?: string } = {},
  ): Promise<{ status: number; body: Body }> {
    const res = await fetch(`${sim.url}/admin/api/${opts.version ?? '2025-10'}/graphql.json`, {
      method: 'POST',
      headers: {
        'x-shopify-access-token': opts.token ?? 'shpat_unit',
        'content-type': opts.contentType ?? 'application/json',
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Body };
  }
  const gql = (query: string, variables: Record<string, unknown>, operationName?: string) =>
    post({ query, variables, ...(operationName ? { operationName } : {}) });
  const errorsOf = (b: Body) => b.errors as { message: string; extensions?: Record<string, unknown> }[];

  it("answers each of the connector's own operations with data", async () => {
    const ops: [string, string, Record<string, unknown>][] = [
      ['ListOrders', LIST_ORDERS, { ...page, reverse: true }],
      ['ListProducts', LIST_PRODUCTS, page],
      ['ListCustomers', LIST_CUSTOMERS, page],
      ['InventoryLevels', INVENTORY_LEVELS, page],
      [SHOP_NAME.name, SHOP_NAME.query, SHOP_NAME.variables],
    ];
    for (const [name, query, variables] of ops) {
      const { status, body } = await gql(query, variables, name);
      expect({ name, status, errors: body.errors }).toEqual({ name, status: 200, errors: undefined });
      expect(body.data).toBeDefined();
    }
  });

  it('refuses a declared variable the operation does not use', async () => {
    const query = LIST_ORDERS.replace('$reverse: Boolean)', '$reverse: Boolean, $since: String)');
    const { status, body } = await gql(query, { ...page, reverse: true, since: '2025-01-01' }, 'ListOrders');
    expect(status).toBe(200);
    expect(body.data).toBeUndefined();
    expect(errorsOf(body)).toEqual([
      {
        message: 'Variable $since is declared by ListOrders but not used',
        extensions: { code: 'variableNotUsed', variableName: 'since' },
      },
    ]);
  });

  it('refuses a variable the operation uses without declaring it', async () => {
    const query = LIST_ORDERS.replace(', $reverse: Boolean)', ')');
    const { status, body } = await gql(query, { ...page, reverse: true }, 'ListOrders');
    expect(status).toBe(200);
    expect(body.data).toBeUndefined();
    expect(errorsOf(body)).toEqual([
      {
        message: 'Variable $reverse is used by ListOrders but not declared',
        extensions: { code: 'variableNotDefined', variableName: 'reverse' },
      },
    ]);
  });

  it('refuses a variable declared with a type other than its argument takes', async () => {
    const query = LIST_ORDERS.replace('$first: Int!', '$first: String!');
    const { body } = await gql(query, { ...page, first: '2', reverse: true }, 'ListOrders');
    expect(body.data).toBeUndefined();
    expect(errorsOf(body)[0]).toMatchObject({
      message: 'Type mismatch on variable $first and argument first (String! / Int)',
      extensions: { code: 'variableMismatch' },
    });
  });

  it('refuses a variable value of the wrong type, or a missing required one', async () => {
    const cases: [Record<string, unknown>, string, unknown, string][] = [
      [
        { ...page, first: '2' },
        'Variable $first of type Int! was provided invalid value',
        '2',
        'Could not coerce value "2" to Int',
      ],
      [
        { ...page, first: 2.5 },
        'Variable $first of type Int! was provided invalid value',
        2.5,
        'Could not coerce value 2.5 to Int',
      ],
      [
        { after: null, query: null },
        'Variable $first of type Int! was provided invalid value',
        null,
        'Expected value to not be null',
      ],
      [
        { ...page, reverse: 'yes' },
        'Variable $reverse of type Boolean was provided invalid value',
        'yes',
        'Could not coerce value "yes" to Boolean',
      ],
      [
        { ...page, query: 7 },
        'Variable $query of type String was provided invalid value',
        7,
        'Could not coerce value 7 to String',
      ],
    ];
    for (const [variables, message, value, explanation] of cases) {
      const { status, body } = await gql(LIST_ORDERS, variables, 'ListOrders');
      expect(status).toBe(200);
      expect(body.data).toBeUndefined();
      expect(errorsOf(body)).toEqual([
        { message, extensions: { value, problems: [{ path: [], explanation }] } },
      ]);
    }
  });

  it('refuses an operationName the document does not define, a document that does not parse, and a mutation', async () => {
    const misnamed = await gql(LIST_ORDERS, { ...page, reverse: true }, 'ListOrder');
    expect(misnamed.body.data).toBeUndefined();
    expect(errorsOf(misnamed.body)).toEqual([{ message: 'No operation named "ListOrder"' }]);

    const broken = await gql(LIST_ORDERS.replace('pageInfo {', 'pageInfo '), { ...page, reverse: true });
    expect(broken.status).toBe(200);
    expect(broken.body.data).toBeUndefined();
    expect(errorsOf(broken.body)[0].message).toMatch(/^Parse error/);

    const mutation = await gql(LIST_ORDERS.replace('query ListOrders', 'mutation ListOrders'), {
      ...page,
      reverse: true,
    });
    expect(mutation.body.data).toBeUndefined();
    expect(errorsOf(mutation.body)[0].message).toBe("Field 'orders' doesn't exist on type 'Mutation'");
  });

  it('answers only the fields selected, under their aliases, and refuses a field the type lacks', async () => {
    const narrow = `query ListOrders($first: Int!) { orders(first: $first) { nodes { orderName: name } pageInfo { hasNextPage } } }`;
    const { body } = await gql(narrow, { first: 2 });
    expect(body.data).toEqual({
      orders: {
        nodes: [{ orderName: sim.orders[0].name }, { orderName: sim.orders[1].name }],
        pageInfo: { hasNextPage: true },
      },
    });

    const unknown = LIST_CUSTOMERS.replace('displayName', 'displayName\n      nickname');
    const refused = await gql(unknown, page, 'ListCustomers');
    expect(refused.body.data).toBeUndefined();
    expect(errorsOf(refused.body)).toContainEqual({
      message: "Field 'nickname' doesn't exist on type 'Customer'",
      extensions: { code: 'undefinedField', typeName: 'Customer', fieldName: 'nickname' },
    });
  });

  it('refuses an object field selected without its subfields', async () => {
    const { body } = await gql(
      LIST_PRODUCTS.replace('variantsCount { count }', 'variantsCount'),
      page,
      'ListProducts',
    );
    expect(body.data).toBeUndefined();
    expect(errorsOf(body)[0]).toMatchObject({ extensions: { code: 'selectionMismatch' } });
  });

  it('reads each argument from what the field is given, literal or variable, whatever the names', async () => {
    const paid = sim.orders.filter((o) => o.displayFinancialStatus === 'PAID').map((o) => ({ name: o.name }));
    const renamed = `query PaidOrders($n: Int!, $q: String) {
      orders(first: $n, query: $q) { nodes { name } pageInfo { hasNextPage } }
    }`;
    const byVariables = await gql(renamed, { n: 5, q: 'financial_status:paid' });
    expect(byVariables.body.data).toEqual({ orders: { nodes: paid, pageInfo: { hasNextPage: false } } });
    const literal = `{ orders(first: 5, query: "financial_status:paid") { nodes { name } } }`;
    expect((await gql(literal, {})).body.data).toEqual({ orders: { nodes: paid } });

    // The search sent as the cursor and the cursor as the search: Shopify reads the search as a cursor.
    const swapped = LIST_ORDERS.replace('after: $after, query: $query', 'after: $query, query: $after');
    const { body } = await gql(
      swapped,
      { ...page, query: 'financial_status:paid', reverse: true },
      'ListOrders',
    );
    expect(body.data).toBeUndefined();
    expect(errorsOf(body)[0].message).toBe('Invalid cursor for current pagination sort.');
  });

  it('refuses more than 250 of a connection, nested ones included, and a nested connection without first', async () => {
    const tooMany = await gql(LIST_CUSTOMERS, { ...page, first: 251 }, 'ListCustomers');
    expect(errorsOf(tooMany.body)[0].message).toBe('The first argument must be less than or equal to 250');
    const nested = LIST_PRODUCTS.replace(/variants\(first: \d+\)/, 'variants(first: 251)');
    expect(errorsOf((await gql(nested, page, 'ListProducts')).body)[0].message).toBe(
      'The first argument must be less than or equal to 250',
    );
    const unbounded = LIST_PRODUCTS.replace(/variants\(first: \d+\)/, 'variants');
    expect(errorsOf((await gql(unbounded, page, 'ListProducts')).body)[0].message).toBe(
      'you must provide one of first or last',
    );
    const unnamed = INVENTORY_LEVELS.replace(/quantities\(names: [^)]*\)/, 'quantities');
    expect(errorsOf((await gql(unnamed, page, 'InventoryLevels')).body)[0].message).toBe(
      "Field 'quantities' is missing required arguments: names",
    );
  });

  it('gives the whole pageInfo: hasPreviousPage and startCursor too', async () => {
    const query = `query Two($after: String) {
      customers(first: 2, after: $after) { pageInfo { hasNextPage hasPreviousPage startCursor endCursor } }
    }`;
    const first = (await gql(query, {})).body.data as { customers: { pageInfo: Record<string, unknown> } };
    expect(first.customers.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    expect(first.customers.pageInfo.startCursor).toEqual(expect.any(String));
    const second = (await gql(query, { after: first.customers.pageInfo.endCursor })).body
      .data as typeof first;
    expect(second.customers.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
  });

  it('charges each answer to the bucket in extensions.cost, refuses a query over 1000 points, throttles when empty', async () => {
    const ok = await gql(LIST_ORDERS, { ...page, reverse: true }, 'ListOrders');
    // orders(first: 2) + pageInfo 3, each order 5.
    expect(ok.body.extensions?.cost).toEqual({
      requestedQueryCost: 13,
      actualQueryCost: 13,
      throttleStatus: { maximumAvailable: 1000, currentlyAvailable: expect.any(Number), restoreRate: 100 },
    });

    const tooCostly = await gql(LIST_PRODUCTS, { ...page, first: 250 }, 'ListProducts');
    expect(tooCostly.body.data).toBeUndefined();
    expect(errorsOf(tooCostly.body)[0].extensions).toEqual({
      code: 'MAX_COST_EXCEEDED',
      cost: 2253,
      maxCost: 1000,
    });

    sim.setRestoreRate(0);
    sim.drain(5);
    const throttled = await gql(LIST_ORDERS, { ...page, reverse: true }, 'ListOrders');
    expect(throttled.status).toBe(200);
    expect(throttled.body).toEqual({
      errors: [{ message: 'Throttled', extensions: { code: 'THROTTLED' } }],
      extensions: {
        cost: {
          requestedQueryCost: 13,
          actualQueryCost: null,
          throttleStatus: { maximumAvailable: 1000, currentlyAvailable: 5, restoreRate: 0 },
        },
      },
    });
  });

  it('answers a bad token 401, an unknown API version 404 and a body that is not JSON 400, as Shopify does', async () => {
    const ok = { query: SHOP_NAME.query, variables: {} };
    expect(await post(ok, { token: 'shpat_wrong' })).toEqual({
      status: 401,
      body: { errors: '[API] Invalid API key or access token (unrecognized login or wrong password)' },
    });
    expect(await post(ok, { version: '2025-11' })).toEqual({ status: 404, body: { errors: 'Not Found' } });
    expect(await post('{"query": ')).toEqual({
      status: 400,
      body: { errors: { query: 'Required parameter missing or invalid' } },
    });
  });
});
