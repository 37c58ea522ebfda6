/**
 * A circuit breaker for one upstream service, in this process: after
 * `failures` consecutive failures (no answer, or a 5xx) it opens and refuses
 * calls for `openMs`; then it lets one trial call through (half-open), which
 * closes it on success or opens it again on failure. While the trial runs,
 * other calls are refused as if it were open.
 *
 * Written here rather than taken from a library: what counts as a failure is
 * decided by the caller per response (a 4xx is an answer, a 429 a sign of
 * life), and the state must be readable for metrics and messages.
 */
export type BreakerState = 'closed' | 'open' | 'half_open';

export class CircuitBreaker {
  private consecutiveFailures = 0;
  private openUntil = 0;
  private trialInFlight = false;

  constructor(
    private readonly failures: number,
    private readonly openMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get state(): BreakerState {
    if (this.consecutiveFailures < this.failures) return 'closed';
    return this.now() < this.openUntil ? 'open' : 'half_open';
  }

  /** Read-only: milliseconds until an open circuit lets a trial call through (0 unless open). */
  get retryAfterMs(): number {
    return this.state === 'open' ? Math.max(0, this.openUntil - this.now()) : 0;
  }

  /**
   * Whether a call may go now. When it may not, the milliseconds until the
   * next trial. A call let through while half-open is the trial: it must end
   * with `success()` or `failure()`.
   */
  admit(): { ok: true } | { ok: false; retryAfterMs: number } {
    const state = this.state;
    if (state === 'closed') return { ok: true };
    if (state === 'open') return { ok: false, retryAfterMs: this.openUntil - this.now() };
    if (this.trialInFlight) return { ok: false, retryAfterMs: Math.min(this.openMs, 1000) };
    this.trialInFlight = true;
    return { ok: true };
  }

  /** Returns true when this success closed an open circuit. */
  success(): boolean {
    const wasOpen = this.consecutiveFailures >= this.failures;
    this.consecutiveFailures = 0;
    this.trialInFlight = false;
    return wasOpen;
  }

  /** Returns true when this failure opened the circuit (or opened it again after a failed trial). */
  failure(): boolean {
    const wasTrial = this.trialInFlight;
    this.trialInFlight = false;
    this.consecutiveFailures += 1;
    if (this.consecutiveFailures < this.failures) return false;
    if (!wasTrial && this.consecutiveFailures > this.failures && this.now() < this.openUntil) return false;
    this.openUntil = this.now() + this.openMs;
    return true;
  }

  /** A call let through that ended with neither a success nor a failure (cancelled by its caller). */
  release(): void {
    this.trialInFlight = false;
  }
}
