import { Injectable } from '@nestjs/common';
import type { GetPromptResult } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { Prompt } from '../mcp/mcp.decorators';
import { given, userPrompt } from './prompt-steps';
import { ORDER_RANGE, ordersBetween, withOrderRangeRules } from './shopify/shopify.prompts';
import { OPEN_PURCHASE_ORDERS, stockRows } from './unleashed/unleashed.prompts';
import { STOCK_ON_HAND } from './unleashed/unleashed.schemas';

const STOCK_VS_SALES = withOrderRangeRules(
  z
    .object({
      ...ORDER_RANGE,
      // The tool's own argument, so what the prompt takes is what the tool takes.
      warehouseCode: STOCK_ON_HAND.shape.warehouseCode.describe(
        'Only this Unleashed warehouse (its code, the warehouseCode of Unleashed orders and stock rows); ' +
          'leave it out for all warehouses together.',
      ),
    })
    .strict(),
);

const today = () => new Date().toISOString().slice(0, 10);

/** The first day of this month (UTC) and of the twelve before it, newest first. */
function recentMonthStarts(): string[] {
  const now = new Date();
  return Array.from({ length: 13 }, (_, i) =>
    new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - i, 1)).toISOString().slice(0, 10),
  );
}

/** Today, then the last day of each of the twelve months before this one, newest first. */
function recentMonthEnds(): string[] {
  const now = new Date();
  const ends = Array.from({ length: 12 }, (_, i) =>
    new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - i, 0)).toISOString().slice(0, 10),
  );
  return [today(), ...ends];
}

/**
 * A prompt across two connectors: Shopify's orders against Unleashed's stock. It needs both
 * systems' read permissions; a key holding one of them does not see it.
 */
@Injectable()
export class StockVsSalesPrompts {
  @Prompt({
    name: 'stock_vs_sales',
    title: 'Stock against sales (Shopify and Unleashed)',
    description:
      'Shopify order volume between two days against Unleashed stock on hand and open purchase orders: ' +
      'the order trend, the low and out-of-stock products, and what a per-product comparison would need.',
    args: STOCK_VS_SALES,
    permission: ['shopify:read', 'unleashed:read'],
    complete: {
      from: (prefix) => recentMonthStarts().filter((d) => d.startsWith(prefix)),
      to: (prefix) => recentMonthEnds().filter((d) => d.startsWith(prefix)),
    },
  })
  stockVsSales(_ctx: unknown, args: z.output<typeof STOCK_VS_SALES>): GetPromptResult {
    const where = args.warehouseCode
      ? `the Unleashed warehouse ${args.warehouseCode}`
      : 'all Unleashed warehouses';
    return userPrompt(`Stock against sales, ${args.from} to ${args.to} (${where})`, [
      `Compare the Shopify orders created from ${args.from} to ${args.to} (both days included) with the stock ` +
        `of ${where}. Make these read-only calls with the Sentia MCP tools:`,
      [
        {
          tool: 'shopify_list_orders',
          args: ordersBetween(args.from, args.to),
          why:
            'the orders of the range, oldest first; while pageInfo.hasNextPage is true, call it again with the ' +
            'same arguments and `after` set to pageInfo.endCursor.',
        },
        {
          tool: 'unleashed_stock_on_hand',
          args: { ...given({ warehouseCode: args.warehouseCode }), pageSize: 1000 },
          why:
            `${stockRows(args.warehouseCode)}, as it is now (qtyOnHand, allocatedQty, availableQty: on hand ` +
            'less allocated); ask for the next `page` while page < numberOfPages.',
        },
        {
          tool: 'unleashed_list_purchase_orders',
          args: { orderStatus: OPEN_PURCHASE_ORDERS, pageSize: 1000 },
          why:
            'the purchase orders not yet received (Parked: drafted, Placed: sent to the supplier), with their ' +
            'supplier, warehouseCode, requiredDate, total and lineCount; page the same way.' +
            (args.warehouseCode ? ` Keep those of warehouseCode ${args.warehouseCode}.` : ''),
        },
      ],
      'What the data can and cannot show: each Shopify order gives only its name, createdAt (UTC), ' +
        'displayFinancialStatus, totalPrice and customerEmail; it has no line items, products, SKUs or ' +
        'quantities. Unleashed gives stock per productCode, and its purchase orders give a lineCount but not ' +
        'their lines. So do not work out sales, sell-through or days of cover per product, and do not match ' +
        'orders to products. The stock is as it is now, not as it was over the range.',
      'Then answer:\n' +
        '1. Order volume over the range: orders and their totalPrice per currencyCode, per week (per day for ' +
        'a range under a month), leaving out REFUNDED and VOIDED orders; whether the volume rose, fell or held.\n' +
        '2. Stock now: the number of products and the total on hand, allocated and available, per warehouse ' +
        'for rows with a warehouseCode and once for all warehouses for rows without one (totals); the ' +
        'products with nothing available (availableQty 0 or less), then the lowest, with productCode, ' +
        'productDescription and warehouse (its warehouseCode, or "all warehouses").\n' +
        '3. Open purchase orders: number, status, supplier, warehouse, required date and total, the overdue ' +
        'ones (requiredDate passed) first; for rows with a warehouseCode, which warehouses with products out ' +
        'of stock have none (a total across all warehouses has no warehouse to match).\n' +
        '4. Together, in aggregate only: whether the order trend and the stock point the same way (for ' +
        'example orders rising while many products have nothing available and no purchase order is open), ' +
        'as an observation to check, not a forecast.\n' +
        '5. What is missing for a per-product comparison: the quantities sold per product in the range (the ' +
        "orders' line items, which these tools do not return), and whether Shopify SKUs are the Unleashed " +
        'productCodes (shopify_list_products gives each product’s variants with their sku, to compare).',
      'If a tool answers that the Shopify or Unleashed credentials are missing, say which system is not ' +
        'connected for this organisation, and give only what the other one shows. Do not guess figures a call ' +
        'did not return.',
    ]);
  }
}
