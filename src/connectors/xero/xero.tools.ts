import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import type { ToolContext } from '../../mcp/mcp-context';
import { Tool } from '../../mcp/mcp.decorators';
import { AccountingRequest, XeroClient } from './xero-client.service';
import { ifModifiedSince } from './xero-dates';
import {
  collection,
  mapAccount,
  mapBankTransaction,
  mapContact,
  mapInvoice,
  mapOrganisation,
  only,
  Pagination,
  pagination,
} from './xero-mapping';
import {
  ACCOUNT_CLASSES,
  ACCOUNT_TYPES,
  BANK_TRANSACTION_STATUSES,
  BANK_TRANSACTION_TYPES,
  INVOICE_STATUSES,
} from './xero-codes';
import {
  DAY,
  guid,
  INSTANT,
  page,
  pageSize,
  PAGING_NOTE,
  READ,
  searchTerm,
  tenantId,
} from './xero-tool-args';
import { whereAll, whereAnyOf, whereDay, whereGuid, whereIs } from './xero-where';

const LIST_INVOICES = z.object({
  tenantId: tenantId(),
  statuses: z
    .array(z.enum(INVOICE_STATUSES))
    .min(1)
    .max(6)
    .optional()
    .describe('Only invoices in these statuses.'),
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
  searchTerm: searchTerm(
    "Text to find in invoice number or reference (case-insensitive; Xero does not search the contact's name: use contactIds).",
  ),
  modifiedSince: INSTANT.optional().describe(
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

const GET_ORGANISATION = z.object({ tenantId: tenantId() });

const LIST_ACCOUNTS = z.object({
  tenantId: tenantId(),
  types: z
    .array(z.enum(ACCOUNT_TYPES))
    .min(1)
    .max(ACCOUNT_TYPES.length)
    .optional()
    .describe('Only accounts of these types (e.g. BANK for the bank accounts, REVENUE, EXPENSE, OVERHEADS).'),
  classes: z
    .array(z.enum(ACCOUNT_CLASSES))
    .min(1)
    .max(ACCOUNT_CLASSES.length)
    .optional()
    .describe('Only accounts of these classes (ASSET, EQUITY, EXPENSE, LIABILITY, REVENUE).'),
  includeArchived: z.boolean().default(false).describe('Include archived accounts (default false).'),
  orderBy: z.enum(['code', 'name']).default('code').describe('Order by account code (default) or name.'),
});

const LIST_BANK_TRANSACTIONS = z
  .object({
    tenantId: tenantId(),
    types: z
      .array(z.enum(BANK_TRANSACTION_TYPES))
      .min(1)
      .max(BANK_TRANSACTION_TYPES.length)
      .optional()
      .describe('Only transactions of these types (RECEIVE money in, SPEND money out, and their variants).'),
    statuses: z
      .array(z.enum(BANK_TRANSACTION_STATUSES))
      .min(1)
      .max(BANK_TRANSACTION_STATUSES.length)
      .optional()
      .describe('Only transactions in these statuses (AUTHORISED, DELETED, VOIDED).'),
    bankAccountId: guid()
      .optional()
      .describe(
        'Only transactions of this bank account (an accountId of xero_list_accounts with types ["BANK"]).',
      ),
    contactId: guid().optional().describe('Only transactions with this contact (a contactId).'),
    fromDate: DAY.optional().describe('Only transactions dated on or after this day, YYYY-MM-DD.'),
    toDate: DAY.optional().describe('Only transactions dated on or before this day, YYYY-MM-DD.'),
    isReconciled: z
      .boolean()
      .optional()
      .describe('Only reconciled (true) or only unreconciled (false) transactions.'),
    newestFirst: z.boolean().default(false).describe('Newest first (default false: oldest first, by date).'),
    page: page(),
    pageSize: pageSize(),
  })
  .refine((a) => !a.fromDate || !a.toDate || a.fromDate <= a.toDate, {
    path: ['fromDate'],
    message: 'must not be after toDate',
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
    const { tenantId, items, pagination } = await this.page(ctx, args, mapInvoice, {
      path: 'Invoices',
      what: 'such invoices',
      query: {
        Statuses: args.statuses?.join(','),
        ContactIDs: args.contactIds?.join(','),
        InvoiceNumbers: args.invoiceNumbers?.join(','),
        searchTerm: args.searchTerm,
      },
      headers: args.modifiedSince ? { 'if-modified-since': ifModifiedSince(args.modifiedSince) } : undefined,
    });
    return { tenantId, invoices: items, pagination };
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
    const { tenantId, items, pagination } = await this.page(ctx, args, mapContact, {
      path: 'Contacts',
      what: 'such contacts',
      query: {
        searchTerm: args.searchTerm,
        includeArchived: args.includeArchived ? 'true' : undefined,
      },
    });
    return { tenantId, contacts: items, pagination };
  }

  @Tool({
    name: 'xero_get_organisation',
    title: 'Get the Xero organisation',
    description:
      'The organisation (company) details of a Xero tenant: {organisation: {organisationId, name, legalName, ' +
      'shortCode, organisationType, organisationStatus, isDemoCompany, countryCode, baseCurrency (the currency ' +
      'its reports are in), timezone, paysTax, salesTaxBasis, salesTaxPeriod, financialYearEndDay and ' +
      'financialYearEndMonth (when its financial year ends), periodLockDate and endOfYearLockDate (YYYY-MM-DD: ' +
      'nothing on or before them can change), createdDateUtc (ISO 8601)}}.',
    input: GET_ORGANISATION,
    permission: 'xero:read',
    cache: { credentials: 'xero' },
    annotations: READ,
  })
  async getOrganisation(ctx: ToolContext, args: z.output<typeof GET_ORGANISATION>) {
    const { tenantId, body } = await this.xero.accounting(ctx, {
      tenantId: args.tenantId,
      path: 'Organisation',
      what: 'organisation for this tenant',
      query: {},
    });
    return { tenantId, organisation: mapOrganisation(only(body, 'Organisations')) };
  }

  @Tool({
    name: 'xero_list_accounts',
    title: 'List Xero accounts',
    description:
      'The chart of accounts of a Xero tenant, all in one answer (not paged), optionally only some types or ' +
      'classes. Each account: accountId, code, name, type (BANK, REVENUE, EXPENSE, CURRENT, CURRLIAB, ...), ' +
      'class (ASSET, EQUITY, EXPENSE, LIABILITY, REVENUE), status (ACTIVE or ARCHIVED), description, taxType, ' +
      'bankAccountNumber, bankAccountType and currencyCode (bank accounts), enablePaymentsToAccount, ' +
      'systemAccount (e.g. DEBTORS, CREDITORS), reportingCode, updatedDateUtc (ISO 8601). ' +
      'A bank account’s accountId is what xero_list_bank_transactions takes as bankAccountId.',
    input: LIST_ACCOUNTS,
    permission: 'xero:read',
    cache: { credentials: 'xero' },
    annotations: READ,
  })
  async listAccounts(ctx: ToolContext, args: z.output<typeof LIST_ACCOUNTS>) {
    const { tenantId, body } = await this.xero.accounting(ctx, {
      tenantId: args.tenantId,
      path: 'Accounts',
      what: 'such accounts',
      query: {
        where: whereAll(
          args.includeArchived ? undefined : whereAnyOf('Status', ['ACTIVE']),
          whereAnyOf('Type', args.types),
          whereAnyOf('Class', args.classes),
        ),
        order: args.orderBy === 'name' ? 'Name ASC' : 'Code ASC',
      },
    });
    return { tenantId, accounts: collection(body, 'Accounts').map(mapAccount) };
  }

  @Tool({
    name: 'xero_list_bank_transactions',
    title: 'List Xero bank transactions',
    description:
      'Lists the bank transactions (money received and spent through bank accounts; not invoice payments) of a ' +
      'Xero tenant, oldest first unless newestFirst, optionally filtered by type, status, bank account, contact, ' +
      'dates or reconciliation. Each transaction: bankTransactionId, type (RECEIVE, SPEND, ...), status, ' +
      'contact {contactId, name}, bankAccount {accountId, code, name}, reference, date (YYYY-MM-DD), ' +
      'isReconciled, currencyCode, subTotal, totalTax, total, updatedDateUtc (ISO 8601). ' +
      PAGING_NOTE,
    input: LIST_BANK_TRANSACTIONS,
    permission: 'xero:read',
    cache: { credentials: 'xero' },
    annotations: READ,
  })
  async listBankTransactions(ctx: ToolContext, args: z.output<typeof LIST_BANK_TRANSACTIONS>) {
    const { tenantId, items, pagination } = await this.page(ctx, args, mapBankTransaction, {
      path: 'BankTransactions',
      what: 'such bank transactions',
      query: {
        where: whereAll(
          whereAnyOf('Type', args.types),
          whereAnyOf('Status', args.statuses),
          whereGuid('BankAccount.AccountID', args.bankAccountId),
          whereGuid('Contact.ContactID', args.contactId),
          whereDay('Date', '>=', args.fromDate),
          whereDay('Date', '<=', args.toDate),
          whereIs('IsReconciled', args.isReconciled),
        ),
        order: args.newestFirst ? 'Date DESC' : 'Date ASC',
      },
    });
    return { tenantId, bankTransactions: items, pagination };
  }

  /**
   * One page of a paged collection (its key the path's, `Invoices`): the items mapped and the
   * envelope's pagination. A 304 (If-Modified-Since, nothing changed) is an empty page.
   */
  private async page<T>(
    ctx: ToolContext,
    args: { tenantId?: string; page: number; pageSize: number },
    map: (item: Record<string, unknown>) => T,
    req: Omit<AccountingRequest, 'tenantId'>,
  ): Promise<{ tenantId: string; items: T[]; pagination: Pagination }> {
    const { tenantId, body } = await this.xero.accounting(ctx, {
      ...req,
      tenantId: args.tenantId,
      query: { ...req.query, page: String(args.page), pageSize: String(args.pageSize) },
    });
    const asked = { page: args.page, pageSize: args.pageSize };
    if (body === null) return { tenantId, items: [], pagination: { ...asked, pageCount: 0, itemCount: 0 } };
    return { tenantId, items: collection(body, req.path).map(map), pagination: pagination(body, asked) };
  }
}
