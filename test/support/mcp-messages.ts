/** JSON-RPC messages the e2e tests send to /mcp by hand (without an SDK client). */

/** An `initialize` request of a 2025-era client named `clientName`. */
export function initializeRequest(protocolVersion = '2025-11-25', clientName = 'raw', id = 1) {
  return {
    jsonrpc: '2.0',
    id,
    method: 'initialize',
    params: { protocolVersion, capabilities: {}, clientInfo: { name: clientName, version: '1' } },
  } as const;
}

/** The per-request envelope (`params._meta`) of a 2026-07-28 client named `clientName`. */
export function modernMeta(clientName = 'raw') {
  return {
    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientInfo': { name: clientName, version: '1' },
    'io.modelcontextprotocol/clientCapabilities': {},
  };
}

/** A `tools/call` request of `name` with `args`. */
export function toolCallRequest(name: string, id: number, args: Record<string, unknown> = {}) {
  return { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } } as const;
}

/**
 * The `fetch` init of a stateless 2026-07-28 `tools/call` of `name` (no
 * arguments) by the key `token`, as a raw client sends it: the envelope in
 * `_meta`, the method and name in headers, the request id for the audit trail.
 */
export function modernToolCallInit(
  token: string,
  {
    id,
    name = 'server_info',
    requestId,
    clientName = 'raw',
  }: {
    id: number;
    name?: string;
    requestId?: string;
    clientName?: string;
  },
): RequestInit {
  return {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${token}`,
      ...(requestId ? { 'x-request-id': requestId } : {}),
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'tools/call',
      'mcp-name': name,
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { name, arguments: {}, _meta: modernMeta(clientName) },
    }),
  };
}
