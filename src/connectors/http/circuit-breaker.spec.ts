import { CircuitBreaker } from './circuit-breaker';

describe('CircuitBreaker', () => {
  let now = 0;
  const clock = () => now;

  it('stays closed below the threshold; a success resets the count', () => {
    const b = new CircuitBreaker(3, 1000, clock);
    b.failure();
    b.failure();
    b.success();
    b.failure();
    b.failure();
    expect(b.state).toBe('closed');
    expect(b.admit()).toEqual({ ok: true });
  });

  it('opens at the threshold, refuses with the time left, then admits exactly one trial', () => {
    now = 0;
    const b = new CircuitBreaker(2, 1000, clock);
    b.failure();
    expect(b.failure()).toBe(true);
    now = 400;
    expect(b.admit()).toEqual({ ok: false, retryAfterMs: 600 });
    now = 1000;
    expect(b.state).toBe('half_open');
    expect(b.admit()).toEqual({ ok: true });
    expect(b.admit().ok).toBe(false);
    expect(b.success()).toBe(true);
    expect(b.state).toBe('closed');
  });

  it('a failed trial opens it for another period; a cancelled one frees the trial slot', () => {
    now = 0;
    const b = new CircuitBreaker(1, 1000, clock);
    b.failure();
    now = 1000;
    expect(b.admit().ok).toBe(true);
    b.release();
    expect(b.admit().ok).toBe(true);
    expect(b.failure()).toBe(true);
    now = 1500;
    expect(b.admit()).toEqual({ ok: false, retryAfterMs: 500 });
    // Once that period is over, a new trial goes: the failed one no longer holds the slot.
    now = 2000;
    expect(b.admit()).toEqual({ ok: true });
  });

  it('a late failure of a call let in before it opened does not extend the open period', () => {
    now = 0;
    const b = new CircuitBreaker(1, 1000, clock);
    b.failure();
    now = 500;
    expect(b.failure()).toBe(false);
    expect(b.admit()).toEqual({ ok: false, retryAfterMs: 500 });
  });
});
