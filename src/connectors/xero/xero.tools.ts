import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import type { ToolContext } from '../../mcp/mcp-context';
import { Tool } from '../../mcp/mcp.decorators';
import { UpstreamError } from '../http/upstream.errors';
import { XeroClient } from './xero-client.service';
import { ifModifiedSince } from './xero-dates';
import { collection, flattenReport, mapContact, mapInvoice, pagination } from './xero-mapping';
import { GUID } from '../../common/guid';

const guid = () => z.string().regex(GUID, 'must be a GUID like 9a0e5d3b-7c1f-4e2a-8b6d-0f1e2d3c4b5a');
const tenantId = () =>
  guid()
    .optional()
    .describe(
      'The Xero tenant (organisation) to read, as xero_list_tenants gives it. ' +
        'May be left out when only one tenant is connected.',
    );
const page = () =>
  z.number().int().min(1).max(100_000).default(1).describe('Page number, from 1 (default 1).');
const pageSize = () =>
  z.number().int().min(1).max(1000).default(100).describe('Items per page, 1-1000 (default 100).');
const searchTerm = (what: string) => z.string().trim().min(1).max(100).optional().describe(what);
const DAY = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD')
  // Date.parse takes 2018-02-30 (as 2 March): the day must survive the round trip.
  .refine((d) => {
    const ms = Date.parse(d);
    return !Number.isNaN(ms) && new Date(ms).toISOString().slice(0, 10) === d;
  }, 'must be a real date');

const READ = { readOnlyHint: true, idempotentHint: true, openWorldHint: true } as const;
const STATUSES = ['DRAFT', 'SUBMITTED', 'AUTHORISED', 'PAID', 'VOIDED', 'DELETED'] as const;
const PAGING_NOTE =
  '`pagination` {page, pageSize, pageCount, itemCount} says how many pages there are (pageCount and itemCount null when Xero does not say); ' +
  'ask for the next page with `page`.';

const LIST_INVOICES = z.object({
  tenantId: tenantId(),
  statuses: z.array(z.enum(STATUSES)).min(1).max(6).optional().describe('Only invoices in these statuses.'),
  contactIds: z
    .array(guid())
    .min(1)
    .max(50)
    .optional()
    .describe('Only invoices of these contacts (ContactIDs).'),
  invoiceNumbers: z
    .array(
      z
        .string()
        .trim()
        .min(1)
        .max(255)
        .regex(/^[^,]*$/, 'must not contain a comma (Xero takes the numbers as one comma-separated list)'),
    )
    .min(1)
    .max(50)
    .optional()
    .describe('Only these invoice numbers (e.g. INV-0001).'),
  searchTerm: searchTerm('Text to find in invoice number, reference or contact name (case-insensitive).'),
  modifiedSince: z.iso
    .datetime({ offset: true })
    .optional()
    .describe(
      'Only invoices created or changed at or after this ISO 8601 date-time (e.g. 2024-01-31T00:00:00Z).',
    ),
  page: page(),
  pageSize: pageSize(),
});

const LIST_CONTACTS = z.object({
  tenantId: tenantId(),
  searchTerm: searchTerm('Text to find in name, first or last name or email address (case-insensitive).'),
  includeArchived: z.boolean().default(false).describe('Include archived contacts (default false).'),
  page: page(),
  pageSize: pageSize(),
});

const PROFIT_AND_LOSS = z
  .object({
    tenantId: tenantId(),
    fromDate: DAY.describe('First day of the report, YYYY-MM-DD.'),
    toDate: DAY.describe('Last day of the report, YYYY-MM-DD, not before fromDate.'),
    periods: z
      .number()
      .int()
      .min(1)
      .max(12)
      .optional()
      .describe('Number of earlier periods to compare with, 1-12 (each one a timeframe long).'),
    timeframe: z.enum(['MONTH', 'QUARTER', 'YEAR']).optional().describe('Length of each compared period.'),
  })
  .refine((a) => a.fromDate <= a.toDate, { path: ['fromDate'], message: 'must not be after toDate' });

/** The Xero tools: thin translations between MCP arguments and XeroClient calls. */
@Injectable()
export class XeroTools {
  constructor(private readonly xero: XeroClient) {}

  @Tool({
    name: 'xero_list_tenants',
    title: 'List Xero tenants',
    description:
      'Lists the Xero tenants (organisations) this organisation’s Xero connection can read: ' +
      '{tenants: [{tenantId, tenantName, tenantType}]}. Pass a tenantId to the other xero_ tools when there are several.',
    permission: 'xero:read',
    cache: { credentials: 'xero' },
    annotations: READ,
  })
  async listTenants(ctx: ToolContext) {
    return { tenants: await this.xero.listTenants(ctx) };
  }

