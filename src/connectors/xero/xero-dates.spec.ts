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
