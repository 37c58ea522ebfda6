import { Logger } from '@nestjs/common';
import { Redis, RedisOptions } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { RequestContext } from '../observability/request-context';
import { KeyValueStore, SetOptions, SlotLease, StoreLock, Unsubscribe } from './key-value-store';
import { assertSlotLimit, assertTtlMs } from './memory.store';

export interface RedisStoreOptions {
  /** Prepended to every key and channel (isolates tests; lets deployments share a Redis). */
  keyPrefix?: string;
}

export interface RedisStoreClients {
  /** Runs every command except pub/sub. */
  command: Redis;
  /** Dedicated to SUBSCRIBE: a subscribed connection can run nothing else. */
  subscriber: Redis;
}

export const REDIS_CONNECT_TIMEOUT_MS = 5000;
export const REDIS_COMMAND_TIMEOUT_MS = 2000;
/** How often a stalled store (see RedisStore) asks Redis for a PING. */
export const REDIS_STALL_PROBE_MS = 500;

/** A command refused at once: Redis has stopped answering (see RedisStore). */
export class RedisStalledError extends Error {
  constructor() {
    super(
      `Redis is not answering (no reply within ${REDIS_COMMAND_TIMEOUT_MS} ms); retrying in the background`,
    );
    this.name = 'RedisStalledError';
  }
}

/** SCAN batch size. */
export const REDIS_SCAN_COUNT = 500;

/**
 * Connection settings for both clients. Commands fail fast while Redis is down
 * (no offline queue, one retry, a command timeout) so callers can fall back;
 * the connection itself keeps retrying and recovers when Redis returns.
 * The subscriber resubscribes itself (see RedisStore), hence no autoResubscribe.
 */
export function redisStoreClientOptions(role: 'command' | 'subscriber'): RedisOptions {
  return {
    connectTimeout: REDIS_CONNECT_TIMEOUT_MS,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    retryStrategy: (attempt: number) => Math.min(attempt * 100, 2000),
    autoResubscribe: false,
    // How long close() waits for a dead socket before destroying it (default 2 s).
    disconnectTimeout: 500,
    connectionName: `sentia-store-${role}`,
  };
}

/** Escapes the glob characters of a SCAN MATCH pattern. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

// INCRBY, and PEXPIRE only when this call created the key (atomic in Redis).
const INCR_WITH_TTL = `
local existed = redis.call('EXISTS', KEYS[1])
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if existed == 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return value`;

// Compare-and-delete: only the holder's token releases the lock.
const RELEASE_LOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

// A semaphore is a sorted set of leases: member the holder's token, score the
// epoch ms it expires at, on Redis's own clock (TIME), so instances whose
// clocks differ agree on what has expired. Expired leases are dropped before
// counting; the key itself expires with its last lease, so a semaphore whose
// holders all crashed leaves nothing behind.
const NOW_MS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;
const EXPIRE_WITH_LAST_LEASE = `
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], last[2])`;

// ARGV: limit, ttlMs, token. 1 when a slot was taken.
const ACQUIRE_SLOT = `${NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])${EXPIRE_WITH_LAST_LEASE}
return 1`;

// ARGV: ttlMs, token. 1 when the lease was live and now expires ttlMs from now.
const EXTEND_SLOT = `${NOW_MS}
local expires = redis.call('ZSCORE', KEYS[1], ARGV[2])
if not expires or tonumber(expires) <= now then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[2])${EXPIRE_WITH_LAST_LEASE}
return 1`;

// ARGV: token. Removes only that lease; 1 when it was live (an expired one held nothing).
const RELEASE_SLOT = `${NOW_MS}
local expires = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not expires then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
if tonumber(expires) <= now then return 0 end
return 1`;

interface ScriptedRedis extends Redis {
  sentiaIncrWithTtl(key: string, by: number, ttlMs: number): Promise<number>;
  sentiaReleaseLock(key: string, token: string): Promise<number>;
  sentiaAcquireSlot(key: string, limit: number, ttlMs: number, token: string): Promise<number>;
  sentiaExtendSlot(key: string, ttlMs: number, token: string): Promise<number>;
  sentiaReleaseSlot(key: string, token: string): Promise<number>;
}

interface Subscription {
  handler: (message: string) => void;
}

/**
 * The cluster shape's store over ioredis. Every key and channel carries the
 * optional `keyPrefix`. The store takes ownership of both clients: close()
 * closes them.
 *
 * Subscriptions are kept here, one Redis SUBSCRIBE per channel however many
 * handlers share it; after a reconnect every channel is subscribed again, so a
 * subscription made while Redis was down becomes live when it returns.
 */
