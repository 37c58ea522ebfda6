/**
 * Label values must come from a small, known set: every distinct value is a
 * new time series in every scraper. These helpers turn whatever a caller
 * passes into such a value.
 */

/** Route label of a request no route matched (404s, static files). */
export const UNMATCHED_ROUTE = 'unmatched';

/** Fallback for a label value that is not a short identifier. */
export const OTHER = 'other';

const IDENTIFIER = /^[A-Za-z0-9_.:-]{1,64}$/;
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** A short identifier (`invalid_token`, `xero`, `hit`) as is; anything else becomes `other`. */
export function boundedLabel(value: unknown): string {
  return typeof value === 'string' && IDENTIFIER.test(value) ? value : OTHER;
}

/** The HTTP method in upper case when standard, else `OTHER`. */
export function methodLabel(method: string | undefined): string {
  const upper = (method ?? '').toUpperCase();
  return METHODS.has(upper) ? upper : 'OTHER';
}

/** A status code as a three-digit string; anything else is `0` (no response was written). */
export function statusLabel(status: number | string | undefined): string {
  const n = typeof status === 'string' ? Number(status) : status;
  return Number.isInteger(n) && n! >= 100 && n! <= 599 ? String(n) : '0';
}

/**
 * The route pattern an Express request matched (`/admin/api-keys/:id`), never
 * the raw URL; `unmatched` when no route handled it. `route` is `req.route`
 * read after routing (Nest registers every controller route, with its full
 * path, on the application's root router).
 */
export function routeLabel(route: { path?: unknown } | undefined): string {
  const path = route?.path;
  return typeof path === 'string' && path.length > 0 && path.length <= 200 ? path : UNMATCHED_ROUTE;
}
