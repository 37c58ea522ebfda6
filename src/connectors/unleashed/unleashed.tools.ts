import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import type { ToolContext } from '../../mcp/mcp-context';
import { Tool } from '../../mcp/mcp.decorators';
import { UnleashedClient } from './unleashed.client';
import { MAX_PAGE_SIZE, ProductsPage, StockOnHandPage } from './unleashed.mapping';
import { GUID } from '../../common/guid';

/** A calendar day as Unleashed's filters take it (UTC). */
export function isCalendarDay(value: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return false;
  const date = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
  return date.getUTCFullYear() === +m[1] && date.getUTCMonth() === +m[2] - 1 && date.getUTCDate() === +m[3];
}

const MAX_PAGE = 100_000;
const DEFAULT_PAGE_SIZE = 200;
/** Printable text without control characters, for free-text filters. */
const PRINTABLE = /^[^\u0000-\u001f\u007f]*$/;

const text = (max: number) =>
  z.string().min(1).max(max).regex(PRINTABLE, 'must be printable text without control characters');

const modifiedSince = z
  .string()
  .refine(isCalendarDay, 'must be a calendar date YYYY-MM-DD (UTC), e.g. 2024-01-31')
  .optional()
  .describe('Only items last modified on or after this day (UTC), as YYYY-MM-DD.');

const paging = {
  page: z
    .number()
    .int()
    .min(1)
    .max(MAX_PAGE)
    .default(1)
    .describe('Page number, from 1 (default 1). The result says how many pages there are.'),
  pageSize: z
    .number()
    .int()
    .min(1)
    .max(MAX_PAGE_SIZE)
    .default(DEFAULT_PAGE_SIZE)
    .describe(`Items per page, 1-${MAX_PAGE_SIZE} (default ${DEFAULT_PAGE_SIZE}).`),
};

export const LIST_PRODUCTS = z.object({
  productCode: text(100)
    .optional()
    .describe('Only products whose code starts with this text (Unleashed matches case-insensitively).'),
  productGroup: text(100).optional().describe('Only products in the product group with this name.'),
  modifiedSince,
  includeObsolete: z.boolean().default(false).describe('Also return obsolete products (default false).'),
  ...paging,
});

export const STOCK_ON_HAND = z.object({
  warehouseCode: text(50).optional().describe('Only stock held in the warehouse with this code.'),
  productId: z
    .string()
    .regex(GUID, 'must be a product Guid such as 0f6b1c1e-2a3d-4e5f-8a9b-0c1d2e3f4a5b')
    .optional()
    .describe('Only stock of this product, by its Guid (the `guid` that unleashed_list_products returns).'),
  modifiedSince,
  ...paging,
});

const PAGING_NOTE =
  '`pagination` gives {page, pageSize, numberOfPages, numberOfItems}: ask for the next `page` ' +
  'while page < numberOfPages. Dates are ISO 8601 (UTC); absent values are null.';

/** Unleashed inventory as MCP tools; each call uses the organisation's stored Unleashed credentials. */
@Injectable()
export class UnleashedTools {
  constructor(private readonly client: UnleashedClient) {}

  @Tool({
    name: 'unleashed_list_products',
    title: 'List Unleashed products',
    description:
      'Lists products from Unleashed inventory, one page at a time. Each item has guid, productCode, ' +
      'productDescription, barcode, unitOfMeasure, productGroup, defaultSellPrice, defaultPurchasePrice, ' +
      'isSellable, obsolete, createdOn and lastModifiedOn. Obsolete products are left out unless ' +
      'includeObsolete is true. ' +
      PAGING_NOTE,
    input: LIST_PRODUCTS,
    permission: 'unleashed:read',
    cache: { credentials: 'unleashed' },
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: true },
  })
  async listProducts(ctx: ToolContext, args: z.output<typeof LIST_PRODUCTS>): Promise<ProductsPage> {
    return this.client.listProducts(
      ctx,
      { page: args.page, pageSize: args.pageSize },
      {
        productCode: args.productCode,
        productGroup: args.productGroup,
        modifiedSince: args.modifiedSince,
        includeObsolete: args.includeObsolete,
      },
    );
  }

  @Tool({
    name: 'unleashed_stock_on_hand',
    title: 'Unleashed stock on hand',
    description:
      'Lists stock on hand from Unleashed, one row per product and warehouse, one page at a time. ' +
      'Each item has productGuid, productCode, productDescription, warehouseCode, warehouseName, ' +
      'qtyOnHand, allocatedQty, availableQty (on hand less allocated), avgCost, totalCost and ' +
      'lastModifiedOn. ' +
      PAGING_NOTE,
    input: STOCK_ON_HAND,
    permission: 'unleashed:read',
    cache: { credentials: 'unleashed' },
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: true },
  })
  async stockOnHand(ctx: ToolContext, args: z.output<typeof STOCK_ON_HAND>): Promise<StockOnHandPage> {
    return this.client.stockOnHand(
      ctx,
      { page: args.page, pageSize: args.pageSize },
      { warehouseCode: args.warehouseCode, productId: args.productId, modifiedSince: args.modifiedSince },
    );
  }
}
