/**
 * What every answer of the simulated Accounting API shares: Microsoft JSON
 * dates and their ISO twins, the envelope (with `pagination` on paged
 * resources), Xero's paging, and its 400 (ValidationException,
 * QueryParseException), 401, 403 and 404 bodies.
 */
import { randomUUID } from 'node:crypto';

export interface SimAnswer {
  status: number;
  body: unknown;
  contentType?: string;
}

export const DAY_MS = 86_400_000;
/** 2018-10-20T00:00:00Z, the date in Xero's own documentation example. */
export const FIRST_INVOICE_DATE = 1539993600000;
/** 2016-02-18T20:29:53Z: the UpdatedDateUTC of invoice 1; each next one is a day later. */
export const FIRST_UPDATED = 1455827393000;
/** A day as Xero's report and filter parameters take it. */
export const DATE = /^\d{4}-\d{2}-\d{2}$/;

export const msDate = (ms: number, offset = true): string => `/Date(${ms}${offset ? '+0000' : ''})/`;
/** The milliseconds of a Microsoft JSON date. */
export const msOf = (d: string): number => Number(/\/Date\((-?\d+)/.exec(d)![1]);
export const isoNoZone = (ms: number): string => new Date(ms).toISOString().slice(0, 19);

/** A GUID whose first group is `prefix` (8 hex digits) and whose last is `n`. */
export function guid(prefix: string, n: number): string {
  const hex = n.toString(16).padStart(12, '0');
  return `${prefix}-0000-4000-8000-${hex}`;
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

/** Xero's 400 for a `where` or `order` it cannot parse or apply: no Elements, the reason in Message. */
export function queryParseError(message: string): SimAnswer {
  return { status: 400, body: { ErrorNumber: 16, Type: 'QueryParseException', Message: message } };
}

/** Xero's problem body of a 401 or 403. */
export function problem(status: number, title: string, detail: string): SimAnswer {
  return {
    status,
    body: {
      Type: null,
      Title: title,
      Status: status,
      Detail: detail,
      Instance: randomUUID(),
      Extensions: {},
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

interface Paging {
  page: number;
  pageSize: number;
  total: number;
}

/** The envelope around a collection (`Invoices`, `Accounts`, `Reports`), with `pagination` when paged. */
export function envelope(key: string, items: unknown[], paging?: Paging): Record<string, unknown> {
  return {
    Id: '3f1f2e7a-1111-4222-8333-444455556666',
    Status: 'OK',
    ProviderName: 'Sentia Xero simulator',
    DateTimeUTC: msDate(Date.now(), false),
    ...(paging && {
      pagination: {
        page: paging.page,
        pageSize: paging.pageSize,
        pageCount: Math.ceil(paging.total / paging.pageSize),
        itemCount: paging.total,
      },
    }),
    [key]: items,
  };
}

/** A 200 with the collection unpaged. */
export const whole = (key: string, items: unknown[]): SimAnswer => ({
  status: 200,
  body: envelope(key, items),
});

/** Xero's paging: `page` from 1, `pageSize` up to 1000 (default 100); out of range is a ValidationException. */
function paging(q: URLSearchParams): { page: number; pageSize: number } | SimAnswer {
  const page = Number(q.get('page'));
  const pageSize = Number(q.get('pageSize') ?? '100');
  if (!Number.isInteger(page) || page < 1) return validationError('page must be a positive integer');
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000)
    return validationError('pageSize must be between 1 and 1000');
  return { page, pageSize };
}

/**
 * A 200 with the page of `all` the query asks for. Without `page` Xero does
 * not page (`pageSize` alone is ignored): every item, and no `pagination`.
 */
export function paged(key: string, all: unknown[], q: URLSearchParams): SimAnswer {
  if (!q.has('page')) return whole(key, all);
  const p = paging(q);
  if ('status' in p) return p;
  const slice = all.slice((p.page - 1) * p.pageSize, p.page * p.pageSize);
  return { status: 200, body: envelope(key, slice, { ...p, total: all.length }) };
}

/**
 * A report's `periods` (1-12 when given; none compared without it) and
 * `timeframe` (MONTH default), or the ValidationException for them.
 */
export function reportPeriods(q: URLSearchParams): { periods: number; timeframe: string } | SimAnswer {
  const given = q.get('periods');
  const periods = given === null ? 0 : Number(given);
  if (given !== null && (!Number.isInteger(periods) || periods < 1 || periods > 12))
    return validationError('periods must be between 1 and 12');
  const timeframe = q.get('timeframe') ?? 'MONTH';
  if (!['MONTH', 'QUARTER', 'YEAR'].includes(timeframe)) return validationError('Invalid timeframe');
  return { periods, timeframe };
}
