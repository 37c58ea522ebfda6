/**
 * The Xero simulator's data and its Accounting API answers: invoices and
 * contacts in Xero's shapes (PascalCase, Microsoft JSON dates, ISO twins),
 * the envelope with `pagination`, the ProfitAndLoss report's nested rows,
 * and the 400 ValidationException body.
 */

export interface SimTenant {
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

const DAY = 86_400_000;
/** 2018-10-20T00:00:00Z, the date in Xero's own documentation example. */
export const FIRST_INVOICE_DATE = 1539993600000;
/** 2016-02-18T20:29:53Z: the UpdatedDateUTC of invoice 1; each next one is a day later. */
export const FIRST_UPDATED = 1455827393000;
const STATUSES = ['DRAFT', 'SUBMITTED', 'AUTHORISED', 'PAID', 'VOIDED', 'AUTHORISED'];

export const msDate = (ms: number, offset = true): string => `/Date(${ms}${offset ? '+0000' : ''})/`;
const isoNoZone = (ms: number): string => new Date(ms).toISOString().slice(0, 19);

function guid(prefix: string, n: number): string {
  const hex = n.toString(16).padStart(12, '0');
  return `${prefix}-0000-4000-8000-${hex}`;
}

/** A tenant with `invoices` invoices spread over `contacts` contacts (the last contact archived). */
export function makeTenant(
  tenantId: string,
  tenantName: string,
  opts: { invoices?: number; contacts?: number; seed?: number } = {},
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
    UpdatedDateUTC: msDate(FIRST_UPDATED + i * DAY, false),
  }));
  const invoices: SimInvoice[] = Array.from({ length: opts.invoices ?? 5 }, (_, i) => {
    const date = FIRST_INVOICE_DATE + i * DAY;
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
      DueDate: msDate(date + 30 * DAY),
      DueDateString: isoNoZone(date + 30 * DAY),
      CurrencyCode: 'NZD',
      SubTotal: subTotal,
      TotalTax: tax,
      Total: total,
      AmountDue: total - paid,
      AmountPaid: paid,
      Reference: `Ref ${i + 1}`,
      UpdatedDateUTC: msDate(FIRST_UPDATED + i * DAY, false),
    };
  });
  return { tenantId, tenantName, tenantType: 'ORGANISATION', invoices, contacts };
}

export interface SimAnswer {
  status: number;
  body: unknown;
  contentType?: string;
}

/** Xero's 400: a generic Message, the specifics in Elements[].ValidationErrors[].Message. */
export function validationError(detail: string): SimAnswer {
  return {
    status: 400,
    body: {
      ErrorNumber: 10,
      Type: 'ValidationException',
      Message: 'A validation exception occurred',
      Elements: [{ ValidationErrors: [{ Message: detail }] }],
    },
  };
}

export function notFound(): SimAnswer {
  return {
    status: 404,
    contentType: 'text/html; charset=utf-8',
    body: "<html><body><h1>The resource you're looking for cannot be found</h1></body></html>",
  };
}

function envelope(key: string, items: unknown[], page: number, pageSize: number, total: number): unknown {
  return {
    Id: '3f1f2e7a-1111-4222-8333-444455556666',
    Status: 'OK',
    ProviderName: 'Sentia Xero simulator',
    DateTimeUTC: msDate(Date.now(), false),
    pagination: { page, pageSize, pageCount: Math.ceil(total / pageSize), itemCount: total },
    [key]: items,
  };
}

/** Xero's paging: `page` from 1, `pageSize` up to 1000 (default 100); out of range is a ValidationException. */
function paging(q: URLSearchParams): { page: number; pageSize: number } | SimAnswer {
  const page = Number(q.get('page') ?? '1');
  const pageSize = Number(q.get('pageSize') ?? '100');
  if (!Number.isInteger(page) || page < 1) return validationError('page must be a positive integer');
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000)
    return validationError('pageSize must be between 1 and 1000');
  return { page, pageSize };
}

function paged(key: string, all: unknown[], q: URLSearchParams): SimAnswer {
  const p = paging(q);
  if ('status' in p) return p;
  const slice = all.slice((p.page - 1) * p.pageSize, p.page * p.pageSize);
  return { status: 200, body: envelope(key, slice, p.page, p.pageSize, all.length) };
}

const msOf = (d: string): number => Number(/\/Date\((-?\d+)/.exec(d)![1]);
const list = (v: string | null): string[] | undefined => (v ? v.split(',').map((s) => s.trim()) : undefined);

export function invoicesAnswer(t: SimTenant, q: URLSearchParams, ifModifiedSince?: string): SimAnswer {
  let items = t.invoices;
  const statuses = list(q.get('Statuses'));
  const known = ['DRAFT', 'SUBMITTED', 'AUTHORISED', 'PAID', 'VOIDED', 'DELETED'];
  const bad = statuses?.find((s) => !known.includes(s));
  if (bad) return validationError(`Invalid status '${bad}'`);
  if (statuses) items = items.filter((i) => statuses.includes(i.Status));
  const contactIds = list(q.get('ContactIDs'));
  if (contactIds) items = items.filter((i) => contactIds.includes(i.Contact.ContactID));
  const numbers = list(q.get('InvoiceNumbers'));
  if (numbers) items = items.filter((i) => numbers.includes(i.InvoiceNumber));
  const term = q.get('searchTerm')?.toLowerCase();
  if (term)
    items = items.filter((i) =>
      [i.InvoiceNumber, i.Reference, i.Contact.Name].some((s) => s.toLowerCase().includes(term)),
    );
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
  let items = t.contacts;
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

const DATE = /^\d{4}-\d{2}-\d{2}$/;

export function profitAndLossAnswer(t: SimTenant, q: URLSearchParams): SimAnswer {
  const from = q.get('fromDate') ?? '2018-10-01';
  const to = q.get('toDate') ?? '2018-10-31';
  if (!DATE.test(from) || !DATE.test(to)) return validationError('fromDate and toDate must be YYYY-MM-DD');
  if (from > to) return validationError('The fromDate must be before the toDate');
  const periods = Number(q.get('periods') ?? '0');
  if (!Number.isInteger(periods) || periods < 0 || periods > 12)
    return validationError('periods must be between 1 and 12');
  const timeframe = q.get('timeframe') ?? 'MONTH';
  if (!['MONTH', 'QUARTER', 'YEAR'].includes(timeframe)) return validationError('Invalid timeframe');
  const columns = Array.from({ length: periods + 1 }, (_, i) => `${timeframe} ${i === 0 ? to : `-${i}`}`);
  const vals = (base: number) => columns.map((_, i) => ({ Value: (base - i * 10).toFixed(2) }));
  const row = (title: string, base: number, type = 'Row') => ({
    RowType: type,
    Cells: [{ Value: title }, ...vals(base)],
  });
  return {
    status: 200,
    body: {
      Id: '9d2c7b6a-0000-4000-8000-000000000001',
      Status: 'OK',
      ProviderName: 'Sentia Xero simulator',
      DateTimeUTC: msDate(Date.now(), false),
      Reports: [
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
      ],
    },
  };
}
