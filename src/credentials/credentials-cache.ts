/**
 * A small in-process LRU cache with a TTL, for decrypted credentials so the
 * hot path does not decrypt (or query) on every tool call.
 *
 * Race: a read that started before an invalidation must not put its (now
 * stale) value back afterwards. Every invalidation bumps `epoch`; a reader
 * takes `epoch` before its database read and `set` ignores the value when an
 * invalidation happened in between.
 */
export interface CredentialsCacheOptions {
  /** Most entries kept; the least recently used go first. */
  maxEntries: number;
  /** Time to live of an entry; 0 disables the cache. */
  ttlMs: number;
}

export const CREDENTIALS_CACHE_OPTIONS = Symbol('CREDENTIALS_CACHE_OPTIONS');

interface Entry<V> {
  value: V;
  expiresAt: number;
}

export class CredentialsCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private generation = 0;

  constructor(
    private readonly options: CredentialsCacheOptions,
    private readonly now: () => number = Date.now,
  ) {
    if (!Number.isInteger(options.maxEntries) || options.maxEntries < 1) {
      throw new RangeError('CredentialsCache: maxEntries must be a positive integer');
    }
    if (!Number.isFinite(options.ttlMs) || options.ttlMs < 0) {
      throw new RangeError('CredentialsCache: ttlMs must be 0 or more');
    }
  }

  get enabled(): boolean {
    return this.options.ttlMs > 0;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Pass to `set` after a read: the value is cached only if nothing was invalidated meanwhile. */
  get epoch(): number {
    return this.generation;
  }

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    // Most recently used goes last in the Map's insertion order.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  set(key: string, value: V, epoch: number): void {
    if (!this.enabled || epoch !== this.generation) return;
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: this.now() + this.options.ttlMs });
    while (this.entries.size > this.options.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  delete(key: string): void {
    this.generation++;
    this.entries.delete(key);
  }

  clear(): void {
    this.generation++;
    this.entries.clear();
  }
}
