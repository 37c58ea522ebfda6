/**
 * The one seam between the embedded shape (in process memory) and the
 * cluster shape (Redis): cache, counters, session records, pub/sub and locks.
 * Nothing outside `store/` knows which implementation runs.
 *
 * Keys and channels are plain strings; callers namespace them
 * (`mcp:session:<id>`, `auth:revoked`). Values are strings (callers JSON-encode).
 */
export interface SetOptions {
  /** Time to live in milliseconds; absent means no expiry. */
  ttlMs?: number;
  /** Only set when the key does not exist (SET NX). */
  ifAbsent?: boolean;
}

export interface StoreLock {
  readonly key: string;
  /** Releases the lock if this holder still owns it; returns whether it did. */
  release(): Promise<boolean>;
}

/** One slot of a counting semaphore (see `tryAcquireSlot`). */
export interface SlotLease {
  readonly key: string;
  /**
   * Moves the lease's expiry to `ttlMs` from now, while it is still held;
   * false when it is not (released, or expired and so free for another).
   */
  extend(ttlMs: number): Promise<boolean>;
  /**
   * Frees this lease's slot, never another holder's; returns whether it was
   * still held. Calling it again, or after the lease expired, returns false.
   */
  release(): Promise<boolean>;
}

export type Unsubscribe = () => Promise<void>;

export abstract class KeyValueStore {
  abstract readonly kind: 'memory' | 'redis';

  abstract get(key: string): Promise<string | null>;
  /** Returns false when `ifAbsent` was set and the key existed. */
  abstract set(key: string, value: string, options?: SetOptions): Promise<boolean>;
  /** Returns whether a key was removed. */
  abstract del(key: string): Promise<boolean>;
  /**
   * Atomically adds `by` (default 1) and returns the new value. When the key
   * is created by this call and `ttlMs` is given, the key expires after it.
   */
  abstract incr(key: string, by?: number, ttlMs?: number): Promise<number>;
  /** Sets a TTL on an existing key; false when the key does not exist. */
  abstract expire(key: string, ttlMs: number): Promise<boolean>;
  /** Remaining TTL in ms; -1 when the key has none, -2 when it does not exist. */
  abstract ttl(key: string): Promise<number>;
  /** Every live key that starts with `prefix` (order unspecified). */
  abstract scan(prefix: string): Promise<string[]>;
  abstract publish(channel: string, message: string): Promise<void>;
  /** Delivers every later message on `channel` to `handler`, on every instance. */
  abstract subscribe(channel: string, handler: (message: string) => void): Promise<Unsubscribe>;
  /**
   * Since when (epoch ms) every message published on `channel` has been
   * delivered here: the subscription has been in place, unbroken, from then
   * on. Undefined while it is not (Redis's pub/sub drops what is published
   * while a subscriber reconnects). 0 for a store that never loses a message.
   */
  abstract deliveringSince(channel: string): number | undefined;
  /** A mutual-exclusion lock across instances; null when another holder has it. */
  abstract tryLock(key: string, ttlMs: number): Promise<StoreLock | null>;
  /**
   * Takes one of `limit` slots of the counting semaphore `key`, across
   * instances; null when all are held. A lease not released within `ttlMs`
   * (or extended) expires and its slot is free again, so a holder that
   * crashed leaks nothing. Every holder of one key should give the same
   * limit; the key belongs to the semaphore (not for get/set/incr).
   */
  abstract tryAcquireSlot(key: string, limit: number, ttlMs: number): Promise<SlotLease | null>;
  /** Throws when the backing service is unreachable. */
  abstract ping(): Promise<void>;
  abstract close(): Promise<void>;
}
