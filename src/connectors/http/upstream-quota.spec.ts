import { MemoryStore } from '../../store/memory.store';
import { calendarMonth, UpstreamQuota } from './upstream-quota.service';
import { UpstreamError } from './upstream.errors';

describe('UpstreamQuota (memory store)', () => {
  it('lets max calls through per window and scope, then refuses with the seconds left in the window', async () => {
    const store = new MemoryStore();
    const quota = new UpstreamQuota(store);
    const limit = { max: 3, windowMs: 60_000, what: '3 calls a minute per tenant' };
    for (let i = 0; i < 3; i++) await quota.take('xero', 'org-a:tenant-1', limit);
    const e = await quota.take('xero', 'org-a:tenant-1', limit).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(UpstreamError);
    expect((e as UpstreamError).code).toBe('upstream_rate_limited');
    expect((e as UpstreamError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect((e as UpstreamError).retryAfterSeconds).toBeLessThanOrEqual(60);
    // This server refuses, not Xero: the message says which published limit is reached.
    expect((e as UpstreamError).message).toMatch(
      /^Xero allows 3 calls a minute per tenant, and that many have been made; retry after \d+ s\.$/,
    );
    // Another scope and another service have budgets of their own.
    await quota.take('xero', 'org-a:tenant-2', limit);
    await quota.take('shopify', 'org-a:tenant-1', limit);
    await store.close();
  });

  it('starts a fresh budget in the next window', async () => {
    const store = new MemoryStore();
    const quota = new UpstreamQuota(store);
    const limit = { max: 1, windowMs: 100, what: '1 call in 100 ms' };
    await quota.take('unleashed', 'org-a', limit);
    await new Promise((r) => setTimeout(r, 110));
    await quota.take('unleashed', 'org-a', limit);
    await expect(quota.take('unleashed', 'org-a', limit)).rejects.toBeInstanceOf(UpstreamError);
    await store.close();
  });

  it('windows are fixed on the clock, not opened by the first call: a call late in one window does not spend the next', async () => {
    const store = new MemoryStore();
    const quota = new UpstreamQuota(store);
    const limit = { max: 1, windowMs: 60_000, what: '1 call a minute' };
    let now = Date.parse('2026-12-05T10:00:50Z');
    const clock = jest.spyOn(Date, 'now').mockImplementation(() => now);
    try {
      await quota.take('xero', 'org-a:t1', limit);
      const e = await quota.take('xero', 'org-a:t1', limit).catch((err: unknown) => err as UpstreamError);
      expect(e?.retryAfterSeconds).toBe(10);
      now = Date.parse('2026-12-05T10:01:00Z');
      await expect(quota.take('xero', 'org-a:t1', limit)).resolves.toBeUndefined();
    } finally {
      clock.mockRestore();
      await store.close();
    }
  });
});

describe('UpstreamQuota.takeMonthly (memory store)', () => {
  let store: MemoryStore;
  let quota: UpstreamQuota;
  beforeEach(() => {
    store = new MemoryStore();
    quota = new UpstreamQuota(store);
  });
  afterEach(async () => {
    await store.close();
  });

  const at = (iso: string) => Date.parse(iso);
  const refusal = (p: Promise<void>) =>
    p.then(
      () => undefined,
      (e: unknown) => e as UpstreamError,
    );

  it('names the UTC calendar month and when the next one begins, across a year end', () => {
    expect(calendarMonth(at('2026-12-31T23:59:59.999Z'))).toEqual({
      id: '2026-12',
      endsAt: at('2027-01-01T00:00:00.000Z'),
    });
    expect(calendarMonth(at('2027-01-01T00:00:00.000Z')).id).toBe('2027-01');
    expect(calendarMonth(at('2028-02-29T12:00:00Z')).endsAt).toBe(at('2028-03-01T00:00:00Z'));
  });

  it('lets `max` calls through in a month, then refuses until the first of the next, per scope', async () => {
    const now = at('2026-12-05T08:00:00Z');
    for (let i = 0; i < 3; i++) await quota.takeMonthly('unleashed', 'acct-a', 3, now);
    const refused = await refusal(quota.takeMonthly('unleashed', 'acct-a', 3, now));
    expect(refused).toBeInstanceOf(UpstreamError);
    expect(refused!.code).toBe('upstream_quota_exhausted');
    expect(refused!.message).toBe(
      "This server's monthly quota of 3 Unleashed calls for this account is used up; " +
        'it renews at 2027-01-01T00:00:00.000Z.',
    );
    // 26 days and 16 hours to the new month.
    expect(refused!.retryAfterSeconds).toBe(26 * 86_400 + 16 * 3600);
    // Another account has its own count; the same account in the next month starts again.
    await expect(quota.takeMonthly('unleashed', 'acct-b', 3, now)).resolves.toBeUndefined();
    await expect(
      quota.takeMonthly('unleashed', 'acct-a', 3, at('2027-01-01T00:00:01Z')),
    ).resolves.toBeUndefined();
  });

  it("keeps a month's count for as long as the month lasts", async () => {
    const now = at('2026-12-05T08:00:00Z');
    await quota.takeMonthly('unleashed', 'acct-a', 1, now);
    const ttl = await store.ttl('upstream:quota:unleashed:month:acct-a:2026-12');
    expect(ttl).toBeGreaterThan(at('2027-01-01T00:00:00Z') - now);
  });
});

describe('UpstreamQuota holds (memory store)', () => {
  let store: MemoryStore;
  let quota: UpstreamQuota;
  beforeEach(() => {
    store = new MemoryStore();
    quota = new UpstreamQuota(store);
  });
  afterEach(async () => {
    await store.close();
  });

  it('keeps a hold for its scope and service, with its reason and the time left, in the shared store', async () => {
    await quota.hold('xero', 'app:t1', 'day', 60_000);
    const held = await quota.held('xero', 'app:t1', ['day', 'minute']);
    expect(held?.reason).toBe('day');
    expect(held!.leftMs).toBeGreaterThan(59_000);
    expect(held!.leftMs).toBeLessThanOrEqual(60_000);
    expect(await store.ttl('upstream:hold:xero:app:t1:day')).toBeGreaterThan(59_000);
    // Another organisation (instance) reading the same store sees it.
    expect((await new UpstreamQuota(store).held('xero', 'app:t1', ['day', 'minute']))?.reason).toBe('day');
    expect(await quota.held('xero', 'app:t2', ['day', 'minute'])).toBeUndefined();
    expect(await quota.held('shopify', 'app:t1', ['day', 'minute'])).toBeUndefined();
  });

  it('ends when its wait is over', async () => {
    await quota.hold('xero', 'app:t1', 'minute', 50);
    expect(await quota.held('xero', 'app:t1', ['day', 'minute'])).toBeDefined();
    await new Promise((r) => setTimeout(r, 80));
    expect(await quota.held('xero', 'app:t1', ['day', 'minute'])).toBeUndefined();
  });

  it('holds for a day at most, nothing for no wait, and keeps a longer hold already in place', async () => {
    await quota.hold('xero', 'app:t1', 'day', 10 * 86_400_000);
    expect((await quota.held('xero', 'app:t1', ['day', 'minute']))!.leftMs).toBeLessThanOrEqual(86_400_000);
    expect(await store.ttl('upstream:hold:xero:app:t1:day')).toBeLessThanOrEqual(86_400_000);
    await quota.hold('xero', 'app:t1', 'minute', 30_000);
    expect((await quota.held('xero', 'app:t1', ['day', 'minute']))?.reason).toBe('day');
    await quota.hold('xero', 'app:t2', 'minute', 0);
    expect(await quota.held('xero', 'app:t2', ['day', 'minute'])).toBeUndefined();
    await quota.hold('xero', 'app:t2', 'minute', 1_000);
    await quota.hold('xero', 'app:t2', 'day', 60_000);
    expect((await quota.held('xero', 'app:t2', ['day', 'minute']))?.reason).toBe('day');
    // Of the same reason, a later, shorter hold does not cut short the one in place.
    await quota.hold('xero', 'app:t4', 'minute', 60_000);
    await quota.hold('xero', 'app:t4', 'minute', 1_000);
    expect((await quota.held('xero', 'app:t4', ['minute']))!.leftMs).toBeGreaterThan(59_000);
  });

  it('a shorter hold for another limit never replaces a longer one, even when both are written at once (two 429s)', async () => {
    // Each reads no hold in place, then writes: with one key for both, the last write (the minute) won.
    await Promise.all([
      quota.hold('xero', 'app:t3', 'day', 60_000),
      quota.hold('xero', 'app:t3', 'minute', 1_000),
    ]);
    const held = await quota.held('xero', 'app:t3', ['day', 'minute']);
    expect(held?.reason).toBe('day');
    expect(held!.leftMs).toBeGreaterThan(59_000);
    // Asked for one limit only, each is there.
    expect((await quota.held('xero', 'app:t3', ['minute']))?.reason).toBe('minute');
  });

  it('holds for a wait in fractions of a millisecond, rounded up to whole ones (a store TTL is whole)', async () => {
    await quota.hold('xero', 'app:t1', 'minute', 30_000.5);
    expect((await quota.held('xero', 'app:t1', ['day', 'minute']))?.reason).toBe('minute');
    expect(await store.ttl('upstream:hold:xero:app:t1:minute')).toBeLessThanOrEqual(30_001);
  });

  it('ignores a value in its key that is not a hold', async () => {
    await store.set('upstream:hold:xero:app:t1:day', 'not json', { ttlMs: 60_000 });
    expect(await quota.held('xero', 'app:t1', ['day', 'minute'])).toBeUndefined();
    await store.set('upstream:hold:xero:app:t1:day', '{"reason":1,"until":"x"}', { ttlMs: 60_000 });
    expect(await quota.held('xero', 'app:t1', ['day', 'minute'])).toBeUndefined();
    // A hold written for another reason than its key names is not this one.
    const until = Date.now() + 60_000;
    await store.set('upstream:hold:xero:app:t1:day', JSON.stringify({ reason: 'minute', until }), {
      ttlMs: 60_000,
    });
    expect(await quota.held('xero', 'app:t1', ['day'])).toBeUndefined();
    // One whose time is over is none, though the store still has it (another instance's clock ran ahead).
    await store.set(
      'upstream:hold:xero:app:t1:day',
      JSON.stringify({ reason: 'day', until: Date.now() - 1 }),
      {
        ttlMs: 60_000,
      },
    );
    expect(await quota.held('xero', 'app:t1', ['day'])).toBeUndefined();
  });
});
