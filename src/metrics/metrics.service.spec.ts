import { register as globalRegistry } from 'prom-client';
import { MetricsService } from './metrics.service';

/** The value of one series, read from the registry's text output as a scraper would. */
async function valueOf(metrics: MetricsService, series: string): Promise<number | undefined> {
  const text = await metrics.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('MetricsService', () => {
  let metrics: MetricsService;
  beforeEach(() => (metrics = new MetricsService()));

  it('keeps its own registry: two instances neither collide nor touch the global one', async () => {
    const other = new MetricsService();
    metrics.authFailure('expired');
    metrics.authFailure('expired');
    other.authFailure('expired');
    expect(await valueOf(metrics, 'auth_failures_total{reason="expired"}')).toBe(2);
    expect(await valueOf(other, 'auth_failures_total{reason="expired"}')).toBe(1);
    expect(globalRegistry.getSingleMetric('auth_failures_total')).toBeUndefined();
    expect(await metrics.metrics()).toContain('# TYPE process_cpu_user_seconds_total counter');
  });

  it('records tool calls by tool and outcome, and their duration', async () => {
    metrics.toolCall('server_info', 'success', 0.002);
    metrics.toolCall('server_info', 'success', 0.2);
    metrics.toolCall('server_info', 'denied', 0.001);
    expect(await valueOf(metrics, 'mcp_tool_calls_total{tool="server_info",outcome="success"}')).toBe(2);
    expect(await valueOf(metrics, 'mcp_tool_calls_total{tool="server_info",outcome="denied"}')).toBe(1);
    expect(await valueOf(metrics, 'mcp_tool_duration_seconds_count{tool="server_info"}')).toBe(3);
    expect(await valueOf(metrics, 'mcp_tool_duration_seconds_bucket{le="0.005",tool="server_info"}')).toBe(2);
  });

  it('labels HTTP requests by route pattern, and unmatched requests as "unmatched"', async () => {
    metrics.httpRequest('get', { path: '/admin/api-keys/:id' }, 401, 0.01);
    metrics.httpRequest('GET', undefined, 404, 0.01);
    metrics.httpRequest('BREW', undefined, 999, 0.01);
    expect(
      await valueOf(metrics, 'http_requests_total{method="GET",route="/admin/api-keys/:id",status="401"}'),
    ).toBe(1);
    expect(await valueOf(metrics, 'http_requests_total{method="GET",route="unmatched",status="404"}')).toBe(
      1,
    );
    expect(await valueOf(metrics, 'http_requests_total{method="OTHER",route="unmatched",status="0"}')).toBe(
      1,
    );
    expect(
      await valueOf(metrics, 'http_request_duration_seconds_count{method="GET",route="unmatched"}'),
    ).toBe(1);
  });

  it('records what other modules report, keeping label values bounded', async () => {
    metrics.authFailure('revoked');
    metrics.authFailure('eyJhbGciOiJIUzI1NiJ9 <a token?>');
    metrics.rateLimited('key');
    metrics.upstreamRequest('xero', 429);
    metrics.upstreamRequest('xero', 'error');
    metrics.cacheRequest('hit', 'credentials');
    metrics.cacheRequest('miss', 'tool_result');
    metrics.auditSpooled(5);
    metrics.auditWriteFailure();
    metrics.setAuditQueueDepth(7);
    expect(await valueOf(metrics, 'auth_failures_total{reason="revoked"}')).toBe(1);
    expect(await valueOf(metrics, 'auth_failures_total{reason="other"}')).toBe(1);
    expect(await metrics.metrics()).not.toContain('eyJ');
    expect(await valueOf(metrics, 'rate_limited_total{scope="key"}')).toBe(1);
    expect(await valueOf(metrics, 'upstream_requests_total{service="xero",status="429"}')).toBe(1);
    expect(await valueOf(metrics, 'upstream_requests_total{service="xero",status="error"}')).toBe(1);
    expect(await valueOf(metrics, 'cache_requests_total{cache="credentials",result="hit"}')).toBe(1);
    expect(await valueOf(metrics, 'cache_requests_total{cache="tool_result",result="miss"}')).toBe(1);
    expect(await valueOf(metrics, 'audit_spooled_total')).toBe(5);
    expect(await valueOf(metrics, 'audit_write_failures_total')).toBe(1);
    expect(await valueOf(metrics, 'audit_queue_depth')).toBe(7);
  });

  it('reads gauges from their sources at each scrape', async () => {
    expect(await valueOf(metrics, 'mcp_sessions_active')).toBe(0);
    let sessions = 3;
    let queue = 11;
    metrics.mcpSessionsFrom(() => sessions);
    metrics.auditQueueDepthFrom(() => queue);
    expect(await valueOf(metrics, 'mcp_sessions_active')).toBe(3);
    expect(await valueOf(metrics, 'audit_queue_depth')).toBe(11);
    sessions = 1;
    queue = 0;
    expect(await valueOf(metrics, 'mcp_sessions_active')).toBe(1);
    expect(await valueOf(metrics, 'audit_queue_depth')).toBe(0);
  });

  it('summarises tool executions and error rates for the JSON view', async () => {
    metrics.toolCall('a', 'success', 0.01);
    metrics.toolCall('a', 'success', 0.03);
    metrics.toolCall('a', 'tool_error', 0.02);
    metrics.toolCall('b', 'internal_error', 0.1);
    metrics.httpRequest('POST', { path: '/mcp' }, 200, 0.01);
    metrics.httpRequest('POST', { path: '/mcp' }, 200, 0.01);
    metrics.httpRequest('POST', { path: '/mcp' }, 401, 0.01);
    metrics.httpRequest('GET', { path: '/x' }, 503, 0.01);
    metrics.authFailure('missing');
    metrics.rateLimited('ip');
    metrics.mcpSessionsFrom(() => 2);
    metrics.httpRequestsInFlight.inc();

    const s = await metrics.summary();
    expect(s.toolExecutions.total).toBe(4);
    expect(s.toolExecutions.byTool.a).toEqual({
      total: 3,
      success: 2,
      errors: 1,
      byOutcome: { success: 2, tool_error: 1 },
      averageDurationMs: expect.closeTo(20, 6),
    });
    expect(s.toolExecutions.byTool.b).toMatchObject({
      total: 1,
      success: 0,
      errors: 1,
      averageDurationMs: expect.closeTo(100, 6),
    });
    expect(s.errorRates).toEqual({
      toolCalls: 0.5,
      httpClientErrors: 0.25,
      httpServerErrors: 0.25,
      authFailures: 0.25,
    });
    expect(s.requests).toEqual({ http: 4, authFailures: 1, rateLimited: 1 });
    expect(s.activeConnections).toBe(1);
    expect(s.mcpSessions).toBe(2);
    expect(s.uptime).toBeGreaterThan(0);
    expect(s.memory.rss).toBeGreaterThan(0);
    expect(s.cpu.userSeconds).toBeGreaterThan(0);
  });

  it('turns label values that are not short identifiers into "other", wherever they come from', async () => {
    const junk = 'has space {"}';
    metrics.toolCall(junk, 'success', 0.01);
    metrics.rateLimited(junk);
    metrics.upstreamRequest(junk, 200);
    metrics.cacheRequest(junk as never, 'tool_result');
    const text = await metrics.metrics();
    expect(text).not.toContain('has space');
    expect(await valueOf(metrics, 'mcp_tool_calls_total{tool="other",outcome="success"}')).toBe(1);
    expect(await valueOf(metrics, 'rate_limited_total{scope="other"}')).toBe(1);
    expect(await valueOf(metrics, 'upstream_requests_total{service="other",status="200"}')).toBe(1);
    expect(await valueOf(metrics, 'cache_requests_total{cache="tool_result",result="other"}')).toBe(1);
  });

  it('reports an open circuit as 1 and a closed one as 0, and stale revocations as 0', async () => {
    metrics.upstreamCircuit('xero', true);
    expect(await valueOf(metrics, 'upstream_circuit_open{service="xero"}')).toBe(1);
    metrics.upstreamCircuit('xero', false);
    expect(await valueOf(metrics, 'upstream_circuit_open{service="xero"}')).toBe(0);
    let fresh = true;
    metrics.revocationFreshFrom(() => fresh);
    expect(await valueOf(metrics, 'auth_revocation_fresh')).toBe(1);
    fresh = false;
    expect(await valueOf(metrics, 'auth_revocation_fresh')).toBe(0);
  });

  it('counts 400-499 as client errors and 500 and up as server errors, at both ends', async () => {
    for (const status of [399, 400, 499, 500]) metrics.httpRequest('GET', { path: '/x' }, status, 0.01);
    const s = await metrics.summary();
    expect(s.errorRates).toMatchObject({ httpClientErrors: 0.5, httpServerErrors: 0.25 });
  });

  it('reports zero rates, not NaN, before anything was counted', async () => {
    const s = await metrics.summary();
    expect(s.toolExecutions).toEqual({ total: 0, byTool: {} });
    expect(s.errorRates).toEqual({ toolCalls: 0, httpClientErrors: 0, httpServerErrors: 0, authFailures: 0 });
  });
});
