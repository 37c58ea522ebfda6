import { execFileSync } from 'node:child_process';
import { isStorableTime } from './storable-time';

describe('isStorableTime (a UTC year from 1 to 9999)', () => {
  it('takes the first and last moments of the range and refuses those just outside it', () => {
    expect(isStorableTime(new Date('0001-01-01T00:00:00.000Z'))).toBe(true);
    expect(isStorableTime(new Date('9999-12-31T23:59:59.999Z'))).toBe(true);
    expect(isStorableTime(new Date('0000-12-31T23:59:59.999Z'))).toBe(false);
    expect(isStorableTime(new Date('+010000-01-01T00:00:00.000Z'))).toBe(false);
    expect(isStorableTime(new Date('nonsense'))).toBe(false);
  });

  it("judges the UTC year, not the local one, whatever the process's time zone", () => {
    // The function as it is (it uses nothing outside itself), run in a process at UTC+14, where
    // 9999-12-31T12:00Z is already year 10000 and 0000-12-31T12:00Z year 1. (Jest's own process.env is
    // a copy: setting TZ there would not change this process's zone.)
    const script =
      `const isStorableTime = ${isStorableTime.toString()};` +
      "console.log(JSON.stringify(['9999-12-31T12:00:00Z', '0000-12-31T12:00:00Z'].map((t) => isStorableTime(new Date(t)))))";
    const out = execFileSync(process.execPath, ['-e', script], {
      env: { PATH: process.env.PATH, TZ: 'Pacific/Kiritimati' },
      encoding: 'utf8',
    });
    expect(JSON.parse(out)).toEqual([true, false]);
  });
});
