import {
  CUSTOMERS_DATA,
  LIST_CUSTOMERS,
  LIST_ORDERS,
  LIST_PRODUCTS,
  MAX_PAGE_SIZE,
  ORDERS_DATA,
  PRODUCTS_DATA,
  toCustomers,
  toOrders,
  toProducts,
  VARIANTS_PER_PRODUCT,
} from './shopify.queries';

const order = (over: Record<string, unknown> = {}) => ({
  id: 'gid://shopify/Order/5000000001',
  name: '#1001',
  createdAt: '2025-01-01T09:31:01Z',
  displayFinancialStatus: 'PAID',
  totalPriceSet: { shopMoney: { amount: '23.37', currencyCode: 'AUD' } },
  customer: { defaultEmailAddress: { emailAddress: 'a@example.com' } },
  ...over,
});
const product = (over: Record<string, unknown> = {}) => ({
  id: 'gid://shopify/Product/8000000001',
  title: 'Classic Blend 1',
  status: 'ACTIVE',
  totalInventory: 17,
  variantsCount: { count: 2 },
  variants: {
    nodes: [
      { sku: 'SKU-1-1', price: '20.95' },
      { sku: null, price: '25.95' },
    ],
  },
  ...over,
});
const customer = (over: Record<string, unknown> = {}) => ({
  id: 'gid://shopify/Customer/7000000001',
  displayName: 'Jo Bloggs',
  defaultEmailAddress: { emailAddress: 'jo@example.com' },
  state: 'ENABLED',
  numberOfOrders: '12',
  amountSpent: { amount: '345.60', currencyCode: 'AUD' },
  tags: ['wholesale', 'vip'],
  createdAt: '2024-06-01T10:00:00+10:00',
  updatedAt: '2025-02-03T04:05:06Z',
  ...over,
});
const pageInfo = { hasNextPage: true, endCursor: 'abc' };

describe('Shopify order mapping', () => {
  it('maps an order: ISO date in UTC, money as a string with its currency, the default email', () => {
    const data = ORDERS_DATA.parse({ orders: { nodes: [order()], pageInfo } });
    expect(toOrders(data)).toEqual({
      orders: [
        {
          id: 'gid://shopify/Order/5000000001',
          name: '#1001',
          createdAt: '2025-01-01T09:31:01.000Z',
          displayFinancialStatus: 'PAID',
          totalPrice: { amount: '23.37', currencyCode: 'AUD' },
          customerEmail: 'a@example.com',
        },
      ],
      pageInfo,
    });
  });

  it('normalises an offset date to UTC', () => {
    const data = ORDERS_DATA.parse({
      orders: { nodes: [order({ createdAt: '2025-03-01T10:00:00+10:00' })], pageInfo },
    });
    expect(toOrders(data).orders[0].createdAt).toBe('2025-03-01T00:00:00.000Z');
  });

  it('gives a null email for an order without a customer or without a default address', () => {
    const data = ORDERS_DATA.parse({
      orders: {
        nodes: [order({ customer: null }), order({ customer: { defaultEmailAddress: null } })],
        pageInfo: { hasNextPage: false, endCursor: null },
      },
    });
    expect(toOrders(data).orders.map((o) => o.customerEmail)).toEqual([null, null]);
  });

  it.each([
    ['a non-GID id', { id: '5000000001' }],
    ['a GID with more after its number', { id: 'gid://shopify/Order/5000000001/x' }],
    ['a GID inside other text', { id: 'see gid://shopify/Order/5000000001' }],
    ['a GID longer than 200 characters', { id: `gid://shopify/Order/${'1'.repeat(181)}` }],
    [
      'an amount longer than 40 characters',
      { totalPriceSet: { shopMoney: { amount: `1.${'0'.repeat(39)}`, currencyCode: 'AUD' } } },
    ],
    [
      'an amount with more after its number',
      { totalPriceSet: { shopMoney: { amount: '23.37x', currencyCode: 'AUD' } } },
    ],
    ['a numeric amount', { totalPriceSet: { shopMoney: { amount: 23.37, currencyCode: 'AUD' } } }],
    ['an unparseable date', { createdAt: 'yesterday' }],
  ])('refuses %s', (_name, over) => {
    expect(ORDERS_DATA.safeParse({ orders: { nodes: [order(over)], pageInfo } }).success).toBe(false);
  });

  it('takes a negative amount (Shopify amounts are signed decimals)', () => {
    const data = ORDERS_DATA.parse({
      orders: {
        nodes: [order({ totalPriceSet: { shopMoney: { amount: '-5.00', currencyCode: 'AUD' } } })],
        pageInfo,
      },
    });
    expect(toOrders(data).orders[0].totalPrice).toEqual({ amount: '-5.00', currencyCode: 'AUD' });
  });

  it('refuses a page larger than the connector asks for', () => {
    const nodes = Array.from({ length: MAX_PAGE_SIZE + 1 }, () => order());
    expect(ORDERS_DATA.safeParse({ orders: { nodes, pageInfo } }).success).toBe(false);
  });
});

