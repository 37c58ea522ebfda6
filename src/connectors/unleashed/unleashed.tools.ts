import { Injectable } from '@nestjs/common';
import type { z } from 'zod';
import type { ToolContext } from '../../mcp/mcp-context';
import { Tool } from '../../mcp/mcp.decorators';
import { UnleashedClient, UnleashedPage } from './unleashed.client';
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

const ORDER_ITEM =
  'orderNumber, orderStatus, {party}, orderDate, requiredDate, completedDate, warehouseCode, ' +
  'currencyCode, subTotal, taxTotal and total (in the order currency), lineCount (how many lines) ' +
  'and lastModifiedOn.';

const paging = (args: { page: number; pageSize: number }) => ({ page: args.page, pageSize: args.pageSize });
const statuses = (list: readonly string[] | undefined) => list?.join(',');

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
    return this.client.list(ctx, 'Products', paging(args), {
      productCode: args.productCode,
      productGroup: args.productGroup,
      modifiedSince: args.modifiedSince,
      includeObsolete: args.includeObsolete,
    });
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
    annotations: READ_ONLY,
  })
  async stockOnHand(
    ctx: ToolContext,
    args: z.output<typeof STOCK_ON_HAND>,
  ): Promise<UnleashedPage<'StockOnHand'>> {
    return this.client.list(ctx, 'StockOnHand', paging(args), {
      warehouseCode: args.warehouseCode,
      productId: args.productId,
      modifiedSince: args.modifiedSince,
    });
  }

  @Tool({
    name: 'unleashed_list_sales_orders',
    title: 'List Unleashed sales orders',
    description:
      'Lists sales orders from Unleashed, one page at a time. Each item has guid, ' +
      ORDER_ITEM.replace('{party}', 'customerCode, customerName') +
      ' Deleted orders are left out unless orderStatus asks for them. ' +
      PAGING_NOTE,
    input: LIST_SALES_ORDERS,
    permission: 'unleashed:read',
    annotations: READ_ONLY,
  })
  async listSalesOrders(
    ctx: ToolContext,
    args: z.output<typeof LIST_SALES_ORDERS>,
  ): Promise<UnleashedPage<'SalesOrders'>> {
    return this.client.list(ctx, 'SalesOrders', paging(args), {
      orderStatus: statuses(args.orderStatus),
      customerCode: args.customerCode,
      startDate: args.startDate,
      endDate: args.endDate,
      modifiedSince: args.modifiedSince,
    });
  }

  @Tool({
    name: 'unleashed_list_purchase_orders',
    title: 'List Unleashed purchase orders',
    description:
      'Lists purchase orders (to suppliers) from Unleashed, one page at a time. Each item has guid, ' +
      ORDER_ITEM.replace('{party}', 'supplierCode, supplierName') +
      ' Deleted orders are left out unless orderStatus asks for them. ' +
      PAGING_NOTE,
    input: LIST_PURCHASE_ORDERS,
    permission: 'unleashed:read',
    annotations: READ_ONLY,
  })
  async listPurchaseOrders(
    ctx: ToolContext,
    args: z.output<typeof LIST_PURCHASE_ORDERS>,
  ): Promise<UnleashedPage<'PurchaseOrders'>> {
    return this.client.list(ctx, 'PurchaseOrders', paging(args), {
      orderStatus: statuses(args.orderStatus),
      startDate: args.startDate,
      endDate: args.endDate,
      modifiedSince: args.modifiedSince,
    });
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
    annotations: READ_ONLY,
  })
  async listCustomers(
    ctx: ToolContext,
    args: z.output<typeof LIST_CUSTOMERS>,
  ): Promise<UnleashedPage<'Customers'>> {
    return this.client.list(ctx, 'Customers', paging(args), {
      customerCode: args.customerCode,
      customerName: args.customerName,
      modifiedSince: args.modifiedSince,
      includeObsolete: args.includeObsolete,
    });
  }
}
