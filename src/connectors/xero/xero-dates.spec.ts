import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { transformSync } from '@swc/core';
import { ifModifiedSince, xeroDate, xeroDateTime } from './xero-dates';

describe('Xero dates', () => {
  it('reads Microsoft JSON dates with and without an offset as UTC instants', () => {
    expect(xeroDateTime('/Date(1539993600000+0000)/')).toBe('2018-10-20T00:00:00.000Z');
    expect(xeroDateTime('/Date(1455827393000)/')).toBe('2016-02-18T20:29:53.000Z');
    // The offset names a zone; the milliseconds are already UTC.
    expect(xeroDateTime('/Date(1539993600000+1300)/')).toBe('2018-10-20T00:00:00.000Z');
    expect(xeroDateTime('/Date(-86400000)/')).toBe('1969-12-31T00:00:00.000Z');
  });

  it('takes ISO twins (zoneless ones as UTC) and refuses anything else', () => {
    expect(xeroDateTime('2018-10-20T00:00:00')).toBe('2018-10-20T00:00:00.000Z');
    expect(xeroDateTime('2019-07-09T23:40:30.1833130')).toBe('2019-07-09T23:40:30.183Z');
    expect(xeroDateTime('2019-07-09T23:40:30+02:00')).toBe('2019-07-09T21:40:30.000Z');
    for (const bad of [
      undefined,
      null,
      42,
      '',
      'Date(1539993600000)',
      '/Date(abc)/',
      '/Date(1)/x',
      '20/10/2018',
    ])
      expect(xeroDateTime(bad)).toBeUndefined();
  });

  it('takes a Microsoft date only as the whole value (spaces around it aside)', () => {
    expect(xeroDateTime(' /Date(1539993600000+0000)/ ')).toBe('2018-10-20T00:00:00.000Z');
    expect(xeroDateTime('x/Date(1539993600000+0000)/')).toBeUndefined();
  });

  it('gives undefined, not a throw, for an ISO-shaped value that is no real instant', () => {
    expect(xeroDateTime('2018-13-01T00:00:00')).toBeUndefined();
    expect(xeroDateTime('2018-10-20T25:00:00+02:00')).toBeUndefined();
  });

  it('reads a zoneless ISO twin as UTC whatever the server process’s own time zone', () => {
    // The test process runs in UTC, where a zoneless value read as local time is the same instant:
    // this module is run in a child process whose zone is Auckland's.
    const code = transformSync(readFileSync(join(__dirname, 'xero-dates.ts'), 'utf8'), {
      jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
      module: { type: 'commonjs' },
    }).code;
    const run =
      'const m = { exports: {} }; new Function("module", "exports", process.argv[1])(m, m.exports);' +
      'process.stdout.write(JSON.stringify([m.exports.xeroDateTime("2018-10-20T00:00:00"), new Date(2018, 9, 20).getTimezoneOffset()]));';
    const [iso, offset] = JSON.parse(
      execFileSync(process.execPath, ['-e', run, code], {
        env: { TZ: 'Pacific/Auckland' },
        encoding: 'utf8',
      }),
    ) as [string, number];
    expect(offset).toBe(-780); // the child's zone is Auckland's (NZDT, UTC+13)
    expect(iso).toBe('2018-10-20T00:00:00.000Z');
  });

  it('gives calendar dates for day fields', () => {
    expect(xeroDate('/Date(1539993600000+0000)/')).toBe('2018-10-20');
    expect(xeroDate('/Date(1540079999000+0000)/')).toBe('2018-10-20');
    expect(xeroDate('nope')).toBeUndefined();
  });

  it('writes If-Modified-Since as a UTC timestamp', () => {
    expect(ifModifiedSince('2018-10-20T12:30:00+02:00')).toBe('2018-10-20T10:30:00');
    expect(ifModifiedSince('2018-10-20T00:00:00.999Z')).toBe('2018-10-20T00:00:00');
  });
});
