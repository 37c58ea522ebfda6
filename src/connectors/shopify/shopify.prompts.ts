import { Injectable } from '@nestjs/common';
import type { GetPromptResult } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { Prompt } from '../../mcp/mcp.decorators';
import { nextDay, promptDay, userPrompt } from '../prompt-steps';

/** The longest range summarised at once: a year (366 days for a leap year). */
const MAX_DAYS = 366;

/** Arguments `from` and `to` (YYYY-MM-DD) of a range of Shopify orders; `withOrderRangeRules` checks them. */
export const ORDER_RANGE = {
  from: promptDay('First day of the range, YYYY-MM-DD.'),
  to: promptDay('Last day of the range, YYYY-MM-DD, not before from.'),
};

/**
 * The rules of an order range, on a prompt's arguments holding ORDER_RANGE: shopify_sales_summary's and
 * stock_vs_sales' (which adds warehouseCode), one set for both.
 */
export function withOrderRangeRules<T extends z.ZodType<{ from: string; to: string }>>(schema: T): T {
  return (
    schema
      // A day after today (UTC) can hold no orders yet; tomorrow is let through for a shop ahead of UTC. This
      // also keeps the day after `to` (the search's end) a date Shopify's search can read (none past 9999-12-31).
      .refine((a) => a.from <= nextDay(new Date().toISOString().slice(0, 10)), {
        path: ['from'],
        message: 'must not be after today',
      })
      .refine((a) => a.from <= a.to, { path: ['to'], message: 'must not be before from' })
      .refine((a) => (Date.parse(a.to) - Date.parse(a.from)) / 86_400_000 < MAX_DAYS, {
        path: ['to'],
        message: `must be within ${MAX_DAYS} days of from`,
      })
  );
}

/** The shopify_list_orders arguments of the orders created from `from` to `to`, both days included, oldest first. */
export function ordersBetween(from: string, to: string) {
  // Shopify's search takes a day as its first moment: the range ends before the day after `to`.
  return { query: `created_at:>=${from} created_at:<${nextDay(to)}`, first: 100, newestFirst: false };
}

const SALES_SUMMARY = withOrderRangeRules(z.object(ORDER_RANGE).strict());

/** The Shopify connector's MCP prompts. */
@Injectable()
export class ShopifyPrompts {
  @Prompt({
    name: 'shopify_sales_summary',
    title: 'Shopify sales summary',
    description:
      "A summary of the Shopify shop's orders between two days: count, sales by currency and financial " +
      'status, the busiest days and the largest customers.',
    args: SALES_SUMMARY,
    permission: 'shopify:read',
  })
  salesSummary(_ctx: unknown, args: z.output<typeof SALES_SUMMARY>): GetPromptResult {
    return userPrompt(`Shopify sales summary, ${args.from} to ${args.to}`, [
      `Summarise the Shopify orders created from ${args.from} to ${args.to} (both days included). Make this ` +
        'read-only call with the Sentia MCP tools:',
      [
        {
          tool: 'shopify_list_orders',
          args: ordersBetween(args.from, args.to),
          why:
            'the orders of the range, oldest first; while pageInfo.hasNextPage is true, call it again with the ' +
            'same arguments and `after` set to pageInfo.endCursor.',
        },
      ],
      'Then summarise:\n' +
        '1. The number of orders, and the total of totalPrice.amount per currencyCode.\n' +
        '2. Orders and amounts by displayFinancialStatus (PAID, PENDING, REFUNDED, ...): say that refunded ' +
        'and voided orders are not sales.\n' +
        '3. Orders and paid amount per day; the busiest three days.\n' +
        '4. The five customers (customerEmail) with the most paid, and how many orders had no customer.\n' +
        '5. The average paid order value.',
      'The order list has no line items, so do not name products. If a tool answers that the Shopify ' +
        'credentials are missing, say that Shopify is not connected for this organisation and stop.',
    ]);
  }
}
