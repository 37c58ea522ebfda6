/**
 * The Xero simulator's tenants and their invoices, contacts and Profit and
 * Loss answers in Xero's shapes (PascalCase, Microsoft JSON dates, ISO
 * twins, paged envelopes, `where` and `order`, the report's nested rows);
 * the organisation, the accounts, the bank transactions and the Balance
 * Sheet are in xero-simulator-ledger.ts.
 */
import { makeLedger, SimLedger } from './xero-simulator-ledger';
import {
  DATE,
  DAY_MS,
  envelope,
  FIRST_INVOICE_DATE,
  FIRST_UPDATED,
  guid,
  isoNoZone,
  msDate,
  msOf,
  paged,
  queryParseError,
  reportPeriods,
  SimAnswer,
  validationError,
} from './xero-simulator-shapes';
import { Fields, ordered, whereFilter } from './xero-simulator-where';

export interface SimTenant extends SimLedger {
  tenantId: string;
  tenantName: string;
  tenantType: 'ORGANISATION' | 'PRACTICE';
  invoices: SimInvoice[];
  contacts: SimContact[];
}

export interface SimContact {
  ContactID: string;
  Name: string;
  FirstName?: string;
  LastName?: string;
  EmailAddress?: string;
  ContactStatus: 'ACTIVE' | 'ARCHIVED';
  IsCustomer: boolean;
  IsSupplier: boolean;
  UpdatedDateUTC: string;
}

export interface SimInvoice {
  InvoiceID: string;
  InvoiceNumber: string;
  Type: 'ACCREC' | 'ACCPAY';
  Status: string;
  Contact: { ContactID: string; Name: string };
  Date: string;
  DateString: string;
  DueDate: string;
  DueDateString: string;
  CurrencyCode: string;
  SubTotal: number;
  TotalTax: number;
  Total: number;
  AmountDue: number;
  AmountPaid: number;
  Reference: string;
  UpdatedDateUTC: string;
}

const STATUSES = ['DRAFT', 'SUBMITTED', 'AUTHORISED', 'PAID', 'VOIDED', 'AUTHORISED'];

/**
 * A tenant with `invoices` invoices spread over `contacts` contacts (the last
 * contact archived), and its ledger (`bankTransactions` of them).
 */
export function makeTenant(
  tenantId: string,
  tenantName: string,
  opts: { invoices?: number; contacts?: number; bankTransactions?: number; seed?: number } = {},
): SimTenant {
  const seed = opts.seed ?? 1;
  const contacts: SimContact[] = Array.from({ length: opts.contacts ?? 3 }, (_, i) => ({
    ContactID: guid(`c${seed.toString(16).padStart(7, '0')}`, i + 1),
    Name: `${tenantName} Customer ${i + 1}`,
    FirstName: `First${i + 1}`,
    LastName: `Last${i + 1}`,
    EmailAddress: `customer${i + 1}@example.test`,
    ContactStatus: i === (opts.contacts ?? 3) - 1 ? 'ARCHIVED' : 'ACTIVE',
    IsCustomer: true,
    IsSupplier: i % 2 === 1,
    UpdatedDateUTC: msDate(FIRST_UPDATED + i * DAY_MS, false),
  }));
  const invoices: SimInvoice[] = Array.from({ length: opts.invoices ?? 5 }, (_, i) => {
    const date = FIRST_INVOICE_DATE + i * DAY_MS;
    const contact = contacts[i % contacts.length];
    const subTotal = 100 * (i + 1);
    const status = STATUSES[i % STATUSES.length];
    const tax = Math.round(subTotal * 15) / 100;
    const total = subTotal + tax;
    const paid = status === 'PAID' ? total : 0;
    return {
      InvoiceID: guid(`a${seed.toString(16).padStart(7, '0')}`, i + 1),
      InvoiceNumber: `INV-${String(i + 1).padStart(4, '0')}`,
      Type: i % 4 === 3 ? 'ACCPAY' : 'ACCREC',
      Status: status,
      Contact: { ContactID: contact.ContactID, Name: contact.Name },
      Date: msDate(date),
      DateString: isoNoZone(date),
      DueDate: msDate(date + 30 * DAY_MS),
      DueDateString: isoNoZone(date + 30 * DAY_MS),
      CurrencyCode: 'NZD',
      SubTotal: subTotal,
      TotalTax: tax,
      Total: total,
      AmountDue: total - paid,
      AmountPaid: paid,
      Reference: `Ref ${i + 1}`,
      UpdatedDateUTC: msDate(FIRST_UPDATED + i * DAY_MS, false),
    };
  });
  return {
    tenantId,
    tenantName,
    tenantType: 'ORGANISATION',
    invoices,
    contacts,
    ...makeLedger(tenantName, seed, contacts, opts.bankTransactions ?? 5),
  };
}

const list = (v: string | null): string[] | undefined => (v ? v.split(',').map((s) => s.trim()) : undefined);

const INVOICE_FIELDS: Fields = {
  InvoiceID: 'guid',
  InvoiceNumber: 'string',
  Type: 'string',
  Status: 'string',
  'Contact.ContactID': 'guid',
  'Contact.Name': 'string',
  Date: 'date',
  DueDate: 'date',
  CurrencyCode: 'string',
  SubTotal: 'number',
  TotalTax: 'number',
  Total: 'number',
  AmountDue: 'number',
  AmountPaid: 'number',
  Reference: 'string',
  UpdatedDateUTC: 'date',
};

