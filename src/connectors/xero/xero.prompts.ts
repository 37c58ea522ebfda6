import { Injectable } from '@nestjs/common';
import type { GetPromptResult } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { Prompt } from '../../mcp/mcp.decorators';
import { given, userPrompt } from '../prompt-steps';
import { guid } from './xero-tool-args';

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;

/** YYYY-MM of the current month (UTC), and of the 12 before it, newest first: the completions of `month`. */
function recentMonths(now = new Date()): string[] {
  return Array.from({ length: 13 }, (_, i) =>
    new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - i, 1)).toISOString().slice(0, 7),
  );
}

const MONTH_END_REVIEW = z
  .object({
    month: z
      .string()
      .regex(MONTH, { message: 'must be a month YYYY-MM, e.g. 2026-05', abort: true })
      .refine((m) => m <= recentMonths()[0], 'must not be a month after the current one')
      .describe('The month to review, YYYY-MM (e.g. 2026-05).'),
    tenantId: guid()
      .optional()
      .describe(
        'The Xero tenant (organisation) to review, as xero_list_tenants gives it; leave it out when only one is connected.',
      ),
  })
  .strict();

/** The first and last day of a month YYYY-MM. */
function monthBounds(month: string): { first: string; last: string } {
  const [, y, m] = MONTH.exec(month)!;
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0-99 as 1900-1999 (0026-05 would end 1926-05-31).
  const end = new Date(0);
  end.setUTCFullYear(+y, +m, 0);
  return { first: `${month}-01`, last: end.toISOString().slice(0, 10) };
}

/** The Xero connector's MCP prompts: each a user message naming the Xero tool calls to make. */
@Injectable()
export class XeroPrompts {
  @Prompt({
    name: 'xero_month_end_review',
    title: 'Xero month-end review',
    description:
      "A month-end review of the organisation's Xero books: profit and loss against the month before, " +
      'the balance sheet at month end, and the invoices and bills overdue at month end.',
    args: MONTH_END_REVIEW,
    permission: 'xero:read',
    complete: { month: (prefix) => recentMonths().filter((m) => m.startsWith(prefix)) },
  })
  monthEndReview(_ctx: unknown, args: z.output<typeof MONTH_END_REVIEW>): GetPromptResult {
    const { first, last } = monthBounds(args.month);
    const tenant = given({ tenantId: args.tenantId });
    return userPrompt(`Xero month-end review for ${args.month}`, [
      `Review the Xero books for the month ${args.month} (${first} to ${last})` +
        (args.tenantId ? ` of the Xero tenant ${args.tenantId}.` : '.') +
        ' Make these read-only calls with the Sentia MCP tools:',
      [
        {
          tool: 'xero_profit_and_loss',
          args: { ...tenant, fromDate: first, toDate: last, periods: 1, timeframe: 'MONTH' },
          why: 'the profit and loss of the month; its second column is the month before.',
        },
        {
          tool: 'xero_balance_sheet',
          args: { ...tenant, date: last, periods: 1, timeframe: 'MONTH' },
          why: 'the balance sheet at the end of the month; its second column is the end of the month before.',
        },
        {
          tool: 'xero_list_invoices',
          args: { ...tenant, statuses: ['AUTHORISED'], pageSize: 1000 },
          why:
            'the approved invoices (type ACCREC, owed to the organisation) and bills (ACCPAY, owed by it) not ' +
            'yet paid in full; ask for the next `page` while pagination says there are more. Overdue at month ' +
            `end means dueDate on or before ${last} and amountDue above 0. This is what is unpaid today: one ` +
            'paid since the month end no longer shows.',
        },
      ],
      'Then summarise, with amounts in the organisation’s currency:\n' +
        '1. Profit and loss: revenue, gross profit, operating expenses and net profit for the month against ' +
        'the month before (amount and % change), and the lines that moved most.\n' +
        '2. Balance sheet: cash, receivables, payables and net assets at month end against the month before.\n' +
        '3. Overdue receivables and overdue payables: the totals, and the five largest of each with the ' +
        'contact, amount due and days overdue at month end.\n' +
        '4. Up to five things to look at before the month is closed.',
      'If a tool answers that the Xero credentials are missing, say that Xero is not connected for this ' +
        'organisation and stop. If it asks for a tenantId, list the tenants (`xero_list_tenants`) and ask ' +
        'which one to review. Do not guess figures a call did not return.',
    ]);
  }
}
