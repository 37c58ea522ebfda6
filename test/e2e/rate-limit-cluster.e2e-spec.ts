jest.setTimeout(60_000);

import { WINSTON_MODULE_PROVIDER } from 'nest-winston';
import { Client } from 'pg';
import { transports, type Logger as WinstonLogger } from 'winston';
import { LogCapture } from '../../src/observability/log-capture';
import {
  describeWithPostgres,
  describeWithRedis,
  TEST_DATABASE_URL,
  TEST_REDIS_URL,
  uniqueName,
} from '../support/backends';
import { startApp, StartedApp } from '../support/start-app';
import { authHeaders, TestKey } from '../support/test-keys';
import { AUTH_ENV } from './auth-helpers';
import { TcpProxy } from '../support/tcp-proxy';
import { awayFromWindowEdge, count, freshIp, Reply, send, statuses } from './rate-limit-helpers';

/**
 * The cluster shape: two app instances sharing PostgreSQL (own schema) and
 * Redis, reached through a TCP proxy this test can cut. Limits: 5 per key,
 * 8 per IP. Client addresses are fresh 127.x.y.z per test; key ids are new.
 */
describeWithPostgres('rate limits across two instances', () => {
  describeWithRedis('sharing Redis', () => {
    const KEY_MAX = 5;
    const IP_MAX = 8;
    const keysRoute = '/admin/api-keys?limit=1';
    const schema = uniqueName('rate_limit');
    let proxy: TcpProxy;
    let a: StartedApp;
    let b: StartedApp;
    // Nest's Logger is process-wide: whichever app set it last writes every app's lines,
    // so one sink goes on both apps' winston loggers and each line lands in it once.
    const logs = new LogCapture();
    const capture = (app: StartedApp) => {
      const logger = app.app.get<WinstonLogger>(WINSTON_MODULE_PROVIDER);
      for (const t of logger.transports) if (t instanceof transports.Console) t.silent = true; // LOG_LEVEL=warn is chatty
      logger.add(new transports.Stream({ stream: logs.stream }));
    };
    const degradedWarnings = async () =>
      (await logs.lines()).filter((l) => l.event === 'rate_limit.degraded' && l.level === 'warn').length;

    beforeAll(async () => {
      proxy = await TcpProxy.to(TEST_REDIS_URL);
      const env = {
        ...AUTH_ENV,
        DATABASE_URL: TEST_DATABASE_URL,
        DATABASE_SCHEMA: schema,
        REDIS_URL: proxy.urlFor(TEST_REDIS_URL),
        RATE_LIMIT_MAX: String(KEY_MAX),
        RATE_LIMIT_IP_MAX: String(IP_MAX),
        LOG_LEVEL: 'warn',
      };
      a = await startApp(env);
      b = await startApp(env);
      capture(a);
      capture(b);
    });
    afterAll(async () => {
      await a?.close();
      await b?.close();
      await proxy?.cut();
      const pg = new Client({ connectionString: TEST_DATABASE_URL });
      await pg.connect();
      await pg.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pg.end();
    });
    beforeEach(() => awayFromWindowEdge());

    it('admit exactly the key limit together under concurrent requests to both', async () => {
      const key = await TestKey.create(a, { permissions: ['keys:admin'] });
      const ips = [freshIp(), freshIp(), freshIp(), freshIp()]; // 5 requests each: under the IP limit
      const replies = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          send((i % 2 ? a : b).url, keysRoute, { from: ips[i % 4], headers: authHeaders(key) }),
        ),
      );
      expect(count(replies, 200)).toBe(KEY_MAX);
      expect(count(replies, 429)).toBe(20 - KEY_MAX);
      expect(replies.filter((r) => r.status === 429).every((r) => r.body.limit === 'key')).toBe(true);
    });

    it('admit exactly the IP limit together for requests without a key', async () => {
      const ip = freshIp();
      const replies = await Promise.all(
        Array.from({ length: 20 }, (_, i) => send((i % 2 ? a : b).url, keysRoute, { from: ip })),
      );
      expect(count(replies, 401)).toBe(IP_MAX);
      expect(count(replies, 429)).toBe(20 - IP_MAX);
      expect(replies.filter((r) => r.status === 429).every((r) => r.body.limit === 'ip')).toBe(true);
    });

    it('keep serving with per-instance limits when Redis is cut mid-test, and warn once', async () => {
      const key = await TestKey.create(a, { permissions: ['keys:admin'] });
      expect((await send(a.url, keysRoute, { from: freshIp(), headers: authHeaders(key) })).status).toBe(200);
      expect(await degradedWarnings()).toBe(0);

      await proxy.cut();

      const all: Reply[] = [];
      const burst = async (app: StartedApp, n: number, headers?: Record<string, string>) => {
        const replies: Reply[] = [];
        const ips = [freshIp(), freshIp()];
        for (let i = 0; i < n; i++)
          replies.push(await send(app.url, keysRoute, { from: ips[i % 2], headers }));
        all.push(...replies);
        return statuses(replies);
      };
      // The key used 1 of 5 in Redis before the cut; now each instance counts 5 on its own.
      expect(await burst(a, KEY_MAX + 2, authHeaders(key))).toEqual([200, 200, 200, 200, 200, 429, 429]);
      expect(await burst(b, KEY_MAX + 2, authHeaders(key))).toEqual([200, 200, 200, 200, 200, 429, 429]);
      // The IP limit holds per instance too (one address here).
      const anonymous: Reply[] = [];
      const ip = freshIp();
      for (let i = 0; i < IP_MAX + 2; i++) anonymous.push(await send(b.url, keysRoute, { from: ip }));
      all.push(...anonymous);
      expect(statuses(anonymous)).toEqual([...Array(IP_MAX).fill(401), 429, 429]);

      expect(all.filter((r) => r.status >= 500)).toEqual([]);
      // One warning per instance for the outage, however many requests it counted locally.
      expect(await degradedWarnings()).toBe(2);
      const metrics = await send(a.url, '/metrics', { from: freshIp(), headers: { accept: 'text/plain' } });
      expect(String(metrics.body)).toMatch(/^rate_limit_store_degraded 1$/m);
    });
  });
});
