import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import type { ToolContext } from '../../mcp/mcp-context';
import { Tool } from '../../mcp/mcp.decorators';
import { XeroClient } from './xero-client.service';
import { flattenReport, only } from './xero-mapping';
import { comparePeriods, DAY, READ, tenantId } from './xero-tool-args';

const PROFIT_AND_LOSS = z
  .object({
    tenantId: tenantId(),
    fromDate: DAY.describe('First day of the report, YYYY-MM-DD.'),
    toDate: DAY.describe('Last day of the report, YYYY-MM-DD, not before fromDate.'),
    ...comparePeriods(),
  })
  .refine((a) => a.fromDate <= a.toDate, { path: ['fromDate'], message: 'must not be after toDate' });

const BALANCE_SHEET = z.object({
  tenantId: tenantId(),
  date: DAY.optional().describe(
    'The day the balances are as at, YYYY-MM-DD (default: the last day of the current month, as Xero takes it).',
  ),
  ...comparePeriods(),
});

/** What every report tool returns besides its own arguments. */
const REPORT_SHAPE =
  'reportName, reportTitles, reportDate, updatedDateUtc (ISO 8601), columns (the period titles) and rows flattened ' +
  'from Xero’s sections: [{section, title, values (one amount string per column), summary (true for a total line)}].';

/** Xero's reports as MCP tools: one call, the first report of the answer, flattened. */
@Injectable()
export class XeroReportTools {
  constructor(private readonly xero: XeroClient) {}

  @Tool({
    name: 'xero_profit_and_loss',
    title: 'Xero profit and loss report',
    description:
      'The Profit and Loss report of a Xero tenant between two dates, optionally compared with earlier periods. ' +
      `Returns ${REPORT_SHAPE}`,
    input: PROFIT_AND_LOSS,
    permission: 'xero:read',
    cache: { credentials: 'xero' },
    annotations: READ,
  })
  async profitAndLoss(ctx: ToolContext, args: z.output<typeof PROFIT_AND_LOSS>) {
    const report = await this.report(ctx, args, 'ProfitAndLoss', 'Profit and Loss report for these dates', {
      fromDate: args.fromDate,
      toDate: args.toDate,
    });
    return { fromDate: args.fromDate, toDate: args.toDate, ...report };
  }

  @Tool({
    name: 'xero_balance_sheet',
    title: 'Xero balance sheet report',
    description:
      'The Balance Sheet of a Xero tenant as at a day (assets, liabilities, net assets and equity, with totals), ' +
      'optionally compared with the same day of earlier periods. The first column is the day asked for, ' +
      `then one per earlier period. Returns ${REPORT_SHAPE}`,
    input: BALANCE_SHEET,
    permission: 'xero:read',
    cache: { credentials: 'xero' },
    annotations: READ,
  })
  async balanceSheet(ctx: ToolContext, args: z.output<typeof BALANCE_SHEET>) {
    const report = await this.report(ctx, args, 'BalanceSheet', 'Balance Sheet for this date', {
      date: args.date,
    });
    return { date: args.date, ...report };
  }

  /** GET /Reports/{name} for the tenant, with the comparison periods asked for: its first report, flattened. */
  private async report(
    ctx: ToolContext,
    args: { tenantId?: string; periods?: number; timeframe?: string },
    name: string,
    what: string,
    query: Record<string, string | undefined>,
  ) {
    const { tenantId, body } = await this.xero.accounting(ctx, {
      tenantId: args.tenantId,
      path: `Reports/${name}`,
      what,
      query: {
        ...query,
        periods: args.periods === undefined ? undefined : String(args.periods),
        timeframe: args.timeframe,
      },
    });
    return { tenantId, ...flattenReport(only(body, 'Reports')) };
  }
}