describe('Shopify product mapping', () => {
  it('maps a product with its variants and variant count', () => {
    const data = PRODUCTS_DATA.parse({ products: { nodes: [product()], pageInfo } });
    expect(toProducts(data)).toEqual({
      products: [
        {
          id: 'gid://shopify/Product/8000000001',
          title: 'Classic Blend 1',
          status: 'ACTIVE',
          totalInventory: 17,
          variantsCount: 2,
          variants: [
            { sku: 'SKU-1-1', price: '20.95' },
            { sku: null, price: '25.95' },
          ],
        },
      ],
      pageInfo,
    });
  });

  it('gives null counts for a product Shopify counts nothing of', () => {
    const data = PRODUCTS_DATA.parse({
      products: { nodes: [product({ totalInventory: null, variantsCount: null })], pageInfo },
    });
    expect(toProducts(data).products[0]).toMatchObject({ totalInventory: null, variantsCount: null });
  });

  it.each([
    ['an id of another type', { id: 'gid://shopify/Order/1' }],
    ['a fractional inventory', { totalInventory: 1.5 }],
    [
      'more variants than asked for',
      {
        variants: {
          nodes: Array.from({ length: VARIANTS_PER_PRODUCT + 1 }, () => ({ sku: null, price: '1.00' })),
        },
      },
    ],
  ])('refuses %s', (_name, over) => {
    expect(PRODUCTS_DATA.safeParse({ products: { nodes: [product(over)], pageInfo } }).success).toBe(false);
  });
});

describe('Shopify customer mapping', () => {
  it('maps a customer: default email, order count as a number, money as a string, dates in UTC', () => {
    const data = CUSTOMERS_DATA.parse({ customers: { nodes: [customer()], pageInfo } });
    expect(toCustomers(data)).toEqual({
      customers: [
        {
          id: 'gid://shopify/Customer/7000000001',
          displayName: 'Jo Bloggs',
          email: 'jo@example.com',
          state: 'ENABLED',
          numberOfOrders: 12,
          amountSpent: { amount: '345.60', currencyCode: 'AUD' },
          tags: ['wholesale', 'vip'],
          createdAt: '2024-06-01T00:00:00.000Z',
          updatedAt: '2025-02-03T04:05:06.000Z',
        },
      ],
      pageInfo,
    });
  });

  it('takes the order count as a number too, and gives a null email without a default address', () => {
    const data = CUSTOMERS_DATA.parse({
      customers: {
        nodes: [customer({ numberOfOrders: 0, defaultEmailAddress: null })],
        pageInfo: { hasNextPage: false, endCursor: null },
      },
    });
    expect(toCustomers(data).customers[0]).toMatchObject({ numberOfOrders: 0, email: null });
  });

  it('keeps every tag', () => {
    const tags = Array.from({ length: 250 }, (_, i) => `tag-${i}`);
    const data = CUSTOMERS_DATA.parse({ customers: { nodes: [customer({ tags })], pageInfo } });
    expect(toCustomers(data).customers[0].tags).toEqual(tags);
  });

  it.each([
    ['an id of another type', { id: 'gid://shopify/Order/1' }],
    ['a negative order count', { numberOfOrders: '-1' }],
    // Beyond 15 digits a count is no longer exact as a JSON number.
    ['an order count of 16 digits', { numberOfOrders: '1234567890123456' }],
    ['a negative numeric order count', { numberOfOrders: -1 }],
    ['a fractional order count', { numberOfOrders: 1.5 }],
    ['a numeric amount', { amountSpent: { amount: 3.5, currencyCode: 'AUD' } }],
    ['an unparseable date', { updatedAt: 'last week' }],
    ['tags that are not a list', { tags: 'vip' }],
    ['more than 250 tags', { tags: Array.from({ length: 251 }, (_, i) => `t${i}`) }],
  ])('refuses %s', (_name, over) => {
    expect(CUSTOMERS_DATA.safeParse({ customers: { nodes: [customer(over)], pageInfo } }).success).toBe(
      false,
    );
  });
});

/** The arguments the query passes to its top-level connection `field`, as written: name to value. */
function connectionArgs(query: string, field: string): Record<string, string> {
  const args = new RegExp(`^  ${field}\\(([^)]*)\\) \\{$`, 'm').exec(query)?.[1] ?? '';
  return Object.fromEntries(args.split(',').map((arg) => arg.split(':').map((part) => part.trim())));
}

describe('Shopify query arguments', () => {
  // GraphQL refuses an operation that declares a variable it does not use, and Shopify would
  // ignore one not passed on: each variable must reach the connection.
  it('passes every variable of the operation to its connection, orders sorted by creation date', () => {
    expect(connectionArgs(LIST_ORDERS, 'orders')).toEqual({
      first: '$first',
      after: '$after',
      query: '$query',
      sortKey: 'CREATED_AT',
      reverse: '$reverse',
    });
    for (const [query, field] of [
      [LIST_PRODUCTS, 'products'],
      [LIST_CUSTOMERS, 'customers'],
    ])
      expect(connectionArgs(query, field)).toEqual({ first: '$first', after: '$after', query: '$query' });
  });
});

describe('Shopify query cost', () => {
  // Shopify's rules: object 1, connection 2 + first, nested connections multiply; at most 1000 a query.
  it('keeps the largest page of either query within the 1000-point single-query limit', () => {
    expect(3 + MAX_PAGE_SIZE * 5).toBeLessThanOrEqual(1000);
    expect(3 + MAX_PAGE_SIZE * (4 + VARIANTS_PER_PRODUCT)).toBeLessThanOrEqual(1000);
    expect(3 + MAX_PAGE_SIZE * 3).toBeLessThanOrEqual(1000);
    expect(LIST_PRODUCTS).toContain(`variants(first: ${VARIANTS_PER_PRODUCT})`);
  });

  it('names the operations the way the client sends them', () => {
    expect(LIST_ORDERS).toMatch(/^query ListOrders\(/);
    expect(LIST_PRODUCTS).toMatch(/^query ListProducts\(/);
    expect(LIST_CUSTOMERS).toMatch(/^query ListCustomers\(/);
    for (const query of [LIST_ORDERS, LIST_CUSTOMERS])
      expect(query).toContain('defaultEmailAddress { emailAddress }');
    // Customer.email is deprecated in favour of defaultEmailAddress (UPSTREAMS.md).
    expect(LIST_CUSTOMERS).not.toMatch(/^\s*email\s*$/m);
  });
});
