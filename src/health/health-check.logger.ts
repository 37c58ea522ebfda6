import { Injectable, Logger } from '@nestjs/common';

/** How long the same failed readiness answer is logged once. */
export const REPEAT_WINDOW_MS = 60_000;

/**
 * Terminus's logger: a failed readiness check is a warning with the
 * `Health` context (its details name the failing store), not an error line
 * without one, for what is a probe's answer rather than a fault of the
 * server. And once a minute per answer: probes every few seconds through an
 * outage would otherwise repeat one line thousands of times. A repeat within
 * the minute goes to `debug`; the next warning says how many were left out.
 */
@Injectable()
export class HealthCheckLogger extends Logger {
  private last?: { message: string; at: number; repeats: number };

  constructor() {
    super('Health');
  }

  override error(message: unknown): void {
    const text = typeof message === 'string' ? message : JSON.stringify(message);
    const now = Date.now();
    const last = this.last;
    if (last && last.message === text && now - last.at < REPEAT_WINDOW_MS) {
      last.repeats++;
      super.debug(message);
      return;
    }
    const left = last && last.message === text && last.repeats > 0 ? last.repeats : 0;
    this.last = { message: text, at: now, repeats: 0 };
    super.warn(left > 0 ? `${text} (and ${left} times more in the minute before)` : message);
  }
}
