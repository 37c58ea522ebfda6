/**
 * GET /metrics as Prometheus and operators see it: valid text format whose
 * counters move with the calls made (MCP tool calls over the real v1 SDK
 * client, HTTP requests including guard refusals and 404s), the JSON view,
 * and access control when METRICS_PUBLIC=false.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { MetricsSummary } from '../../src/metrics/metrics-summary';
import { startApp, StartedApp } from '../support/start-app';
import { authHeaders, TestKey } from '../support/test-keys';

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
// Prometheus parses values with Go's ParseFloat: NaN and Inf in any case (prom-client writes `Nan`).
const VALUE = '(?:[-+]?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][-+]?\\d+)?|[-+]?[iI][nN][fF]|[nN][aA][nN])';
const SAMPLE = new RegExp(`^(${NAME})(\\{(?:${LABEL}(?:,${LABEL})*,?)?\\})? (${VALUE})(?: -?\\d+)?$`);
const HELP = new RegExp(`^# HELP ${NAME} .*$`);
const TYPE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`);

/**
 * A strict reader of the Prometheus text format (0.0.4): throws on any line
 * that is not a HELP/TYPE comment or a `name{labels} value` sample, and
 * returns the samples keyed `name{labels as written}`.
 */
function parsePrometheus(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const type = TYPE.exec(line);
      if (type) types.set(type[1], type[2]);
      else if (!HELP.test(line)) throw new Error(`bad comment line: ${line}`);
      continue;
    }
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`bad sample line: ${line}`);
    const family = m[1].replace(/_(bucket|sum|count)$/, '');
    if (!types.has(m[1]) && !types.has(family)) throw new Error(`sample without # TYPE: ${line}`);
    const key = `${m[1]}${m[2] ?? ''}`;
    if (samples.has(key)) throw new Error(`duplicate sample: ${key}`);
    samples.set(key, Number(m[3]));
  }
  return samples;
}

/** The value of one series (0 when absent, as a counter that never moved). */
const series = (samples: Map<string, number>, key: string) => samples.get(key) ?? 0;

