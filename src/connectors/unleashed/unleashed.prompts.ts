import { Injectable } from '@nestjs/common';
import type { GetPromptResult } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { Prompt } from '../../mcp/mcp.decorators';
import { given, userPrompt } from '../prompt-steps';
import { STOCK_ON_HAND } from './unleashed.schemas';

const REORDER_CHECK = z
  .object({
    // The tool's own argument, so what the prompt takes is what the tool takes.
    warehouseCode: STOCK_ON_HAND.shape.warehouseCode.describe(
      'Only this warehouse (its code, the warehouseCode of Unleashed orders and stock rows); leave it out ' +
        'for all warehouses together.',
    ),
    threshold: z
      .string()
      .regex(/^\d{1,7}$/, 'must be a whole number of units, 0-9999999')
      .optional()
      .describe('Flag products whose available quantity is at or below this many units (default 0).'),
  })
  .strict();

/**
 * What unleashed_stock_on_hand's rows are, under either reading of Unleashed's list (UPSTREAMS.md
 * leaves it open): a row with a warehouseCode is that warehouse's, one without is a product's
 * total across all warehouses, which Unleashed documents as its answer without warehouseCode.
 */
export function stockRows(warehouseCode: string | undefined): string {
  return warehouseCode
    ? `the stock of the warehouse ${warehouseCode}, one row per product`
    : 'the stock of all warehouses: a row whose warehouseCode is null is a product’s total across ' +
        'all warehouses (Unleashed documents one such row per product), a row with a warehouseCode ' +
        'that warehouse’s stock only; never add a total to rows of the same product';
}

/** Purchase orders that may still bring stock in: drafted (Parked) or sent to the supplier (Placed). */
export const OPEN_PURCHASE_ORDERS = ['Parked', 'Placed'];

/** The Unleashed connector's MCP prompts. */
@Injectable()
export class UnleashedPrompts {
  @Prompt({
    name: 'unleashed_reorder_check',
    title: 'Unleashed reorder check',
    description:
      'Which products are low on stock in Unleashed (available at or below a threshold), against the ' +
      'purchase orders still open, to decide what to reorder.',
    args: REORDER_CHECK,
    permission: 'unleashed:read',
  })
  reorderCheck(_ctx: unknown, args: z.output<typeof REORDER_CHECK>): GetPromptResult {
    const threshold = Number(args.threshold ?? '0');
    const where = args.warehouseCode ? `the warehouse ${args.warehouseCode}` : 'all warehouses';
    return userPrompt(`Unleashed reorder check (${where}, available at or below ${threshold})`, [
      `Check the Unleashed stock of ${where} for products to reorder. Make these read-only calls with the ` +
        'Sentia MCP tools:',
      [
        {
          tool: 'unleashed_stock_on_hand',
          args: { ...given({ warehouseCode: args.warehouseCode }), pageSize: 1000 },
          why:
            `${stockRows(args.warehouseCode)}; ask for the next \`page\` while page < numberOfPages. A row is ` +
            `low when its availableQty (on hand less allocated) is ${threshold} or less.`,
        },
        {
          tool: 'unleashed_list_purchase_orders',
          args: { orderStatus: OPEN_PURCHASE_ORDERS, pageSize: 1000 },
          why:
            'the purchase orders not yet received (Parked: drafted, Placed: sent to the supplier), with their ' +
            'supplier, warehouseCode, requiredDate and total; page the same way.' +
            (args.warehouseCode ? ` Keep those of warehouseCode ${args.warehouseCode}.` : ''),
        },
      ],
      'Then answer:\n' +
        '1. The low products, lowest available first: productCode, description, warehouse (its ' +
        'warehouseCode, or "all warehouses" for a row without one), on hand, allocated and available.\n' +
        '2. The open purchase orders: number, status, supplier, warehouse, required date and total, the ' +
        'overdue ones (requiredDate passed) first.\n' +
        '3. What to do: the list gives no order lines, so say which low products may be covered by an open ' +
        'purchase order (to check in Unleashed): for a row with a warehouseCode, one of that warehouse; for ' +
        'a total across all warehouses, one of any warehouse. Say which have none (to reorder).' +
        (args.warehouseCode
          ? ''
          : ' If the rows are totals (warehouseCode null), say that a total hides a product short in one ' +
            'warehouse and stocked in another, and that giving a warehouseCode checks that warehouse.'),
      'If a tool answers that the Unleashed credentials are missing, say that Unleashed is not connected ' +
        'for this organisation and stop. Do not guess quantities a call did not return.',
    ]);
  }
}
