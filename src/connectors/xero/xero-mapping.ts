/**
 * From Xero's PascalCase answers to what the tools return: camelCase fields,
 * ISO dates, only the fields a tool documents. Xero's answers are untrusted
 * input: a missing collection is a bad response; a field of the wrong type is
 * left out rather than passed on.
 */
import { canonicalGuid, GUID } from '../../common/guid';
import { UpstreamError } from '../http/upstream.errors';
import { xeroDate, xeroDateTime } from './xero-dates';

type Json = Record<string, unknown>;

const obj = (v: unknown): Json | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const bool = (v: unknown): boolean | undefined => (typeof v === 'boolean' ? v : undefined);

/** The `key` collection of an envelope (`Invoices`, `Contacts`, `Reports`): its objects, or a bad response. */
export function collection(body: unknown, key: string): Json[] {
  const items = obj(body)?.[key];
  if (!Array.isArray(items) || !items.every((i) => obj(i)))
    throw UpstreamError.badResponse('xero', `no ${key} list in the answer`);
  return items as Json[];
}

/** The one object an answer holds (`Organisations`, `Reports`): the first of its collection, or a bad response. */
export function only(body: unknown, key: string): Json {
  const [first] = collection(body, key);
  if (!first) throw UpstreamError.badResponse('xero', `an empty ${key} list in the answer`);
  return first;
}

export interface Pagination {
  page: number;
  pageSize: number;
  /** Null when Xero did not say. */
  pageCount: number | null;
  itemCount: number | null;
}

/** The envelope's `pagination`, falling back to what was asked for. */
export function pagination(body: unknown, asked: { page: number; pageSize: number }): Pagination {
  const p = obj(obj(body)?.pagination);
  return {
    page: num(p?.page) ?? asked.page,
    pageSize: num(p?.pageSize) ?? asked.pageSize,
    pageCount: num(p?.pageCount) ?? null,
    itemCount: num(p?.itemCount) ?? null,
  };
}

/** The contact an invoice or a bank transaction names: its id and name only. */
function contactRef(v: unknown) {
  const contact = obj(v);
  return contact ? { contactId: str(contact.ContactID), name: str(contact.Name) } : undefined;
}

/** A day field that Xero may also send as an ISO twin (`DateString`, `DueDateString`): the twin first. */
const day = (twin: unknown, msDate: unknown) => xeroDate(twin) ?? xeroDate(msDate);

export function mapInvoice(i: Json) {
  return {
    invoiceId: str(i.InvoiceID),
    invoiceNumber: str(i.InvoiceNumber),
    type: str(i.Type),
    status: str(i.Status),
    contact: contactRef(i.Contact),
    reference: str(i.Reference),
    date: day(i.DateString, i.Date),
    dueDate: day(i.DueDateString, i.DueDate),
    currencyCode: str(i.CurrencyCode),
    subTotal: num(i.SubTotal),
    totalTax: num(i.TotalTax),
    total: num(i.Total),
    amountDue: num(i.AmountDue),
    amountPaid: num(i.AmountPaid),
    updatedDateUtc: xeroDateTime(i.UpdatedDateUTC),
  };
}

export function mapContact(c: Json) {
  return {
    contactId: str(c.ContactID),
    name: str(c.Name),
    firstName: str(c.FirstName),
    lastName: str(c.LastName),
    emailAddress: str(c.EmailAddress),
    contactStatus: str(c.ContactStatus),
    isCustomer: bool(c.IsCustomer),
    isSupplier: bool(c.IsSupplier),
    updatedDateUtc: xeroDateTime(c.UpdatedDateUTC),
  };
}

export function mapBankTransaction(t: Json) {
  const account = obj(t.BankAccount);
  return {
    bankTransactionId: str(t.BankTransactionID),
    type: str(t.Type),
    status: str(t.Status),
    contact: contactRef(t.Contact),
    bankAccount: account
      ? { accountId: str(account.AccountID), code: str(account.Code), name: str(account.Name) }
      : undefined,
    reference: str(t.Reference),
    date: day(t.DateString, t.Date),
    isReconciled: bool(t.IsReconciled),
    currencyCode: str(t.CurrencyCode),
    subTotal: num(t.SubTotal),
    totalTax: num(t.TotalTax),
    total: num(t.Total),
    updatedDateUtc: xeroDateTime(t.UpdatedDateUTC),
  };
}

export function mapAccount(a: Json) {
  return {
    accountId: str(a.AccountID),
    code: str(a.Code),
    name: str(a.Name),
    type: str(a.Type),
    class: str(a.Class),
    status: str(a.Status),
    description: str(a.Description),
    taxType: str(a.TaxType),
    bankAccountNumber: str(a.BankAccountNumber),
    bankAccountType: str(a.BankAccountType),
    currencyCode: str(a.CurrencyCode),
    enablePaymentsToAccount: bool(a.EnablePaymentsToAccount),
    systemAccount: str(a.SystemAccount),
    reportingCode: str(a.ReportingCode),
    updatedDateUtc: xeroDateTime(a.UpdatedDateUTC),
  };
}

