import { Logger } from '@nestjs/common';
import { MetricsService } from '../metrics/metrics.service';
import { MemoryStore } from '../store/memory.store';
import { RATE_LIMIT_WINDOW_MS } from './rate-limit-decision';
import {
  STORE_DECISION_BUDGET_MS,
  STORE_RETRY_INTERVAL_MS,
  StoreThrottlerStorage,
} from './store-throttler.storage';

/** A real memory store that can be switched to fail like an unreachable Redis. */
class SwitchableStore extends MemoryStore {
  down = false;
  /** Like a Redis whose packets are dropped: the command is sent and no answer comes. */
  silent = false;
  incrCalls = 0;
  override async incr(key: string, by?: number, ttlMs?: number): Promise<number> {
    this.incrCalls++;
    if (this.down) throw new Error('Connection is closed.');
    if (this.silent) return new Promise<number>(() => undefined);
    return super.incr(key, by, ttlMs);
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/** Counts that must share one window start with at least 5 s of it left. */
async function awayFromWindowEdge(): Promise<void> {
  const left = RATE_LIMIT_WINDOW_MS - (Date.now() % RATE_LIMIT_WINDOW_MS);
  if (left < 5_000) await sleep(left + 50);
}

describe('StoreThrottlerStorage', () => {
  let store: SwitchableStore;
  let metrics: MetricsService;
  let storage: StoreThrottlerStorage;
  let warn: jest.SpyInstance;
  let log: jest.SpyInstance;

  const hit = (key = 'rl:key:k1', limit = 3) =>
    storage.increment(key, RATE_LIMIT_WINDOW_MS, limit, RATE_LIMIT_WINDOW_MS, 'key');
  const gauge = async (name: string) =>
    (await metrics.registry.getSingleMetric(name)!.get()).values[0]?.value;

  beforeEach(() => {
    store = new SwitchableStore();
    metrics = new MetricsService();
    storage = new StoreThrottlerStorage(store, metrics);
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    return awayFromWindowEdge();
  });
  afterEach(async () => {
    warn.mockRestore();
    log.mockRestore();
    await storage.onApplicationShutdown();
    await store.close();
  });

  it('counts in the store under <key>:<window index> with a TTL to the window end, blocking past the limit', async () => {
    const records = [];
    for (let i = 0; i < 5; i++) records.push(await hit());
    expect(records.map((r) => [r.totalHits, r.isBlocked])).toEqual([
      [1, false],
      [2, false],
      [3, false],
      [4, true],
      [5, true],
    ]);
    for (const r of records) {
      expect(r.timeToExpire).toBeGreaterThanOrEqual(1);
      expect(r.timeToExpire).toBeLessThanOrEqual(60);
    }
    expect(records[3].timeToBlockExpire).toBe(records[3].timeToExpire);
    const [key] = await store.scan('rl:key:k1:');
    const window = Number(key.split(':').pop());
    expect([
      Math.floor(Date.now() / RATE_LIMIT_WINDOW_MS),
      Math.floor(Date.now() / RATE_LIMIT_WINDOW_MS) - 1,
    ]).toContain(window);
    expect(await store.get(key)).toBe('5');
    expect(await store.ttl(key)).toBeGreaterThan(0);
    expect(await store.ttl(key)).toBeLessThanOrEqual(RATE_LIMIT_WINDOW_MS + 5_000);
  });

  it('a window is one clock-aligned minute: refused until Retry-After has passed, admitted then; its count outlives it', async () => {
    const minuteStart = Math.ceil(Date.now() / 60_000) * 60_000;
    const start = minuteStart + 500; // half a second into a minute
    jest.useFakeTimers({ now: start });
    try {
      await hit('rl:key:w', 2);
      const [key] = await store.scan('rl:key:w:');
      // Kept past the window's end, so an instance whose clock is a little behind never starts it afresh.
      expect(await store.ttl(key)).toBeGreaterThan(minuteStart + 60_000 - start);
      await hit('rl:key:w', 2);
      const refused = await hit('rl:key:w', 2);
      // Retry-After: the whole seconds to the window's end, rounded up (never a retry into the same window).
      expect([refused.isBlocked, refused.timeToExpire]).toEqual([true, 60]);
      jest.setSystemTime(minuteStart + 59_999); // the same minute
      expect((await hit('rl:key:w', 2)).isBlocked).toBe(true);
      jest.setSystemTime(start + refused.timeToExpire * 1000);
      expect(await hit('rl:key:w', 2)).toMatchObject({ totalHits: 1, isBlocked: false });
    } finally {
      jest.useRealTimers();
    }
  });

  it('keeps counting per instance when the store fails, warns once per outage, and returns to the store', async () => {
    await hit('rl:ip:a');
    store.down = true;
    const during = [];
    for (let i = 0; i < 5; i++) during.push(await hit('rl:ip:b'));
    expect(during.map((r) => [r.totalHits, r.isBlocked])).toEqual([
      [1, false],
      [2, false],
      [3, false],
      [4, true],
      [5, true],
    ]);
    expect(storage.isDegraded).toBe(true);
    expect(await gauge('rate_limit_store_degraded')).toBe(1);
    expect(await gauge('rate_limit_local_counts_total')).toBe(5);
    expect(warn.mock.calls.filter(([m]) => m?.event === 'rate_limit.degraded')).toHaveLength(1);
    expect(await store.scan('rl:ip:b')).toEqual([]); // nothing reached the store

    store.down = false;
    expect((await hit('rl:ip:a')).totalHits).toBe(1); // no retry within the interval: still local
    await sleep(STORE_RETRY_INTERVAL_MS + 50);
    // The retry runs beside this request, which is counted locally; the store counts it as well.
    expect((await hit('rl:ip:a')).totalHits).toBe(2);
    await sleep(0);
    expect(storage.isDegraded).toBe(false);
    expect(await gauge('rate_limit_store_degraded')).toBe(0);
    expect((await hit('rl:ip:a')).totalHits).toBe(3); // the store again: its first hit, the retry, this one

    store.down = true;
    await hit('rl:ip:c');
    expect(warn.mock.calls.filter(([m]) => m?.event === 'rate_limit.degraded')).toHaveLength(2); // a new outage
  });

  it('does not keep requests waiting on a store that does not answer: the budget, then retries beside them', async () => {
    jest.useFakeTimers({ now: Date.now() });
    try {
      store.silent = true;
      const first = hit('rl:ip:s');
      // The budget, and the one turn of the event loop that withDeadline gives waiting I/O (a tick here).
      await jest.advanceTimersByTimeAsync(STORE_DECISION_BUDGET_MS + 1);
      expect((await first).totalHits).toBe(1); // counted locally once the budget ran out
      expect(storage.isDegraded).toBe(true);
      const [degraded] = warn.mock.calls.filter(([m]) => m?.event === 'rate_limit.degraded');
      expect(degraded[0].error).toBe(`no answer within ${STORE_DECISION_BUDGET_MS} ms`);

      await jest.advanceTimersByTimeAsync(STORE_RETRY_INTERVAL_MS);
      const calls = store.incrCalls;
      // Answered with no timer moved: the retry that went to the silent store is not waited for.
      expect((await hit('rl:ip:s')).totalHits).toBe(2);
      expect(store.incrCalls).toBe(calls + 1);
      expect((await hit('rl:ip:s')).totalHits).toBe(3);
      expect(store.incrCalls).toBe(calls + 1); // one retry at a time

      store.silent = false;
      await jest.advanceTimersByTimeAsync(STORE_DECISION_BUDGET_MS + STORE_RETRY_INTERVAL_MS + 1);
      expect(storage.isDegraded).toBe(true); // that retry got no answer
      await hit('rl:ip:s');
      await jest.advanceTimersByTimeAsync(0);
      expect(storage.isDegraded).toBe(false); // the next one did
      expect(warn.mock.calls.filter(([m]) => m?.event === 'rate_limit.degraded')).toHaveLength(1);
    } finally {
      jest.useRealTimers();
    }
  });
});