  @Tool({
    name: 'xero_list_invoices',
    title: 'List Xero invoices',
    description:
      'Lists invoices (sales ACCREC and bills ACCPAY) of a Xero tenant, ' +
      'optionally filtered by status, contact, number, search text or last change. Each invoice: invoiceId, invoiceNumber, type, ' +
      'status, contact {contactId, name}, reference, date and dueDate (YYYY-MM-DD), currencyCode, subTotal, totalTax, ' +
      'total, amountDue, amountPaid, updatedDateUtc (ISO 8601). ' +
      PAGING_NOTE,
    input: LIST_INVOICES,
    permission: 'xero:read',
    cache: { credentials: 'xero' },
    annotations: READ,
  })
  async listInvoices(ctx: ToolContext, args: z.output<typeof LIST_INVOICES>) {
    const { tenantId, body } = await this.xero.accounting(ctx, {
      tenantId: args.tenantId,
      path: 'Invoices',
      what: 'such invoices',
      query: {
        Statuses: args.statuses?.join(','),
        ContactIDs: args.contactIds?.join(','),
        InvoiceNumbers: args.invoiceNumbers?.join(','),
        searchTerm: args.searchTerm,
        page: String(args.page),
        pageSize: String(args.pageSize),
      },
      headers: args.modifiedSince ? { 'if-modified-since': ifModifiedSince(args.modifiedSince) } : undefined,
    });
    const asked = { page: args.page, pageSize: args.pageSize };
    if (body === null)
      return { tenantId, invoices: [], pagination: { ...asked, pageCount: 0, itemCount: 0 } };
    return {
      tenantId,
      invoices: collection(body, 'Invoices').map(mapInvoice),
      pagination: pagination(body, asked),
    };
  }

  @Tool({
    name: 'xero_list_contacts',
    title: 'List Xero contacts',
    description:
      'Lists contacts (customers and suppliers) of a Xero tenant, optionally searched. Each contact: contactId, name, ' +
      'firstName, lastName, emailAddress, contactStatus (ACTIVE or ARCHIVED), isCustomer, isSupplier, ' +
      'updatedDateUtc (ISO 8601). ' +
      PAGING_NOTE,
    input: LIST_CONTACTS,
    permission: 'xero:read',
    cache: { credentials: 'xero' },
    annotations: READ,
  })
  async listContacts(ctx: ToolContext, args: z.output<typeof LIST_CONTACTS>) {
    const { tenantId, body } = await this.xero.accounting(ctx, {
      tenantId: args.tenantId,
      path: 'Contacts',
      what: 'such contacts',
      query: {
        searchTerm: args.searchTerm,
        includeArchived: args.includeArchived ? 'true' : undefined,
        page: String(args.page),
        pageSize: String(args.pageSize),
      },
    });
    const asked = { page: args.page, pageSize: args.pageSize };
    return {
      tenantId,
      contacts: collection(body, 'Contacts').map(mapContact),
      pagination: pagination(body, asked),
    };
  }

  @Tool({
    name: 'xero_profit_and_loss',
    title: 'Xero profit and loss report',
    description:
      'The Profit and Loss report of a Xero tenant between two dates, optionally compared with earlier periods. ' +
      'Returns reportName, reportTitles, columns (the period titles) and rows flattened from Xero’s sections: ' +
      '[{section, title, values (one amount string per column), summary (true for a total line)}].',
    input: PROFIT_AND_LOSS,
    permission: 'xero:read',
    cache: { credentials: 'xero' },
    annotations: READ,
  })
  async profitAndLoss(ctx: ToolContext, args: z.output<typeof PROFIT_AND_LOSS>) {
    const { tenantId, body } = await this.xero.accounting(ctx, {
      tenantId: args.tenantId,
      path: 'Reports/ProfitAndLoss',
      what: 'Profit and Loss report for these dates',
      query: {
        fromDate: args.fromDate,
        toDate: args.toDate,
        periods: args.periods === undefined ? undefined : String(args.periods),
        timeframe: args.timeframe,
      },
    });
    const [report] = collection(body, 'Reports');
    if (!report) throw UpstreamError.badResponse('xero', 'no report in the answer');
    return { tenantId, fromDate: args.fromDate, toDate: args.toDate, ...flattenReport(report) };
  }
}