/** GET /Organisation's one organisation (the API key Xero includes is left out). */
export function mapOrganisation(o: Json) {
  return {
    organisationId: str(o.OrganisationID),
    name: str(o.Name),
    legalName: str(o.LegalName),
    shortCode: str(o.ShortCode),
    organisationType: str(o.OrganisationType),
    organisationStatus: str(o.OrganisationStatus),
    isDemoCompany: bool(o.IsDemoCompany),
    countryCode: str(o.CountryCode),
    baseCurrency: str(o.BaseCurrency),
    timezone: str(o.Timezone),
    paysTax: bool(o.PaysTax),
    salesTaxBasis: str(o.SalesTaxBasis),
    salesTaxPeriod: str(o.SalesTaxPeriod),
    financialYearEndDay: num(o.FinancialYearEndDay),
    financialYearEndMonth: num(o.FinancialYearEndMonth),
    periodLockDate: xeroDate(o.PeriodLockDate),
    endOfYearLockDate: xeroDate(o.EndOfYearLockDate),
    createdDateUtc: xeroDateTime(o.CreatedDateUTC),
  };
}

export interface Tenant {
  tenantId: string;
  tenantName: string | null;
  tenantType: string | null;
}

/** GET /connections: its tenants (those with a GUID for a tenant id), or a bad response. */
export function mapConnections(body: unknown): Tenant[] {
  if (!Array.isArray(body)) throw UpstreamError.badResponse('xero', 'the connections are not a list');
  return body.flatMap((c: unknown) => {
    const id = str(obj(c)?.tenantId);
    // A tenant id goes out as the xero-tenant-id header, into the limits' store keys and into messages:
    // an entry whose id is not a GUID is skipped like one without an id, never sent (a line break in it
    // made fetch refuse the header, told as the stored credentials holding a bad character).
    if (!id || !GUID.test(id)) return [];
    // Canonical (lower case) like every tenant id here: the header, the limits' budget and the answer cache.
    const tenantId = canonicalGuid(id);
    return [
      { tenantId, tenantName: str(obj(c)?.tenantName) ?? null, tenantType: str(obj(c)?.tenantType) ?? null },
    ];
  });
}

export interface ReportRow {
  /** The title of the section the row is in ('' outside a titled section). */
  section: string;
  title: string;
  /** One per column, as Xero formats them (amounts as decimal strings). */
  values: string[];
  /** A total line (Xero's SummaryRow). */
  summary: boolean;
}

/** A report's nested rows flattened to lines, with the header's column titles. */
export function flattenReport(report: Json) {
  let columns: string[] = [];
  const rows: ReportRow[] = [];
  const cells = (row: Json): string[] =>
    (Array.isArray(row.Cells) ? row.Cells : []).map((c: unknown) => {
      const v = obj(c)?.Value;
      return typeof v === 'string' || typeof v === 'number' ? String(v) : '';
    });
  const visit = (row: Json, section: string) => {
    const type = str(row.RowType);
    if (type === 'Header') {
      columns = cells(row).slice(1);
    } else if (type === 'Section') {
      const title = str(row.Title) ?? '';
      for (const child of Array.isArray(row.Rows) ? row.Rows : []) {
        const r = obj(child);
        if (r) visit(r, title);
      }
    } else if (type === 'Row' || type === 'SummaryRow') {
      const [title = '', ...values] = cells(row);
      rows.push({ section, title, values, summary: type === 'SummaryRow' });
    }
  };
  for (const row of Array.isArray(report.Rows) ? report.Rows : []) {
    const r = obj(row);
    if (r) visit(r, '');
  }
  return {
    reportName: str(report.ReportName),
    reportTitles: Array.isArray(report.ReportTitles)
      ? report.ReportTitles.filter((t) => typeof t === 'string')
      : [],
    reportDate: str(report.ReportDate),
    updatedDateUtc: xeroDateTime(report.UpdatedDateUTC),
    columns,
    rows,
  };
}

/**
 * What a 400 ValidationException says, from its known fields only: every
 * ValidationErrors[].Message of its Elements, else its Message. Undefined for
 * any other body.
 */
export function validationDetail(body: unknown): string | undefined {
  const b = obj(body);
  if (!b || b.Type !== 'ValidationException') return undefined;
  const messages: string[] = [];
  for (const element of Array.isArray(b.Elements) ? b.Elements : [])
    for (const error of Array.isArray(obj(element)?.ValidationErrors)
      ? (obj(element)!.ValidationErrors as unknown[])
      : []) {
      const m = str(obj(error)?.Message);
      if (m) messages.push(m);
    }
  if (messages.length > 0) return [...new Set(messages)].join('; ');
  return str(b.Message);
}