describe('GET /metrics (public: METRICS_PUBLIC=true)', () => {
  let started: StartedApp;
  let key: TestKey;

  beforeAll(async () => {
    started = await startApp({ METRICS_PUBLIC: 'true' });
    key = await TestKey.create(started, { permissions: ['metrics:read'] });
  });
  afterAll(async () => started?.close());

  async function scrape(): Promise<Map<string, number>> {
    const res = await fetch(`${started.url}/metrics`);
    expect(res.status).toBe(200);
    const type = res.headers.get('content-type') ?? '';
    expect(type).toMatch(/^text\/plain;/);
    expect(type).toMatch(/;\s*version=0\.0\.4\b/);
    return parsePrometheus(await res.text());
  }

  it('serves valid Prometheus text without a key, with process defaults and every named metric', async () => {
    const res = await fetch(`${started.url}/metrics`);
    // Never kept by a cache, and the two views (text, JSON) told apart by any cache on the way.
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('vary')).toMatch(/\bAccept\b/i);
    const text = await res.text();
    expect(() => parsePrometheus(text)).not.toThrow();
    for (const name of [
      'process_cpu_user_seconds_total',
      'nodejs_heap_size_used_bytes',
      'mcp_tool_calls_total',
      'mcp_tool_duration_seconds',
      'http_requests_total',
      'http_request_duration_seconds',
      'auth_failures_total',
      'rate_limited_total',
      'audit_queue_depth',
      'audit_spooled_total',
      'audit_write_failures_total',
      'audit_durable_seconds',
      'mcp_sessions_active',
      'auth_revocation_fresh',
      'upstream_requests_total',
      'upstream_circuit_open',
      'cache_requests_total',
    ]) {
      expect(text).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
    }
  });

  it('counts MCP tool calls by tool and outcome, and live sessions', async () => {
    const success = 'mcp_tool_calls_total{tool="server_info",outcome="success"}';
    const durations = 'mcp_tool_duration_seconds_count{tool="server_info"}';
    const audited = 'audit_durable_seconds_count';
    const before = await scrape();

    const client = new Client({ name: 'metrics-e2e', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(`${started.url}/mcp`), {
      requestInit: { headers: authHeaders(key) },
    });
    await client.connect(transport);
    try {
      for (let i = 0; i < 2; i++) {
        const result = await client.callTool({ name: 'server_info', arguments: {} });
        expect(result.isError).toBeFalsy();
      }
      const during = await scrape();
      expect(series(during, success) - series(before, success)).toBe(2);
      expect(series(during, durations) - series(before, durations)).toBe(2);
      // Each call's audit record was durable before the call was answered, and observed then.
      expect(series(during, audited) - series(before, audited)).toBe(2);
      expect(series(during, 'audit_durable_seconds_bucket{le="+Inf"}')).toBe(series(during, audited));
      expect(series(during, 'audit_durable_seconds_sum')).toBeGreaterThan(
        series(before, 'audit_durable_seconds_sum'),
      );
      expect(series(during, 'mcp_sessions_active')).toBeGreaterThanOrEqual(1);
      expect(series(during, 'auth_revocation_fresh')).toBe(1); // the database answers: keys are checked
      expect(series(during, 'http_requests_total{method="POST",route="/mcp",status="200"}')).toBeGreaterThan(
        series(before, 'http_requests_total{method="POST",route="/mcp",status="200"}'),
      );
    } finally {
      await transport.terminateSession();
      await client.close();
    }
    expect(series(await scrape(), 'mcp_sessions_active')).toBe(series(before, 'mcp_sessions_active'));
  });

  it('counts HTTP requests by route pattern and status, including guard refusals and unknown routes', async () => {
    const health = 'http_requests_total{method="GET",route="/health",status="200"}';
    const refused = 'http_requests_total{method="GET",route="/admin/api-keys/:id",status="401"}';
    const unmatched = 'http_requests_total{method="GET",route="unmatched",status="404"}';
    const before = await scrape();

    expect((await fetch(`${started.url}/health`)).status).toBe(200);
    expect((await fetch(`${started.url}/health`)).status).toBe(200);
    expect((await fetch(`${started.url}/admin/api-keys/some-key-id`)).status).toBe(401);
    expect((await fetch(`${started.url}/no/such/route/12345`)).status).toBe(404);

    const after = await scrape();
    expect(series(after, health) - series(before, health)).toBe(2);
    expect(series(after, refused) - series(before, refused)).toBe(1);
    expect(series(after, unmatched) - series(before, unmatched)).toBe(1);
    expect(
      series(after, 'http_request_duration_seconds_count{method="GET",route="/health"}'),
    ).toBeGreaterThanOrEqual(2);
    // Raw URLs never become label values.
    expect([...after.keys()].some((k) => k.includes('some-key-id') || k.includes('12345'))).toBe(false);
  });

  it('answers the JSON view with Accept: application/json', async () => {
    const client = new Client({ name: 'metrics-json', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(`${started.url}/mcp`), {
      requestInit: { headers: authHeaders(key) },
    });
    await client.connect(transport);
    await client.callTool({ name: 'server_info', arguments: {} });
    const res = await fetch(`${started.url}/metrics`, { headers: { accept: 'application/json' } });
    await transport.terminateSession();
    await client.close();

    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('vary')).toMatch(/\bAccept\b/i);
    const body = (await res.json()) as MetricsSummary;
    expect(body.uptime).toBeGreaterThan(0);
    expect(body.memory.heapUsed).toBeGreaterThan(0);
    expect(body.cpu.userSeconds).toBeGreaterThan(0);
    expect(body.activeConnections).toBeGreaterThanOrEqual(1); // this request
    expect(body.mcpSessions).toBeGreaterThanOrEqual(1);
    expect(body.toolExecutions.total).toBeGreaterThanOrEqual(1);
    expect(body.toolExecutions.byTool.server_info).toMatchObject({ errors: 0 });
    expect(body.toolExecutions.byTool.server_info.success).toBe(body.toolExecutions.byTool.server_info.total);
    expect(body.errorRates).toEqual({
      toolCalls: 0,
      httpClientErrors: expect.any(Number),
      httpServerErrors: expect.any(Number),
      authFailures: expect.any(Number),
    });
    expect(body.requests.http).toBeGreaterThan(0);
  });
});

describe('GET /metrics (METRICS_PUBLIC=false)', () => {
  let started: StartedApp;
  beforeAll(async () => (started = await startApp({ METRICS_PUBLIC: 'false' })));
  afterAll(async () => started?.close());

  it('is 401 without a key, 403 without metrics:read, 200 with it', async () => {
    const anonymous = await fetch(`${started.url}/metrics`);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.text()).not.toContain('# TYPE');

    const other = await TestKey.create(started, { permissions: ['audit:read'] });
    expect((await fetch(`${started.url}/metrics`, { headers: authHeaders(other) })).status).toBe(403);

    const reader = await TestKey.create(started, { permissions: ['metrics:read'] });
    const res = await fetch(`${started.url}/metrics`, { headers: authHeaders(reader) });
    expect(res.status).toBe(200);
    const samples = parsePrometheus(await res.text());
    expect(series(samples, 'http_requests_total{method="GET",route="/metrics",status="401"}')).toBe(1);
    expect(series(samples, 'http_requests_total{method="GET",route="/metrics",status="403"}')).toBe(1);
  });
});
