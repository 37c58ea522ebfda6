import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleDestroy,
  Optional,
} from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { settlesWithin } from '../common/deadline';
import { MetricsService } from '../metrics/metrics.service';
import { KeyValueStore, Unsubscribe } from '../store/key-value-store';
import { ApiKeyRepository } from './api-key.repository';
import {
  parseRevocationMessage,
  REVOCATIONS_CHANNEL,
  RevocationEvent,
  RevocationNotifier,
} from './revocation.notifier';

export interface RevocationOptions {
  /** How often the revoked set is reloaded from the database (at most 5 s stale without pub/sub). */
  pollIntervalMs: number;
  /**
   * How old the last successful load may be before the set counts as unknown,
   * unless the store (Redis) still answers, so its channel still delivers.
   */
  staleAfterMs: number;
}

export const REVOCATION_OPTIONS = Symbol('REVOCATION_OPTIONS');
/** How long shutdown waits for a load in flight. */
const SHUTDOWN_WAIT_MS = 1000;

export const DEFAULT_REVOCATION_OPTIONS: RevocationOptions = { pollIntervalMs: 5000, staleAfterMs: 15_000 };

/** active: not revoked; revoked: refuse; unknown: the set is not established, fail closed. */
export type RevocationVerdict = 'active' | 'revoked' | 'unknown';

export interface RevocationStatus {
  loaded: boolean;
  fresh: boolean;
  lastLoadedAt: Date | null;
  revokedKeys: number;
}

/**
 * The revoked key ids of every organisation, in memory, so the guard answers
 * without a database round trip:
 * - at boot it subscribes to `auth:revocations`, then loads the set from the
 *   database (subscribe first: nothing revoked in between is missed);
 * - the channel (Redis in the cluster shape) adds revocations within
 *   milliseconds; the revoking instance adds them synchronously;
 * - every `pollIntervalMs` it reloads from the database, which covers a
 *   channel that is down or lost messages, and revocations made by the
 *   command line in the embedded shape (another process);
 * - loads merge, never replace (a revocation is never undone), so a message
 *   that arrives during a load is not lost;
 * - a revocation time may lie ahead (rotation with a grace period): the key
 *   counts as revoked from then on, on every instance, without a timer;
 * - fail closed: until the first load succeeds, or when the last one is older
 *   than `staleAfterMs` and the store cannot vouch for the time since (it
 *   does not answer, its subscription broke after that load, so messages
 *   may have been lost, or the instance's own heartbeat on the channel has
 *   not come back within that bound), `check` says `unknown` and the guard
 *   answers 503.
 */
