import { cachedFor } from './cached-for';

describe('cachedFor', () => {
  it('runs the check once per window, and again once the window has passed', async () => {
    let clock = 0;
    let runs = 0;
    const check = cachedFor(
      async () => ++runs,
      1_000,
      () => clock,
    );
    expect(await Promise.all([check(), check(), check()])).toEqual([1, 1, 1]);
    clock = 999;
    expect(await check()).toBe(1);
    clock = 1_000;
    expect(await check()).toBe(2);
    expect(runs).toBe(2);
  });

  it('reuses a failure for the window too, then tries again', async () => {
    let clock = 0;
    let runs = 0;
    const check = cachedFor(
      async () => {
        runs++;
        throw new Error('down');
      },
      1_000,
      () => clock,
    );
    await expect(check()).rejects.toThrow('down');
    await expect(check()).rejects.toThrow('down');
    clock = 2_000;
    await expect(check()).rejects.toThrow('down');
    expect(runs).toBe(2);
  });
});
