import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import type { ToolContext } from '../../mcp/mcp-context';
import { Tool } from '../../mcp/mcp.decorators';
import { XeroClient } from './xero-client.service';
import { ifModifiedSince } from './xero-dates';
import { collection, mapContact, mapInvoice, pagination } from './xero-mapping';
import { guid, page, pageSize, PAGING_NOTE, READ, searchTerm, tenantId } from './xero-tool-args';

const STATUSES = ['DRAFT', 'SUBMITTED', 'AUTHORISED', 'PAID', 'VOIDED', 'DELETED'] as const;

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
}
