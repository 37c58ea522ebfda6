/**
 * From Xero's PascalCase answers to what the tools return: camelCase fields,
 * ISO dates, only the fields a tool documents. Xero's answers are untrusted
 * input: a missing collection is a bad response; a field of the wrong type is
 * left out rather than passed on.
 */
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

export function mapInvoice(i: Json) {
  const contact = obj(i.Contact);
  return {
    invoiceId: str(i.InvoiceID),
    invoiceNumber: str(i.InvoiceNumber),
    type: str(i.Type),
    status: str(i.Status),
    contact: contact ? { contactId: str(contact.ContactID), name: str(contact.Name) } : undefined,
    reference: str(i.Reference),
    date: xeroDate(i.DateString) ?? xeroDate(i.Date),
    dueDate: xeroDate(i.DueDateString) ?? xeroDate(i.DueDate),
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

export interface Tenant {
  tenantId: string;
  tenantName: string | null;
  tenantType: string | null;
}

/** GET /connections: its tenants, or a bad response. */
export function mapConnections(body: unknown): Tenant[] {
  if (!Array.isArray(body)) throw UpstreamError.badResponse('xero', 'the connections are not a list');
  return body.flatMap((c: unknown) => {
    const tenantId = str(obj(c)?.tenantId);
    if (!tenantId) return [];
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
