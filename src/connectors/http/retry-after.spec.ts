import { backoffMs, retryAfterMs } from './retry-after';

describe('retryAfterMs', () => {
  const h = (init: Record<string, string>) => new Headers(init);

  it('reads retry-after-ms first, then Retry-After in seconds or as an HTTP date', () => {
    expect(retryAfterMs(h({ 'retry-after-ms': '1500', 'retry-after': '9' }))).toBe(1500);
    expect(retryAfterMs(h({ 'retry-after': '2' }))).toBe(2000);
    expect(retryAfterMs(h({ 'retry-after': '0.5' }))).toBe(500);
    const now = Date.parse('2026-12-05T10:00:00Z');
    expect(retryAfterMs(h({ 'retry-after': 'Sat, 05 Dec 2026 10:00:30 GMT' }), now)).toBe(30_000);
  });

  it('is never negative and undefined when absent or unreadable', () => {
    const now = Date.parse('2026-12-05T10:00:00Z');
    expect(retryAfterMs(h({ 'retry-after': 'Sat, 05 Dec 2026 09:00:00 GMT' }), now)).toBe(0);
    expect(retryAfterMs(h({}))).toBeUndefined();
    expect(retryAfterMs(h({ 'retry-after': 'soon' }))).toBeUndefined();
    expect(retryAfterMs(h({ 'retry-after-ms': '-5' }))).toBeUndefined();
  });
});

describe('backoffMs', () => {
  it('doubles per attempt, between half and all of the step', () => {
    expect(backoffMs(0, () => 0)).toBe(125);
    expect(backoffMs(0, () => 1)).toBe(250);
    expect(backoffMs(2, () => 0)).toBe(500);
    expect(backoffMs(2, () => 1)).toBe(1000);
    expect(backoffMs(50, () => 1)).toBe(250 * 64);
  });
});