export class RedisStore extends KeyValueStore {
  readonly kind = 'redis' as const;

  private readonly logger = new Logger(RedisStore.name);
  private readonly client: ScriptedRedis;
  private readonly subscriber: Redis;
  private readonly prefix: string;
  private readonly channels = new Map<string, Set<Subscription>>();
  /** When each channel's SUBSCRIBE last succeeded on the current subscriber connection. */
  private readonly subscribedAt = new Map<string, number>();
  private reachable = true;
  private closed = false;
  /**
   * Set when a command got no reply within the command timeout (a Redis that
   * swallows packets rather than refusing them: the connection stays open).
   * Every command then fails at once instead of each waiting the timeout,
   * until a background PING is answered.
   */
  private stalled = false;
  private stallProbe?: NodeJS.Timeout;

  constructor(clients: RedisStoreClients, options: RedisStoreOptions = {}) {
    super();
    this.prefix = options.keyPrefix ?? '';
    this.client = clients.command as ScriptedRedis;
    this.subscriber = clients.subscriber;
    this.client.defineCommand('sentiaIncrWithTtl', { numberOfKeys: 1, lua: INCR_WITH_TTL });
    this.client.defineCommand('sentiaReleaseLock', { numberOfKeys: 1, lua: RELEASE_LOCK });
    this.client.defineCommand('sentiaAcquireSlot', { numberOfKeys: 1, lua: ACQUIRE_SLOT });
    this.client.defineCommand('sentiaExtendSlot', { numberOfKeys: 1, lua: EXTEND_SLOT });
    this.client.defineCommand('sentiaReleaseSlot', { numberOfKeys: 1, lua: RELEASE_SLOT });

    // Without an 'error' listener ioredis prints every failed reconnect; log once per outage.
    this.client.on('error', (err: Error) => this.onConnectionError(err));
    this.subscriber.on('error', () => undefined);
    this.client.on('ready', () => this.onConnectionReady());
    this.subscriber.on('ready', () => this.resubscribeAll());
    // Whatever is published until the next SUBSCRIBE succeeds is lost for this instance.
    this.subscriber.on('close', () => this.subscribedAt.clear());
    this.subscriber.on('message', (channel: string, message: string) => this.deliver(channel, message));
  }

  /** Creates both clients for `url` (tests, CLI); StoreModule creates them through RedisModule. */
  static async connect(url: string, options: RedisStoreOptions = {}): Promise<RedisStore> {
    const store = new RedisStore(
      {
        command: new Redis(url, redisStoreClientOptions('command')),
        subscriber: new Redis(url, redisStoreClientOptions('subscriber')),
      },
      options,
    );
    await store.waitUntilReady();
    return store;
  }

