import { MemoryStore } from '../../store/memory.store';
import { UpstreamQuota } from './upstream-quota.service';
import { UpstreamError } from './upstream.errors';

describe('UpstreamQuota (memory store)', () => {
  it('lets max calls through per window and scope, then refuses with the seconds left in the window', async () => {
    const store = new MemoryStore();
    const quota = new UpstreamQuota(store);
    const limit = { max: 3, windowMs: 60_000 };
    for (let i = 0; i < 3; i++) await quota.take('xero', 'org-a:tenant-1', limit);
    const e = await quota.take('xero', 'org-a:tenant-1', limit).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(UpstreamError);
    expect((e as UpstreamError).code).toBe('upstream_rate_limited');
    expect((e as UpstreamError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect((e as UpstreamError).retryAfterSeconds).toBeLessThanOrEqual(60);
    // Another scope and another service have budgets of their own.
    await quota.take('xero', 'org-a:tenant-2', limit);
    await quota.take('shopify', 'org-a:tenant-1', limit);
    await store.close();
  });

  it('starts a fresh budget in the next window', async () => {
    const store = new MemoryStore();
    const quota = new UpstreamQuota(store);
    const limit = { max: 1, windowMs: 100 };
    await quota.take('unleashed', 'org-a', limit);
    await new Promise((r) => setTimeout(r, 110));
    await quota.take('unleashed', 'org-a', limit);
    await expect(quota.take('unleashed', 'org-a', limit)).rejects.toBeInstanceOf(UpstreamError);
    await store.close();
  });
});
