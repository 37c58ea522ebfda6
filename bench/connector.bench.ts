/**
 * What a connector tool call costs on top of the MCP hot path, embedded
 * shape, in-process server, audit sync, and what the answer cache saves:
 * `unleashed_list_products` with `fresh: true` (stored
 * credentials from the vault's cache, HMAC signing, the upstream client with
 * its breaker, retries and body bound, zod validation and mapping of the
 * page) against `server_info` (no upstream), closed loop. The upstream is a
 * stand-in in a child process of its own that answers every
 * `GET /Products/{page}?pageSize=N` at once with N products in Unleashed's
 * envelope (it checks no signature: what is measured is this server's side),
 * so the difference is this server's connector work plus one local HTTP
 * round trip; the stand-in's own round trip is measured alone for reference.
 * The same tool asked one question again and again is answered from the
 * answer cache (memory store here): the stand-in sees one request.
 *
 *   npm run build && node dist/bench/connector.bench.js
 *
 * Env: BENCH_REQUESTS (default 3000 per scenario), BENCH_CONCURRENCY (default 16).
 */
import { spawn } from 'node:child_process';
import { Agent } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../src/app.factory';
import { ApiKeysService } from '../src/auth/api-keys.service';
import { loadConfig } from '../src/config/load-config';
import { CredentialsService } from '../src/credentials/credentials.service';
import { load, report } from './bench-util';
import { callToolModern } from './load';

const TOTAL = Number(process.env.BENCH_REQUESTS ?? 3000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);

/** The stand-in upstream, run as `node -e`: prints its port, then serves until killed. */
const UPSTREAM = `
const http = require('node:http');
let served = 0;
const product = (i) => ({
  Guid: '00000000-0000-4000-8000-' + String(i).padStart(12, '0'),
  ProductCode: 'SKU-' + i, ProductDescription: 'Product number ' + i, Barcode: null,
  UnitOfMeasure: { Name: 'EA' }, ProductGroup: { GroupName: 'Bench' },
  DefaultSellPrice: 12.5, DefaultPurchasePrice: 7.25, IsSellable: true, Obsolete: false,
  CreatedOn: '/Date(1700000000000)/', LastModifiedOn: '/Date(1710000000000)/',
});
const server = http.createServer((req, res) => {
  served++;
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/served') { res.end(String(served)); return; }
  const size = Number(url.searchParams.get('pageSize') || 200);
  const page = Number(url.pathname.split('/')[2] || 1);
  const body = JSON.stringify({
    Pagination: { NumberOfItems: size * 10, PageSize: size, PageNumber: page, NumberOfPages: 10 },
    Items: Array.from({ length: size }, (_, i) => product((page - 1) * size + i)),
  });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.keepAliveTimeout = 65000;
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

async function startUpstream(): Promise<{ url: string; stop: () => void }> {
  const child = spawn(process.execPath, ['-e', UPSTREAM], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim()));
    child.once('exit', (code) => reject(new Error(`upstream stand-in exited (${code})`)));
  });
  return { url: `http://127.0.0.1:${port}`, stop: () => child.kill('SIGKILL') };
}

async function main(): Promise<void> {
  const upstream = await startUpstream();
  const dataDir = mkdtempSync(join(tmpdir(), 'sentia-bench-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'error',
    DATA_DIR: dataDir,
    PORT: '0',
    AUDIT_MODE: 'sync',
    RATE_LIMIT_MAX: '10000000',
    RATE_LIMIT_IP_MAX: '10000000',
    UNLEASHED_BASE_URL: upstream.url,
    // Longer than any scenario, so a cached scenario's one question is fetched once, not again at each expiry.
    MCP_TOOL_CACHE_TTL: '3600',
  });
  const app = await createApp(config);
  await app.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}/mcp`;
  const principal = { keyId: 'bench', userId: 'bench', organizationId: 'bench', permissions: ['admin'] };
  await app.get(CredentialsService).put(principal, 'unleashed', {
    apiId: '2f6c4e1a-0b7d-4c1e-9a55-3c2b1d0e9f87',
    apiKey: 'bench-unleashed-key',
  });
  const { token } = await app
    .get(ApiKeysService)
    .create(
      { kind: 'system', tool: 'bench', organizationId: 'bench', userId: 'bench' },
      { name: 'bench', permissions: ['unleashed:read'] },
    );

  // One keep-alive pool for the tool calls, as a real client has.
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const mcpUrl = new URL(url);
  const call = (name: string, args: Record<string, unknown>) => async (i: number) => {
    await callToolModern(agent, mcpUrl, token, name, i + 1, undefined, args);
  };
  const direct = (pageSize: number) => async () => {
    const res = await fetch(`${upstream.url}/Products/1?pageSize=${pageSize}`);
    if (res.status !== 200) throw new Error(String(res.status));
    await res.arrayBuffer();
  };
  const served = async () => Number(await (await fetch(`${upstream.url}/served`)).text());
  const LIST = 'unleashed_list_products';
  const prime = (args: Record<string, unknown>) => () => call(LIST, args)(0);

  // `fresh: true` makes every call reach the upstream; the cached scenarios ask one question again
  // and again (MCP_TOOL_CACHE_TTL, 30 s by default), primed by one call before they start.
  const upstreamCalls = (perCall: boolean) => (perCall ? 300 + TOTAL : 0);
  const scenarios: [string, (i: number) => Promise<void>, number, (() => Promise<void>)?][] = [
    ['server_info (no upstream)', call('server_info', {}), 0],
    ['stand-in upstream alone, 50 products', direct(50), upstreamCalls(true)],
    [
      'unleashed_list_products, 50 products, fresh',
      call(LIST, { pageSize: 50, fresh: true }),
      upstreamCalls(true),
    ],
    [
      'unleashed_list_products, 50 products, cached',
      call(LIST, { pageSize: 50, page: 2 }),
      1,
      prime({ pageSize: 50, page: 2 }),
    ],
    ['stand-in upstream alone, 1000 products', direct(1000), upstreamCalls(true)],
    [
      'unleashed_list_products, 1000 products, fresh',
      call(LIST, { pageSize: 1000, fresh: true }),
      upstreamCalls(true),
    ],
    [
      'unleashed_list_products, 1000 products, cached',
      call(LIST, { pageSize: 1000, page: 2 }),
      1,
      prime({ pageSize: 1000, page: 2 }),
    ],
  ];
  for (const [name, fn, expected, before] of scenarios) {
    const servedBefore = await served();
    await before?.();
    await load(300, 8, fn);
    const result = await load(TOTAL, CONCURRENCY, fn);
    report(`${name}, ${CONCURRENCY} clients`, result);
    if (result.errors > 0) process.exitCode = 1;
    // What reached the upstream: every call when fresh, one when cached; nothing skipped, nothing extra.
    const reached = (await served()) - servedBefore - 1;
    if (expected > 0) console.log(`  upstream requests: ${reached} (expected ${expected})`);
    if (reached !== expected) process.exitCode = 1;
  }

  agent.destroy();
  await app.close();
  upstream.stop();
  rmSync(dataDir, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
