import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { AddressInfo, connect, createServer, Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DatabaseError, Pool } from 'pg';
import { QueryFailedError } from 'typeorm';
import { databaseErrorCode, isDatabaseUnavailable } from './database-errors';

/** A PostgreSQL error as node-postgres builds it from the server's ErrorResponse. */
function pgError(code: string, message: string): DatabaseError {
  const e = new DatabaseError(message, message.length, 'error');
  e.code = code;
  return e;
}
const failed = (driverError: Error) => new QueryFailedError('SELECT 1', [], driverError);

/** The error a socket gets from `connect` (the test expects one). */
function socketError(port: number): Promise<Error> {
  const s: Socket = connect(port, '127.0.0.1');
  return once(s, 'error').then(([e]) => e as Error);
}

describe('isDatabaseUnavailable', () => {
  it('is true for statements PostgreSQL cancelled or could not run now, wrapped by TypeORM or not', () => {
    for (const [code, message] of [
      ['57014', 'canceling statement due to statement timeout'],
      ['55P03', 'canceling statement due to lock timeout'],
      ['57P01', 'terminating connection due to administrator command'],
      ['57P03', 'the database system is starting up'],
      ['53300', 'sorry, too many clients already'],
      ['08006', 'connection failure'],
    ]) {
      expect(isDatabaseUnavailable(pgError(code, message))).toBe(true);
      expect(isDatabaseUnavailable(failed(pgError(code, message)))).toBe(true);
    }
  });

  it('is false for errors of the request or the code: a 500 or 4xx stays what it was', () => {
    for (const [code, message] of [
      ['23505', 'duplicate key value violates unique constraint'],
      ['42601', 'syntax error at or near "SELEC"'],
      ['42P01', 'relation "nope" does not exist'],
      ['22P02', 'invalid input syntax for type uuid'],
    ]) {
      expect(isDatabaseUnavailable(failed(pgError(code, message)))).toBe(false);
    }
    expect(isDatabaseUnavailable(new Error('boom'))).toBe(false);
    expect(isDatabaseUnavailable(undefined)).toBe(false);
    expect(isDatabaseUnavailable('ECONNREFUSED')).toBe(false);
    // A failed upstream call carries its socket error as `cause`: not the database's.
    expect(
      isDatabaseUnavailable(
        new TypeError('fetch failed', { cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) }),
      ),
    ).toBe(false);
  });

  it('is true for every SQLSTATE and socket code it lists, on the error itself or as the driver error', () => {
    for (const code of ['57014', '55P03', '57P01', '57P02', '57P03', '53300', '08000', '08003', '08P01']) {
      expect([code, isDatabaseUnavailable(failed(pgError(code, 'x')))]).toEqual([code, true]);
    }
    for (const code of [
      'ECONNREFUSED',
      'ECONNRESET',
      'ETIMEDOUT',
      'EPIPE',
      'EHOSTUNREACH',
      'ENETUNREACH',
      'ENOTFOUND',
      'EAI_AGAIN',
    ]) {
      const socket = Object.assign(new Error(`connect ${code} db:5432`), { code });
      expect([code, isDatabaseUnavailable(socket)]).toEqual([code, true]);
      expect([code, isDatabaseUnavailable(failed(socket))]).toEqual([code, true]);
    }
    // Any SQLITE_BUSY extended code (a WAL snapshot, recovery, a timeout) is the same condition.
    for (const code of [
      'SQLITE_BUSY',
      'SQLITE_BUSY_SNAPSHOT',
      'SQLITE_BUSY_RECOVERY',
      'SQLITE_BUSY_TIMEOUT',
    ]) {
      const busy = Object.assign(new Error('database is locked'), { code });
      expect([code, isDatabaseUnavailable(failed(busy))]).toEqual([code, true]);
    }
    // Not class 08, nor a lock or a busy file: the code's or the request's fault.
    for (const code of ['0A000', '40P01x', 'SQLITE_CONSTRAINT', 'SQLITE_LOCKED_X', 'EACCES']) {
      expect([code, isDatabaseUnavailable(failed(Object.assign(new Error('x'), { code })))]).toEqual([
        code,
        false,
      ]);
    }
  });

  it("is true for node-postgres's messages for a lost or refused connection, which carry no code", () => {
    for (const message of [
      'Connection terminated unexpectedly',
      'Connection terminated due to connection timeout',
      'Query read timeout',
      'timeout exceeded when trying to connect',
      'Client has encountered a connection error and is not queryable',
    ]) {
      expect([message, isDatabaseUnavailable(new Error(message))]).toEqual([message, true]);
      expect([message, isDatabaseUnavailable(failed(new Error(message)))]).toEqual([message, true]);
    }
    // The same words inside another error's message are not the driver's.
    for (const message of [
      'upstream said: Query read timeout',
      'Query read timeout exceeded by the report',
    ]) {
      expect([message, isDatabaseUnavailable(new Error(message))]).toEqual([message, false]);
    }
  });

  it('stops at a driver error that wraps itself, without looping', () => {
    const looped = Object.assign(new Error('x'), { code: '23505' }) as Error & { driverError?: unknown };
    looped.driverError = looped;
    expect(isDatabaseUnavailable(looped)).toBe(false);
    const a = new Error('a') as Error & { driverError?: unknown };
    const b = new Error('b') as Error & { driverError?: unknown };
    a.driverError = b;
    b.driverError = a;
    expect(isDatabaseUnavailable(a)).toBe(false);
  });

  it('names an error for the log by its driver code, its own code or its class, never its message', () => {
    expect(databaseErrorCode(failed(pgError('57014', 'canceling statement due to statement timeout')))).toBe(
      '57014',
    );
    expect(
      databaseErrorCode(
        Object.assign(new Error('connect ECONNREFUSED 10.0.0.5:5432'), { code: 'ECONNREFUSED' }),
      ),
    ).toBe('ECONNREFUSED');
    expect(databaseErrorCode(new TypeError('secret value in a message'))).toBe('TypeError');
    expect(databaseErrorCode('a string')).toBe('unknown');
  });

  describe('with real sockets and files', () => {
    let server: Server | undefined;
    let dir: string | undefined;
    afterEach(async () => {
      if (server) await new Promise((r) => server!.close(r));
      server = undefined;
      if (dir) rmSync(dir, { recursive: true, force: true });
      dir = undefined;
    });

    it('is true for a refused connection', async () => {
      server = createServer().listen(0, '127.0.0.1');
      await once(server, 'listening');
      const { port } = server.address() as AddressInfo;
      await new Promise((r) => server!.close(r));
      server = undefined;
      const err = await socketError(port);
      expect((err as { code?: string }).code).toBe('ECONNREFUSED');
      expect(isDatabaseUnavailable(err)).toBe(true);
    });

    it("is true for node-postgres's pool giving up on a server that never answers", async () => {
      const held: Socket[] = [];
      server = createServer((s) => void held.push(s)).listen(0, '127.0.0.1');
      await once(server, 'listening');
      const { port } = server.address() as AddressInfo;
      const pool = new Pool({
        host: '127.0.0.1',
        port,
        user: 'x',
        database: 'x',
        connectionTimeoutMillis: 100,
      });
      const err = await pool.query('SELECT 1').then(
        () => undefined,
        (e: Error) => e,
      );
      await pool.end().catch(() => undefined);
      for (const s of held) s.destroy();
      expect(err).toBeInstanceOf(Error);
      expect(isDatabaseUnavailable(err)).toBe(true);
    });

    it('is true for SQLITE_BUSY: the file stayed locked by another connection past the busy timeout', () => {
      dir = mkdtempSync(join(tmpdir(), 'sentia-busy-'));
      const file = join(dir, 'db.sqlite');
      const holder = new Database(file);
      const other = new Database(file, { timeout: 10 });
      try {
        holder.exec('CREATE TABLE t (x INTEGER)');
        holder.exec('BEGIN EXCLUSIVE');
        let err: unknown;
        try {
          other.exec('INSERT INTO t VALUES (1)');
        } catch (e) {
          err = e;
        }
        expect((err as { code?: string }).code).toMatch(/^SQLITE_BUSY/);
        expect(isDatabaseUnavailable(failed(err as Error))).toBe(true);
        holder.exec('ROLLBACK');
      } finally {
        other.close();
        holder.close();
      }
    });
  });
});
