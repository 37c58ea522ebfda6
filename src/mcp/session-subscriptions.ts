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

/**
 * The resources each 2025-era session subscribed to (`resources/subscribe`),
 * kept in the store (Redis in the cluster shape), so a subscription served by
 * any instance is seen by the one that holds the session's GET stream and
 * sends its updates. A JSON list of URIs per session, with the session's TTL,
 * kept alive with the record and removed with it when the session ends.
 *
 * Concurrent subscribe and unsubscribe calls of one session (a read and a
 * write each) can lose one of them: the last write wins.
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

  private key(sessionId: string): string {
    return SESSION_SUBSCRIPTIONS_PREFIX + sessionId;
  }
}
