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
