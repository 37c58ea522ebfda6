import { z } from 'zod';
import { canonicalGuid, GUID } from '../../common/guid';
import { MAX_PAGE_SIZE } from './unleashed.mapping';

/**
 * The Unleashed tools' arguments. Filters keep Unleashed's own names, so a
 * tool passes them on as they are. UPSTREAMS.md confirms the filters of
 * Products and StockOnHand only; those of SalesOrders, PurchaseOrders and
 * Customers are taken from Unleashed's API documentation and kept to a small
 * set each (see the comment above each schema).
 */

/** A calendar day as Unleashed's filters take it (UTC). */
export function isCalendarDay(value: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return false;
  const date = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
  return date.getUTCFullYear() === +m[1] && date.getUTCMonth() === +m[2] - 1 && date.getUTCDate() === +m[3];
}

const MAX_PAGE = 100_000;
const DEFAULT_PAGE_SIZE = 200;
/** Printable text without control characters, for free-text filters. */
const PRINTABLE = /^[^\u0000-\u001f\u007f]*$/;

const text = (max: number) =>
  z.string().min(1).max(max).regex(PRINTABLE, 'must be printable text without control characters');

const day = () =>
  z.string().refine(isCalendarDay, 'must be a calendar date YYYY-MM-DD (UTC), e.g. 2024-01-31');

const modifiedSince = day()
  .optional()
  .describe('Only items last modified on or after this day (UTC), as YYYY-MM-DD.');

const paging = {
  page: z
    .number()
    .int()
    .min(1)
    .max(MAX_PAGE)
    .default(1)
    .describe('Page number, from 1 (default 1). The result says how many pages there are.'),
  pageSize: z
    .number()
    .int()
    .min(1)
    .max(MAX_PAGE_SIZE)
    .default(DEFAULT_PAGE_SIZE)
    .describe(`Items per page, 1-${MAX_PAGE_SIZE} (default ${DEFAULT_PAGE_SIZE}).`),
};

const includeObsolete = (what: string) =>
  z.boolean().default(false).describe(`Also return obsolete ${what} (default false).`);

export const LIST_PRODUCTS = z.object({
  productCode: text(100)
    .optional()
    .describe('Only products whose code starts with this text (Unleashed matches case-insensitively).'),
  productGroup: text(100).optional().describe('Only products in the product group with this name.'),
  modifiedSince,
  includeObsolete: includeObsolete('products'),
  ...paging,
});

export const STOCK_ON_HAND = z.object({
  warehouseCode: text(50)
    .optional()
    .describe(
      'Only the stock held in the warehouse with this code, one row per product. Without it, Unleashed ' +
        'documents one row per product totalled across all warehouses (warehouseCode null).',
    ),
  productId: z
    .string()
    .regex(GUID, 'must be a product Guid such as 0f6b1c1e-2a3d-4e5f-8a9b-0c1d2e3f4a5b')
    // Either case names one product: taken in lower case, so it is one answer-cache entry.
    .overwrite(canonicalGuid)
    .optional()
    .describe('Only stock of this product, by its Guid (the `guid` that unleashed_list_products returns).'),
  modifiedSince,
  ...paging,
});

/**
 * Order statuses as Unleashed names them (its documentation and screens;
 * UPSTREAMS.md does not list them). Only the filter is held to these: the
 * tools return whatever status Unleashed sends.
 */
export const SALES_ORDER_STATUSES = ['Parked', 'Placed', 'Backordered', 'Completed', 'Deleted'] as const;
export const PURCHASE_ORDER_STATUSES = [
  'Parked',
  'Placed',
  'Costed',
  'Receipted',
  'Complete',
  'Deleted',
] as const;

/**
 * `orderStatus` (sent comma-separated, as Unleashed takes several) and the order-date range.
 * Unleashed documents startDate and endDate as "after" and "before" the day; whether the day
 * itself is included is not confirmed (the simulator includes it), so the descriptions say "from"
 * and "up to".
 */
function orderFilters<S extends readonly [string, ...string[]]>(statuses: S) {
  return {
    orderStatus: z
      .array(z.enum(statuses))
      .min(1)
      .max(statuses.length)
      .refine((list) => new Set(list).size === list.length, 'must not name a status twice')
      .optional()
      .describe(
        `Only orders in these statuses (${statuses.join(', ')}); without it, Unleashed leaves out Deleted orders.`,
      ),
    startDate: day().optional().describe('Only orders dated from this day (UTC), as YYYY-MM-DD.'),
    endDate: day()
      .optional()
      .describe('Only orders dated up to this day (UTC), as YYYY-MM-DD; not before startDate.'),
    modifiedSince,
  };
}

const endNotBeforeStart = {
  check: (a: { startDate?: string; endDate?: string }) =>
    a.startDate === undefined || a.endDate === undefined || a.startDate <= a.endDate,
  issue: { path: ['endDate'], message: 'must not be before startDate' },
};

// SalesOrders: Unleashed documents orderStatus, customerCode (prefix), startDate, endDate and
// modifiedSince among others (customerId, orderNumber, warehouseCode, completedAfter/Before, ...);
// this tool keeps to those five.
export const LIST_SALES_ORDERS = z
  .object({
    ...orderFilters(SALES_ORDER_STATUSES),
    customerCode: text(50)
      .optional()
      .describe(
        'Only orders of customers whose code starts with this text (e.g. the customerCode of a customer).',
      ),
    ...paging,
  })
  .refine(endNotBeforeStart.check, endNotBeforeStart.issue);

// PurchaseOrders: the same date and status filters as sales orders (Unleashed documents
// startDate/endDate, modifiedSince and orderStatus there too); its supplier filters are not
// confirmed here, so none is offered.
export const LIST_PURCHASE_ORDERS = z
  .object({ ...orderFilters(PURCHASE_ORDER_STATUSES), ...paging })
  .refine(endNotBeforeStart.check, endNotBeforeStart.issue);

// Customers: Unleashed documents customerCode and customerName (both prefixes), modifiedSince and
// includeObsolete (default false) among others (contactEmail, currency, customerType, ...).
export const LIST_CUSTOMERS = z.object({
  customerCode: text(50).optional().describe('Only customers whose code starts with this text.'),
  customerName: text(100).optional().describe('Only customers whose name starts with this text.'),
  modifiedSince,
  includeObsolete: includeObsolete('customers'),
  ...paging,
});
