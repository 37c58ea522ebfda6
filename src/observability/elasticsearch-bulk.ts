/**
 * The Elasticsearch `_bulk` wire format, as pure functions: where to POST, how
 * a formatted log line becomes a bulk item, and what the answer says about
 * each item. The transport (elasticsearch.transport.ts) does the I/O.
 */

export const DEFAULT_INDEX_PREFIX = 'sentia-mcp-logs';

const MESSAGE = Symbol.for('message');

export interface BulkEndpoint {
  /** `<base>/_bulk`, without credentials. */
  url: string;
  headers: Record<string, string>;
  /** Origin only: safe to print in warnings. */
  display: string;
}

/**
 * `https://user:pass@es:9200/prefix` becomes a POST to `https://es:9200/prefix/_bulk`
 * with the credentials moved to a Basic Authorization header (fetch refuses URLs
 * that carry them, and they must never appear in a message).
 */
export function bulkEndpoint(baseUrl: string): BulkEndpoint {
  const url = new URL(baseUrl);
  const headers: Record<string, string> = { 'content-type': 'application/x-ndjson' };
  if (url.username || url.password) {
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  url.search = '';
  url.hash = '';
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/_bulk`;
  return { url: url.href, headers, display: url.origin };
}

/** `<prefix>-YYYY.MM.DD`, the UTC day of `at`. */
export function indexName(prefix: string, at: Date): string {
  const yyyy = at.getUTCFullYear();
  const mm = String(at.getUTCMonth() + 1).padStart(2, '0');
  const dd = String(at.getUTCDate()).padStart(2, '0');
  return `${prefix}-${yyyy}.${mm}.${dd}`;
}

function parseTimestamp(value: unknown, now: () => Date): Date {
  if (typeof value === 'string' || typeof value === 'number') {
    const at = new Date(value);
    if (!Number.isNaN(at.getTime())) return at;
  }
  return now();
}

/**
 * The document for one winston line. It is the JSON line the logger's format
 * already produced (timestamp, level, context, requestId, message, fields:
 * redacted, exactly what stdout gets), with `@timestamp` added in front for
 * Kibana. A logger without that format falls back to the line's own fields.
 */
export function documentFor(
  info: Record<string | symbol, unknown>,
  now: () => Date = () => new Date(),
): { document: string; at: Date } {
  const at = parseTimestamp(info.timestamp, now);
  const stamp = `{"@timestamp":${JSON.stringify(at.toISOString())}`;
  const line = info[MESSAGE];
  if (typeof line === 'string' && line.startsWith('{') && line.endsWith('}') && !line.includes('\n')) {
    return { document: line === '{}' ? `${stamp}}` : `${stamp},${line.slice(1)}`, at };
  }
  let fields: string;
  try {
    fields = JSON.stringify(Object.fromEntries(Object.entries(info)));
  } catch {
    fields = JSON.stringify({ level: String(info.level), message: String(info.message) });
  }
  return { document: fields === '{}' ? `${stamp}}` : `${stamp},${fields.slice(1)}`, at };
}

/** One bulk item: the action line and the document line, each ending in a newline. */
export function bulkItem(index: string, document: string): string {
  return `{"index":{"_index":${JSON.stringify(index)}}}\n${document}\n`;
}

export interface BulkOutcome {
  /** Positions (in the request) of items to send again: 429 or 5xx per item. */
  retry: number[];
  /** Items Elasticsearch refused for good (mapping conflicts, bad documents). */
  rejected: number;
  /** The first refusal's type, for the warning (never the document). */
  rejectReason?: string;
}

/** Reads a 2xx `_bulk` answer. An answer that is not the expected JSON counts as all accepted. */
export function readBulkResponse(body: string, itemCount: number): BulkOutcome {
  const outcome: BulkOutcome = { retry: [], rejected: 0 };
  let parsed: { errors?: unknown; items?: unknown };
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    return outcome;
  }
  if (parsed?.errors !== true || !Array.isArray(parsed.items)) return outcome;
  parsed.items.slice(0, itemCount).forEach((item: unknown, position: number) => {
    const result = item && typeof item === 'object' ? Object.values(item)[0] : undefined;
    const { status, error } = (result ?? {}) as { status?: number; error?: { type?: string } };
    if (!error && (status === undefined || status < 300)) return;
    if (status === 429 || (status !== undefined && status >= 500)) {
      outcome.retry.push(position);
    } else {
      outcome.rejected++;
      outcome.rejectReason ??= typeof error?.type === 'string' ? error.type : `status ${status}`;
    }
  });
  return outcome;
}

/** A network failure's short reason (`ECONNREFUSED`, `TimeoutError`), never a URL. */
export function failureReason(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown } })?.cause;
  if (cause && typeof cause.code === 'string') return cause.code;
  // By name, not instanceof: AbortSignal.timeout rejects with a DOMException ('TimeoutError').
  const name = (error as { name?: unknown })?.name;
  return typeof name === 'string' && name !== 'Error' && name !== 'TypeError' ? name : 'network error';
}
