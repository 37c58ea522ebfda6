/**
 * The Unleashed simulator's filters: each resource's query parameters applied
 * to its seeded items as Unleashed documents them. A value Unleashed would
 * refuse throws BadRequest, which the simulator answers with a 400.
 */
import { dateMs, type SimProduct, type SimStockOnHand } from './unleashed.seed';
import type { SimCustomer } from './unleashed-sales.seed';

export class BadRequest extends Error {}

const DAY_MS = 86_400_000;
const DATE = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?)?$/;

/** Filters take ISO dates (UTC), `YYYY-MM-DD` with an optional time. */
function parseDate(name: string, value: string | null): number | undefined {
  if (value === null) return undefined;
  const m = DATE.exec(value);
  const ms = m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0)) : NaN;
  if (!m || Number.isNaN(ms) || new Date(ms).getUTCDate() !== +m[3])
    throw new BadRequest(`The value of ${name} is not a valid date.`);
  return ms;
}

function parseBoolean(name: string, value: string | null): boolean | undefined {
  if (value === null) return undefined;
  if (/^true$/i.test(value)) return true;
  if (/^false$/i.test(value)) return false;
  throw new BadRequest(`The value of ${name} must be true or false.`);
}

export function filterProducts(all: SimProduct[], params: URLSearchParams): SimProduct[] {
  const code = params.get('productCode')?.toLowerCase();
  const group = params.get('productGroup')?.toLowerCase();
  const since = parseDate('modifiedSince', params.get('modifiedSince'));
  const obsolete = parseBoolean('includeObsolete', params.get('includeObsolete')) ?? false;
  return all.filter(
    (p) =>
      (obsolete || !p.Obsolete) &&
      (code === undefined || p.ProductCode.toLowerCase().startsWith(code)) &&
      (group === undefined || p.ProductGroup?.GroupName.toLowerCase() === group) &&
      (since === undefined || dateMs(p.LastModifiedOn) >= since),
  );
}

/**
 * Without warehouseCode, one row per product totalled across warehouses (`totals`), as Unleashed's
 * GET /StockOnHand example shows; with it, that warehouse's rows (`rows`). productId and
 * modifiedSince apply to either.
 */
export function filterStock(
  rows: readonly SimStockOnHand[],
  totals: readonly SimStockOnHand[],
  params: URLSearchParams,
): SimStockOnHand[] {
  const warehouse = params.get('warehouseCode')?.toLowerCase();
  // One product Guid, or several separated by commas.
  const productIds = params
    .get('productId')
    ?.split(',')
    .map((id) => id.trim().toLowerCase());
  const since = parseDate('modifiedSince', params.get('modifiedSince'));
  const all =
    warehouse === undefined ? totals : rows.filter((s) => s.WarehouseCode.toLowerCase() === warehouse);
  return all.filter(
    (s) =>
      (productIds === undefined || productIds.includes(s.ProductGuid.toLowerCase())) &&
      (since === undefined || dateMs(s.LastModifiedOn) >= since),
  );
}

export const startsWith = (value: string, prefix: string | null) =>
  prefix === null || value.toLowerCase().startsWith(prefix.toLowerCase());

/** orderStatus (comma-separated; all but Deleted without it), the order-date range and modifiedSince. */
export function filterOrders<T extends { OrderStatus: string; OrderDate: string; LastModifiedOn: string }>(
  all: T[],
  params: URLSearchParams,
): T[] {
  const statuses = params
    .get('orderStatus')
    ?.split(',')
    .map((s) => s.trim().toLowerCase());
  const start = parseDate('startDate', params.get('startDate'));
  const end = parseDate('endDate', params.get('endDate'));
  const since = parseDate('modifiedSince', params.get('modifiedSince'));
  return all.filter((o) => {
    const status = o.OrderStatus.toLowerCase();
    const dated = dateMs(o.OrderDate);
    return (
      (statuses === undefined ? status !== 'deleted' : statuses.includes(status)) &&
      (start === undefined || dated >= start) &&
      (end === undefined || dated < end + DAY_MS) &&
      (since === undefined || dateMs(o.LastModifiedOn) >= since)
    );
  });
}

export function filterCustomers(all: SimCustomer[], params: URLSearchParams): SimCustomer[] {
  const since = parseDate('modifiedSince', params.get('modifiedSince'));
  const obsolete = parseBoolean('includeObsolete', params.get('includeObsolete')) ?? false;
  return all.filter(
    (c) =>
      (obsolete || !c.Obsolete) &&
      startsWith(c.CustomerCode, params.get('customerCode')) &&
      startsWith(c.CustomerName, params.get('customerName')) &&
      (since === undefined || dateMs(c.LastModifiedOn) >= since),
  );
}
