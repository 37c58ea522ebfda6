import { z } from 'zod';

/**
 * Reading a Shopify GraphQL Admin API answer (UPSTREAMS.md), without any I/O:
 * `extensions.cost` and its throttle status, the HTTP-200 `THROTTLED` error,
 * other GraphQL errors, and `data`. Everything is checked against a zod schema:
 * an upstream answer is untrusted input.
 */

const THROTTLE_STATUS = z.object({
  maximumAvailable: z.number().nonnegative(),
  currentlyAvailable: z.number(),
  restoreRate: z.number().nonnegative(),
});

const COST = z.object({
  requestedQueryCost: z.number().nonnegative().nullish(),
  actualQueryCost: z.number().nonnegative().nullish(),
  throttleStatus: THROTTLE_STATUS,
});
export type QueryCost = z.infer<typeof COST>;

const GRAPHQL_ERROR = z.object({
  message: z.string().optional(),
  extensions: z.object({ code: z.string().optional() }).loose().optional(),
});

const ENVELOPE = z.object({
  data: z.unknown().optional(),
  // Shopify's HTTP-level errors are a string or an object; GraphQL errors a list.
  errors: z.union([z.array(GRAPHQL_ERROR), z.string(), z.record(z.string(), z.unknown())]).optional(),
  extensions: z.object({ cost: COST.optional() }).loose().optional(),
});

/** What one HTTP-200 answer means for the client. */
export type GraphQlOutcome =
  | { kind: 'data'; data: unknown; cost?: QueryCost }
  /** `waitSeconds` is undefined when the answer did not say how full the bucket is. */
  | { kind: 'throttled'; waitSeconds?: number; cost?: QueryCost }
  | { kind: 'errors'; code?: string; message: string }
  | { kind: 'malformed' };

/** The longest upstream error message a tool result repeats. */
export const MAX_ERROR_MESSAGE = 300;

export function interpretGraphQl(body: unknown): GraphQlOutcome {
  const parsed = ENVELOPE.safeParse(body);
  if (!parsed.success) return { kind: 'malformed' };
  const { data, errors, extensions } = parsed.data;
  const cost = extensions?.cost;
  if (Array.isArray(errors) && errors.length > 0) {
    if (errors.some((e) => e.extensions?.code === 'THROTTLED')) {
      return { kind: 'throttled', waitSeconds: cost ? throttleWaitSeconds(cost) : undefined, cost };
    }
    const first = errors[0];
    return {
      kind: 'errors',
      code: first.extensions?.code ? cut(first.extensions.code, 64) : undefined,
      message: cut(first.message ?? 'no message given', MAX_ERROR_MESSAGE),
    };
  }
  if (errors !== undefined && !Array.isArray(errors)) return { kind: 'malformed' };
  if (data === undefined || data === null) return { kind: 'malformed' };
  return { kind: 'data', data, cost };
}

/**
 * How long until the bucket holds the query's requested cost:
 * `(requested - currentlyAvailable) / restoreRate` seconds (Shopify's rule),
 * never negative; Infinity when the bucket does not restore at all.
 */
export function throttleWaitSeconds(cost: QueryCost): number {
  const { currentlyAvailable, restoreRate } = cost.throttleStatus;
  // A throttled answer without the requested cost: the bucket must at least refill to one point.
  const requested = cost.requestedQueryCost ?? currentlyAvailable + 1;
  const missing = requested - currentlyAvailable;
  if (missing <= 0) return 0;
  if (restoreRate <= 0) return Infinity;
  return missing / restoreRate;
}

/** `text` on one line, at most `max` characters (an ellipsis marks a cut). */
export function cut(text: string, max: number): string {
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}
