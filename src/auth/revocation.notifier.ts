import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { settlesWithin } from '../common/deadline';
import { RequestContext } from '../observability/request-context';
import { KeyValueStore } from '../store/key-value-store';

/** Store channel every instance listens on for revocations. */
export const REVOCATIONS_CHANNEL = 'auth:revocations';

export interface RevocationEvent {
  keyId: string;
  /** When the key stops working: now, or later for a rotation with a grace period. */
  revokedAt: Date;
}

/** Parses a channel message; undefined for anything that is not a well-formed event. */
export function parseRevocationMessage(message: string): RevocationEvent | undefined {
  try {
    const v = JSON.parse(message) as { keyId?: unknown; revokedAt?: unknown };
    if (typeof v?.keyId !== 'string' || v.keyId.length === 0 || v.keyId.length > 64) return undefined;
    if (typeof v.revokedAt !== 'string') return undefined;
    const revokedAt = new Date(v.revokedAt);
    return Number.isNaN(revokedAt.getTime()) ? undefined : { keyId: v.keyId, revokedAt };
  } catch {
    return undefined;
  }
}

/** How long a revocation whose publish failed waits before it is published again. */
export const REPUBLISH_INTERVAL_MS = 1000;
/** How long stopping waits for a last publish of revocations still unpublished. */
const FINAL_PUBLISH_WAIT_MS = 1000;
/** Revocations kept for publishing again at most (the oldest beyond it are left to the database poll). */
const MAX_UNPUBLISHED = 10_000;

/**
 * Tells every instance that a key was revoked, after the database write:
 * first this process's listeners (synchronously, so the revoking instance
 * refuses the key at once), then the store channel. A failed publish is
 * logged, not thrown: the revocation is durable and the other instances'
 * database polling picks it up within its interval. It is also published
 * again every second until the store takes it, for instances whose
 * database is out of reach at the same time and that rely on the channel.
 */
@Injectable()
export class RevocationNotifier implements OnModuleDestroy {
  private readonly logger = new Logger(RevocationNotifier.name);
  private readonly listeners = new Set<(event: RevocationEvent) => void>();
  private readonly unpublished: RevocationEvent[] = [];
  private retry?: NodeJS.Timeout;

  constructor(private readonly store: KeyValueStore) {}

  /** Registers an in-process listener; returns its removal. */
  onRevoked(listener: (event: RevocationEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Revocations whose publish failed and that wait to be published again. */
  get pending(): number {
    return this.unpublished.length;
  }

  async announce(event: RevocationEvent): Promise<void> {
    for (const listener of this.listeners) listener(event);
    try {
      await this.publish(event);
    } catch (err) {
      this.logger.warn({
        message:
          'Publishing a revocation failed; other instances learn it from the database, and it is published again while this process runs',
        keyId: event.keyId,
        error: (err as Error)?.message ?? 'error',
      });
      if (this.unpublished.push(event) > MAX_UNPUBLISHED) this.unpublished.shift();
      this.scheduleRetry();
    }
  }

  /**
   * Shutdown (or the end of a command): one last try for revocations still
   * unpublished, bounded; any left are named in a warning, since the other
   * instances then learn of them only from their database.
   */
  async onModuleDestroy(): Promise<void> {
    if (this.retry) clearTimeout(this.retry);
    this.retry = undefined;
    if (this.unpublished.length === 0) return;
    await settlesWithin(this.republish(false), FINAL_PUBLISH_WAIT_MS);
    if (this.unpublished.length > 0)
      this.logger.warn({
        message:
          `${this.unpublished.length} revocation(s) could not be published before stopping: other instances ` +
          'learn of them from their database only (an instance whose database is out of reach too keeps the key)',
        revokedKeys: this.unpublished.map((e) => e.keyId).slice(0, 20),
      });
  }

  private publish(event: RevocationEvent): Promise<void> {
    return this.store.publish(
      REVOCATIONS_CHANNEL,
      JSON.stringify({ keyId: event.keyId, revokedAt: event.revokedAt.toISOString() }),
    );
  }

  private scheduleRetry(): void {
    if (this.retry) return;
    // Not under the request that revoked the key: its retries and their log lines belong to no request.
    this.retry = RequestContext.outside(() => setTimeout(() => void this.republish(), REPUBLISH_INTERVAL_MS));
    this.retry.unref();
  }

  private async republish(retryLater = true): Promise<void> {
    this.retry = undefined;
    while (this.unpublished.length > 0) {
      try {
        await this.publish(this.unpublished[0]);
      } catch {
        if (retryLater) this.scheduleRetry();
        return;
      }
      this.unpublished.shift();
    }
    this.logger.log('Revocations whose publish had failed are published now');
  }
}
