import {
  BeforeApplicationShutdown,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  Optional,
} from '@nestjs/common';
import { settlesWithin } from '../common/deadline';
import { ShutdownClock } from '../common/shutdown-clock';
import { ApiKeyRepository } from './api-key.repository';

export const KEY_USAGE_FLUSH_MS = 10_000;
/** The most the last flush may hold a stop (less when the stop's deadline is nearer). */
export const KEY_USAGE_SHUTDOWN_MS = 2_000;

/**
 * `last_used_at` without a write per request: each authenticated request
 * records its key in memory; every 10 s (and at shutdown, before the database
 * closes) the latest time of every used key goes out in one batched UPDATE.
 * `last_used_at` is a hint, not a record: at shutdown a database that does
 * not answer in time loses the last few seconds of it rather than hold the stop.
 */
@Injectable()
export class KeyUsageRecorder implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(KeyUsageRecorder.name);
  private pending = new Map<string, Date>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly keys: ApiKeyRepository,
    @Optional() private readonly clock?: ShutdownClock,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.flush(), KEY_USAGE_FLUSH_MS);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const wait = this.clock?.allow(KEY_USAGE_SHUTDOWN_MS) ?? KEY_USAGE_SHUTDOWN_MS;
    if (!(await settlesWithin(this.flush(), wait)))
      this.logger.warn(
        `The database did not take the keys' last use (last_used_at) within ${wait} ms; stopping without it`,
      );
  }

  record(keyId: string, at: Date = new Date()): void {
    this.pending.set(keyId, at);
  }

  /** Writes what was recorded since the last flush; on failure keeps it for the next one. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    this.flushing = this.keys
      .touchLastUsed([...batch].map(([id, at]) => ({ id, at })))
      .catch((err: unknown) => {
        for (const [id, at] of batch) if (!this.pending.has(id)) this.pending.set(id, at);
        this.logger.warn({
          message: 'Recording key use failed; retrying later',
          keys: batch.size,
          error: (err as Error)?.message ?? 'error',
        });
      })
      .finally(() => (this.flushing = undefined));
    await this.flushing;
  }
}
