/**
 * The MCP hot path on this machine, embedded shape, in-process server:
 * - the cost of building an SDK server per request (the 2026-07-28 path does this);
 * - tools/call throughput and latency over HTTP for both protocol eras, with a
 *   real API key (auth, revocation check, rate limits, metrics, audit all on);
 * - what the audit guarantee costs: the same load with AUDIT_MODE=sync
 *   (answered once the record is durable, group commit) and AUDIT_MODE=async.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../src/app.factory';
import { ApiKeysService } from '../src/auth/api-keys.service';
import { loadConfig } from '../src/config/load-config';
import { McpServerFactory } from '../src/mcp/mcp-server.factory';
import { load, LoadResult, report } from './bench-util';

const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'bench', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
};
const TOTAL = Number(process.env.BENCH_REQUESTS ?? 5000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);

async function scenario(
  auditMode: 'sync' | 'async',
  measureFactory: boolean,
): Promise<{ modern: LoadResult; legacy: LoadResult }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sentia-bench-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'error',
    DATA_DIR: dataDir,
    PORT: '0',
    AUDIT_MODE: auditMode,
    RATE_LIMIT_MAX: '10000000',
    RATE_LIMIT_IP_MAX: '10000000',
  });
  const app = await createApp(config);
  await app.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}/mcp`;
  const { token } = await app
    .get(ApiKeysService)
    .create(
      { kind: 'system', tool: 'bench', organizationId: 'bench', userId: 'bench' },
      { name: 'bench', permissions: ['ai:invoke'] },
    );
  const headers = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    authorization: `Bearer ${token}`,
  };

  if (measureFactory) {
    const factory = app.get(McpServerFactory);
    const n = 20_000;
    for (let i = 0; i < 2000; i++) factory.create('modern');
    const t0 = performance.now();
    for (let i = 0; i < n; i++) factory.create('modern');
    // eslint-disable-next-line no-console
    console.log(
      `${'McpServerFactory.create (server per request)'.padEnd(48)} ${(((performance.now() - t0) / n) * 1000).toFixed(1)} µs each`,
    );
  }

  const modernBody = JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'tools/call',
    params: { name: 'server_info', arguments: {}, _meta: META },
  });
  const modernHeaders = {
    ...headers,
    'mcp-protocol-version': '2026-07-28',
    'mcp-method': 'tools/call',
    'mcp-name': 'server_info',
  };
  const modernCall = async () => {
    const res = await fetch(url, { method: 'POST', headers: modernHeaders, body: modernBody });
    if (res.status !== 200) throw new Error(String(res.status));
    await res.arrayBuffer();
  };
  await load(500, 8, modernCall);
  const modern = await load(TOTAL, CONCURRENCY, modernCall);

  const init = await fetch(url, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: {
        protocolVersion: '2025-11-25',
        capabilities: {},
        clientInfo: { name: 'bench', version: '1' },
      },
    }),
  });
  const session = init.headers.get('mcp-session-id')!;
  await init.arrayBuffer();
  const legacyHeaders = { ...headers, 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' };
  const legacyCall = async (i: number) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: legacyHeaders,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: i + 10,
        method: 'tools/call',
        params: { name: 'server_info', arguments: {} },
      }),
    });
    if (res.status !== 200) throw new Error(String(res.status));
    await res.arrayBuffer();
  };
  await load(500, 8, legacyCall);
  const legacy = await load(TOTAL, CONCURRENCY, legacyCall);

  await app.close();
  rmSync(dataDir, { recursive: true, force: true });
  return { modern, legacy };
}

async function main(): Promise<void> {
  const sync = await scenario('sync', true);
  report(`tools/call 2026-07-28, audit sync, ${CONCURRENCY} clients`, sync.modern);
  report(`tools/call 2025-11-25 session, audit sync, ${CONCURRENCY} clients`, sync.legacy);
  const async = await scenario('async', false);
  report(`tools/call 2026-07-28, audit async, ${CONCURRENCY} clients`, async.modern);
  report(`tools/call 2025-11-25 session, audit async, ${CONCURRENCY} clients`, async.legacy);
  // In-process and closed-loop at saturation, a sync - async p99 here would be noise:
  // tool-latency.bench.ts measures what the audit guarantee adds, from outside the server.
}

main().catch((e) => {
  // eslint-disable-next-line no-console
  console.error(e);
  process.exit(1);
});
