/**
 * JSON-RPC batches on /mcp. MCP 2025-03-26 required servers to receive them;
 * 2025-06-18 removed them. So a batch is served only to a 2025-era session
 * whose client speaks 2025-03-26 or older: from 2025-06-18 on a client sends
 * `MCP-Protocol-Version` on every request after initialize, and a request
 * without that header is taken as 2025-03-26 (the spec's own fallback, and
 * the SDK transport's).
 */

/** The most messages one batch may hold (the SDK transport's own bound). */
export const MAX_BATCH_MESSAGES = 100;

/** The revisions that have JSON-RPC batches. */
export const BATCHING_PROTOCOL_VERSIONS: readonly string[] = ['2025-03-26', '2024-11-05', '2024-10-07'];

/** How many requests a body counts as against the per-key rate limit: one per message of a batch. */
export function messagesIn(body: unknown): number {
  return Array.isArray(body) ? Math.min(Math.max(body.length, 1), MAX_BATCH_MESSAGES) : 1;
}

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
  if (protocolHeader !== undefined && !BATCHING_PROTOCOL_VERSIONS.includes(protocolHeader))
    return (
      `Invalid Request: JSON-RPC batches belong to MCP 2025-03-26 and older; MCP-Protocol-Version ` +
      `${JSON.stringify(protocolHeader.slice(0, 40))} sends one message per request`
    );
  for (const [i, m] of batch.entries()) {
    const problem = envelopeProblem(m);
    if (problem) return `Invalid Request: message ${i + 1} of the batch: ${problem}`;
  }
  if (batch.some((m) => (m as { method?: unknown } | null)?.method === 'initialize'))
    return 'Invalid Request: initialize must not be part of a JSON-RPC batch; send it alone to open a session';
  return undefined;
}

/** Why a message is not JSON-RPC 2.0 at all (the -32600 message), or undefined. */
export function envelopeProblem(message: unknown): string | undefined {
  if (message === null || typeof message !== 'object' || Array.isArray(message))
    return 'must be a JSON-RPC object';
  if (Object.keys(message).length === 0) return 'not a valid JSON-RPC message (an empty body, or {})';
  const version = (message as { jsonrpc?: unknown }).jsonrpc;
  if (version !== '2.0')
    return version === undefined
      ? '"jsonrpc" is required and must be "2.0"'
      : `"jsonrpc" must be "2.0" (got ${JSON.stringify(version).slice(0, 40)})`;
  return undefined;
}
