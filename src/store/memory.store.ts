import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { KeyValueStore, SetOptions, SlotLease, StoreLock, Unsubscribe } from './key-value-store';

export interface MemoryStoreOptions {
  /** How often expired keys nobody reads are swept away (default 30 s). */
  sweepIntervalMs?: number;
}

interface Entry {
  value: string;
  /** Epoch ms after which the entry is gone; undefined: no expiry. */
  expiresAt?: number;
}

interface Subscription {
  handler: (message: string) => void;
  active: boolean;
}

export const MEMORY_STORE_SWEEP_INTERVAL_MS = 30_000;

/** Same rule as Redis: a TTL is a positive whole number of milliseconds. */
export function assertTtlMs(ttlMs: number): void {
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) throw new RangeError('ttlMs must be a positive integer');
}

/** A semaphore's limit is a whole number of slots, at least one. */
export function assertSlotLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError('limit must be a positive integer');
}

/**
 * The embedded shape's store: one process, one Map. Expired keys vanish on
 * read and in a periodic sweep; pub/sub delivers asynchronously (a microtask
 * later) so a publisher is never re-entered by its own subscribers.
 */
export class MemoryStore extends KeyValueStore {
  readonly kind = 'memory' as const;

  private readonly logger = new Logger(MemoryStore.name);
  private readonly entries = new Map<string, Entry>();
  private readonly channels = new Map<string, Set<Subscription>>();
  /** Semaphores: for each key, its leases (token to the epoch ms it expires at). */
  private readonly slots = new Map<string, Map<string, number>>();
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(options: MemoryStoreOptions = {}) {
    super();
    const every = options.sweepIntervalMs ?? MEMORY_STORE_SWEEP_INTERVAL_MS;
    this.sweepTimer = setInterval(() => this.sweep(), every);
    this.sweepTimer.unref();
  }

  /** Entries held, including expired ones not yet swept (diagnostics). */
  get entryCount(): number {
    return this.entries.size;
  }

  /** Semaphores with leases held, including expired ones not yet swept (diagnostics). */
  get semaphoreCount(): number {
    return this.slots.size;
  }

  async get(key: string): Promise<string | null> {
    return this.live(key)?.value ?? null;
  }

  async set(key: string, value: string, options: SetOptions = {}): Promise<boolean> {
    if (options.ttlMs !== undefined) assertTtlMs(options.ttlMs);
    if (options.ifAbsent && this.live(key)) return false;
    const expiresAt = options.ttlMs === undefined ? undefined : Date.now() + options.ttlMs;
    this.entries.set(key, { value: String(value), expiresAt });
    return true;
  }

  async del(key: string): Promise<boolean> {
    const existed = this.live(key) !== undefined;
    this.entries.delete(key);
    return existed;
  }

  async incr(key: string, by = 1, ttlMs?: number): Promise<number> {
    if (!Number.isSafeInteger(by)) throw new RangeError('by must be an integer');
    if (ttlMs !== undefined) assertTtlMs(ttlMs);
    // Synchronous from read to write: atomic within the one event loop.
    const entry = this.live(key);
    if (!entry) {
      const expiresAt = ttlMs === undefined ? undefined : Date.now() + ttlMs;
      this.entries.set(key, { value: String(by), expiresAt });
      return by;
    }
    if (!/^-?\d+$/.test(entry.value)) throw new Error('value is not an integer');
    const next = Number(entry.value) + by;
    if (!Number.isSafeInteger(next)) throw new RangeError('increment would overflow');
    entry.value = String(next);
    return next;
  }

  async expire(key: string, ttlMs: number): Promise<boolean> {
    assertTtlMs(ttlMs);
    const entry = this.live(key);
    if (!entry) return false;
    entry.expiresAt = Date.now() + ttlMs;
    return true;
  }

  async ttl(key: string): Promise<number> {
    const entry = this.live(key);
    if (!entry) return -2;
    if (entry.expiresAt === undefined) return -1;
    return entry.expiresAt - Date.now();
  }

  async scan(prefix: string): Promise<string[]> {
    const now = Date.now();
    const keys: string[] = [];
    for (const [key, entry] of this.entries) {
      if (key.startsWith(prefix) && !isExpired(entry, now)) keys.push(key);
    }
    return keys;
  }

  async publish(channel: string, message: string): Promise<void> {
    const subscriptions = this.channels.get(channel);
    if (!subscriptions) return;
    for (const subscription of [...subscriptions]) {
      queueMicrotask(() => {
        // Unsubscribed between publish and delivery: like Redis, no delivery.
        if (!subscription.active) return;
        try {
          subscription.handler(message);
        } catch (err) {
          this.logger.warn(`A subscriber of "${channel}" threw: ${(err as Error)?.message ?? 'error'}`);
        }
      });
    }
  }

  /** In process memory nothing published is lost. */
  deliveringSince(): number {
    return 0;
  }

  async subscribe(channel: string, handler: (message: string) => void): Promise<Unsubscribe> {
    const subscription: Subscription = { handler, active: true };
    let set = this.channels.get(channel);
    if (!set) this.channels.set(channel, (set = new Set()));
    set.add(subscription);
    return async () => {
      subscription.active = false;
      const current = this.channels.get(channel);
      if (!current) return;
      current.delete(subscription);
      if (current.size === 0) this.channels.delete(channel);
    };
  }

  async tryLock(key: string, ttlMs: number): Promise<StoreLock | null> {
    const token = randomUUID();
    if (!(await this.set(key, token, { ttlMs, ifAbsent: true }))) return null;
    return {
      key,
      release: async () => {
        if (this.live(key)?.value !== token) return false;
        this.entries.delete(key);
        return true;
      },
    };
  }

  async tryAcquireSlot(key: string, limit: number, ttlMs: number): Promise<SlotLease | null> {
    assertSlotLimit(limit);
    assertTtlMs(ttlMs);
    // Synchronous from count to take: atomic within the one event loop.
    const leases = this.liveLeases(key);
    if (leases.size >= limit) return null;
    const token = randomUUID();
    leases.set(token, Date.now() + ttlMs);
    this.slots.set(key, leases);
    return {
      key,
      extend: async (ms) => {
        assertTtlMs(ms);
        const held = this.liveLeases(key);
        if (!held.has(token)) return false;
        held.set(token, Date.now() + ms);
        return true;
      },
      release: async () => {
        const held = this.liveLeases(key).delete(token);
        if (this.slots.get(key)?.size === 0) this.slots.delete(key);
        return held;
      },
    };
  }

  async ping(): Promise<void> {
    // Always reachable: it is this process.
  }

  async close(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    for (const set of this.channels.values()) for (const s of set) s.active = false;
    this.channels.clear();
    this.entries.clear();
    this.slots.clear();
  }

  /** The entry when it exists and has not expired; drops it when it has. */
  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (isExpired(entry, Date.now())) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /** A semaphore's leases that have not expired (a new, unregistered map when it has none); drops the rest. */
  private liveLeases(key: string): Map<string, number> {
    const leases = this.slots.get(key) ?? new Map<string, number>();
    const now = Date.now();
    for (const [token, expiresAt] of leases) if (expiresAt <= now) leases.delete(token);
    return leases;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [key, entry] of this.entries) if (isExpired(entry, now)) this.entries.delete(key);
    for (const key of [...this.slots.keys()]) if (this.liveLeases(key).size === 0) this.slots.delete(key);
  }
}

function isExpired(entry: Entry, now: number): boolean {
  return entry.expiresAt !== undefined && entry.expiresAt <= now;
}
