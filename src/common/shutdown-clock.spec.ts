import { MIN_SHUTDOWN_MS, MIN_STEP_MS, SHUTDOWN_RESERVE_MS, ShutdownClock } from './shutdown-clock';

describe('ShutdownClock', () => {
  it('leaves every step its own bound until a stop begins', () => {
    const clock = new ShutdownClock();
    expect(clock.stopping).toBe(false);
    expect(clock.remainingMs()).toBe(Infinity);
    expect(clock.allow(5_000)).toBe(5_000);
  });

  it('once stopping, bounds each step by what leaves the reserve before the deadline', () => {
    const clock = new ShutdownClock();
    clock.begin(10_000, 0);
    expect(clock.stopping).toBe(true);
    expect(clock.remainingMs(4_000)).toBe(6_000);
    // Early on the step's own bound is the shorter one; later, the deadline less the reserve.
    expect(clock.allow(5_000, 1_000)).toBe(5_000);
    expect(clock.allow(5_000, 7_000)).toBe(10_000 - SHUTDOWN_RESERVE_MS - 7_000);
    // Past that point a step still gets one short try; past the deadline nothing is left.
    expect(clock.allow(5_000, 9_900)).toBe(MIN_STEP_MS);
    expect(clock.remainingMs(12_000)).toBe(0);
  });

  it('gives a stop at least MIN_SHUTDOWN_MS, and only the first signal sets the deadline', () => {
    const clock = new ShutdownClock();
    clock.begin(0, 100);
    expect(clock.remainingMs(100)).toBe(MIN_SHUTDOWN_MS);
    clock.begin(60_000, 200); // a second SIGTERM, or SIGINT after it
    expect(clock.remainingMs(100)).toBe(MIN_SHUTDOWN_MS);
  });
});

describe('ShutdownClock.onStop', () => {
  it('runs each listener once when the stop begins, and at once for one added after', () => {
    const clock = new ShutdownClock();
    const heard: string[] = [];
    clock.onStop(() => heard.push('early'));
    expect(heard).toEqual([]);
    clock.begin(5_000);
    clock.begin(5_000);
    expect(heard).toEqual(['early']);
    clock.onStop(() => heard.push('late'));
    expect(heard).toEqual(['early', 'late']);
  });
});
