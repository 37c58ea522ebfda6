import { Logger } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { ToolError } from '../../mcp/tool-pipeline.service';
import type { SlotLease } from '../../store/key-value-store';
import { MemoryStore } from '../../store/memory.store';
import { UpstreamConcurrency } from './upstream-concurrency.service';
import { UpstreamError } from './upstream.errors';

describe('UpstreamConcurrency (memory store)', () => {
  let store: MemoryStore;
  let concurrency: UpstreamConcurrency;
  beforeEach(() => {
    store = new MemoryStore();
    concurrency = new UpstreamConcurrency(store);
  });
  afterEach(async () => {
    await store.close();
  });

  /** A call that counts how many run at once and takes `ms`. */
  function meter(ms: number) {
    const seen = { now: 0, most: 0, ran: 0 };
    const call = async () => {
      seen.now += 1;
      seen.ran += 1;
      seen.most = Math.max(seen.most, seen.now);
      await sleep(ms);
      seen.now -= 1;
      return 'ok';
    };
    return { seen, call };
  }

  it('runs every call, never more than `max` at once per scope', async () => {
    const { seen, call } = meter(40);
    const limit = { max: 3, waitMs: 5000 };
    const results = await Promise.all(
      Array.from({ length: 10 }, () => concurrency.run('xero', 'org:t1', limit, undefined, call)),
    );
    expect(results).toEqual(Array(10).fill('ok'));
    expect(seen.ran).toBe(10);
    expect(seen.most).toBe(3);
  });

  it('a scope of its own is not held up by a busy one', async () => {
    const limit = { max: 1, waitMs: 5000 };
    const slow = concurrency.run('xero', 'org:busy', limit, undefined, () => sleep(1000));
    const started = Date.now();
    await concurrency.run('xero', 'org:free', limit, undefined, async () => undefined);
    expect(Date.now() - started).toBeLessThan(500);
    await slow;
  });

  it('refuses a call that gets no slot within waitMs, saying when to retry, without running it', async () => {
    const limit = { max: 1, waitMs: 200 };
    const holder = concurrency.run('xero', 'org:t1', limit, undefined, () => sleep(600));
    const { seen, call } = meter(0);
    const started = Date.now();
    const e = await concurrency.run('xero', 'org:t1', limit, undefined, call).catch((err: unknown) => err);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(e).toBeInstanceOf(UpstreamError);
    expect((e as UpstreamError).code).toBe('upstream_rate_limited');
    expect((e as UpstreamError).retryAfterSeconds).toBe(2);
    expect((e as UpstreamError).message).toMatch(/takes at most 1 calls at a time .*retry after 2 s\.$/);
    expect(seen.ran).toBe(0);
    await holder;
  });

  it('stops waiting when the call is cancelled', async () => {
    const limit = { max: 1, waitMs: 5000 };
    const holder = concurrency.run('xero', 'org:t1', limit, undefined, () => sleep(1500));
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 100);
    const started = Date.now();
    const e = await concurrency
      .run('xero', 'org:t1', limit, abort.signal, async () => 'ran')
      .catch((err: unknown) => err);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(e).toBeInstanceOf(ToolError);
    expect((e as ToolError).code).toBe('cancelled');
    await holder;
  });

  it('does not run a call cancelled before it asked for a slot, though one is free', async () => {
    const { seen, call } = meter(0);
    const e = await concurrency
      .run('xero', 'org:t1', { max: 1, waitMs: 5000 }, AbortSignal.abort(), call)
      .catch((err: unknown) => err);
    expect((e as ToolError).code).toBe('cancelled');
    expect(seen.ran).toBe(0);
  });

  it('frees the slot when the call throws', async () => {
    const limit = { max: 1, waitMs: 200 };
    await expect(
      concurrency.run('xero', 'org:t1', limit, undefined, () => Promise.reject(new Error('boom'))),
    ).rejects.toThrow('boom');
    await expect(concurrency.run('xero', 'org:t1', limit, undefined, async () => 'next')).resolves.toBe(
      'next',
    );
  });

  it('keeps the slot for a call that outlasts the lease (renewed while it runs), and frees it after', async () => {
    concurrency.leaseMs = 150;
    const limit = { max: 1, waitMs: 100 };
    const long = concurrency.run('xero', 'org:t1', limit, undefined, () => sleep(600));
    await sleep(400); // well past one lease
    expect(await store.tryAcquireSlot('upstream:concurrency:xero:org:t1', 1, 1000)).toBeNull();
    await long;
    const after = await store.tryAcquireSlot('upstream:concurrency:xero:org:t1', 1, 1000);
    expect(after).not.toBeNull();
  });

  it('says so once when a running call has lost its slot, and stops renewing it', async () => {
    let extended = 0;
    class LosingStore extends MemoryStore {
      override async tryAcquireSlot(key: string, limit: number, ttlMs: number): Promise<SlotLease | null> {
        const lease = await super.tryAcquireSlot(key, limit, ttlMs);
        if (!lease) return null;
        return {
          key: lease.key,
          release: () => lease.release(),
          extend: () => {
            extended += 1;
            return Promise.resolve(false);
          },
        };
      }
    }
    const losing = new LosingStore();
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const own = new UpstreamConcurrency(losing);
      own.leaseMs = 60;
      await own.run('xero', 'org:t1', { max: 1, waitMs: 100 }, undefined, () => sleep(300));
      expect(extended).toBe(1);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0][0])).toContain('Xero');
    } finally {
      warn.mockRestore();
      await losing.close();
    }
  });
});
