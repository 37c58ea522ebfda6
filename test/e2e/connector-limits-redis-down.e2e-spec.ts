jest.setTimeout(60_000);

/**
 * The upstream limits when Redis goes away (the cluster shape: PostgreSQL in
 * a schema of its own, Redis through a TCP proxy this test cuts): tool calls
 * go on, their limits counted on this instance, as the per-key rate limits
 * are. Shown with Unleashed's monthly quota (UNLEASHED_MONTHLY_QUOTA=3).
 */
import { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Client } from 'pg';
import request from 'supertest';
import { MetricsService } from '../../src/metrics/metrics.service';
import {
  describeWithPostgresAndRedis,
  TEST_DATABASE_URL,
  TEST_REDIS_URL,
  uniqueName,
} from '../support/backends';
import { registerSecret } from '../support/capture';
import { startApp, StartedApp } from '../support/start-app';
import { TcpProxy } from '../support/tcp-proxy';
import { startUnleashedSimulator, UnleashedSimulator } from '../simulators/unleashed.simulator';
import { AUTH_ENV, bearer, issueKey } from './auth-helpers';

const CREDS = {
  apiId: '3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f',
  apiKey: 'unleashed-redis-down-key-SECRET-0001',
};
registerSecret(CREDS.apiKey, 'connector-limits-redis-down api key');

interface ToolResult {
  isError?: boolean;
  content: { type: string; text?: string }[];
}

describeWithPostgresAndRedis('upstream limits while Redis is down', () => {
  const schema = uniqueName('limits_redis_down');
  let proxy: TcpProxy;
  let sim: UnleashedSimulator;
  let started: StartedApp;
  let mcp: McpClient;

  beforeAll(async () => {
    proxy = await TcpProxy.to(TEST_REDIS_URL);
    sim = await startUnleashedSimulator(CREDS);
    started = await startApp({
      ...AUTH_ENV,
      DATABASE_URL: TEST_DATABASE_URL,
      DATABASE_SCHEMA: schema,
      REDIS_URL: proxy.urlFor(TEST_REDIS_URL),
      REDIS_KEY_PREFIX: `${schema}:`,
      UNLEASHED_BASE_URL: sim.url,
      UNLEASHED_MONTHLY_QUOTA: '3',
      MCP_TOOL_CACHE_TTL: '0',
      LOG_LEVEL: 'error',
    });
    const admin = await issueKey(started, 'org-redis-down', ['credentials:write'], 'admin');
    const put = await request(started.url).put('/credentials/unleashed').set(bearer(admin.token)).send(CREDS);
    expect(put.status).toBe(201);
    const reader = await issueKey(started, 'org-redis-down', ['unleashed:read'], 'reader');
    mcp = new McpClient({ name: 'e2e-redis-down', version: '1.0.0' });
    // A session this instance opened is served by it without Redis (README: 2025-era sessions).
    await mcp.connect(
      new StreamableHTTPClientTransport(new URL(`${started.url}/mcp`), {
        requestInit: { headers: bearer(reader.token) },
      }),
    );
  });

  afterAll(async () => {
    await mcp?.close().catch(() => undefined);
    await started?.close();
    await sim?.close();
    await proxy?.cut();
    const pg = new Client({ connectionString: TEST_DATABASE_URL });
    await pg.connect();
    await pg.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pg.end();
  });

  const list = async () =>
    (await mcp.callTool({ name: 'unleashed_list_products', arguments: { pageSize: 1 } })) as ToolResult;
  const textOf = (r: ToolResult) => r.content.map((c) => c.text ?? '').join('\n');

  it('keeps calling Unleashed, counting its quota on this instance, and refuses past it', async () => {
    expect((await list()).isError).toBeFalsy();
    const metrics = started.app.get(MetricsService);
    const local = async () =>
      (await metrics.upstreamLimitLocalCountsTotal.get()).values.find((v) => v.labels.service === 'unleashed')
        ?.value ?? 0;
    expect(await local()).toBe(0);

    await proxy.cut();

    // The one call counted in Redis is not known here: this instance allows the whole quota again.
    for (let i = 0; i < 3; i++) {
      const r = await list();
      expect([i, r.isError ? textOf(r) : 'ok']).toEqual([i, 'ok']);
    }
    const refused = await list();
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toContain(
      "This server's monthly quota of 3 Unleashed calls for this account is used up",
    );
    expect(sim.requests).toHaveLength(4);
    expect(await local()).toBe(4);
  });
});