  /**
   * Waits (bounded) until both connections are ready, so the first commands
   * do not meet a connection still being opened. Resolves false instead of
   * throwing when a connection fails or Redis does not answer in time: the
   * store still works, and recovers, once Redis is reachable.
   */
  async waitUntilReady(timeoutMs = REDIS_CONNECT_TIMEOUT_MS): Promise<boolean> {
    const cleanups: (() => void)[] = [];
    const ready = (client: Redis) =>
      new Promise<boolean>((resolve) => {
        if (client.status === 'ready') return resolve(true);
        const onReady = () => resolve(true);
        const onError = () => resolve(false);
        client.once('ready', onReady);
        client.once('error', onError);
        cleanups.push(() => client.off('ready', onReady).off('error', onError));
      });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const each = [ready(this.client), ready(this.subscriber)];
    const both = Promise.all(each).then((r) => r.every(Boolean));
    const anyFailed = new Promise<boolean>((resolve) =>
      each.forEach((p) => p.then((ok) => ok || resolve(false))),
    );
    try {
      return await Promise.race([both, anyFailed, timeout]);
    } finally {
      clearTimeout(timer);
      for (const cleanup of cleanups) cleanup();
    }
  }

  async get(key: string): Promise<string | null> {
    return this.run(() => this.client.get(this.k(key)));
  }

  async set(key: string, value: string, options: SetOptions = {}): Promise<boolean> {
    const k = this.k(key);
    const { ttlMs, ifAbsent } = options;
    if (ttlMs !== undefined) assertTtlMs(ttlMs);
    const reply = await this.run(() => {
      if (ttlMs !== undefined && ifAbsent) return this.client.set(k, value, 'PX', ttlMs, 'NX');
      if (ttlMs !== undefined) return this.client.set(k, value, 'PX', ttlMs);
      if (ifAbsent) return this.client.set(k, value, 'NX');
      return this.client.set(k, value);
    });
    return reply === 'OK';
  }

  async del(key: string): Promise<boolean> {
    return (await this.run(() => this.client.del(this.k(key)))) > 0;
  }

  async incr(key: string, by = 1, ttlMs?: number): Promise<number> {
    if (!Number.isSafeInteger(by)) throw new RangeError('by must be an integer');
    if (ttlMs === undefined) return this.run(() => this.client.incrby(this.k(key), by));
    assertTtlMs(ttlMs);
    return this.run(() => this.client.sentiaIncrWithTtl(this.k(key), by, ttlMs));
  }

  async expire(key: string, ttlMs: number): Promise<boolean> {
    assertTtlMs(ttlMs);
    return (await this.run(() => this.client.pexpire(this.k(key), ttlMs))) === 1;
  }

  async ttl(key: string): Promise<number> {
    return this.run(() => this.client.pttl(this.k(key)));
  }

  async scan(prefix: string): Promise<string[]> {
    const match = `${escapeGlob(this.prefix + prefix)}*`;
    const found = new Set<string>(); // SCAN may return a key more than once
    let cursor = '0';
    do {
      const [next, keys] = await this.run(() =>
        this.client.scan(cursor, 'MATCH', match, 'COUNT', REDIS_SCAN_COUNT),
      );
      for (const key of keys) found.add(key.slice(this.prefix.length));
      cursor = next;
    } while (cursor !== '0');
    return [...found];
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.run(() => this.client.publish(this.k(channel), message));
  }

