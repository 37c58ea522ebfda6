import { Injectable, Logger } from '@nestjs/common';
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

/**
 * Tells every instance that a key was revoked, after the database write:
 * first this process's listeners (synchronously, so the revoking instance
 * refuses the key at once), then the store channel. A failed publish is
 * logged, not thrown: the revocation is durable and the other instances'
 * database polling picks it up within its interval.
 */
@Injectable()
export class RevocationNotifier {
  private readonly logger = new Logger(RevocationNotifier.name);
  private readonly listeners = new Set<(event: RevocationEvent) => void>();

  constructor(private readonly store: KeyValueStore) {}

  /** Registers an in-process listener; returns its removal. */
  onRevoked(listener: (event: RevocationEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async announce(event: RevocationEvent): Promise<void> {
    for (const listener of this.listeners) listener(event);
    try {
      await this.store.publish(
        REVOCATIONS_CHANNEL,
        JSON.stringify({ keyId: event.keyId, revokedAt: event.revokedAt.toISOString() }),
      );
    } catch (err) {
      this.logger.warn({
        message: 'Publishing a revocation failed; other instances learn it from the database',
        keyId: event.keyId,
        error: (err as Error)?.message ?? 'error',
      });
    }
  }
}
