import { BadRequestException } from '@nestjs/common';
import { parseAuditQuery, parseIsoTime } from './audit-query';

/** The field errors of a query the parser refuses. */
function errorsOf(query: Record<string, unknown>): Array<{ field: string; message: string }> {
  try {
    parseAuditQuery(query);
  } catch (e) {
    return ((e as BadRequestException).getResponse() as { errors: Array<{ field: string; message: string }> })
      .errors;
  }
  throw new Error('accepted');
}

describe('parseIsoTime (the audit filters, and audit verify --from/--to)', () => {
  it('takes times from year 1 to 9999 in UTC, the offset applied', () => {
    expect(parseIsoTime('0001-01-01T00:00:00Z')?.toISOString()).toBe('0001-01-01T00:00:00.000Z');
    expect(parseIsoTime('9999-12-31T23:59:59Z')?.toISOString()).toBe('9999-12-31T23:59:59.000Z');
    expect(parseIsoTime('2026-03-01T01:00:00+01:00')?.toISOString()).toBe('2026-03-01T00:00:00.000Z');
  });

  it('refuses a time whose UTC moment falls outside those years (PostgreSQL answered 500, SQLite wrong rows)', () => {
    expect(parseIsoTime('0001-01-01T00:00:00+01:00')).toBeUndefined(); // year 0 in UTC
    expect(parseIsoTime('9999-12-31T23:59:59-01:00')).toBeUndefined(); // year 10000 in UTC
    expect(parseIsoTime('0000-06-01T00:00:00Z')).toBeUndefined();
  });

  it('refuses a date that does not exist', () => {
    for (const v of ['2026-02-30', '2026-13-01', '2026-03-01T24:00:00Z', '2026-03-01T00:00:00+24:00', 'soon'])
      expect([v, parseIsoTime(v)]).toEqual([v, undefined]);
  });

  it('answers such a filter with 400 naming it and the years it takes', () => {
    expect(errorsOf({ from: '0001-01-01T00:00:00+01:00', to: '9999-12-31T23:59:59-01:00' })).toEqual([
      { field: 'from', message: expect.stringContaining('from year 1 to 9999 in UTC') },
      { field: 'to', message: expect.stringContaining('from year 1 to 9999 in UTC') },
    ]);
  });
});

describe('parseAuditQuery refusals', () => {
  it('words its 400 as every route does (`field: problem; ...`), each bad parameter named once', () => {
    let body: Record<string, unknown> | undefined;
    try {
      parseAuditQuery({ colour: 'red', kind: 'nope', limit: ['1', '2'] });
    } catch (e) {
      body = (e as BadRequestException).getResponse() as Record<string, unknown>;
    }
    expect(body).toMatchObject({ code: 'invalid_query', field: expect.any(String) });
    const errors = body!.errors as Array<{ field: string; message: string }>;
    expect(errors.map((e) => e.field).sort()).toEqual(['colour', 'kind', 'limit']);
    expect(body!.message).toBe(errors.map((e) => `${e.field}: ${e.message}`).join('; '));
    expect(body!.message).toMatch(/^\w+: /);
  });
});
