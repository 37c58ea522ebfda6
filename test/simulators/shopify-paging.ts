/**
 * Relay paging for the Shopify simulator: `first`/`after` checked as the
 * GraphQL Admin API checks them (at most 250), and opaque base64 cursors that
 * name the last item of a page.
 */

export interface Paging {
  first: number;
  after?: string;
}

/** `first`/`after` of a connection field's arguments (variables already replaced by their values). */
export function pagingOf(args: Record<string, unknown>): Paging | string {
  const first = args.first;
  if (first === undefined || first === null) return 'you must provide one of first or last';
  if (typeof first !== 'number' || !Number.isInteger(first) || first < 0) {
    return `Argument 'first' has an invalid value (${JSON.stringify(first)}). Expected type 'Int'.`;
  }
  if (first > 250) return 'The first argument must be less than or equal to 250';
  const after = args.after;
  if (after !== undefined && after !== null && typeof after !== 'string') {
    return `Argument 'after' has an invalid value (${JSON.stringify(after)}). Expected type 'String'.`;
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
  const cursor = (x: T | undefined) => (x ? encodeCursor(numericId(x.id), type) : null);
  return {
    nodes,
    pageInfo: {
      hasNextPage: start + nodes.length < all.length,
      hasPreviousPage: start > 0,
      startCursor: cursor(nodes[0]),
      endCursor: cursor(nodes[nodes.length - 1]),
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
