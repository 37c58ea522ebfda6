import { Injectable, Logger } from '@nestjs/common';
import { KeyValueStore } from '../store/key-value-store';

/** How long an instance-shared entry lives; each lookup from the database renews it. */
export const SHARED_KNOWN_KEY_TTL_MS = 30 * 24 * 3600 * 1000;

const entry = (keyId: string) => `auth:known:${keyId}`;

/**
 * Which organisation each key id belongs to, shared between instances through
 * the store (Redis in the cluster shape): written when a key is created or
 * rotated and whenever an instance reads a record from the database. An
 * instance whose database does not answer can then still recognise a key it
 * has never seen itself (KnownKeysCache), instead of answering 503. Records are
 * never deleted, so an entry never goes wrong; revocation is not kept here.
 *
 * In the embedded shape the store is this process's memory, where
 * KnownKeysCache already keeps the same facts: nothing is written twice.
 */
@Injectable()
export class SharedKnownKeys {
  private readonly logger = new Logger(SharedKnownKeys.name);

  constructor(private readonly store: KeyValueStore) {}

  /** Whether there is anything shared: the store is Redis (in memory it is this process's own). */
  get enabled(): boolean {
    return this.store.kind === 'redis';
  }

  /**
   * Records the key's organisation; a store that fails is logged, never
   * thrown (the database holds the truth). Callers need not wait for it:
   * commands on the store's one connection run in the order they were sent.
   */
  async remember(keyId: string, organizationId: string): Promise<void> {
    if (!this.enabled) return;
    try {
      await this.store.set(entry(keyId), organizationId, { ttlMs: SHARED_KNOWN_KEY_TTL_MS });
    } catch (err) {
      this.logger.debug({ message: 'Sharing a known key failed', keyId, error: (err as Error)?.message });
    }
  }

  /** The key's organisation as another instance (or this one) recorded it; null when none did or the store fails. */
  async organizationOf(keyId: string): Promise<string | null> {
    if (!this.enabled) return null;
    try {
      return await this.store.get(entry(keyId));
    } catch {
      return null;
    }
  }
}
