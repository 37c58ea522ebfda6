/**
 * The behaviour every KeyValueStore must show, run against each
 * implementation by test/integration/store.contract.int-spec.ts.
 * Waits are behaviour (a TTL passing), never speed assertions.
 */
import type { KeyValueStore } from '../../src/store/key-value-store';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Resolves with the first `count` messages `subscribe` delivers, or rejects after `ms`. */
export function collect(count: number, ms = 2000) {
  const messages: string[] = [];
  let resolve!: (m: string[]) => void;
  let timer: NodeJS.Timeout | undefined;
  const done = new Promise<string[]>((res, rej) => {
    resolve = res;
    timer = setTimeout(
      () => rej(new Error(`got ${messages.length}/${count} messages: ${JSON.stringify(messages)}`)),
      ms,
    );
  });
  const handler = (message: string) => {
    messages.push(message);
    if (messages.length !== count) return;
    clearTimeout(timer);
    resolve([...messages]);
  };
  return { handler, done, messages };
}

/**
 * Registers the shared suite. `create` returns a fresh, empty store for each
 * test (the suite closes it afterwards).
 */
export function storeContract(create: () => Promise<KeyValueStore>): void {
  let store: KeyValueStore;

  beforeEach(async () => {
    store = await create();
  });
  afterEach(async () => {
    await store.close();
  });

  describe('get / set / del', () => {
    it('stores, overwrites and deletes a value', async () => {
      expect(await store.get('k')).toBeNull();
      expect(await store.set('k', 'v1')).toBe(true);
      expect(await store.get('k')).toBe('v1');
      expect(await store.set('k', 'v2')).toBe(true);
      expect(await store.get('k')).toBe('v2');
      expect(await store.del('k')).toBe(true);
      expect(await store.get('k')).toBeNull();
      expect(await store.del('k')).toBe(false);
    });

    it('keeps values byte for byte (JSON, unicode, empty string)', async () => {
      const json = JSON.stringify({ a: [1, 'ü', '🔑'], b: null });
      await store.set('json', json);
      await store.set('empty', '');
      expect(await store.get('json')).toBe(json);
      expect(await store.get('empty')).toBe('');
    });

    it('sets ifAbsent only when the key does not exist', async () => {
      expect(await store.set('once', 'first', { ifAbsent: true })).toBe(true);
      expect(await store.set('once', 'second', { ifAbsent: true })).toBe(false);
      expect(await store.get('once')).toBe('first');
    });

    it('sets ifAbsent again once the earlier value expired', async () => {
      await store.set('lease', 'a', { ttlMs: 50, ifAbsent: true });
      await sleep(120);
      expect(await store.set('lease', 'b', { ttlMs: 1000, ifAbsent: true })).toBe(true);
      expect(await store.get('lease')).toBe('b');
    });

    it('refuses a TTL that is not a positive integer', async () => {
      await expect(store.set('bad', 'v', { ttlMs: 0 })).rejects.toThrow(RangeError);
      await expect(store.set('bad', 'v', { ttlMs: 1.5 })).rejects.toThrow(RangeError);
      expect(await store.get('bad')).toBeNull();
    });
  });

  describe('expiry', () => {
    it('forgets a key after its TTL', async () => {
      await store.set('short', 'v', { ttlMs: 100 });
      expect(await store.get('short')).toBe('v');
      await sleep(200);
      expect(await store.get('short')).toBeNull();
      expect(await store.ttl('short')).toBe(-2);
    });

    it('reports -1 without a TTL, -2 for a missing key, the remaining ms otherwise', async () => {
      await store.set('forever', 'v');
      await store.set('timed', 'v', { ttlMs: 10_000 });
      expect(await store.ttl('forever')).toBe(-1);
      expect(await store.ttl('missing')).toBe(-2);
      const left = await store.ttl('timed');
      expect(left).toBeGreaterThan(0);
      expect(left).toBeLessThanOrEqual(10_000);
    });

    it('expire sets a TTL on an existing key only', async () => {
      expect(await store.expire('nothing', 1000)).toBe(false);
      await store.set('later', 'v');
      expect(await store.expire('later', 80)).toBe(true);
      expect(await store.ttl('later')).toBeGreaterThan(0);
      await sleep(180);
      expect(await store.get('later')).toBeNull();
    });

    it('a plain set clears an earlier TTL', async () => {
      await store.set('k', 'v', { ttlMs: 80 });
      await store.set('k', 'v2');
      await sleep(160);
      expect(await store.get('k')).toBe('v2');
      expect(await store.ttl('k')).toBe(-1);
    });
  });

  describe('incr', () => {
    it('creates at `by` and adds to an existing value', async () => {
      expect(await store.incr('n')).toBe(1);
      expect(await store.incr('n')).toBe(2);
      expect(await store.incr('n', 5)).toBe(7);
      expect(await store.incr('n', -10)).toBe(-3);
      expect(await store.get('n')).toBe('-3');
    });

    it('gives a new key the TTL and does not extend it on later increments', async () => {
      expect(await store.incr('window', 1, 150)).toBe(1);
      await sleep(80);
      expect(await store.incr('window', 1, 150)).toBe(2);
      const left = await store.ttl('window');
      expect(left).toBeGreaterThan(0);
      expect(left).toBeLessThanOrEqual(100);
      await sleep(120);
      expect(await store.get('window')).toBeNull();
      expect(await store.incr('window', 1, 150)).toBe(1); // a new window
    });

    it('does not add a TTL to an existing key without one', async () => {
      await store.incr('plain');
      await store.incr('plain', 1, 100);
      expect(await store.ttl('plain')).toBe(-1);
    });

    it('loses no increment under 200 concurrent calls', async () => {
      const results = await Promise.all(Array.from({ length: 200 }, () => store.incr('hits', 1, 60_000)));
      expect(await store.get('hits')).toBe('200');
      expect(new Set(results).size).toBe(200); // every caller saw its own value
      expect(Math.max(...results)).toBe(200);
    });

    it('refuses to increment a non-integer value', async () => {
      await store.set('text', 'abc');
      await expect(store.incr('text')).rejects.toThrow();
      expect(await store.get('text')).toBe('abc');
    });
  });

  describe('scan', () => {
    it('returns every live key with the prefix and nothing else', async () => {
      await Promise.all([
        store.set('user:1', 'a'),
        store.set('user:2', 'b'),
        store.set('user:3', 'c', { ttlMs: 50 }),
        store.set('users', 'x'),
        store.set('session:1', 'd'),
      ]);
      await sleep(120);
      expect((await store.scan('user:')).sort()).toEqual(['user:1', 'user:2']);
      expect((await store.scan('user')).sort()).toEqual(['user:1', 'user:2', 'users']);
      expect(await store.scan('nobody:')).toEqual([]);
    });

    it('treats glob characters in the prefix literally', async () => {
      const keys = ['a*b:1', 'a*b:2', 'axxb:3', 'ab:4', 'a?c', 'abc', 'a[x]', 'ax', 'a\\b', 'a\\\\b'];
      await Promise.all(keys.map((k) => store.set(k, 'v')));
      expect((await store.scan('a*b')).sort()).toEqual(['a*b:1', 'a*b:2']);
      expect(await store.scan('a?')).toEqual(['a?c']);
      expect(await store.scan('a[x]')).toEqual(['a[x]']);
      expect(await store.scan('a\\b')).toEqual(['a\\b']);
    });

    it('finds every key among more than one batch', async () => {
      const keys = Array.from({ length: 1200 }, (_, i) => `bulk:${i}`);
      await Promise.all(keys.map((k) => store.set(k, '1')));
      await store.set('other', '1');
      const found = await store.scan('bulk:');
      expect(found).toHaveLength(1200);
      expect(new Set(found)).toEqual(new Set(keys));
    });
  });

  describe('publish / subscribe', () => {
    it('delivers later messages in order to every handler of the channel', async () => {
      const a = collect(3);
      const b = collect(3);
      await store.subscribe('news', a.handler);
      await store.subscribe('news', b.handler);
      const other = collect(1, 300);
      await store.subscribe('weather', other.handler);
      for (const m of ['one', 'two', 'three']) await store.publish('news', m);
      expect(await a.done).toEqual(['one', 'two', 'three']);
      expect(await b.done).toEqual(['one', 'two', 'three']);
      await expect(other.done).rejects.toThrow('got 0/1');
    });

    it('delivers nothing after unsubscribe, and keeps the other handlers of the channel', async () => {
      const gone = collect(1, 300);
      const kept = collect(2);
      const unsubscribe = await store.subscribe('ch', gone.handler);
      await store.subscribe('ch', kept.handler);
      await unsubscribe();
      await unsubscribe(); // idempotent
      await store.publish('ch', 'x');
      await store.publish('ch', 'y');
      expect(await kept.done).toEqual(['x', 'y']);
      await expect(gone.done).rejects.toThrow('got 0/1');
    });

    it('delivers again to a new subscriber after the last one left', async () => {
      const first = collect(1);
      const unsubscribe = await store.subscribe('ch', first.handler);
      await store.publish('ch', 'a');
      await first.done;
      await unsubscribe();
      const second = collect(1);
      await store.subscribe('ch', second.handler);
      await store.publish('ch', 'b');
      expect(await second.done).toEqual(['b']);
      expect(first.messages).toEqual(['a']);
    });

    it('does not call handlers inside publish, and one throwing handler does not stop the others', async () => {
      let inside = false;
      let reentered = false;
      const after = collect(1);
      await store.subscribe('ch', () => {
        reentered ||= inside;
        throw new Error('handler bug');
      });
      await store.subscribe('ch', after.handler);
      inside = true;
      const published = store.publish('ch', 'm');
      inside = false;
      await published;
      expect(await after.done).toEqual(['m']);
      expect(reentered).toBe(false);
    });
  });

  describe('locks', () => {
    it('lets one holder at a time have the lock', async () => {
      const attempts = await Promise.all(Array.from({ length: 20 }, () => store.tryLock('job', 5000)));
      expect(attempts.filter((l) => l !== null)).toHaveLength(1);
    });

    it('is released only by its holder, once', async () => {
      const first = await store.tryLock('job', 80);
      expect(first).not.toBeNull();
      expect(first!.key).toBe('job');
      await sleep(160); // first expired
      const second = await store.tryLock('job', 5000);
      expect(second).not.toBeNull();
      expect(await first!.release()).toBe(false); // stale holder cannot release the new one
      expect(await store.tryLock('job', 5000)).toBeNull();
      expect(await second!.release()).toBe(true);
      expect(await second!.release()).toBe(false);
      const third = await store.tryLock('job', 5000);
      expect(third).not.toBeNull();
      await third!.release();
    });

    it('expires after its TTL when the holder never releases', async () => {
      expect(await store.tryLock('crashy', 80)).not.toBeNull();
      expect(await store.tryLock('crashy', 80)).toBeNull();
      await sleep(160);
      expect(await store.tryLock('crashy', 80)).not.toBeNull();
    });
  });

  describe('semaphores (tryAcquireSlot)', () => {
    it('hands out at most `limit` slots under concurrent takers, per key', async () => {
      const attempts = await Promise.all(
        Array.from({ length: 30 }, () => store.tryAcquireSlot('sem', 5, 5000)),
      );
      const leases = attempts.filter((l) => l !== null);
      expect(leases).toHaveLength(5);
      expect(leases[0]!.key).toBe('sem');
      // Another key counts on its own.
      expect(await store.tryAcquireSlot('other-sem', 5, 5000)).not.toBeNull();
    });

    it('a released slot can be taken again; release is idempotent and frees only its own slot', async () => {
      const a = await store.tryAcquireSlot('sem', 2, 5000);
      const b = await store.tryAcquireSlot('sem', 2, 5000);
      expect(await store.tryAcquireSlot('sem', 2, 5000)).toBeNull();
      expect(await a!.release()).toBe(true);
      expect(await a!.release()).toBe(false);
      const c = await store.tryAcquireSlot('sem', 2, 5000);
      expect(c).not.toBeNull();
      // a's second release freed nothing: b and c still hold both slots.
      expect(await store.tryAcquireSlot('sem', 2, 5000)).toBeNull();
      expect(await b!.release()).toBe(true);
      expect(await c!.release()).toBe(true);
      expect(await store.tryAcquireSlot('sem', 2, 5000)).not.toBeNull();
    });

    it("a lease that was never released expires, and its stale holder cannot free the new holder's slot", async () => {
      const crashed = await store.tryAcquireSlot('sem', 1, 80);
      expect(crashed).not.toBeNull();
      expect(await store.tryAcquireSlot('sem', 1, 80)).toBeNull();
      await sleep(160);
      const next = await store.tryAcquireSlot('sem', 1, 5000);
      expect(next).not.toBeNull();
      expect(await crashed!.release()).toBe(false);
      expect(await crashed!.extend(5000)).toBe(false);
      expect(await store.tryAcquireSlot('sem', 1, 5000)).toBeNull();
      expect(await next!.release()).toBe(true);
    });

    it('does not count (or extend) an expired lease beside live ones', async () => {
      const live = await store.tryAcquireSlot('sem', 2, 5000);
      const lapsed = await store.tryAcquireSlot('sem', 2, 80);
      expect(lapsed).not.toBeNull();
      expect(await store.tryAcquireSlot('sem', 2, 5000)).toBeNull();
      await sleep(160);
      expect(await lapsed!.extend(5000)).toBe(false); // expired is free: not revived
      expect(await store.tryAcquireSlot('sem', 2, 5000)).not.toBeNull();
      expect(await store.tryAcquireSlot('sem', 2, 5000)).toBeNull();
      expect(await live!.release()).toBe(true);
    });

    it('extend keeps a live lease past its first TTL', async () => {
      const held = await store.tryAcquireSlot('sem', 1, 150);
      await sleep(80);
      expect(await held!.extend(1000)).toBe(true);
      await sleep(150); // past the first TTL, within the extended one
      expect(await store.tryAcquireSlot('sem', 1, 1000)).toBeNull();
      expect(await held!.release()).toBe(true);
      expect(await held!.extend(1000)).toBe(false); // released: not revived
      expect(await store.tryAcquireSlot('sem', 1, 1000)).not.toBeNull();
    });

    it('refuses a limit or TTL that is not a positive integer', async () => {
      await expect(store.tryAcquireSlot('sem', 0, 1000)).rejects.toThrow(RangeError);
      await expect(store.tryAcquireSlot('sem', 1.5, 1000)).rejects.toThrow(RangeError);
      await expect(store.tryAcquireSlot('sem', 1, 0)).rejects.toThrow(RangeError);
    });
  });

  it('answers ping', async () => {
    await expect(store.ping()).resolves.toBeUndefined();
  });
}
