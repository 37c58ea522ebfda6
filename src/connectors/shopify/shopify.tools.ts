import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import type { ToolContext } from '../../mcp/mcp-context';
import { Tool } from '../../mcp/mcp.decorators';
import { ShopifyClient } from './shopify.client';
import {
  CUSTOMERS_DATA,
  DEFAULT_PAGE_SIZE,
  LIST_CUSTOMERS,
  LIST_ORDERS,
  LIST_PRODUCTS,
  MAX_PAGE_SIZE,
  MAX_SEARCH_LENGTH,
  ORDERS_DATA,
  PRODUCTS_DATA,
  toCustomers,
  toOrders,
  toProducts,
  VARIANTS_PER_PRODUCT,
} from './shopify.queries';
import {
  INVENTORY_DATA,
  INVENTORY_DEFAULT_PAGE_SIZE,
  INVENTORY_LEVELS,
  INVENTORY_MAX_PAGE_SIZE,
  LEVELS_PER_ITEM,
  toInventory,
} from './shopify-inventory.queries';

/** `first` (1-`max`, default `byDefault`) and `after`, the paging arguments of every list tool. */
const paging = (max = MAX_PAGE_SIZE, byDefault = DEFAULT_PAGE_SIZE) => ({
  first: z
    .number()
    .int()
    .min(1)
    .max(max)
    .default(byDefault)
    .describe(`How many to return, 1-${max} (default ${byDefault}).`),
  after: z
    .string()
    .min(1)
    .max(2000)
    .optional()
    .describe('The pageInfo.endCursor of the previous page, to get the next one (with the same query).'),
});

/** A `query` argument in Shopify's search syntax; `examples` are the resource's own filters. */
const search = (examples: string) =>
  z
    .string()
    .min(1)
    .max(MAX_SEARCH_LENGTH)
    .optional()
    .describe(`Shopify search syntax filter, e.g. ${examples}.`);

/** The GraphQL variables of a page: `first`, `after` and `query`, null when not given. */
const pageVariables = (args: { first: number; after?: string; query?: string }) => ({
  first: args.first,
  after: args.after ?? null,
  query: args.query ?? null,
});

const ORDERS_INPUT = z.object({
  ...paging(),
  query: search(
    '"financial_status:paid", "created_at:>=2025-01-01", "email:jo@example.com", "name:#1001"; ' +
      'space-separated terms must all match',
  ),
  newestFirst: z
    .boolean()
    .default(true)
    .describe('Sort by creation date, newest first (default) or oldest first.'),
});

const PRODUCTS_INPUT = z.object({
  ...paging(),
  query: search('"status:active", "title:blend*", "sku:ABC-1", "vendor:Acme"'),
});

const CUSTOMERS_INPUT = z.object({
  ...paging(),
  query: search(
    '"email:jo@example.com", "state:enabled", "orders_count:>5", "tag:wholesale", "country:Australia"; ' +
      'space-separated terms must all match',
  ),
});

const INVENTORY_INPUT = z.object({
  ...paging(INVENTORY_MAX_PAGE_SIZE, INVENTORY_DEFAULT_PAGE_SIZE),
  query: search(
    '"sku:ABC-1", "updated_at:>=2025-01-01", "created_at:<2024-06-01"; space-separated terms must all match',
  ),
});

const READ_ONLY = { readOnlyHint: true, idempotentHint: true, openWorldHint: true } as const;

/** The Shopify tools: thin translations between the MCP arguments and the GraphQL Admin API. */
@Injectable()
export class ShopifyTools {
  constructor(private readonly client: ShopifyClient) {}

  @Tool({
    name: 'shopify_list_orders',
    title: 'List Shopify orders',
    description:
      "Lists the organisation's Shopify orders, newest first unless asked otherwise. Each order has id (a " +
      'Shopify GID), name (e.g. "#1001"), createdAt (ISO 8601, UTC), displayFinancialStatus (PAID, PENDING, ' +
      'REFUNDED, ... or null), totalPrice {amount (a decimal string), currencyCode} in the shop currency and ' +
      'customerEmail (or null). Paged: pass pageInfo.endCursor as `after` while pageInfo.hasNextPage is true.',
    input: ORDERS_INPUT,
    permission: 'shopify:read',
    cache: { credentials: 'shopify' },
    annotations: READ_ONLY,
  })
  async listOrders(ctx: ToolContext, args: z.output<typeof ORDERS_INPUT>) {
    const data = await this.client.query(ctx, {
      name: 'ListOrders',
      query: LIST_ORDERS,
      variables: { ...pageVariables(args), reverse: args.newestFirst },
      data: ORDERS_DATA,
    });
    return toOrders(data);
  }

