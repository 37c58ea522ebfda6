import { z } from 'zod';
import { DATE_TIME, GID, isoUtc, PAGE_INFO, PageInfo } from './shopify.queries';

/**
 * The inventory operation: inventory items (one per product variant) with
 * their levels at each location, the zod schema of its `data` and the
 * mapping to what `shopify_inventory_levels` returns.
 *
 * Cost, by Shopify's rules (shopify.queries.ts): the items' connection and
 * pageInfo 3, then per item 6 + 4 per level: the item, its variant, the
 * variant's product, the levels' connection (2) and its pageInfo, and per
 * level itself, its location and the two quantities asked for. A page of
 * INVENTORY_MAX_PAGE_SIZE items with LEVELS_PER_ITEM levels each is
 * 3 + 20 × (6 + 4 × 10) = 923 points, within the 1000-point limit, which is
 * why a page holds fewer items here than the other tools' 100.
 */

export const INVENTORY_MAX_PAGE_SIZE = 20;
export const INVENTORY_DEFAULT_PAGE_SIZE = 10;
/** The locations returned per inventory item; `moreLevels` says when an item is stocked at more. */
export const LEVELS_PER_ITEM = 10;
/** The quantities asked for per level, by Shopify's names. */
export const QUANTITY_NAMES = ['available', 'on_hand'] as const;

export const INVENTORY_LEVELS = `query InventoryLevels($first: Int!, $after: String, $query: String) {
  inventoryItems(first: $first, after: $after, query: $query) {
    nodes {
      id
      sku
      tracked
      updatedAt
      variant { id title product { id title } }
      inventoryLevels(first: ${LEVELS_PER_ITEM}) {
        nodes {
          location { id name }
          quantities(names: ${JSON.stringify(QUANTITY_NAMES)}) { name quantity }
          updatedAt
        }
        pageInfo { hasNextPage }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}`;

const QUANTITY = z.object({ name: z.string().max(64), quantity: z.number().int() });

const LEVEL = z.object({
  location: z.object({ id: GID('Location'), name: z.string().max(1000) }),
  quantities: z.array(QUANTITY).max(QUANTITY_NAMES.length),
  updatedAt: DATE_TIME,
});

const INVENTORY_ITEM = z.object({
  id: GID('InventoryItem'),
  sku: z.string().max(255).nullable(),
  tracked: z.boolean(),
  updatedAt: DATE_TIME,
  variant: z
    .object({
      id: GID('ProductVariant'),
      title: z.string().max(1000),
      product: z.object({ id: GID('Product'), title: z.string().max(1000) }),
    })
    .nullable(),
  inventoryLevels: z.object({
    nodes: z.array(LEVEL).max(LEVELS_PER_ITEM),
    pageInfo: z.object({ hasNextPage: z.boolean() }),
  }),
});

export const INVENTORY_DATA = z.object({
  inventoryItems: z.object({
    nodes: z.array(INVENTORY_ITEM).max(INVENTORY_MAX_PAGE_SIZE),
    pageInfo: PAGE_INFO,
  }),
});

export interface InventoryLevelSummary {
  locationId: string;
  locationName: string;
  /** Units that can be sold (may be negative when oversold); null when Shopify gave none. */
  available: number | null;
  /** Units physically at the location, committed ones included; null when Shopify gave none. */
  onHand: number | null;
  /** ISO 8601, UTC. */
  updatedAt: string;
}

export interface InventoryItemSummary {
  id: string;
  sku: string | null;
  /** False when Shopify does not track this item's quantities (they are then not meaningful). */
  tracked: boolean;
  /** ISO 8601, UTC. */
  updatedAt: string;
  variant: { id: string; title: string } | null;
  product: { id: string; title: string } | null;
  levels: InventoryLevelSummary[];
  /** The item is stocked at more locations than LEVELS_PER_ITEM; `levels` lists only the first. */
  moreLevels: boolean;
}

export function toInventory(data: z.infer<typeof INVENTORY_DATA>): {
  inventoryItems: InventoryItemSummary[];
  pageInfo: PageInfo;
} {
  return {
    inventoryItems: data.inventoryItems.nodes.map((item) => ({
      id: item.id,
      sku: item.sku,
      tracked: item.tracked,
      updatedAt: isoUtc(item.updatedAt),
      variant: item.variant ? { id: item.variant.id, title: item.variant.title } : null,
      product: item.variant ? { id: item.variant.product.id, title: item.variant.product.title } : null,
      levels: item.inventoryLevels.nodes.map((level) => {
        const quantity = (name: string) => level.quantities.find((q) => q.name === name)?.quantity ?? null;
        return {
          locationId: level.location.id,
          locationName: level.location.name,
          available: quantity('available'),
          onHand: quantity('on_hand'),
          updatedAt: isoUtc(level.updatedAt),
        };
      }),
      moreLevels: item.inventoryLevels.pageInfo.hasNextPage,
    })),
    pageInfo: { ...data.inventoryItems.pageInfo },
  };
}
