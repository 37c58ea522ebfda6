import { z } from 'zod';
import { ifModifiedSince } from './xero-dates';
import { comparePeriods, DAY, guid, INSTANT, page, pageSize, searchTerm, tenantId } from './xero-tool-args';

const messages = (value: string) => DAY.safeParse(value).error?.issues.map((i) => i.message);

describe('Xero tool arguments: DAY', () => {
  it('takes a real calendar day', () => {
    expect(DAY.safeParse('2020-02-29').success).toBe(true);
  });

  it('says once what is wrong: the shape, or a day that does not exist', () => {
    expect(messages('31/10/2018')).toEqual(['must be a date YYYY-MM-DD']);
    expect(messages('2019-02-29')).toEqual(['must be a real date']);
    expect(messages('2018-10-32')).toEqual(['must be a real date']);
    // More than a day, or a day inside other text, is not in the shape (not "not a real date").
    expect(messages('2018-10-01T00:00:00Z')).toEqual(['must be a date YYYY-MM-DD']);
    expect(messages(' 2018-10-01')).toEqual(['must be a date YYYY-MM-DD']);
  });
});

describe('Xero tool arguments: paging, search and comparison bounds', () => {
  const ok = (schema: z.ZodType, value: unknown) => schema.safeParse(value).success;

  it('page: a whole number from 1 to 100000, 1 by default', () => {
    expect(page().parse(undefined)).toBe(1);
    for (const good of [1, 100_000]) expect(ok(page(), good)).toBe(true);
    for (const bad of [0, 100_001, 1.5]) expect(ok(page(), bad)).toBe(false);
  });

  it('pageSize: a whole number from 1 to 1000, 100 by default', () => {
    expect(pageSize().parse(undefined)).toBe(100);
    for (const good of [1, 1000]) expect(ok(pageSize(), good)).toBe(true);
    for (const bad of [0, 1001, 2.5]) expect(ok(pageSize(), bad)).toBe(false);
  });

  it('searchTerm: trimmed, 1 to 100 characters once trimmed', () => {
    const term = searchTerm('text');
    expect(term.parse('  ref 5 ')).toBe('ref 5');
    expect(term.parse(` ${'x'.repeat(100)} `)).toHaveLength(100);
    for (const bad of ['', '   ', 'x'.repeat(101)]) expect(ok(term, bad)).toBe(false);
  });

  it('periods: a whole number from 1 to 12', () => {
    const { periods } = comparePeriods();
    for (const good of [1, 12, undefined]) expect(ok(periods, good)).toBe(true);
    for (const bad of [0, 13, 1.5]) expect(ok(periods, bad)).toBe(false);
  });
});

describe('Xero tool arguments: ids', () => {
  const T = '9a0e5d3b-7c1f-4e2a-8b6d-0f1e2d3c4b5a';

  it('take a GUID in either case and give it in lower case: one tenant, one spelling downstream', () => {
    expect(tenantId().parse(T.toUpperCase())).toBe(T);
    expect(tenantId().parse('9A0e5D3b-7C1f-4E2a-8B6d-0F1e2D3c4B5a')).toBe(T);
    expect(tenantId().parse(undefined)).toBeUndefined();
    expect(guid().parse(T.toUpperCase())).toBe(T);
    expect(guid().safeParse(`${T}x`).success).toBe(false);
  });

  it('show clients a JSON Schema string whose pattern takes both cases, as the server does', () => {
    const schema = z.toJSONSchema(z.object({ tenantId: tenantId() }), {
      io: 'input',
      unrepresentable: 'throw',
    });
    const prop = (schema.properties as Record<string, { type: string; pattern: string }>).tenantId;
    expect(prop.type).toBe('string');
    // A JSON Schema validator compiles the pattern as it is, without the flags a RegExp had.
    const pattern = new RegExp(prop.pattern, 'u');
    expect(pattern.test(T)).toBe(true);
    expect(pattern.test(T.toUpperCase())).toBe(true);
    expect(pattern.test(`${T}\r\nx: 1`)).toBe(false);
  });
});

describe('Xero tool arguments: INSTANT (modifiedSince)', () => {
  const told = (value: string) => INSTANT.safeParse(value).error?.issues.map((i) => i.message);

  it('takes a date-time with its zone, and If-Modified-Since keeps its shape for each', () => {
    for (const value of [
      '2024-01-31T00:00:00Z',
      '2016-02-19T22:00:00+02:00',
      '0001-01-01T00:00:00Z',
      '9999-12-31T23:59:59Z',
    ]) {
      expect(INSTANT.safeParse(value).success).toBe(true);
      expect(ifModifiedSince(value)).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
    }
  });

  it('refuses one whose UTC time falls outside years 1-9999, which If-Modified-Since cannot carry', () => {
    // In UTC: 0000-12-31T23:30, -000001-12-31T23:00 and +010000-01-01T04:59.
    for (const value of [
      '0001-01-01T00:30:00+01:00',
      '0000-01-01T00:00:00+01:00',
      '9999-12-31T23:59:59-05:00',
    ])
      expect(told(value)).toEqual(['must be a time from year 1 to 9999 in UTC']);
  });

  it('says once what is wrong with a value not in the shape', () => {
    expect(told('2024-02-30T00:00:00Z')).toHaveLength(1);
    expect(told('yesterday')).toEqual([
      'must be a date and time with its zone, e.g. 2024-01-31T00:00:00Z or 2024-01-31T09:30:00+10:00',
    ]);
    // A time without its zone is ambiguous: refused, saying what to add.
    expect(told('2024-01-31T00:00:00')).toEqual(told('yesterday'));
  });
});
