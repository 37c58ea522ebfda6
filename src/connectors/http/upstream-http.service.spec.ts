import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AppConfig } from '../../config/config.types';
import type { MetricsService } from '../../metrics/metrics.service';
import { UpstreamHttp } from './upstream-http.service';
import { UpstreamError } from './upstream.errors';

/** A local server answering every request with `status`. */
async function serve(status: number): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('UpstreamHttp circuit breaker', () => {
  const servers: Server[] = [];
  const circuit: [string, boolean][] = [];
  const metrics = {
    upstreamRequest: () => undefined,
    upstreamCircuit: (service: string, open: boolean) => circuit.push([service, open]),
  } as unknown as MetricsService;
  const config = {
    connectors: {
      timeoutMs: 5_000,
      maxRetries: 0,
      maxRetryWaitMs: 0,
      maxBodyBytes: 1024 * 1024,
      breakerFailures: 2,
      breakerOpenMs: 60_000,
    },
  } as unknown as AppConfig;

  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });

  it("one shop's failures pause calls to that shop only, not to another organisation's shop", async () => {
    const broken = await serve(503);
    const healthy = await serve(200);
    servers.push(broken.server, healthy.server);
    const http = new UpstreamHttp(config, metrics);
    const call = (base: string) =>
      http.send({
        service: 'shopify',
        method: 'POST',
        url: new URL(`${base}/admin/api/2025-10/graphql.json`),
        body: '{}',
        idempotent: true,
      });

    for (let i = 0; i < 2; i++)
      await expect(call(broken.url)).rejects.toMatchObject({ code: 'upstream_unavailable' });
    const paused = await call(broken.url).catch((e: unknown) => e);
    expect(paused).toBeInstanceOf(UpstreamError);
    expect((paused as UpstreamError).code).toBe('upstream_circuit_open');
    expect(circuit).toEqual([['shopify', true]]);

    expect((await call(healthy.url)).status).toBe(200);
    expect((await call(healthy.url)).status).toBe(200);
  });
});
