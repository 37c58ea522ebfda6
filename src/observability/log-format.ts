import { format } from 'winston';
import type { Logform } from 'winston';
import { redact } from './redact';
import { RequestContext } from './request-context';

const LEVEL = Symbol.for('level');
const MESSAGE = Symbol.for('message');
const SPLAT = Symbol.for('splat');

type Info = Logform.TransformableInfo & Record<string | symbol, unknown>;

/** npm levels plus `fatal`, which Nest's LoggerService uses. */
export const LOG_LEVELS = {
  fatal: 0,
  error: 1,
  warn: 2,
  info: 3,
  http: 4,
  verbose: 5,
  debug: 6,
  silly: 7,
} as const;

/** Fields that open every line, in this order; structured fields follow, then `stack`. */
const LEADING_FIELDS = [
  'timestamp',
  'level',
  'context',
  'requestId',
  'keyId',
  'organizationId',
  'message',
] as const;

const STACK_LINE = /\n\s+at\s/;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

/**
 * Normalises what nest-winston's WinstonLogger hands over:
 * - `stack: [trace]` (always an array, often `[undefined]`) becomes one string or disappears;
 *   `Logger.error(msg, 'Context')` called statically without a stack yields `context`, as Nest's ConsoleLogger does.
 * - a message containing `%s`-like tokens makes winston drop the meta object into SPLAT: it is merged back.
 * - the `error` field duplicating the line's own message and stack keeps only what it adds.
 */
export const nestFields = format((info: Info) => {
  const splat = info[SPLAT];
  if (Array.isArray(splat) && info.context === undefined && isPlainObject(splat[splat.length - 1])) {
    for (const [key, value] of Object.entries(splat[splat.length - 1] as object)) {
      if (!(key in info)) info[key] = value;
    }
  }

  if (Array.isArray(info.stack)) {
    const parts = (info.stack as unknown[]).filter((p) => p !== undefined && p !== null && p !== '');
    const texts = parts.map((p) =>
      p instanceof Error ? (p.stack ?? String(p)) : typeof p === 'string' ? p : undefined,
    );
    if (texts.some((t) => t === undefined)) info.details = parts.length === 1 ? parts[0] : parts;
    const stack = texts.filter((t): t is string => t !== undefined).join('\n');
    if (info.context === undefined && parts.length === 1 && stack && !stack.includes('\n')) {
      info.context = stack;
      delete info.stack;
    } else if (stack) {
      info.stack = stack;
    } else {
      delete info.stack;
    }
  }

  const error = info.error;
  if (
    error instanceof Error &&
    typeof info.stack === 'string' &&
    (error.stack === info.stack || info.stack.includes(error.stack ?? '\0'))
  ) {
    // nest-winston already spread the Error's own fields onto the line: keep only what is new.
    const rest: Record<string, unknown> = { name: error.name };
    for (const [key, value] of Object.entries(error)) if (info[key] !== value) rest[key] = value;
    if (error.cause !== undefined) rest.cause = error.cause;
    info.error = rest;
  }

  if (typeof info.stack === 'string' && typeof info.message === 'string' && !STACK_LINE.test(info.stack)) {
    // A single-line "trace" that is not a stack is detail, not a stack.
    info.details ??= info.stack;
    delete info.stack;
  }
  if (info.message === undefined) info.message = '';
  return info;
});

/** Adds the request id and principal fields of the current request, if any. */
export const requestContextFields = format((info: Info) => {
  const ctx = RequestContext.current();
  if (ctx) {
    info.requestId ??= ctx.requestId;
    if (ctx.keyId !== undefined) info.keyId ??= ctx.keyId;
    if (ctx.organizationId !== undefined) info.organizationId ??= ctx.organizationId;
    if (ctx.userId !== undefined) info.userId ??= ctx.userId;
  }
  return info;
});

/**
 * THE redaction step: every string-keyed field of the line (message, stack,
 * nested objects, Errors) goes through `redact`. It sits in the logger's own
 * format, so whatever reaches any transport has passed through it.
 */
export const redactFields = format((info: Info) => {
  const clean = redact(Object.fromEntries(Object.entries(info))) as Record<string | symbol, unknown>;
  clean[LEVEL] = info[LEVEL];
  return clean as Info;
});

/** Serialises the line as one JSON object with a stable field order. */
export const jsonLine = format((info: Info) => {
  const out: Record<string, unknown> = {};
  for (const key of LEADING_FIELDS) if (info[key] !== undefined) out[key] = info[key];
  for (const [key, value] of Object.entries(info)) if (!(key in out) && key !== 'stack') out[key] = value;
  if (info.stack !== undefined) out.stack = info.stack;
  info[MESSAGE] = JSON.stringify(out);
  return info;
});

/** Whether any transport would write a line of `level`; see jsonLogFormat. */
export type LevelWanted = (level: string) => boolean;

/**
 * The levels some transport writes, read at every line: `sinks` are the
 * logger's transports (a transport without a level of its own takes the
 * logger's, `loggerLevel`), and a transport's level may change while the
 * process runs. An unknown level counts as wanted, so winston still reports it.
 */
export function levelWanted(sinks: ReadonlyArray<{ level?: string }>, loggerLevel: string): LevelWanted {
  const rank = (level: string | undefined): number | undefined =>
    level === undefined ? undefined : LOG_LEVELS[level as keyof typeof LOG_LEVELS];
  return (level) => {
    const wanted = rank(level);
    if (wanted === undefined) return true;
    return sinks.some((sink) => (rank(sink.level) ?? rank(loggerLevel) ?? Infinity) >= wanted);
  };
}

/**
 * Drops a line no transport would write before the rest of the pipeline runs:
 * winston applies the logger's format to every line and filters by level only
 * at each transport, so a server at `warn` would otherwise build, redact and
 * serialise every info and verbose line (the tool-execution and access lines
 * of each request) only to throw them away.
 */
const dropUnwanted = format((info: Info, opts: unknown) => {
  const wanted = (opts as { wanted?: LevelWanted } | undefined)?.wanted;
  return wanted && !wanted(String(info[LEVEL] ?? info.level)) ? false : info;
});

/**
 * The whole pipeline, applied once at the logger before any transport.
 * `wanted` (levelWanted over the logger's transports) skips it for lines no
 * transport writes.
 */
export function jsonLogFormat(wanted?: LevelWanted): Logform.Format {
  return format.combine(
    dropUnwanted({ wanted }),
    format.errors({ stack: true }),
    nestFields(),
    requestContextFields(),
    format.timestamp(),
    redactFields(),
    jsonLine(),
  );
}