  async subscribe(channel: string, handler: (message: string) => void): Promise<Unsubscribe> {
    if (this.closed) throw new Error('store is closed');
    const full = this.k(channel);
    const subscription: Subscription = { handler };
    let set = this.channels.get(full);
    const first = !set;
    if (!set) this.channels.set(full, (set = new Set()));
    set.add(subscription);
    // Commands go out in call order on the one connection, so SUBSCRIBE and
    // UNSUBSCRIBE issued synchronously here cannot overtake each other.
    if (first && this.subscriber.status === 'ready') {
      // On failure the 'ready' after the reconnect subscribes again.
      await this.subscribeNow([full]);
    }
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      const current = this.channels.get(full);
      if (!current?.delete(subscription) || current.size > 0) return;
      this.channels.delete(full);
      this.subscribedAt.delete(full);
      if (this.subscriber.status === 'ready') await this.subscriber.unsubscribe(full).catch(() => undefined);
    };
  }

  async tryLock(key: string, ttlMs: number): Promise<StoreLock | null> {
    const token = randomUUID();
    if (!(await this.set(key, token, { ttlMs, ifAbsent: true }))) return null;
    return {
      key,
      release: async () => (await this.run(() => this.client.sentiaReleaseLock(this.k(key), token))) === 1,
    };
  }

  async tryAcquireSlot(key: string, limit: number, ttlMs: number): Promise<SlotLease | null> {
    assertSlotLimit(limit);
    assertTtlMs(ttlMs);
    const k = this.k(key);
    const token = randomUUID();
    if ((await this.run(() => this.client.sentiaAcquireSlot(k, limit, ttlMs, token))) !== 1) return null;
    return {
      key,
      extend: async (ms) => {
        assertTtlMs(ms);
        return (await this.run(() => this.client.sentiaExtendSlot(k, ms, token))) === 1;
      },
      release: async () => (await this.run(() => this.client.sentiaReleaseSlot(k, token))) === 1,
    };
  }

  async ping(): Promise<void> {
    await this.run(() => this.client.ping());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.stallProbe) clearTimeout(this.stallProbe);
    this.channels.clear();
    await Promise.all([quit(this.subscriber), quit(this.client)]);
  }

  /** Runs a command, or refuses it at once while Redis is stalled; a command that times out stalls it. */
  private async run<T>(command: () => Promise<T>): Promise<T> {
    if (this.stalled) throw new RedisStalledError();
    try {
      return await command();
    } catch (err) {
      if ((err as Error)?.message === 'Command timed out') this.stall();
      throw err;
    }
  }

  private stall(): void {
    if (this.stalled || this.closed) return;
    this.stalled = true;
    this.logger.warn(
      `Redis did not answer within ${REDIS_COMMAND_TIMEOUT_MS} ms; its commands fail at once until it answers a PING`,
    );
    this.probeStall();
  }

  private probeStall(): void {
    // Not under the request whose command timed out: the probe and its log line belong to no request.
    this.stallProbe = RequestContext.outside(() =>
      setTimeout(() => {
        this.client.ping().then(
          () => {
            this.stalled = false;
            this.logger.log('Redis answers again');
          },
          () => {
            if (!this.closed) this.probeStall();
          },
        );
      }, REDIS_STALL_PROBE_MS),
    );
    this.stallProbe.unref();
  }

  private k(key: string): string {
    return this.prefix + key;
  }

  private deliver(channel: string, message: string): void {
    const subscriptions = this.channels.get(channel);
    if (!subscriptions) return;
    for (const { handler } of [...subscriptions]) {
      try {
        handler(message);
      } catch (err) {
        this.logger.warn(`A subscriber of "${channel}" threw: ${(err as Error)?.message ?? 'error'}`);
      }
    }
  }

  deliveringSince(channel: string): number | undefined {
    return this.subscribedAt.get(this.k(channel));
  }

  private resubscribeAll(): void {
    const channels = [...this.channels.keys()];
    if (channels.length === 0 || this.closed) return;
    void this.subscribeNow(channels);
  }

  private async subscribeNow(channels: string[]): Promise<void> {
    try {
      await this.subscriber.subscribe(...channels);
    } catch {
      return; // the 'ready' after the reconnect subscribes again
    }
    const now = Date.now();
    // Unsubscribed meanwhile, or the connection dropped before the answer was read: not delivering.
    if (this.subscriber.status !== 'ready') return;
    for (const c of channels) if (this.channels.has(c)) this.subscribedAt.set(c, now);
  }

  private onConnectionError(err: Error): void {
    if (!this.reachable || this.closed) return;
    this.reachable = false;
    // The message names at most a host and port, never the URL's password.
    this.logger.warn(`Redis unreachable (${err.message}); retrying in the background`);
  }

  private onConnectionReady(): void {
    if (this.reachable) return;
    this.reachable = true;
    this.logger.log('Redis reachable again');
  }
}

async function quit(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}
