import {
  AuditWriteTimeoutError,
  describe as describeFailure,
  isDataError,
  replayDelayMs,
} from './audit-sink';
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

describe('describe (why an audit write failed, in the log)', () => {
  const withProps = (message: string, props: Record<string, unknown>) =>
    Object.assign(new Error(message), props);

  it("gives the database's own reason with its code", () => {
    const pg = withProps('permission denied for table audit_logs', { code: '42501' });
    const wrapped = Object.assign(new Error('query failed'), { name: 'QueryFailedError', driverError: pg });
    expect(describeFailure(wrapped)).toBe('QueryFailedError 42501: permission denied for table audit_logs');
    const sqlite = withProps('database or disk is full', { code: 'SQLITE_FULL' });
    expect(describeFailure(sqlite)).toBe('Error SQLITE_FULL: database or disk is full');
  });

  it('names a system error by its code and call only: its message names the host', () => {
    const refused = withProps('connect ECONNREFUSED 10.1.2.3:5432', {
      code: 'ECONNREFUSED',
      syscall: 'connect',
    });
    expect(describeFailure(refused)).toBe('Error ECONNREFUSED (connect)');
    expect(describeFailure(withProps('getaddrinfo ENOTFOUND db.internal', { code: 'ENOTFOUND' }))).toBe(
      'Error ENOTFOUND',
    );
  });

  it('keeps any other message, with its addresses replaced and cut at 200 characters', () => {
    expect(describeFailure(new Error('Connection terminated unexpectedly'))).toBe(
      'Error: Connection terminated unexpectedly',
    );
    expect(describeFailure(new AuditWriteTimeoutError(5000))).toBe(
      'AuditWriteTimeoutError: audit write took over 5000 ms',
    );
    expect(describeFailure(new Error('no route to db.internal:5432 or 10.0.0.7 or [fe80::1]:6379'))).toBe(
      'Error: no route to (address) or (address) or (address)',
    );
    expect(describeFailure(new Error('x'.repeat(500)))).toBe(`Error: ${'x'.repeat(200)}...`);
    // A long message is cut before the address pattern runs over it (it rescans from each word boundary).
    expect(describeFailure(new Error('a.'.repeat(200_000)))).toBe(`Error: ${'a.'.repeat(100)}...`);
    expect(describeFailure(undefined)).toBe('Error');
  });
});

describe('isDataError (a spooled row the database refuses as data is set aside; any other refusal keeps it)', () => {
  const failure = (code: string, wrapped: boolean) =>
    wrapped
      ? Object.assign(new Error('query failed'), { driverError: { code } })
      : Object.assign(new Error('x'), { code });

  it('is true for PostgreSQL data exceptions (class 22) and SQLite values it cannot store', () => {
    for (const [code, wrapped] of [
      ['22P02', true],
      ['22001', false],
      ['SQLITE_TOOBIG', true],
      ['SQLITE_MISMATCH', false],
    ] as const)
      expect([code, isDataError(failure(code, wrapped))]).toEqual([code, true]);
  });

  it('is false for an unavailable database, a refused permission, a conflict or a timeout: those rows stay in the spool', () => {
    for (const code of [
      'ECONNREFUSED',
      '57P01',
      '08006',
      '42501',
      '23505',
      '53300',
      'SQLITE_BUSY',
      'SQLITE_FULL',
      '2200',
    ])
      expect([code, isDataError(failure(code, true))]).toEqual([code, false]);
    expect(isDataError(new AuditWriteTimeoutError(5000))).toBe(false);
    expect(isDataError(new Error('Connection terminated unexpectedly'))).toBe(false);
    expect(isDataError(undefined)).toBe(false);
  });
});
