import { Redis } from 'ioredis';
import { Test } from '@nestjs/testing';
import { ConfigModule } from '../../src/config/config.module';
import type { AppConfig } from '../../src/config/config.types';
import { KeyValueStore } from '../../src/store/key-value-store';
import { MemoryStore } from '../../src/store/memory.store';
import {
  REDIS_COMMAND_TIMEOUT_MS,
  RedisStalledError,
  RedisStore,
  redisStoreClientOptions,
} from '../../src/store/redis.store';
import { StoreHealthIndicator } from '../../src/store/store.health';
import { StoreModule } from '../../src/store/store.module';
import { describeWithRedis, TEST_REDIS_URL, uniqueName } from '../support/backends';
import { collect, sleep, storeContract } from '../support/store-contract';
import { TcpProxy } from '../support/tcp-proxy';

/** Retries `check` until it passes or `ms` ran out (for reconnects, whose timing is the client's). */
async function eventually(check: () => Promise<void>, ms = 8000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > until) throw err;
      await sleep(100);
    }
  }
}

describe('KeyValueStore contract: MemoryStore', () => {
  storeContract(async () => new MemoryStore());
});

describeWithRedis('KeyValueStore contract: RedisStore', () => {
  const filePrefix = `${uniqueName('store')}:`;
  let admin: Redis;
  let testNo = 0;
  const opened: KeyValueStore[] = [];
  const connect = async (keyPrefix: string) => {
    const store = await RedisStore.connect(TEST_REDIS_URL, { keyPrefix });
    opened.push(store);
    return store;
  };

  beforeAll(() => {
    admin = new Redis(TEST_REDIS_URL);
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });
  afterAll(async () => {
    // Only this file's keys: everything it wrote carries filePrefix.
    const keys = await admin.keys(`${filePrefix.replace(/[*?[\]\\]/g, '\\$&')}*`);
    if (keys.length > 0) await admin.del(...keys);
    await admin.quit();
  });

  describe('shared suite', () => {
    storeContract(() => RedisStore.connect(TEST_REDIS_URL, { keyPrefix: `${filePrefix}${++testNo}:` }));
  });

  describe('key prefix', () => {
    it('applies to keys, scans and channels', async () => {
      const prefix = `${filePrefix}prefix:`;
      const store = await connect(prefix);
      await store.set('k', 'v');
      expect(await admin.get(`${prefix}k`)).toBe('v');
      expect(await admin.get('k')).toBeNull();
      expect(await store.scan('')).toEqual(['k']);

      const got = collect(1);
      await store.subscribe('ch', got.handler);
      await admin.publish(`${prefix}ch`, 'raw');
      expect(await got.done).toEqual(['raw']);
    });

    it('holds one Redis subscription per channel, dropped when its last handler leaves', async () => {
      const prefix = `${filePrefix}numsub:`;
      const store = await connect(prefix);
      const subscribers = async () => Number(((await admin.pubsub('NUMSUB', `${prefix}ch`)) as unknown[])[1]);
      const first = await store.subscribe('ch', () => undefined);
      const second = await store.subscribe('ch', () => undefined);
      expect(await subscribers()).toBe(1);
      await first();
      expect(await subscribers()).toBe(1);
      await second();
      expect(await subscribers()).toBe(0);
    });

    it('keeps stores with different prefixes apart', async () => {
      const a = await connect(`${filePrefix}tenant-a:`);
      const b = await connect(`${filePrefix}tenant-b:`);
      await a.set('shared-name', 'a');
      expect(await b.get('shared-name')).toBeNull();
      expect(await b.scan('')).toEqual([]);
      const heard = collect(1, 300);
      await b.subscribe('ch', heard.handler);
      await a.publish('ch', 'for a only');
      await expect(heard.done).rejects.toThrow('got 0/1');
    });
  });

  describe('two instances on one Redis (two app instances)', () => {
    let one: KeyValueStore;
    let two: KeyValueStore;
    beforeEach(async () => {
      const prefix = `${filePrefix}pair${++testNo}:`;
      one = await connect(prefix);
      two = await connect(prefix);
    });

    it('delivers a message published on one to subscribers on both', async () => {
      const onOne = collect(2);
      const onTwo = collect(2);
      await one.subscribe('auth:revoked', onOne.handler);
      await two.subscribe('auth:revoked', onTwo.handler);
      await one.publish('auth:revoked', 'key-1');
      await two.publish('auth:revoked', 'key-2');
      expect(await onOne.done).toEqual(['key-1', 'key-2']);
      expect(await onTwo.done).toEqual(['key-1', 'key-2']);
    });

    it('shares counters, values and locks', async () => {
      await Promise.all([
        ...Array.from({ length: 100 }, () => one.incr('hits', 1, 60_000)),
        ...Array.from({ length: 100 }, () => two.incr('hits', 1, 60_000)),
      ]);
      expect(await two.get('hits')).toBe('200');

      const lock = await one.tryLock('migrate', 5000);
      expect(lock).not.toBeNull();
      expect(await two.tryLock('migrate', 5000)).toBeNull();
      expect(await lock!.release()).toBe(true);
      expect(await two.tryLock('migrate', 5000)).not.toBeNull();
    });
  });

  describe('semaphore on one Redis (two app instances)', () => {
    let prefix: string;
    let one: KeyValueStore;
    let two: KeyValueStore;
    beforeEach(async () => {
      prefix = `${filePrefix}sem${++testNo}:`;
      one = await connect(prefix);
      two = await connect(prefix);
    });

    it('both instances together never hold more than the limit', async () => {
      const attempts = await Promise.all(
        Array.from({ length: 40 }, (_, i) => (i % 2 ? one : two).tryAcquireSlot('xero', 5, 10_000)),
      );
      expect(attempts.filter((l) => l !== null)).toHaveLength(5);
      expect(await admin.zcard(`${prefix}xero`)).toBe(5);
    });

    it("a slot released on one instance is free on the other; a second release frees nobody's", async () => {
      const mine = await one.tryAcquireSlot('xero', 2, 10_000);
      const theirs = await two.tryAcquireSlot('xero', 2, 10_000);
      expect(await two.tryAcquireSlot('xero', 2, 10_000)).toBeNull();
      expect(await mine!.release()).toBe(true);
      const next = await two.tryAcquireSlot('xero', 2, 10_000);
      expect(next).not.toBeNull();
      expect(await mine!.release()).toBe(false);
      expect(await admin.zcard(`${prefix}xero`)).toBe(2);
      expect(await one.tryAcquireSlot('xero', 2, 10_000)).toBeNull();
      await theirs!.release();
      await next!.release();
    });

    it("a crashed instance's leases expire, and the semaphore's key goes with its last lease", async () => {
      const crashing = await connect(prefix);
      const held = await Promise.all([1, 2, 3].map(() => crashing.tryAcquireSlot('xero', 3, 300)));
      expect(held.every((l) => l !== null)).toBe(true);
      await crashing.close(); // never releases
      expect(await one.tryAcquireSlot('xero', 3, 300)).toBeNull();
      const ttl = await admin.pttl(`${prefix}xero`);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(300);
      await sleep(400);
      expect(await admin.exists(`${prefix}xero`)).toBe(0);
      const after = await Promise.all([1, 2, 3, 4].map(() => two.tryAcquireSlot('xero', 3, 10_000)));
      expect(after.filter((l) => l !== null)).toHaveLength(3);
    });

    it('an extended lease keeps the key alive as long as itself', async () => {
      const short = await one.tryAcquireSlot('xero', 2, 300);
      const extended = await two.tryAcquireSlot('xero', 2, 300);
      expect(await extended!.extend(5000)).toBe(true);
      expect(await admin.pttl(`${prefix}xero`)).toBeGreaterThan(1000);
      await sleep(400);
      expect(await short!.release()).toBe(false); // expired
      expect(await admin.zcard(`${prefix}xero`)).toBe(1);
      expect(await one.tryAcquireSlot('xero', 1, 1000)).toBeNull();
      expect(await extended!.release()).toBe(true);
    });
  });

  describe('when Redis is unreachable', () => {
    it('rejects commands and ping instead of hanging', async () => {
      const store = new RedisStore({
        command: new Redis('redis://127.0.0.1:1', redisStoreClientOptions('command')),
        subscriber: new Redis('redis://127.0.0.1:1', redisStoreClientOptions('subscriber')),
      });
      opened.push(store);
      expect(await store.waitUntilReady(300)).toBe(false);
      await expect(store.get('k')).rejects.toThrow();
      await expect(store.ping()).rejects.toThrow();
      await expect(store.incr('k', 1, 1000)).rejects.toThrow();
    }, 5000);

    it('fails while Redis is away and recovers, subscriptions included, when it returns', async () => {
      // A TCP hop in front of Redis, cut and restored: an outage without stopping Redis.
      const outage = await TcpProxy.to(TEST_REDIS_URL);
      const prefix = `${filePrefix}outage:`;
      const store = await connect(prefix);
      const viaProxy = await RedisStore.connect(`redis://127.0.0.1:${outage.port}`, { keyPrefix: prefix });
      opened.push(viaProxy);
      const before = collect(1, 10_000);
      const subscribedAt = Date.now();
      await viaProxy.subscribe('before', before.handler);
      const first = viaProxy.deliveringSince('before');
      expect(first).toBeGreaterThanOrEqual(subscribedAt);
      expect(viaProxy.deliveringSince('never')).toBeUndefined();
      await store.set('k', 'v');

      await outage.cut();
      await eventually(() => expect(viaProxy.get('k')).rejects.toThrow());
      await expect(viaProxy.ping()).rejects.toThrow();
      // What is published now is lost to it: it no longer vouches for the channel.
      await eventually(async () => expect(viaProxy.deliveringSince('before')).toBeUndefined());
      const during = collect(1, 10_000);
      await viaProxy.subscribe('during', during.handler); // made while down
      expect(viaProxy.deliveringSince('during')).toBeUndefined();

      await outage.restore(); // same port
      await eventually(async () => expect(await viaProxy.get('k')).toBe('v'));
      await eventually(async () => {
        await store.publish('before', 'b');
        await store.publish('during', 'd');
        expect(before.messages).toContain('b');
        expect(during.messages).toContain('d');
      });
      // Delivering again, but only since it subscribed again.
      expect(viaProxy.deliveringSince('before')).toBeGreaterThan(first!);
      expect(viaProxy.deliveringSince('during')).toBeGreaterThan(first!);
      await viaProxy.close();
      await outage.cut();
    }, 20_000);
  });

  describe('when Redis swallows commands (the connection open, no reply)', () => {
    it('waits the command timeout once, then refuses at once until Redis answers a PING again', async () => {
      const hole = await TcpProxy.to(TEST_REDIS_URL);
      const store = await RedisStore.connect(hole.urlFor(TEST_REDIS_URL), {
        keyPrefix: `${filePrefix}stall:`,
      });
      opened.push(store);
      try {
        await store.set('k', 'v');
        hole.blackhole();
        await expect(store.get('k')).rejects.toThrow('Command timed out');
        // Refused without waiting: well before another command timeout could pass.
        const next = await Promise.race([
          store.get('k').then(
            () => 'answered',
            (e: Error) => e.name,
          ),
          new Promise((resolve) => setTimeout(() => resolve('still waiting'), REDIS_COMMAND_TIMEOUT_MS / 2)),
        ]);
        expect(next).toBe('RedisStalledError');
        await expect(store.ping()).rejects.toThrow(RedisStalledError);
        hole.heal();
        await eventually(async () => expect(await store.get('k')).toBe('v'));
      } finally {
        await store.close();
        await hole.cut();
      }
    }, 20_000);
  });

  describe('StoreModule with REDIS_URL', () => {
    it('provides a RedisStore with a health check, and closes it on shutdown', async () => {
      const config = { redisUrl: TEST_REDIS_URL } as AppConfig;
      const moduleRef = await Test.createTestingModule({
        imports: [ConfigModule.forRoot(config), StoreModule.forRoot({ keyPrefix: `${filePrefix}module:` })],
      }).compile();
      moduleRef.enableShutdownHooks();
      const store = moduleRef.get(KeyValueStore);
      expect(store).toBeInstanceOf(RedisStore);
      expect(store.kind).toBe('redis');
      await store.set('k', 'v');
      expect(await admin.get(`${filePrefix}module:k`)).toBe('v');
      expect(await moduleRef.get(StoreHealthIndicator).check()).toEqual({
        store: { status: 'up', kind: 'redis' },
      });
      await moduleRef.close();
      await expect(store.get('k')).rejects.toThrow();
    });
  });
});
