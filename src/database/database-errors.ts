import { HttpStatus, ServiceUnavailableException } from '@nestjs/common';

/** Seconds a client is told to wait (`Retry-After`) after a 503 `database_unavailable`. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

/**
 * PostgreSQL SQLSTATEs that say the database could not do the work now, not
 * that the request or the code is wrong: a statement cancelled by
 * statement_timeout or an operator (57014), a lock not granted in
 * lock_timeout (55P03), the server shutting down or starting (57P01-57P03),
 * too many connections (53300), a lost connection (class 08).
 */
const PG_UNAVAILABLE = new Set(['57014', '55P03', '57P01', '57P02', '57P03', '53300']);

/** Socket errors on the way to the database. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * node-postgres's own messages for a connection that failed or a pool that
 * had none to give within its connection timeout; they carry no code.
 */
const PG_CLIENT_MESSAGES = [
  /^Connection terminated/,
  /^Query read timeout$/, // no answer within DATABASE_QUERY_TIMEOUT_MS (BoundedPgClient drops the connection)
  /^timeout exceeded when trying to connect$/,
  /^Client has encountered a connection error and is not queryable$/,
];

function codeOf(err: object): string | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * True when `err` (or the driver error it wraps: TypeORM's QueryFailedError
 * keeps the driver's as `driverError`) means the database
 * is unreachable, overloaded, or did not answer in time: a condition to
 * retry later (503), not a bug (500). SQLite's SQLITE_BUSY (the file stayed
 * locked by another process past the busy timeout) counts too. An error's
 * `cause` is not followed: a failed HTTP call to an upstream carries its
 * socket error there, and that is not the database's.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const seen = new Set<unknown>();
  let e: unknown = err;
  while (e !== null && typeof e === 'object' && !seen.has(e)) {
    seen.add(e);
    const code = codeOf(e);
    if (code !== undefined) {
      if (PG_UNAVAILABLE.has(code) || code.startsWith('08') || NETWORK_CODES.has(code)) return true;
      if (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_')) return true;
    }
    const message = (e as { message?: unknown }).message;
    if (typeof message === 'string' && PG_CLIENT_MESSAGES.some((m) => m.test(message))) return true;
    e = (e as { driverError?: unknown }).driverError;
  }
  return false;
}

/** The driver's error code (or the error's own, or its class name) for a log line: never its message. */
export function databaseErrorCode(err: unknown): string {
  if (err === null || typeof err !== 'object') return 'unknown';
  const driverError = (err as { driverError?: unknown }).driverError;
  const code =
    (driverError !== null && typeof driverError === 'object' ? codeOf(driverError) : undefined) ??
    codeOf(err);
  const name = (err as { name?: unknown }).name;
  return code ?? (typeof name === 'string' ? name : 'unknown');
}

/**
 * 503 `database_unavailable`: what a REST call answers when the database
 * failed it that way (the caller should also get `Retry-After`). Its message
 * names no host, statement or driver text.
 */
export class DatabaseUnavailableException extends ServiceUnavailableException {
  constructor() {
    super({
      statusCode: HttpStatus.SERVICE_UNAVAILABLE,
      error: 'Service Unavailable',
      code: 'database_unavailable',
      message: 'The database is unavailable or did not answer in time; retry shortly',
    });
  }
}
