import { OVERFLOW_SOURCE, SecurityEventLimiter } from './security-event.limiter';

const limits = { perSource: 2, total: 5, maxSources: 3, windowMs: 60_000 };

describe('SecurityEventLimiter', () => {
  it('admits the first events of each source and code, counts the rest, and reports them at rollover', () => {
    const l = new SecurityEventLimiter(limits);
    const a = [1, 2, 3, 4].map(() => l.admit('10.0.0.1', 'invalid', 401));
    expect(a).toEqual([true, true, false, false]);
    expect(l.admit('10.0.0.1', 'expired', 401)).toBe(true); // another code has its own budget
    expect(l.admit('10.0.0.2', 'invalid', 401)).toBe(true); // another source too
    expect(l.rollover()).toEqual([{ source: '10.0.0.1', errorCode: 'invalid', status: 401, count: 2 }]);
    // A new window starts empty.
    expect(l.admit('10.0.0.1', 'invalid', 401)).toBe(true);
    expect(l.rollover()).toEqual([]);
  });

  it('caps the events recorded in a window over all sources', () => {
    const l = new SecurityEventLimiter({ ...limits, maxSources: 100 });
    const admitted = Array.from({ length: 10 }, (_, i) => l.admit(`10.0.0.${i}`, 'missing')).filter(Boolean);
    expect(admitted).toHaveLength(5);
    const summary = l.rollover();
    expect(summary.reduce((n, s) => n + s.count, 0)).toBe(5);
  });

  it('tracks at most maxSources sources; further ones share the overflow source', () => {
    const l = new SecurityEventLimiter({ ...limits, total: 1000 });
    for (let i = 0; i < 50; i++) for (let j = 0; j < 3; j++) l.admit(`10.1.0.${i}`, 'invalid');
    const summary = l.rollover();
    // 3 tracked sources with 1 suppressed each, and the other 47 sources in one bucket.
    expect(summary.filter((s) => s.source !== OVERFLOW_SOURCE)).toHaveLength(3);
    const overflow = summary.find((s) => s.source === OVERFLOW_SOURCE);
    expect(overflow).toMatchObject({ errorCode: 'invalid', count: 47 * 3 - 2 });
    expect(summary.reduce((n, s) => n + s.count, 0)).toBe(50 * 3 - 3 * 2 - 2);
  });

  it('gives each window the whole total again', () => {
    const l = new SecurityEventLimiter({ ...limits, maxSources: 100 });
    const window = () =>
      Array.from({ length: 6 }, (_, i) => l.admit(`10.2.0.${i}`, 'invalid')).filter(Boolean);
    expect(window()).toHaveLength(5);
    l.rollover();
    expect(window()).toHaveLength(5);
  });
});
