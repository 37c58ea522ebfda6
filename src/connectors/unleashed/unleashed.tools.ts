import { Injectable } from '@nestjs/common';
import type { z } from 'zod';
import type { ToolContext } from '../../mcp/mcp-context';
import { Tool } from '../../mcp/mcp.decorators';
import { UnleashedClient, UnleashedPage, UnleashedQuery, UnleashedResource } from './unleashed.client';
import {
  LIST_CUSTOMERS,
  LIST_PRODUCTS,
  LIST_PURCHASE_ORDERS,
  LIST_SALES_ORDERS,
  STOCK_ON_HAND,
} from './unleashed.schemas';

const READ_ONLY = { readOnlyHint: true, idempotentHint: true, openWorldHint: true } as const;

const PAGING_NOTE =
  '`pagination` gives {page, pageSize, numberOfPages, numberOfItems}: ask for the next `page` ' +
  'while page < numberOfPages. Dates are ISO 8601 (UTC); absent values are null.';

/** A list-of-orders tool's description; `party` names the customer or supplier fields. */
const orderDescription = (orders: string, party: string) =>
  `Lists ${orders} from Unleashed, one page at a time. Each item has guid, orderNumber, orderStatus, ` +
  `${party}, orderDate, requiredDate, completedDate, warehouseCode, currencyCode, subTotal, taxTotal ` +
  'and total (in the order currency), lineCount (how many lines) and lastModifiedOn. Deleted orders ' +
  'are left out unless orderStatus asks for them. ' +
  PAGING_NOTE;

/** A parsed argument list: the paging, and filters named as Unleashed names them. */
type PagedFilters = { page: number; pageSize: number } & UnleashedQuery;

/** `orderStatus` goes comma-separated, as Unleashed takes several. */
const withStatuses = <A extends { orderStatus?: readonly string[] }>(args: A) => ({
  ...args,
  orderStatus: args.orderStatus?.join(','),
});

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
    annotations: READ_ONLY,
  })
  async listProducts(
    ctx: ToolContext,
    args: z.output<typeof LIST_PRODUCTS>,
  ): Promise<UnleashedPage<'Products'>> {
    return this.list(ctx, 'Products', args);
  }

  @Tool({
    name: 'unleashed_stock_on_hand',
    title: 'Unleashed stock on hand',
    description:
      'Lists stock on hand from Unleashed, one page at a time. Read each row by its warehouseCode: a row ' +
      'with a warehouseCode is that warehouse’s stock of the product only; a row whose warehouseCode is ' +
      'null is the product’s total across all warehouses. Unleashed documents the list without ' +
      'warehouseCode as one total row per product, and with warehouseCode as that warehouse’s rows, so ' +
      'for stock per warehouse call once per warehouseCode. For a product’s total, add up its rows that ' +
      'have a warehouseCode or take its row without one, never both. ' +
      'Each item has productGuid, productCode, productDescription, warehouseCode, warehouseName, ' +
      'qtyOnHand, allocatedQty, availableQty (on hand less allocated), avgCost, totalCost and ' +
      'lastModifiedOn. ' +
      PAGING_NOTE,
    input: STOCK_ON_HAND,
    permission: 'unleashed:read',
    cache: { credentials: 'unleashed' },
    annotations: READ_ONLY,
  })
  async stockOnHand(
    ctx: ToolContext,
    args: z.output<typeof STOCK_ON_HAND>,
  ): Promise<UnleashedPage<'StockOnHand'>> {
    return this.list(ctx, 'StockOnHand', args);
  }

  @Tool({
    name: 'unleashed_list_sales_orders',
    title: 'List Unleashed sales orders',
    description: orderDescription('sales orders', 'customerCode, customerName'),
    input: LIST_SALES_ORDERS,
    permission: 'unleashed:read',
    cache: { credentials: 'unleashed' },
    annotations: READ_ONLY,
  })
  async listSalesOrders(
    ctx: ToolContext,
    args: z.output<typeof LIST_SALES_ORDERS>,
  ): Promise<UnleashedPage<'SalesOrders'>> {
    return this.list(ctx, 'SalesOrders', withStatuses(args));
  }

  @Tool({
    name: 'unleashed_list_purchase_orders',
    title: 'List Unleashed purchase orders',
    description: orderDescription('purchase orders (to suppliers)', 'supplierCode, supplierName'),
    input: LIST_PURCHASE_ORDERS,
    permission: 'unleashed:read',
    cache: { credentials: 'unleashed' },
    annotations: READ_ONLY,
  })
  async listPurchaseOrders(
    ctx: ToolContext,
    args: z.output<typeof LIST_PURCHASE_ORDERS>,
  ): Promise<UnleashedPage<'PurchaseOrders'>> {
    return this.list(ctx, 'PurchaseOrders', withStatuses(args));
  }

  @Tool({
    name: 'unleashed_list_customers',
    title: 'List Unleashed customers',
    description:
      'Lists customers from Unleashed, one page at a time. Each item has guid, customerCode, ' +
      'customerName, customerType, email, phoneNumber, currencyCode, obsolete, createdOn and ' +
      'lastModifiedOn. Obsolete customers are left out unless includeObsolete is true. ' +
      PAGING_NOTE,
    input: LIST_CUSTOMERS,
    permission: 'unleashed:read',
    cache: { credentials: 'unleashed' },
    annotations: READ_ONLY,
  })
  async listCustomers(
    ctx: ToolContext,
    args: z.output<typeof LIST_CUSTOMERS>,
  ): Promise<UnleashedPage<'Customers'>> {
    return this.list(ctx, 'Customers', args);
  }

  /**
   * The tools' arguments keep Unleashed's filter names (unleashed.schemas.ts), and zod has
   * refused any other, so every argument but the paging is passed on as a filter.
   */
  private list<R extends UnleashedResource>(
    ctx: ToolContext,
    resource: R,
    { page, pageSize, ...filters }: PagedFilters,
  ): Promise<UnleashedPage<R>> {
    return this.client.list(ctx, resource, { page, pageSize }, filters);
  }
}
