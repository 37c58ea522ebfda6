import {
  INVENTORY_DATA,
  INVENTORY_LEVELS,
  INVENTORY_MAX_PAGE_SIZE,
  LEVELS_PER_ITEM,
  toInventory,
} from './shopify-inventory.queries';

const level = (over: Record<string, unknown> = {}) => ({
  location: { id: 'gid://shopify/Location/301', name: 'Brisbane Warehouse' },
  // Shopify does not promise the order of the names asked for: on_hand first here.
  quantities: [
    { name: 'on_hand', quantity: 14 },
    { name: 'available', quantity: 9 },
  ],
  updatedAt: '2025-03-04T15:00:00+10:00',
  ...over,
});
/** An item's levels connection: `nodes`, with `hasNextPage` when the item is stocked at more locations. */
const levels = (nodes: unknown[], hasNextPage = false) => ({
  inventoryLevels: { nodes, pageInfo: { hasNextPage } },
});
const item = (over: Record<string, unknown> = {}) => ({
  id: 'gid://shopify/InventoryItem/4400000001',
  sku: 'GABA-RED-500',
  tracked: true,
  updatedAt: '2025-03-05T01:02:03Z',
  variant: {
    id: 'gid://shopify/ProductVariant/4500000001',
    title: '500 g',
    product: { id: 'gid://shopify/Product/4600000001', title: 'GABA Red' },
  },
  ...levels([
    level(),
    level({
      location: { id: 'gid://shopify/Location/302', name: 'Perth Store' },
      quantities: [
        { name: 'available', quantity: -2 },
        { name: 'on_hand', quantity: 0 },
      ],
    }),
  ]),
  ...over,
});
const pageInfo = { hasNextPage: true, endCursor: 'eyJsYXN0X2lkIjoxfQ==' };
const parse = (nodes: unknown[]) =>
  toInventory(INVENTORY_DATA.parse({ inventoryItems: { nodes, pageInfo } }));
const refuses = (nodes: unknown[]) =>
  INVENTORY_DATA.safeParse({ inventoryItems: { nodes, pageInfo } }).success === false;

describe('Shopify inventory mapping', () => {
  it('maps an item with its variant, product and each location by quantity name, dates in UTC', () => {
    expect(parse([item()])).toEqual({
      inventoryItems: [
        {
          id: 'gid://shopify/InventoryItem/4400000001',
          sku: 'GABA-RED-500',
          tracked: true,
          updatedAt: '2025-03-05T01:02:03.000Z',
          variant: { id: 'gid://shopify/ProductVariant/4500000001', title: '500 g' },
          product: { id: 'gid://shopify/Product/4600000001', title: 'GABA Red' },
          levels: [
            {
              locationId: 'gid://shopify/Location/301',
              locationName: 'Brisbane Warehouse',
              available: 9,
              onHand: 14,
              updatedAt: '2025-03-04T05:00:00.000Z',
            },
            {
              locationId: 'gid://shopify/Location/302',
              locationName: 'Perth Store',
              available: -2,
              onHand: 0,
              updatedAt: '2025-03-04T05:00:00.000Z',
            },
          ],
          moreLevels: false,
        },
      ],
      pageInfo,
    });
  });

  it('gives null for a quantity Shopify left out, and says when there are more locations', () => {
    const partial = item(levels([level({ quantities: [{ name: 'on_hand', quantity: 3 }] })], true));
    const [mapped] = parse([partial]).inventoryItems;
    expect(mapped.levels[0]).toMatchObject({ available: null, onHand: 3 });
    expect(mapped.moreLevels).toBe(true);
  });

  it('maps an item without a variant, SKU or levels', () => {
    const bare = item({ sku: null, tracked: false, variant: null, ...levels([]) });
    expect(parse([bare]).inventoryItems[0]).toMatchObject({
      sku: null,
      tracked: false,
      variant: null,
      product: null,
      levels: [],
      moreLevels: false,
    });
  });

  it.each([
    ['an id of another type', item({ id: 'gid://shopify/ProductVariant/1' })],
    ['a location id that is not a GID', item(levels([level({ location: { id: '301', name: 'X' } })]))],
    ['a quantity as a string', item(levels([level({ quantities: [{ name: 'available', quantity: '9' }] })]))],
    ['a fractional quantity', item(levels([level({ quantities: [{ name: 'available', quantity: 1.5 }] })]))],
    ['an unparseable date', item({ updatedAt: 'today' })],
    ['tracked as a string', item({ tracked: 'true' })],
    [
      'more quantities than the query asks for',
      item(
        levels([
          level({
            quantities: [
              { name: 'available', quantity: 1 },
              { name: 'on_hand', quantity: 2 },
              { name: 'committed', quantity: 1 },
            ],
          }),
        ]),
      ),
    ],
    [
      'more levels than the query asks for',
      item(
        levels(
          Array.from({ length: LEVELS_PER_ITEM + 1 }, () => level()),
          true,
        ),
      ),
    ],
  ])('refuses %s', (_name, bad) => {
    expect(refuses([bad])).toBe(true);
  });

  it('refuses a page larger than the tool asks for', () => {
    expect(refuses(Array.from({ length: INVENTORY_MAX_PAGE_SIZE + 1 }, () => item()))).toBe(true);
  });
});

describe('Shopify inventory query cost', () => {
  // Shopify's rules (shopify.queries.ts): object 1, connection 2 + first, nested connections multiply.
  it('keeps the largest page within the 1000-point single-query limit', () => {
    // The items' connection and pageInfo; per item: itself, variant, product, the levels' connection
    // and pageInfo; per level: itself, location and the two quantities.
    const perItem = 1 + 1 + 1 + 2 + 1 + LEVELS_PER_ITEM * (1 + 1 + 2);
    expect(3 + INVENTORY_MAX_PAGE_SIZE * perItem).toBeLessThanOrEqual(1000);
    expect(INVENTORY_LEVELS).toContain(`inventoryLevels(first: ${LEVELS_PER_ITEM})`);
  });

  it('passes every variable of the operation to the items connection', () => {
    // GraphQL refuses an operation that declares a variable it does not use.
    const args = /^  inventoryItems\(([^)]*)\) \{$/m.exec(INVENTORY_LEVELS)?.[1];
    expect(args?.split(',').map((arg) => arg.trim())).toEqual([
      'first: $first',
      'after: $after',
      'query: $query',
    ]);
  });

  it('asks for the available and on-hand quantities under the operation name the client sends', () => {
    expect(INVENTORY_LEVELS).toMatch(/^query InventoryLevels\(/);
    expect(INVENTORY_LEVELS).toContain('quantities(names: ["available","on_hand"]) { name quantity }');
  });
});
