import type { ServerResponse } from 'node:http';

/**
 * Answers an HTTP request with a JSON-RPC error object and the given status.
 * Its id is the request's when `body` is one message with a valid id (a
 * client matches the error to its call), else null (JSON-RPC: when the id
 * cannot be read, or for a batch).
 */
export function jsonRpcError(
  res: ServerResponse,
  status: number,
  code: number,
  message: string,
  headers: Record<string, string> = {},
  body?: unknown,
  data?: unknown,
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const error = data === undefined ? { code, message } : { code, message, data };
  const text = JSON.stringify({ jsonrpc: '2.0', id: requestIdOf(body), error });
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(text);
}

/** The id of one JSON-RPC request (a string or a safe integer), else null. */
export function requestIdOf(body: unknown): string | number | null {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return null;
  const id = (body as { id?: unknown }).id;
  return typeof id === 'string' || (typeof id === 'number' && Number.isSafeInteger(id)) ? id : null;
}
