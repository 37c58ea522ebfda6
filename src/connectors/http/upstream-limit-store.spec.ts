import { setTimeout as sleep } from 'node:timers/promises';
import { MetricsService } from '../../metrics/metrics.service';
import type { SlotLease } from '../../store/key-value-store';
import { MemoryStore } from '../../store/memory.store';
import { UpstreamConcurrency } from './upstream-concurrency.service';
import { UpstreamQuota } from './upstream-quota.service';
import { UpstreamError } from './upstream.errors';

/** A shared store that does not answer, as Redis while it is down. */
class DownStore extends MemoryStore {
  override async incr(): Promise<number> {
    throw new Error('connect ECONNREFUSED 127.0.0.1:6379');
  }
  override async tryAcquireSlot(): Promise<SlotLease | null> {
    throw new Error('connect ECONNREFUSED 127.0.0.1:6379');
  }
  override async get(): Promise<string | null> {
    throw new Error('connect ECONNREFUSED 127.0.0.1:6379');
  }
  override async set(): Promise<boolean> {
    throw new Error('connect ECONNREFUSED 127.0.0.1:6379');
  }
}

describe('Upstream limits while the shared store does not answer', () => {
  let store: DownStore;
  beforeEach(() => {
    store = new DownStore();
  });
  afterEach(async () => {
    await store.close();
  });

  const localCounts = async (metrics: MetricsService) =>
    (await metrics.upstreamLimitLocalCountsTotal.get()).values.find((v) => v.labels.service === 'xero')
      ?.value ?? 0;

  it('counts calls at a time on this instance: the calls go on, still never more than `max` at once', async () => {
    const metrics = new MetricsService();
    const concurrency = new UpstreamConcurrency(store, metrics);
    let now = 0;
    let most = 0;
    const call = async () => {
      most = Math.max(most, ++now);
      await sleep(30);
      now -= 1;
    };
    await Promise.all(
      Array.from({ length: 6 }, () =>
        concurrency.run('xero', 'org:t1', { max: 2, waitMs: 5000 }, undefined, call),
      ),
    );
    expect(most).toBe(2);
    expect(await localCounts(metrics)).toBeGreaterThanOrEqual(6);
    await concurrency.onModuleDestroy();
  });

  it('counts quotas on this instance: calls within the limit go on, the one past it is refused', async () => {
    const metrics = new MetricsService();
    const quota = new UpstreamQuota(store, metrics);
    const limit = { max: 2, windowMs: 60_000, what: '2 calls a minute' };
    await quota.take('xero', 'app:t1', limit);
    await quota.take('xero', 'app:t1', limit);
    const e = await quota.take('xero', 'app:t1', limit).catch((err: unknown) => err);
    expect((e as UpstreamError).code).toBe('upstream_rate_limited');
    await quota.takeMonthly('xero', 'acct', 1);
    const monthly = await quota.takeMonthly('xero', 'acct', 1).catch((err: unknown) => err);
    expect((monthly as UpstreamError).code).toBe('upstream_quota_exhausted');
    expect(await localCounts(metrics)).toBe(5);
    await quota.onModuleDestroy();
  });

  it("keeps an upstream's hold on this instance: still refused here for its wait", async () => {
    const metrics = new MetricsService();
    const quota = new UpstreamQuota(store, metrics);
    await quota.hold('xero', 'app:t1', 'day', 60_000);
    expect((await quota.held('xero', 'app:t1', ['day', 'minute']))?.reason).toBe('day');
    expect(await quota.held('xero', 'app:t2', ['day', 'minute'])).toBeUndefined();
    expect(await localCounts(metrics)).toBeGreaterThanOrEqual(3);
    await quota.onModuleDestroy();
  });
});
