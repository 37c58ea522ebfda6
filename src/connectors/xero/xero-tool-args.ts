/**
 * The argument schemas the Xero tools share (zod, each field described for
 * the model) and what their descriptions say alike.
 */
import { z } from 'zod';
import { canonicalGuid, GUID } from '../../common/guid';

/**
 * A Xero id (tenant, contact, account): a GUID in either case, taken in
 * lower case (canonicalGuid), so one tenant or contact is one cache entry,
 * one budget of Xero's limits and one `xero-tenant-id`, however a caller
 * spells it. `overwrite` keeps the schema a string (not a transform), so the
 * JSON Schema clients see is the pattern alone.
 */
export const guid = () =>
  z.string().regex(GUID, 'must be a GUID like 9a0e5d3b-7c1f-4e2a-8b6d-0f1e2d3c4b5a').overwrite(canonicalGuid);

export const tenantId = () =>
  guid()
    .optional()
    .describe(
      'The Xero tenant (organisation) to read, as xero_list_tenants gives it. ' +
        'May be left out when only one tenant is connected.',
    );

export const page = () =>
  z.number().int().min(1).max(100_000).default(1).describe('Page number, from 1 (default 1).');

export const pageSize = () =>
  z.number().int().min(1).max(1000).default(100).describe('Items per page, 1-1000 (default 100).');

export const searchTerm = (what: string) => z.string().trim().min(1).max(100).optional().describe(what);

/** A calendar day, YYYY-MM-DD, that exists. */
export const DAY = z
  .string()
  // abort: a day not in this shape is not also told it is not a real one.
  .regex(/^\d{4}-\d{2}-\d{2}$/, { message: 'must be a date YYYY-MM-DD', abort: true })
  // Date.parse takes 2018-02-30 (as 2 March): the day must survive the round trip.
  .refine((d) => {
    const ms = Date.parse(d);
    return !Number.isNaN(ms) && new Date(ms).toISOString().slice(0, 10) === d;
  }, 'must be a real date');

/**
 * An ISO 8601 date-time with its zone (`2024-01-31T00:00:00Z`, `...+13:00`) whose UTC time is in
 * years 1-9999: it goes to Xero as If-Modified-Since, `YYYY-MM-DDTHH:mm:ss` in UTC, and an offset can
 * push 0000-01-01 or 9999-12-31 out of that shape (`-000001-12-31T23:00`).
 */
export const INSTANT = z.iso
  .datetime({
    offset: true,
    error: 'must be a date and time with its zone, e.g. 2024-01-31T00:00:00Z or 2024-01-31T09:30:00+10:00',
  })
  .refine((s) => {
    const year = new Date(s).getUTCFullYear();
    // A value not in the shape at all is told so by the format check alone.
    return Number.isNaN(year) || (year >= 1 && year <= 9999);
  }, 'must be a time from year 1 to 9999 in UTC');

/** The comparison a Xero report takes: `periods` earlier periods, each a `timeframe` long. */
export const comparePeriods = () => ({
  periods: z
    .number()
    .int()
    .min(1)
    .max(12)
    .optional()
    .describe('Number of earlier periods to compare with, 1-12 (each one a timeframe long).'),
  timeframe: z.enum(['MONTH', 'QUARTER', 'YEAR']).optional().describe('Length of each compared period.'),
});

export const READ = { readOnlyHint: true, idempotentHint: true, openWorldHint: true } as const;

export const PAGING_NOTE =
  '`pagination` {page, pageSize, pageCount, itemCount} says how many pages there are (pageCount and itemCount null when Xero does not say); ' +
  'ask for the next page with `page`.';
