import { settlesWithin, withDeadline } from './deadline';

const never = () => new Promise<never>(() => undefined);
const after = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

describe('withDeadline', () => {
  it('answers with the work when it comes first, its failure included', async () => {
    await expect(withDeadline(after(5, 'v'), 1_000, () => new Error('late'))).resolves.toBe('v');
    await expect(
      withDeadline(Promise.reject(new Error('refused')), 1_000, () => new Error('late')),
    ).rejects.toThrow('refused');
  });

  it('rejects with late() when the work has not answered in time, and ignores its later failure', async () => {
    await expect(withDeadline(never(), 20, () => new RangeError('no answer'))).rejects.toThrow(RangeError);
    const failsLate = new Promise((_, reject) => setTimeout(() => reject(new Error('too late')), 40));
    await expect(withDeadline(failsLate, 10, () => new Error('late'))).rejects.toThrow('late');
    await after(50, null); // an unhandled rejection here would fail the run
  });
});

describe('settlesWithin', () => {
  it('says whether the work settled, either way, in time', async () => {
    expect(await settlesWithin(after(5, 1), 1_000)).toBe(true);
    expect(await settlesWithin(Promise.reject(new Error('x')), 1_000)).toBe(true);
    expect(await settlesWithin(never(), 20)).toBe(false);
  });
});
