/**
 * LOG_LEVEL=verbose: one access line (`event: api_call`) per HTTP request, and
 * `http_requests_total` counts it, including the requests answered before any
 * route is reached (the Origin gate's 403, the per-IP 429, the body parser's 415).
 */
import { Logger } from '@nestjs/common';
import { MetricsService } from '../../src/metrics/metrics.service';
import { startApp, StartedApp } from '../support/start-app';
import { authHeaders, TestKey } from '../support/test-keys';

describe('access log and HTTP metrics of requests answered before routing', () => {
  let started: StartedApp;
  let verbose: jest.SpyInstance;

  beforeAll(async () => {
    started = await startApp({ RATE_LIMIT_IP_MAX: '4', METRICS_PUBLIC: 'true' });
  });
  beforeEach(() => {
    verbose = jest.spyOn(Logger.prototype, 'verbose');
  });
  afterEach(() => verbose.mockRestore());
  afterAll(async () => started?.close());

  const accessLines = () =>
    verbose.mock.calls
      .map(([line]) => line as { event?: string; method?: string; route?: string; status?: number })
      .filter((line) => line?.event === 'api_call');

  async function counted(status: number): Promise<number> {
    const text = await started.app.get(MetricsService).registry.metrics();
    return text
      .split('\n')
      .filter((l) => l.startsWith('http_requests_total{') && l.includes(`status="${status}"`))
      .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
  }

  it('logs and counts each refusal of the Origin gate, the body parser and the per-IP limit', async () => {
    const key = await TestKey.create(started, { permissions: ['keys:admin'] });
    const gate = await fetch(`${started.url}/mcp`, {
      method: 'POST',
      headers: { ...authHeaders(key), origin: 'https://evil.example', 'content-type': 'application/json' },
      body: '{}',
    });
    expect(gate.status).toBe(403);
    const media = await fetch(`${started.url}/admin/api-keys`, {
      method: 'POST',
      headers: { ...authHeaders(key), 'content-type': 'text/plain' },
      body: 'hello',
    });
    expect(media.status).toBe(415);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++)
      statuses.push((await fetch(`${started.url}/admin/api-keys`, { headers: authHeaders(key) })).status);
    expect(statuses).toContain(429);

    await new Promise((resolve) => setImmediate(resolve));
    const logged = accessLines().map((l) => l.status);
    expect(logged).toEqual(expect.arrayContaining([403, 415, 429]));
    expect(logged).toHaveLength(2 + statuses.length);
    expect(await counted(403)).toBe(1);
    expect(await counted(415)).toBe(1);
    expect(await counted(429)).toBe(statuses.filter((s) => s === 429).length);
  });
});