  @Tool({
    name: 'shopify_list_products',
    title: 'List Shopify products',
    description:
      "Lists the organisation's Shopify products. Each product has id (a Shopify GID), title, status (ACTIVE, " +
      'DRAFT or ARCHIVED), totalInventory (units in stock across locations, or null), variantsCount and the ' +
      `first ${VARIANTS_PER_PRODUCT} variants with sku (or null) and price (a decimal string in the shop ` +
      'currency). Paged: pass pageInfo.endCursor as `after` while pageInfo.hasNextPage is true.',
    input: PRODUCTS_INPUT,
    permission: 'shopify:read',
    cache: { credentials: 'shopify' },
    annotations: READ_ONLY,
  })
  async listProducts(ctx: ToolContext, args: z.output<typeof PRODUCTS_INPUT>) {
    const data = await this.client.query(ctx, {
      name: 'ListProducts',
      query: LIST_PRODUCTS,
      variables: pageVariables(args),
      data: PRODUCTS_DATA,
    });
    return toProducts(data);
  }

  @Tool({
    name: 'shopify_list_customers',
    title: 'List Shopify customers',
    description:
      "Lists the organisation's Shopify customers. Each customer has id (a Shopify GID), displayName, email " +
      '(the default email address, or null), state (ENABLED, DISABLED, INVITED or DECLINED: whether they ' +
      'have an account), numberOfOrders, amountSpent {amount (a decimal string), currencyCode} over all ' +
      'their orders, tags, createdAt and updatedAt (ISO 8601, UTC). Paged: pass pageInfo.endCursor as ' +
      '`after` while pageInfo.hasNextPage is true.',
    input: CUSTOMERS_INPUT,
    permission: 'shopify:read',
    cache: { credentials: 'shopify' },
    annotations: READ_ONLY,
  })
  async listCustomers(ctx: ToolContext, args: z.output<typeof CUSTOMERS_INPUT>) {
    const data = await this.client.query(ctx, {
      name: 'ListCustomers',
      query: LIST_CUSTOMERS,
      variables: pageVariables(args),
      data: CUSTOMERS_DATA,
    });
    return toCustomers(data);
  }

  @Tool({
    name: 'shopify_inventory_levels',
    title: 'Shopify inventory levels',
    description:
      "Lists the organisation's Shopify inventory items (one per product variant) with how many units each " +
      'location holds: to answer "how much of SKU X do we have, and where?", pass `query: "sku:X"`. Each item ' +
      'has id (a Shopify InventoryItem GID), sku (or null), tracked (false: Shopify does not count its ' +
      'units, so the quantities mean nothing), updatedAt (ISO 8601, UTC), variant {id, title} and product ' +
      `{id, title} (or null), and levels: up to ${LEVELS_PER_ITEM} locations, each with locationId (a GID), ` +
      'locationName, available (units that can be sold; negative when oversold), onHand (units at the ' +
      'location, those committed to orders included) and updatedAt; moreLevels is true when the item is ' +
      `stocked at more than ${LEVELS_PER_ITEM} locations. Paged (at most ${INVENTORY_MAX_PAGE_SIZE} items): pass ` +
      'pageInfo.endCursor as `after` while pageInfo.hasNextPage is true.',
    input: INVENTORY_INPUT,
    permission: 'shopify:read',
    cache: { credentials: 'shopify' },
    annotations: READ_ONLY,
  })
  async inventoryLevels(ctx: ToolContext, args: z.output<typeof INVENTORY_INPUT>) {
    const data = await this.client.query(ctx, {
      name: 'InventoryLevels',
      query: INVENTORY_LEVELS,
      variables: pageVariables(args),
      data: INVENTORY_DATA,
    });
    return toInventory(data);
  }
}
