import { Injectable } from '@nestjs/common';

/** The shortest stop: with SHUTDOWN_GRACE_MS below it, the steps after the drain still get their try. */
export const MIN_SHUTDOWN_MS = 2_000;
/** Steps that wait on the database or Redis end this long before the deadline at the latest. */
export const SHUTDOWN_RESERVE_MS = 1_500;
/**
 * Calls still running this long before the deadline have their connections
 * closed (after the steps' reserve began, so a call whose audit write was cut
 * for the stop is answered first); the last audit flush and the pools' close get the rest.
 */
export const CONNECTIONS_CLOSE_BEFORE_MS = 1_000;
/** What a step that must be tried (an audit write before its records go to the spool) gets at least. */
export const MIN_STEP_MS = 250;

/**
 * The time left before the process must have exited, once a stop signal has
 * come. `main.ts` starts it at SIGTERM/SIGINT; each shutdown step that waits
 * on something outside (the database, Redis) asks `allow()` how long it may,
 * so a database that swallows packets cannot hold the stop past
 * SHUTDOWN_GRACE_MS (the orchestrator's SIGKILL comes at its own grace, and
 * would then cut the audit flush). Until a stop begins (requests, tests that
 * close an app, the CLI) every step keeps its own bound.
 */
@Injectable()
export class ShutdownClock {
  private deadline: number | undefined;
  private readonly listeners: Array<() => void> = [];

  /** The stop begins now and must end within `graceMs` (at least MIN_SHUTDOWN_MS). Only the first call counts. */
  begin(graceMs: number, now = Date.now()): void {
    if (this.deadline !== undefined) return;
    this.deadline = now + Math.max(graceMs, MIN_SHUTDOWN_MS);
    for (const listener of this.listeners.splice(0)) listener();
  }

  /** `listener` runs once when the stop begins (at once if it has): to shorten waits already under way. */
  onStop(listener: () => void): void {
    if (this.deadline !== undefined) listener();
    else this.listeners.push(listener);
  }

  get stopping(): boolean {
    return this.deadline !== undefined;
  }

  /** Milliseconds until the process must have exited; Infinity before a stop began. */
  remainingMs(now = Date.now()): number {
    return this.deadline === undefined ? Infinity : Math.max(0, this.deadline - now);
  }

  /**
   * How long a step may wait: `capMs` before a stop began; during one, no
   * longer than leaves SHUTDOWN_RESERVE_MS before the deadline, and never
   * less than MIN_STEP_MS (one short try).
   */
  allow(capMs: number, now = Date.now()): number {
    if (this.deadline === undefined) return capMs;
    return Math.max(MIN_STEP_MS, Math.min(capMs, this.deadline - SHUTDOWN_RESERVE_MS - now));
  }
}