@Injectable()
export class RevocationService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(RevocationService.name);
  private readonly revokedAt = new Map<string, number>();
  private readonly options: RevocationOptions;
  private lastLoadedAt: number | undefined;
  private lastStoreOkAt: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: Unsubscribe | undefined;
  private stopLocal: (() => void) | undefined;
  private inFlight: Promise<void> | undefined;
  private failing = false;
  /** Whether this instance said it fails closed (so it says when it serves again). */
  private reportedStale = false;
  /** This instance's heartbeats on the revocations channel, and when it last heard one back. */
  private readonly heartbeatId = randomUUID();
  private lastHeardAt: number | undefined;

  constructor(
    private readonly keys: ApiKeyRepository,
    private readonly store: KeyValueStore,
    private readonly notifier: RevocationNotifier,
    @Optional() @Inject(REVOCATION_OPTIONS) options?: Partial<RevocationOptions>,
    @Optional() metrics?: MetricsService,
  ) {
    this.options = { ...DEFAULT_REVOCATION_OPTIONS, ...options };
    metrics?.revocationFreshFrom(() => this.freshNow());
  }

  async onApplicationBootstrap(): Promise<void> {
    this.stopLocal = this.notifier.onRevoked((event) => this.apply(event));
    await this.trySubscribe();
    await this.refresh();
    this.heartbeat();
    this.timer = setInterval(() => {
      // A load still waiting on the database must not let the store's own liveness go stale with it.
      if (this.inFlight) void this.checkStore();
      this.heartbeat();
      void this.refresh();
      this.freshNow(); // without traffic too, the moment it starts failing closed is logged
    }, this.options.pollIntervalMs);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.stopLocal?.();
    const unsubscribe = this.unsubscribe;
    this.unsubscribe = undefined;
    await unsubscribe?.().catch(() => undefined);
    // A load the database does not answer ends at DATABASE_QUERY_TIMEOUT_MS; shutdown waits a second at most.
    if (this.inFlight) await settlesWithin(this.inFlight, SHUTDOWN_WAIT_MS);
  }

  check(keyId: string): RevocationVerdict {
    if (!this.freshNow()) return 'unknown';
    const at = this.revokedAt.get(keyId);
    return at !== undefined && at <= Date.now() ? 'revoked' : 'active';
  }

  /** Adds a revocation (from the channel, this process, or a key lookup); keeps the earliest time. */
  apply(event: RevocationEvent): void {
    const at = event.revokedAt.getTime();
    const known = this.revokedAt.get(event.keyId);
    if (known === undefined || at < known) this.revokedAt.set(event.keyId, at);
  }

  status(): RevocationStatus {
    return {
      loaded: this.lastLoadedAt !== undefined,
      fresh: this.isFresh(),
      lastLoadedAt: this.lastLoadedAt !== undefined ? new Date(this.lastLoadedAt) : null,
      revokedKeys: this.revokedAt.size,
    };
  }

  /** Reloads from the database now (one load at a time); never throws. */
  refresh(): Promise<void> {
    this.inFlight ??= this.load().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async load(): Promise<void> {
    if (!this.unsubscribe) await this.trySubscribe();
    await this.checkStore();
    const startedAt = Date.now();
    try {
      for (const row of await this.keys.listRevoked())
        this.apply({ keyId: row.id, revokedAt: row.revokedAt });
      this.lastLoadedAt = startedAt;
      if (this.failing) this.logger.log('Revoked key set loaded again from the database');
      this.failing = false;
    } catch (err) {
      if (!this.failing) {
        const stale = this.options.staleAfterMs / 1000;
        this.logger.warn({
          message:
            this.store.kind === 'redis'
              ? 'Loading the revoked key set from the database failed; while Redis delivers revocations, ' +
                `requests go on; without it too, they fail closed (503) ${stale} s after the last load`
              : `Loading the revoked key set from the database failed; requests fail closed (503) ${stale} s ` +
                'after the last load, until the database answers',
          error: (err as Error)?.message ?? 'error',
        });
      }
      this.failing = true;
    }
  }

  /** Notes when the store (Redis) last answered: while it does, its channel delivers revocations. */
  private async checkStore(): Promise<void> {
    if (this.store.kind !== 'redis') return;
    try {
      await this.store.ping();
      this.lastStoreOkAt = Date.now();
    } catch {
      // The database poll is the fallback.
    }
  }

  /**
   * Publishes this instance's heartbeat on the revocations channel: hearing it
   * back proves the subscription delivers now. A subscriber connection can die
   * without closing (an idle connection dropped by a NAT or firewall); only a
   * message that goes round shows it.
   */
  private heartbeat(): void {
    if (this.store.kind !== 'redis' || !this.unsubscribe) return;
    void this.store
      .publish(REVOCATIONS_CHANNEL, JSON.stringify({ heartbeat: this.heartbeatId }))
      .catch(() => undefined);
  }

  private async trySubscribe(): Promise<void> {
    try {
      this.unsubscribe = await this.store.subscribe(REVOCATIONS_CHANNEL, (message) => {
        const heartbeat = heartbeatOf(message);
        if (heartbeat !== undefined) {
          if (heartbeat === this.heartbeatId) this.lastHeardAt = Date.now();
          return; // another instance's: nothing to do
        }
        const event = parseRevocationMessage(message);
        if (event) this.apply(event);
        else this.logger.warn('Ignored a malformed message on the revocations channel');
      });
    } catch (err) {
      this.logger.warn({
        message: 'Subscribing to revocations failed; polling the database',
        error: (err as Error)?.message ?? 'error',
      });
    }
  }

  /**
   * isFresh, logging each change after the first load: an operator sees the
   * moment this instance starts answering authenticated requests 503, and
   * when it stops (each refused request is also a security event).
   */
  private freshNow(): boolean {
    const fresh = this.isFresh();
    if (!fresh && !this.reportedStale && this.lastLoadedAt !== undefined) {
      this.reportedStale = true;
      this.logger.error(
        `The revoked key set is stale: no load from the database for ${Math.round((Date.now() - this.lastLoadedAt) / 1000)} s, ` +
          'and Redis cannot vouch for the time since. Authenticated requests get 503 until the database answers',
      );
    } else if (fresh && this.reportedStale) {
      this.reportedStale = false;
      this.logger.log('The revoked key set is fresh again: authenticated requests are served');
    }
    return fresh;
  }

  private isFresh(): boolean {
    if (this.lastLoadedAt === undefined) return false;
    const now = Date.now();
    if (now - this.lastLoadedAt <= this.options.staleAfterMs) return true;
    // Redis answering is not enough: its channel must have delivered every revocation since that
    // load, i.e. the subscription has been unbroken from before it (pub/sub drops what is published
    // while a subscriber reconnects).
    // And it must be delivering now: this instance's own heartbeat came back within the same bound.
    const deliveringSince = this.store.deliveringSince(REVOCATIONS_CHANNEL);
    return (
      this.store.kind === 'redis' &&
      this.unsubscribe !== undefined &&
      deliveringSince !== undefined &&
      deliveringSince <= this.lastLoadedAt &&
      this.lastHeardAt !== undefined &&
      now - this.lastHeardAt <= this.options.staleAfterMs &&
      this.lastStoreOkAt !== undefined &&
      now - this.lastStoreOkAt <= this.options.staleAfterMs
    );
  }
}

/** The instance id of a heartbeat message (`{"heartbeat": id}`), or undefined for any other message. */
function heartbeatOf(message: string): string | undefined {
  if (!message.startsWith('{"heartbeat":')) return undefined;
  try {
    const v = JSON.parse(message) as { heartbeat?: unknown };
    return typeof v.heartbeat === 'string' ? v.heartbeat : undefined;
  } catch {
    return undefined;
  }
}
