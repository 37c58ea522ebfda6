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
