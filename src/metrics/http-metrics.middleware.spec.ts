import { request as httpRequest, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { CLIENT_CLOSED_REQUEST, HttpMetricsMiddleware } from './http-metrics.middleware';
import { MetricsService } from './metrics.service';

async function valueOf(metrics: MetricsService, series: string): Promise<number> {
  const line = (await metrics.metrics()).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

async function eventually(check: () => Promise<boolean>, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A real Express app with the middleware in front, as Nest mounts it. */
describe('HttpMetricsMiddleware', () => {
  let metrics: MetricsService;
  let server: Server;
  let base: string;
  let received: () => void;

  beforeEach(async () => {
    metrics = new MetricsService();
    const middleware = new HttpMetricsMiddleware(metrics);
    const app = express();
    app.use((req, res, next) => middleware.use(req, res, next));
    app.get('/items/:id', (_req, res) => void res.json({ ok: true }));
    app.post('/items', (_req, res) => void res.status(201).end());
    app.get('/boom', () => {
      throw new Error('boom');
    });
    app.get('/hang', () => received()); // never answers
    // Quiet error handler: a 500 without a stack.
    app.use((_err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).end();
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('counts by method, route pattern and status, never by raw URL', async () => {
    await fetch(`${base}/items/42`);
    await fetch(`${base}/items/43`);
    await fetch(`${base}/items`, { method: 'POST' });
    await eventually(
      async () =>
        (await valueOf(metrics, 'http_requests_total{method="POST",route="/items",status="201"}')) === 1,
    );
    expect(await valueOf(metrics, 'http_requests_total{method="GET",route="/items/:id",status="200"}')).toBe(
      2,
    );
    expect(
      await valueOf(metrics, 'http_request_duration_seconds_count{method="GET",route="/items/:id"}'),
    ).toBe(2);
    const text = await metrics.metrics();
    expect(text).not.toContain('/items/42');
  });

  it('counts errors and unknown routes', async () => {
    expect((await fetch(`${base}/boom`)).status).toBe(500);
    expect((await fetch(`${base}/nothing/here`)).status).toBe(404);
    await eventually(
      async () =>
        (await valueOf(metrics, 'http_requests_total{method="GET",route="unmatched",status="404"}')) === 1,
    );
    expect(await valueOf(metrics, 'http_requests_total{method="GET",route="/boom",status="500"}')).toBe(1);
    expect(await valueOf(metrics, 'http_requests_in_flight')).toBe(0);
  });

  it('counts a request whose client went away as 499, once, and leaves no request in flight', async () => {
    const arrived = new Promise<void>((r) => (received = r));
    const req = httpRequest(`${base}/hang`);
    req.on('error', () => undefined);
    req.end();
    await arrived;
    expect(await valueOf(metrics, 'http_requests_in_flight')).toBe(1);
    req.destroy();
    const series = `http_requests_total{method="GET",route="/hang",status="${CLIENT_CLOSED_REQUEST}"}`;
    await eventually(async () => (await valueOf(metrics, series)) === 1);
    expect(await valueOf(metrics, 'http_requests_in_flight')).toBe(0);
  });
});
