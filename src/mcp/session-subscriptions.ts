import { Injectable } from '@nestjs/common';
import { ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/server';
import { InjectConfig } from '../config/config.module';
import type { AppConfig } from '../config/config.types';
import { KeyValueStore } from '../store/key-value-store';

/** Where a 2025-era session's resource subscriptions are kept, beside its record (`mcp:session:<id>`). */
export const SESSION_SUBSCRIPTIONS_PREFIX = 'mcp:session-subs:';
/** At most this many URIs per session: a client cannot make the store hold an unbounded list. */
export const MAX_SUBSCRIPTIONS_PER_SESSION = 16;
/** The longest URI a session may subscribe to (a template's variables can make one long). */
export const MAX_SUBSCRIBED_URI_LENGTH = 1024;
/** A change of a session's list waits this long at most for another in progress. */
const CHANGE_WAIT_MS = 2_000;
/** A lock left by an instance that died mid-change frees itself after this. */
const LOCK_TTL_MS = 5_000;

/**
 * The resources each 2025-era session subscribed to (`resources/subscribe`),
 * kept in the store (Redis in the cluster shape), so a subscription served by
 * any instance is seen by the one that holds the session's GET stream and
 * sends its updates. A JSON list of URIs per session, with the session's TTL,
 * kept alive with the record and removed with it when the session ends.
 *
 * A change (a read and a write) holds the session's lock in the store, so
 * two at once, on any instances, both land.
 */
@Injectable()
export class SessionSubscriptions {
  private readonly ttlMs: number;

  constructor(
    private readonly store: KeyValueStore,
    @InjectConfig() config: AppConfig,
  ) {
    this.ttlMs = config.mcp.sessionTtlSeconds * 1000;
  }

  /** Records that `sessionId` wants `uri`'s updates (again: nothing changes). */
  async add(sessionId: string, uri: string): Promise<void> {
    if (uri.length > MAX_SUBSCRIBED_URI_LENGTH) {
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `Invalid params: a subscribed URI is at most ${MAX_SUBSCRIBED_URI_LENGTH} characters`,
      );
    }
    await this.changing(sessionId, () => this.addNow(sessionId, uri));
  }

  private async addNow(sessionId: string, uri: string): Promise<void> {
    const uris = await this.read(sessionId);
    if (uris.includes(uri)) return;
    if (uris.length >= MAX_SUBSCRIPTIONS_PER_SESSION) {
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `Too many subscriptions: a session holds at most ${MAX_SUBSCRIPTIONS_PER_SESSION}; ` +
          'unsubscribe from one first',
      );
    }
    await this.write(sessionId, [...uris, uri]);
  }

  /** Forgets `uri` for `sessionId` (one it never subscribed to: nothing changes). */
  async remove(sessionId: string, uri: string): Promise<void> {
    await this.changing(sessionId, () => this.removeNow(sessionId, uri));
  }

  private async removeNow(sessionId: string, uri: string): Promise<void> {
    const uris = await this.read(sessionId);
    if (!uris.includes(uri)) return;
    const rest = uris.filter((u) => u !== uri);
    if (rest.length === 0) await this.unavailableAs(() => this.store.del(this.key(sessionId)));
    else await this.write(sessionId, rest);
  }

  /** The URIs `sessionId` is subscribed to; throws when the store cannot be read. */
  async of(sessionId: string): Promise<string[]> {
    const raw = await this.store.get(this.key(sessionId));
    if (raw === null) return [];
    try {
      const parsed: unknown = JSON.parse(raw);
      return Array.isArray(parsed) ? parsed.filter((u): u is string => typeof u === 'string') : [];
    } catch {
      return [];
    }
  }

  /** The session's TTL again, as its record's is extended (best effort). */
  keepAlive(sessionId: string): void {
    void this.store.expire(this.key(sessionId), this.ttlMs).catch(() => undefined);
  }

  /** The session ended: its subscriptions go (best effort; they expire with the TTL anyway). */
  async drop(sessionId: string): Promise<void> {
    await this.store.del(this.key(sessionId)).catch(() => undefined);
  }

  private read(sessionId: string): Promise<string[]> {
    return this.unavailableAs(() => this.of(sessionId));
  }

  private async write(sessionId: string, uris: string[]): Promise<void> {
    await this.unavailableAs(() =>
      this.store.set(this.key(sessionId), JSON.stringify(uris), { ttlMs: this.ttlMs }),
    );
  }

  /** A store that cannot be reached is answered as such, not as an internal error with its driver's text. */
  private async unavailableAs<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch {
      throw new ProtocolError(
        ProtocolErrorCode.InternalError,
        'Session store temporarily unavailable: the subscription was not changed; retry shortly',
      );
    }
  }

  /**
   * Runs one change of the session's list under its lock: waits for a change
   * in progress (on any instance) for up to CHANGE_WAIT_MS, then answers the
   * store as unavailable rather than change the list unlocked.
   */
  private async changing(sessionId: string, change: () => Promise<void>): Promise<void> {
    const deadline = Date.now() + CHANGE_WAIT_MS;
    for (;;) {
      const lock = await this.unavailableAs(() =>
        this.store.tryLock(this.key(sessionId) + ':lock', LOCK_TTL_MS),
      );
      if (lock) {
        try {
          return await change();
        } finally {
          await lock.release().catch(() => undefined);
        }
      }
      if (Date.now() >= deadline) {
        throw new ProtocolError(
          ProtocolErrorCode.InternalError,
          "Session store busy: another change of this session's subscriptions did not finish; retry shortly",
        );
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  private key(sessionId: string): string {
    return SESSION_SUBSCRIPTIONS_PREFIX + sessionId;
  }
}
