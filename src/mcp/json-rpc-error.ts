import type { ServerResponse } from 'node:http';

/** Answers an HTTP request with a JSON-RPC error object (id null) and the given status. */
export function jsonRpcError(
  res: ServerResponse,
  status: number,
  code: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body = JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message } });
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(body);
}
