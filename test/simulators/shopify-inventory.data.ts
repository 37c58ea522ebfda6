/**
 * Inventory for the Shopify simulator: seeded locations, one inventory item
 * per product variant with its levels at some of the locations, and the
 * `InventoryLevels` answer with its cost (Shopify's rules, as in
 * shopify.simulator.ts).
 */
import { matchesSearch, SimProduct } from './shopify.data';
import { pageOf, Paging } from './shopify-paging';

export interface SimLocation {
  id: string;
  name: string;
}

export interface SimInventoryLevel {
  location: SimLocation;
  /** Every quantity Shopify keeps, by its name; a query gets the names it asks for. */
  quantities: Record<(typeof QUANTITY_NAMES)[number], number>;
  updatedAt: string;
}

export interface SimInventoryItem {
  id: string;
  sku: string | null;
  tracked: boolean;
  updatedAt: string;
  variant: { id: string; title: string; product: { id: string; title: string } };
  levels: SimInventoryLevel[];
}

/** Shopify's inventory quantity names (InventoryLevel.quantities). */
const QUANTITY_NAMES = [
  'on_hand',
  'available',
  'committed',
  'incoming',
  'reserved',
  'damaged',
  'safety_stock',
  'quality_control',
] as const;
const PLACES = ['Sydney', 'Melbourne', 'Brisbane', 'Perth', 'Adelaide', 'Hobart'] as const;
const SIZES = ['250 g', '500 g', '1 kg'] as const;
const DAY_MS = 86_400_000;

/** Location i (1-based): GID 6000000001..., a warehouse and a store in each city. */
export function seedLocations(count: number): SimLocation[] {
  return Array.from({ length: count }, (_, k) => ({
    id: `gid://shopify/Location/${6_000_000_000 + k + 1}`,
    name: `${PLACES[Math.floor(k / 2) % PLACES.length]} ${k % 2 === 0 ? 'Warehouse' : 'Store'}`,
  }));
}

/**
 * Item n (1-based, in product and variant order): GID 4000000001..., variant
 * 9000000001..., the variant's SKU; every 6th untracked; stocked at
 * (n % 4) + 1 locations from the n-th on, item 1 at every location; available
 * is on hand less what is committed, so now and then below zero.
 */
export function seedInventory(products: SimProduct[], locations: SimLocation[]): SimInventoryItem[] {
  const variants = products.flatMap((product) => product.variants.map((v, at) => ({ product, v, at })));
  return variants.map(({ product, v, at }, k) => {
    const n = k + 1;
    const stocked = n === 1 ? locations.length : Math.min(locations.length, (n % 4) + 1);
    const updated = Date.UTC(2025, 1, 1, 6, 0, 0) + k * DAY_MS;
    return {
      id: `gid://shopify/InventoryItem/${4_000_000_000 + n}`,
      sku: v.sku,
      tracked: n % 6 !== 0,
      updatedAt: new Date(updated).toISOString().replace('.000Z', 'Z'),
      variant: {
        id: `gid://shopify/ProductVariant/${9_000_000_000 + n}`,
        title: SIZES[at % SIZES.length],
        product: { id: product.id, title: product.title },
      },
      levels: Array.from({ length: stocked }, (_, j) => {
        const onHand = (n * 13 + j * 7) % 50;
        const committed = (n + j) % 5;
        return {
          location: locations[(n - 1 + j) % locations.length],
          quantities: {
            on_hand: onHand,
            available: onHand - committed,
            committed,
            incoming: (n * j) % 3,
            reserved: 0,
            damaged: j % 2,
            safety_stock: 0,
            quality_control: 0,
          },
          updatedAt: new Date(updated + (j + 1) * 3_600_000).toISOString().replace('.000Z', 'Z'),
        };
      }),
    };
  });
}

export interface InventoryAnswer {
  data: unknown;
  requested: number;
  actual: number;
}

/**
 * The `inventoryItems` answer: items matching `search` (`sku:` exact, free
 * words in the SKU), their first `levelsFirst` levels, the quantities named by
 * `quantities.names` (the arguments of `quantities`, undefined when not selected);
 * a string is a GraphQL error message.
 */
export function inventoryAnswer(
  items: SimInventoryItem[],
  paging: Paging,
  search: string | undefined,
  levelsFirst: number,
  quantities: Record<string, unknown> | undefined,
): InventoryAnswer | string {
  if (quantities && quantities.names === undefined)
    return "Field 'quantities' is missing required arguments: names";
  const given = quantities?.names ?? [];
  const names = Array.isArray(given) ? given : [given];
  if (names.some((name) => typeof name !== 'string'))
    return "Argument 'names' on Field 'quantities' has an invalid value. Expected type '[String!]'.";
  const unknown = names.find((name) => !(QUANTITY_NAMES as readonly string[]).includes(name));
  if (unknown !== undefined) return `The quantity name '${unknown}' is not valid.`;

  const all = items.filter((i) => matchesSearch(search, i.sku ?? '', { sku: i.sku }));
  const page = pageOf(all, paging, 'InventoryItem');
  if (typeof page === 'string') return page;
  const nodes = page.nodes.map(({ levels, ...item }) => ({
    ...item,
    inventoryLevels: {
      nodes: levels.slice(0, levelsFirst).map((level) => ({
        location: level.location,
        // In Shopify's own order, not the order asked in.
        quantities: QUANTITY_NAMES.filter((name) => names.includes(name)).map((name) => ({
          name,
          quantity: level.quantities[name],
        })),
        updatedAt: level.updatedAt,
      })),
      pageInfo: { hasNextPage: levels.length > levelsFirst },
    },
  }));
  // items(first) + pageInfo; each item: itself, variant, product, inventoryLevels(first) and its
  // pageInfo; each level: itself, location and one object per quantity name.
  const perLevel = 2 + names.length;
  return {
    data: { ...page, nodes },
    requested: 3 + paging.first * (6 + levelsFirst * perLevel),
    actual: 3 + nodes.reduce((n, i) => n + 6 + i.inventoryLevels.nodes.length * perLevel, 0),
  };
}
