import { replayDelayMs } from './audit-sink';
import { DEFAULT_AUDIT_OPTIONS } from './audit.options';

describe('replayDelayMs (spool replays and journal ships while the database refuses)', () => {
  it('doubles from the base', () => {
    expect([0, 1, 2, 3].map((n) => replayDelayMs(n, DEFAULT_AUDIT_OPTIONS))).toEqual([
      250, 500, 1_000, 2_000,
    ]);
  });

  it('by default waits at most 5 s, however long the outage: the spool lands soon after the database returns', () => {
    const waits = Array.from({ length: 200 }, (_, n) => replayDelayMs(n, DEFAULT_AUDIT_OPTIONS));
    expect(Math.max(...waits)).toBe(5_000);
    expect(waits.slice(5)).toEqual(Array(195).fill(5_000));
  });

  it('keeps to the cap for counts whose doubling would overflow', () => {
    expect(replayDelayMs(10_000, { replayBaseDelayMs: 250, replayMaxDelayMs: 7_000 })).toBe(7_000);
  });
});
