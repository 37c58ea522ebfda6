import { Injectable, Logger } from '@nestjs/common';
import { settlesWithin } from '../common/deadline';
import { ApiKeyRepository, KeyRecordState } from './api-key.repository';
import { RevocationService } from './revocation.service';
import { SharedKnownKeys } from './shared-known-keys';

/** known: a record exists in the token's organisation; unknown: none does; unavailable: the database did not answer. */
export type KeyLookup = 'known' | 'unknown' | 'unavailable';

const MAX_KNOWN = 100_000;
const MAX_MISSING = 10_000;
const MISSING_TTL_MS = 5000;
/** How long a lookup waits for the database before it asks the shared record (cluster shape). */
export const SHARED_FALLBACK_AFTER_MS = 1000;

/**
 * Which key ids have a record, so a well-signed token for a key that does not
 * exist (deleted data, a restored backup, a leaked signing secret) is refused
 * without a database round trip per request: a hit is answered from memory, a
 * miss costs one lookup whose result is cached (records are never deleted;
 * "no record" is remembered for 5 s). Concurrent misses share one lookup.
 * When the database does not answer, a key another instance has read or
 * created is still recognised from the store (SharedKnownKeys); only a key
 * no instance has seen is then 'unavailable'.
 */
@Injectable()
export class KnownKeysCache {
  private readonly logger = new Logger(KnownKeysCache.name);
  private readonly known = new Map<string, string>();
  private readonly missing = new Map<string, number>();
  private readonly pending = new Map<string, Promise<KeyRecordState | null>>();

  constructor(
    private readonly keys: ApiKeyRepository,
    private readonly revocation: RevocationService,
    private readonly shared: SharedKnownKeys,
  ) {}

  async lookup(keyId: string, organizationId: string): Promise<KeyLookup> {
    const org = this.known.get(keyId);
    if (org !== undefined) return org === organizationId ? 'known' : 'unknown';
    const missUntil = this.missing.get(keyId);
    if (missUntil !== undefined) {
      if (missUntil > Date.now()) return 'unknown';
      this.missing.delete(keyId);
    }
    const fetching = this.fetch(keyId);
    // A database that is slow to answer (packets lost: the query waits for its timeout) need not hold
    // a key another instance recorded: after a second, the shared record answers if there is one.
    if (this.shared.enabled && (await settlesWithin(fetching, SHARED_FALLBACK_AFTER_MS)) === false) {
      const shared = await this.fromShared(keyId, organizationId);
      if (shared) return shared;
    }
    let state: KeyRecordState | null;
    try {
      state = await fetching;
    } catch (err) {
      const shared = await this.fromShared(keyId, organizationId);
      if (shared) return shared;
      this.logger.warn({ message: 'Key lookup failed', keyId, error: (err as Error)?.message ?? 'error' });
      return 'unavailable';
    }
    if (!state) {
      remember(this.missing, keyId, Date.now() + MISSING_TTL_MS, MAX_MISSING);
      return 'unknown';
    }
    remember(this.known, keyId, state.organizationId, MAX_KNOWN);
    void this.shared.remember(keyId, state.organizationId);
    if (state.revokedAt) this.revocation.apply({ keyId, revokedAt: state.revokedAt });
    return state.organizationId === organizationId ? 'known' : 'unknown';
  }

  /** The answer from the record another instance shared (remembered here), or undefined when there is none. */
  private async fromShared(keyId: string, organizationId: string): Promise<KeyLookup | undefined> {
    const org = await this.shared.organizationOf(keyId);
    if (org === null) return undefined;
    remember(this.known, keyId, org, MAX_KNOWN);
    return org === organizationId ? 'known' : 'unknown';
  }

  private fetch(keyId: string): Promise<KeyRecordState | null> {
    let p = this.pending.get(keyId);
    if (!p) {
      p = this.keys.findState(keyId).finally(() => this.pending.delete(keyId));
      this.pending.set(keyId, p);
    }
    return p;
  }
}

/** Map insertion order is age order: the oldest entry goes first when full. */
function remember<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  if (map.size >= max) {
    const oldest = map.keys().next().value;
    if (oldest !== undefined) map.delete(oldest);
  }
  map.set(key, value);
}
