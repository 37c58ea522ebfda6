jest.setTimeout(30_000);

import { Logger } from '@nestjs/common';
import { MetricsService } from '../../src/metrics/metrics.service';
import { RATE_LIMIT_WINDOW_MS } from '../../src/rate-limit/rate-limit-decision';
import {
  STORE_DECISION_BUDGET_MS,
  STORE_RETRY_INTERVAL_MS,
  StoreThrottlerStorage,
} from '../../src/rate-limit/store-throttler.storage';
import { REDIS_COMMAND_TIMEOUT_MS, RedisStore } from '../../src/store/redis.store';
import { describeWithRedis, TEST_REDIS_URL, uniqueName } from '../support/backends';
import { awayFromWindowEdge, sleep } from '../e2e/rate-limit-helpers';
import { TcpProxy } from '../support/tcp-proxy';

/**
 * StoreThrottlerStorage against the real Redis: atomic across instances
 * (two storages, two connections, one key space), and the per-instance
 * fallback when the connection to Redis is cut and restored.
 */
describeWithRedis('StoreThrottlerStorage over Redis', () => {
  const prefix = `${uniqueName('rl')}:`;
  const opened: RedisStore[] = [];
  const storages: StoreThrottlerStorage[] = [];
  let warn: jest.SpyInstance;

  const connect = async (url = TEST_REDIS_URL) => {
    const store = await RedisStore.connect(url, { keyPrefix: prefix });
    opened.push(store);
    const storage = new StoreThrottlerStorage(store, new MetricsService());
    storages.push(storage);
    return { store, storage };
  };
  const hit = (s: StoreThrottlerStorage, key: string, limit: number) =>
    s.increment(key, RATE_LIMIT_WINDOW_MS, limit, RATE_LIMIT_WINDOW_MS, 'key');

  beforeEach(() => {
    warn = jest.spyOn(Logger.prototype, 'warn');
    return awayFromWindowEdge(5_000);
  });
  afterEach(() => warn.mockRestore());
  afterAll(async () => {
    const cleaner = await RedisStore.connect(TEST_REDIS_URL, { keyPrefix: prefix });
    for (const key of await cleaner.scan('')) await cleaner.del(key);
    await cleaner.close();
    for (const s of storages) await s.onApplicationShutdown();
    for (const s of opened) await s.close().catch(() => undefined);
  });

  it('two instances together admit exactly the limit under concurrent load', async () => {
    const a = await connect();
    const b = await connect();
    const limit = 17;
    const records = await Promise.all(
      Array.from({ length: 120 }, (_, i) => hit(i % 2 ? a.storage : b.storage, 'rl:key:shared', limit)),
    );
    expect(records.filter((r) => !r.isBlocked)).toHaveLength(limit);
    expect(new Set(records.map((r) => r.totalHits)).size).toBe(120); // every increment counted once
    expect(a.storage.isDegraded || b.storage.isDegraded).toBe(false);
  });

  it('counts per instance while Redis is cut, warns once, and counts in Redis again once it returns', async () => {
    const proxy = await TcpProxy.to(TEST_REDIS_URL);
    const { storage } = await connect(proxy.urlFor(TEST_REDIS_URL));
    const direct = (await connect()).store;
    try {
      expect((await hit(storage, 'rl:ip:cut', 3)).totalHits).toBe(1);
      await proxy.cut();

      const during = [];
      for (let i = 0; i < 5; i++) during.push(await hit(storage, 'rl:ip:local', 3));
      expect(during.map((r) => r.isBlocked)).toEqual([false, false, false, true, true]);
      expect(storage.isDegraded).toBe(true);
      expect(await direct.scan('rl:ip:local')).toEqual([]); // counted in memory, not in Redis
      expect(warn.mock.calls.filter(([m]) => m?.event === 'rate_limit.degraded')).toHaveLength(1);

      await proxy.restore();
      const deadline = Date.now() + 15_000;
      while (storage.isDegraded && Date.now() < deadline) {
        await hit(storage, 'rl:ip:probe', 1000);
        await sleep(200);
      }
      expect(storage.isDegraded).toBe(false);
      expect((await hit(storage, 'rl:ip:cut', 3)).totalHits).toBe(2); // the count from before the cut
    } finally {
      await proxy.cut();
    }
  });

  it('counts locally within its budget when Redis swallows commands, and retries beside the requests', async () => {
    const proxy = await TcpProxy.to(TEST_REDIS_URL);
    const { storage } = await connect(proxy.urlFor(TEST_REDIS_URL));
    try {
      expect((await hit(storage, 'rl:ip:hole', 3)).totalHits).toBe(1);
      proxy.blackhole();
      // Redis's own command timeout is 2 s: a request is answered before it, counted locally.
      const first = await Promise.race([hit(storage, 'rl:ip:hole', 3), sleep(REDIS_COMMAND_TIMEOUT_MS)]);
      expect(first).toMatchObject({ totalHits: 1 });
      expect(storage.isDegraded).toBe(true);
      const [degraded] = warn.mock.calls.filter(([m]) => m?.event === 'rate_limit.degraded');
      expect(degraded[0].error).toBe(`no answer within ${STORE_DECISION_BUDGET_MS} ms`);

      // Past the retry interval, requests go on being answered while the retry waits on Redis.
      await sleep(STORE_RETRY_INTERVAL_MS + 50);
      const during = await Promise.race([
        Promise.all([1, 2, 3].map(() => hit(storage, 'rl:ip:hole', 3))),
        sleep(STORE_DECISION_BUDGET_MS / 2),
      ]);
      expect((during as { totalHits: number }[]).map((r) => r.totalHits).sort()).toEqual([2, 3, 4]);
      expect(storage.isDegraded).toBe(true);

      proxy.heal();
      const deadline = Date.now() + 15_000;
      while (storage.isDegraded && Date.now() < deadline) {
        await hit(storage, 'rl:ip:probe', 1000);
        await sleep(200);
      }
      expect(storage.isDegraded).toBe(false);
    } finally {
      await proxy.cut();
    }
  });
});
