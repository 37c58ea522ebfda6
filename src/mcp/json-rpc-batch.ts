/**
 * JSON-RPC batches on /mcp. MCP 2025-03-26 required servers to receive them;
 * 2025-06-18 removed them. So a batch is served only to a 2025-era session
 * that negotiated 2025-03-26 or older (LegacySessions checks the session's
 * record), whose `MCP-Protocol-Version` header, if sent, names such a
 * revision too (checked here, before anything else).
 */

import { SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/server';
import { MODERN_PROTOCOL_VERSION } from './server-info.tool';

/** Every revision served, as a single request with another MCP-Protocol-Version is told. */
export const SERVED_PROTOCOL_VERSIONS: readonly string[] = [
  ...SUPPORTED_PROTOCOL_VERSIONS,
  MODERN_PROTOCOL_VERSION,
];

/** The most messages one batch may hold (the SDK transport's own bound). */
export const MAX_BATCH_MESSAGES = 100;

/** The revisions that have JSON-RPC batches. */
export const BATCHING_PROTOCOL_VERSIONS: readonly string[] = ['2025-03-26', '2024-11-05', '2024-10-07'];

/**
 * Why this batch is refused (the -32600 message), or undefined when it may be
 * served: not empty, not too long, from a revision that batches, and without
 * `initialize` (which 2025-03-26 kept out of batches).
 */
export function batchProblem(
  batch: readonly unknown[],
  protocolHeader: string | undefined,
): string | undefined {
  if (batch.length === 0) return 'Invalid Request: an empty JSON-RPC batch';
  if (batch.length > MAX_BATCH_MESSAGES)
    return `Invalid Request: a JSON-RPC batch may hold at most ${MAX_BATCH_MESSAGES} messages (this one holds ${batch.length})`;
  if (protocolHeader !== undefined && !SERVED_PROTOCOL_VERSIONS.includes(protocolHeader))
    return (
      `Invalid Request: unsupported MCP-Protocol-Version ${JSON.stringify(protocolHeader.slice(0, 40))} ` +
      `(this server serves ${SERVED_PROTOCOL_VERSIONS.join(', ')}; JSON-RPC batches only ${BATCHING_PROTOCOL_VERSIONS.join(', ')})`
    );
  if (protocolHeader !== undefined && !BATCHING_PROTOCOL_VERSIONS.includes(protocolHeader))
    return (
      `Invalid Request: JSON-RPC batches belong to MCP 2025-03-26 and older; MCP-Protocol-Version ` +
      `${JSON.stringify(protocolHeader.slice(0, 40))} sends one message per request`
    );
  const requestIds = new Set<unknown>();
  for (const [i, m] of batch.entries()) {
    const problem = envelopeProblem(m);
    if (problem) return `Invalid Request: message ${i + 1} of the batch: ${problem}`;
    const { id, method } = m as { id?: unknown; method?: unknown };
    if (method === undefined || id === undefined) continue;
    // Answers are matched to requests by id: a second request with the same id would run unanswered.
    if (requestIds.has(id))
      return `Invalid Request: message ${i + 1} of the batch reuses the id ${JSON.stringify(id)} of an earlier request in it`;
    requestIds.add(id);
  }
  if (batch.some((m) => (m as { method?: unknown } | null)?.method === 'initialize'))
    return 'Invalid Request: initialize must not be part of a JSON-RPC batch; send it alone to open a session';
  // A cancelled request is never answered (MCP), and the batch's answer waits for every request in it:
  // the response would stay open, empty, until the client gave up.
  for (const [i, m] of batch.entries()) {
    const { id, method, params } = m as { id?: unknown; method?: unknown; params?: { requestId?: unknown } };
    if (method !== 'notifications/cancelled' || id !== undefined) continue;
    const cancelled = params?.requestId;
    if (requestIds.has(cancelled))
      return (
        `Invalid Request: message ${i + 1} of the batch cancels request ${JSON.stringify(cancelled)} of the same batch, ` +
        'which would then never be answered; send a cancellation in a request of its own'
      );
  }
  return undefined;
}

const isId = (v: unknown): boolean => typeof v === 'string' || Number.isSafeInteger(v);

/** Why `id` is not a JSON-RPC id this server can answer to. */
const idProblem = (id: unknown): string =>
  Number.isInteger(id)
    ? '"id" must be a string or an integer of at most 2^53 - 1 in magnitude (a larger one cannot be ' +
      'answered exactly; send it as a string)'
    : '"id" must be a string or an integer';

/**
 * Why a message is not a JSON-RPC 2.0 request, notification or response as
 * MCP sends them (the -32600 message), or undefined.
 */
/** The members a JSON-RPC 2.0 message may have (the SDK refuses any other, saying only "invalid"). */
const MESSAGE_MEMBERS = new Set(['jsonrpc', 'id', 'method', 'params', 'result', 'error']);

export function envelopeProblem(message: unknown): string | undefined {
  if (message === null || typeof message !== 'object' || Array.isArray(message))
    return 'must be a JSON-RPC object';
  const m = message as Record<string, unknown>;
  if (Object.keys(m).length === 0) return 'not a valid JSON-RPC message (an empty body, or {})';
  if (m.jsonrpc !== '2.0')
    return m.jsonrpc === undefined
      ? '"jsonrpc" is required and must be "2.0"'
      : `"jsonrpc" must be "2.0" (got ${JSON.stringify(m.jsonrpc).slice(0, 40)})`;
  const has = (k: string) => Object.prototype.hasOwnProperty.call(m, k);
  const unknown = Object.keys(m).find((k) => !MESSAGE_MEMBERS.has(k));
  if (unknown !== undefined)
    return `unknown member ${JSON.stringify(unknown.slice(0, 40))} (a JSON-RPC message has jsonrpc, id, method and params, or result or error)`;
  if (has('method')) {
    if (typeof m.method !== 'string' || m.method === '') return '"method" must be a non-empty string';
    if (has('id') && !isId(m.id)) return idProblem(m.id);
    if (has('params') && (m.params === null || typeof m.params !== 'object' || Array.isArray(m.params)))
      return '"params" must be an object';
    if (has('result') || has('error'))
      return 'a request has "method"; only a response has "result" or "error"';
    return undefined;
  }
  if (!has('result') && !has('error'))
    return 'has neither "method" (a request or notification) nor "result" or "error" (a response)';
  if (has('result') && has('error')) return 'a response has "result" or "error", not both';
  if (!isId(m.id) && !(has('error') && m.id === null)) return idProblem(m.id);
  return undefined;
}
