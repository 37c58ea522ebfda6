/**
 * Relay paging for the Shopify simulator: `first`/`after` checked as the
 * GraphQL Admin API checks them (at most 250), and opaque base64 cursors that
 * name the last item of a page.
 */

export interface Paging {
  first: number;
  after?: string;
}

export function pagingOf(vars: Record<string, unknown>): Paging | string {
  const first = vars.first;
  if (first === undefined || first === null) return 'you must provide one of first or last';
  if (typeof first !== 'number' || !Number.isInteger(first) || first < 0) {
    return `Variable $first of type Int! was provided invalid value`;
  }
  if (first > 250) return 'The first argument must be less than or equal to 250';
  const after = vars.after;
  if (after !== undefined && after !== null && typeof after !== 'string') {
    return 'Variable $after of type String was provided invalid value';
  }
  return { first, after: after ?? undefined };
}

/** A Relay page of `all` (in its order) after the opaque cursor's item; a string is an error message. */
export function pageOf<T extends { id: string }>(all: T[], paging: Paging, type: string) {
  let start = 0;
  if (paging.after !== undefined) {
    const lastId = decodeCursor(paging.after);
    if (lastId === undefined) return 'Invalid cursor for current pagination sort.';
    const at = all.findIndex((x) => numericId(x.id) === lastId);
    if (at < 0) return 'Invalid cursor for current pagination sort.';
    start = at + 1;
  }
  const nodes = all.slice(start, start + paging.first);
  const last = nodes[nodes.length - 1];
  return {
    nodes,
    pageInfo: {
      hasNextPage: start + nodes.length < all.length,
      endCursor: last ? encodeCursor(numericId(last.id), type) : null,
    },
  };
}

const numericId = (gid: string): number => Number(gid.slice(gid.lastIndexOf('/') + 1));
const encodeCursor = (lastId: number, type: string): string =>
  Buffer.from(JSON.stringify({ last_id: lastId, last_value: String(lastId), type })).toString('base64');

function decodeCursor(cursor: string): number | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64').toString('utf8')) as { last_id?: unknown };
    return typeof parsed.last_id === 'number' ? parsed.last_id : undefined;
  } catch {
    return undefined;
  }
}
