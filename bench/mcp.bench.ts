/**
 * The MCP hot path on this machine: the cost of building an SDK server per
 * request (the 2026-07-28 path does this), and tools/call throughput over HTTP
 * for both protocol eras, embedded shape, in-process server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../src/app.factory';
import { loadConfig } from '../src/config/load-config';
import { McpServerFactory } from '../src/mcp/mcp-server.factory';
import { load, report } from './bench-util';

const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'bench', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sentia-bench-'));
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'error', DATA_DIR: dataDir, PORT: '0', RATE_LIMIT_MAX: '10000000', RATE_LIMIT_IP_MAX: '10000000' });
  const app = await createApp(config);
  await app.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}/mcp`;
  const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

  // 1. Server object per request.
  const factory = app.get(McpServerFactory);
  const n = 20_000;
  for (let i = 0; i < 2000; i++) factory.create('modern');
  const t0 = performance.now();
  for (let i = 0; i < n; i++) factory.create('modern');
  const perServerUs = ((performance.now() - t0) / n) * 1000;
  // eslint-disable-next-line no-console
  console.log(`${'McpServerFactory.create (server per request)'.padEnd(48)} ${perServerUs.toFixed(1)} µs each`);

  // 2. 2026-07-28 stateless tools/call.
  const modernBody = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'server_info', arguments: {}, _meta: META } });
  const modernHeaders = { ...headers, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'server_info' };
  const modernCall = async () => {
    const res = await fetch(url, { method: 'POST', headers: modernHeaders, body: modernBody });
    if (res.status !== 200) throw new Error(String(res.status));
    await res.arrayBuffer();
  };
  await load(500, 8, modernCall);
  report('tools/call 2026-07-28 (stateless), 16 clients', await load(5000, 16, modernCall));

  // 3. 2025-era tools/call inside one session.
  const init = await fetch(url, {
    method: 'POST',
    headers,
    body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '1' } } }),
  });
  const session = init.headers.get('mcp-session-id')!;
  await init.arrayBuffer();
  const legacyHeaders = { ...headers, 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' };
  const legacyCall = async (i: number) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: legacyHeaders,
      body: JSON.stringify({ jsonrpc: '2.0', id: i + 10, method: 'tools/call', params: { name: 'server_info', arguments: {} } }),
    });
    if (res.status !== 200) throw new Error(String(res.status));
    await res.arrayBuffer();
  };
  await load(500, 8, legacyCall);
  report('tools/call 2025-11-25 (one session), 16 clients', await load(5000, 16, legacyCall));

  await app.close();
  rmSync(dataDir, { recursive: true, force: true });
}

main().catch((e) => {
  // eslint-disable-next-line no-console
  console.error(e);
  process.exit(1);
});