const CONTACT_FIELDS: Fields = {
  ContactID: 'guid',
  Name: 'string',
  FirstName: 'string',
  LastName: 'string',
  EmailAddress: 'string',
  ContactStatus: 'string',
  IsCustomer: 'bool',
  IsSupplier: 'bool',
  UpdatedDateUTC: 'date',
};

/** `where` and `order` over `items`, or the 400 Xero answers for them. */
function whereOrdered<T extends object>(
  items: T[],
  q: URLSearchParams,
  fields: Fields,
  type: string,
): T[] | SimAnswer {
  const test = whereFilter(q.get('where'), fields, type);
  if ('status' in test) return test;
  const sorted = ordered(items.filter(test), q.get('order'), fields);
  return sorted ?? queryParseError(`Invalid order '${q.get('order')}'`);
}

export function invoicesAnswer(t: SimTenant, q: URLSearchParams, ifModifiedSince?: string): SimAnswer {
  const filtered = whereOrdered(t.invoices, q, INVOICE_FIELDS, 'Invoice');
  if (!Array.isArray(filtered)) return filtered;
  let items = filtered;
  const statuses = list(q.get('Statuses'));
  const known = ['DRAFT', 'SUBMITTED', 'AUTHORISED', 'PAID', 'VOIDED', 'DELETED'];
  const bad = statuses?.find((s) => !known.includes(s));
  if (bad) return validationError(`Invalid status '${bad}'`);
  if (statuses) items = items.filter((i) => statuses.includes(i.Status));
  const contactIds = list(q.get('ContactIDs'));
  if (contactIds) items = items.filter((i) => contactIds.includes(i.Contact.ContactID));
  const numbers = list(q.get('InvoiceNumbers'));
  if (numbers) items = items.filter((i) => numbers.includes(i.InvoiceNumber));
  // Xero searches the invoice number and reference only, not the contact's name.
  const term = q.get('searchTerm')?.toLowerCase();
  if (term)
    items = items.filter((i) => [i.InvoiceNumber, i.Reference].some((s) => s.toLowerCase().includes(term)));
  if (ifModifiedSince) {
    // Xero reads it as UTC whether or not it carries a zone.
    const since = Date.parse(
      /Z|[+-]\d\d:?\d\d$/.test(ifModifiedSince) ? ifModifiedSince : `${ifModifiedSince}Z`,
    );
    if (Number.isNaN(since)) return validationError('If-Modified-Since is not a valid date');
    items = items.filter((i) => msOf(i.UpdatedDateUTC) >= since);
  }
  return paged('Invoices', items, q);
}

export function contactsAnswer(t: SimTenant, q: URLSearchParams): SimAnswer {
  const filtered = whereOrdered(t.contacts, q, CONTACT_FIELDS, 'Contact');
  if (!Array.isArray(filtered)) return filtered;
  let items = filtered;
  if (q.get('includeArchived') !== 'true') items = items.filter((c) => c.ContactStatus === 'ACTIVE');
  const term = q.get('searchTerm')?.toLowerCase();
  if (term)
    items = items.filter((c) =>
      [c.Name, c.FirstName ?? '', c.LastName ?? '', c.EmailAddress ?? ''].some((s) =>
        s.toLowerCase().includes(term),
      ),
    );
  return paged('Contacts', items, q);
}

export function profitAndLossAnswer(t: SimTenant, q: URLSearchParams): SimAnswer {
  const from = q.get('fromDate') ?? '2018-10-01';
  const to = q.get('toDate') ?? '2018-10-31';
  if (!DATE.test(from) || !DATE.test(to)) return validationError('fromDate and toDate must be YYYY-MM-DD');
  if (from > to) return validationError('The fromDate must be before the toDate');
  const compared = reportPeriods(q);
  if ('status' in compared) return compared;
  const { periods, timeframe } = compared;
  const columns = Array.from({ length: periods + 1 }, (_, i) => `${timeframe} ${i === 0 ? to : `-${i}`}`);
  const vals = (base: number) => columns.map((_, i) => ({ Value: (base - i * 10).toFixed(2) }));
  const row = (title: string, base: number, type = 'Row') => ({
    RowType: type,
    Cells: [{ Value: title }, ...vals(base)],
  });
  return {
    status: 200,
    body: envelope('Reports', [
      {
        ReportID: 'ProfitAndLoss',
        ReportName: 'Profit and Loss',
        ReportType: 'ProfitAndLoss',
        ReportTitles: ['Profit & Loss', t.tenantName, `${from} to ${to}`],
        ReportDate: '20 October 2018',
        UpdatedDateUTC: msDate(FIRST_UPDATED, false),
        Rows: [
          { RowType: 'Header', Cells: [{ Value: '' }, ...columns.map((c) => ({ Value: c }))] },
          {
            RowType: 'Section',
            Title: 'Income',
            Rows: [row('Sales', 1000), row('Other Revenue', 50), row('Total Income', 1050, 'SummaryRow')],
          },
          {
            RowType: 'Section',
            Title: 'Less Operating Expenses',
            Rows: [row('Rent', 300), row('Total Operating Expenses', 300, 'SummaryRow')],
          },
          { RowType: 'Section', Title: '', Rows: [row('Net Profit', 750)] },
        ],
      },
    ]),
  };
}
