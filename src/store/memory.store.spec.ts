import { MemoryStore } from './memory.store';

// The shared behaviour is in test/integration/store.contract.int-spec.ts; this
// covers what only the in-process store has (its sweep timer), and its
// semaphore on a fake clock.
describe('MemoryStore', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('sweeps expired keys nobody reads', async () => {
    jest.useFakeTimers();
    const store = new MemoryStore({ sweepIntervalMs: 1000 });
    await store.set('gone', 'v', { ttlMs: 500 });
    await store.set('kept', 'v', { ttlMs: 5000 });
    await store.set('forever', 'v');
    expect(store.entryCount).toBe(3);
    jest.advanceTimersByTime(1000);
    expect(store.entryCount).toBe(2);
    expect(await store.get('kept')).toBe('v');
    await store.close();
  });

  it('close() stops its timer and drops data and subscriptions', async () => {
    jest.useFakeTimers();
    const store = new MemoryStore({ sweepIntervalMs: 1000 });
    const received: string[] = [];
    await store.subscribe('ch', (m) => received.push(m));
    await store.set('k', 'v');
    expect(jest.getTimerCount()).toBe(1);
    await store.close();
    expect(jest.getTimerCount()).toBe(0);
    await store.publish('ch', 'late');
    await Promise.resolve();
    expect(received).toEqual([]);
    expect(await store.get('k')).toBeNull();
  });

  describe('semaphore (tryAcquireSlot)', () => {
    let store: MemoryStore;
    beforeEach(() => {
      jest.useFakeTimers();
      store = new MemoryStore({ sweepIntervalMs: 1000 });
    });
    afterEach(async () => {
      await store.close();
    });

    it('gives out `limit` slots per key, then null until one is released', async () => {
      const leases = await Promise.all([1, 2, 3].map(() => store.tryAcquireSlot('sem', 3, 10_000)));
      expect(leases.every((l) => l !== null)).toBe(true);
      expect(await store.tryAcquireSlot('sem', 3, 10_000)).toBeNull();
      expect(await store.tryAcquireSlot('elsewhere', 3, 10_000)).not.toBeNull();
      expect(await leases[1]!.release()).toBe(true);
      const again = await store.tryAcquireSlot('sem', 3, 10_000);
      expect(again).not.toBeNull();
      expect(await store.tryAcquireSlot('sem', 3, 10_000)).toBeNull();
    });

    it('releases once: a second release frees no one else', async () => {
      const a = await store.tryAcquireSlot('sem', 2, 10_000);
      const b = await store.tryAcquireSlot('sem', 2, 10_000);
      expect(await a!.release()).toBe(true);
      expect(await a!.release()).toBe(false);
      const c = await store.tryAcquireSlot('sem', 2, 10_000);
      expect(c).not.toBeNull();
      expect(await store.tryAcquireSlot('sem', 2, 10_000)).toBeNull(); // b and c hold both
      expect(await b!.release()).toBe(true);
    });

    it("frees a lease that is never released at its TTL; its holder cannot then free or extend the next one's", async () => {
      const crashed = await store.tryAcquireSlot('sem', 1, 1000);
      jest.advanceTimersByTime(999);
      expect(await store.tryAcquireSlot('sem', 1, 1000)).toBeNull();
      jest.advanceTimersByTime(1);
      const next = await store.tryAcquireSlot('sem', 1, 1000);
      expect(next).not.toBeNull();
      expect(await crashed!.release()).toBe(false);
      expect(await crashed!.extend(1000)).toBe(false);
      expect(await store.tryAcquireSlot('sem', 1, 1000)).toBeNull();
    });

    it('extend moves the expiry of a live lease only', async () => {
      const held = await store.tryAcquireSlot('sem', 1, 1000);
      jest.advanceTimersByTime(900);
      expect(await held!.extend(1000)).toBe(true);
      jest.advanceTimersByTime(900); // 1800 ms: past the first TTL
      expect(await store.tryAcquireSlot('sem', 1, 1000)).toBeNull();
      jest.advanceTimersByTime(100);
      expect(await held!.extend(1000)).toBe(false); // expired: not revived
      expect(await store.tryAcquireSlot('sem', 1, 1000)).not.toBeNull();
    });

    it('sweeps semaphores whose leases all expired or were released', async () => {
      await store.tryAcquireSlot('expires', 2, 500);
      const released = await store.tryAcquireSlot('released', 2, 5000);
      await store.tryAcquireSlot('held', 2, 5000);
      await released!.release();
      expect(store.semaphoreCount).toBe(2);
      jest.advanceTimersByTime(1000);
      expect(store.semaphoreCount).toBe(1);
    });
  });
});
