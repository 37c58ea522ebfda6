import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { LoggerService } from '@nestjs/common';
import { WinstonModule } from 'nest-winston';
import { createLogger as createWinstonLogger, transports } from 'winston';
import type { Logger, LoggerOptions } from 'winston';
import type TransportStream from 'winston-transport';
import type { AppConfig } from '../config/config.types';
import { ElasticsearchTransport } from './elasticsearch.transport';
import { redactString } from './redact';
import { LOG_LEVELS, jsonLogFormat, levelWanted } from './log-format';

/** Somewhere log lines can go besides stdout: a winston transport or any Writable (one JSON line per write). */
export type LogSink = TransportStream | Writable;

export interface LoggerOutputOptions {
  /** Write to stdout (the default). Tests turn it off and capture a sink instead. */
  stdout?: boolean;
}

const ROTATE_BYTES = 5 * 1024 * 1024;
const ROTATE_FILES = 5;

/** winston transports have a `log` method; plain Writables get wrapped in a Stream transport. */
function toTransport(sink: LogSink): TransportStream {
  return typeof (sink as Partial<TransportStream>).log === 'function'
    ? (sink as TransportStream)
    : new transports.Stream({ stream: sink });
}

/**
 * The winston options for the application's logger: JSON lines on stdout,
 * optional size-rotated files (`error.log`, `combined.log` in config.log.dir),
 * Elasticsearch (`sentia-mcp-logs-YYYY.MM.DD`) when config.log.elasticsearchUrl
 * is set, and any extra sinks. The format (request id, timestamp, redaction,
 * serialisation) belongs to the logger, so it runs once before every transport.
 */
export function createLoggerOptions(
  config: AppConfig,
  extra: LogSink | LogSink[] = [],
  output: LoggerOutputOptions = {},
): LoggerOptions {
  const sinks: TransportStream[] = [];
  if (output.stdout ?? true) sinks.push(new transports.Console({ stderrLevels: [], consoleWarnLevels: [] }));
  if (config.log.files) {
    try {
      mkdirSync(config.log.dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new Error(
        `LOG_DIR: cannot create ${config.log.dir} (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    // Owner-only, like the SQLite file: redacted as they are, logs name keys, users and addresses.
    const rotation = {
      maxsize: ROTATE_BYTES,
      maxFiles: ROTATE_FILES,
      tailable: true,
      options: { flags: 'a', mode: 0o600 },
    };
    sinks.push(
      new transports.File({ filename: join(config.log.dir, 'error.log'), level: 'error', ...rotation }),
    );
    sinks.push(new transports.File({ filename: join(config.log.dir, 'combined.log'), ...rotation }));
  }
  if (config.log.elasticsearchUrl)
    sinks.push(new ElasticsearchTransport({ url: config.log.elasticsearchUrl }));
  sinks.push(...(Array.isArray(extra) ? extra : [extra]).map(toTransport));
  return {
    levels: { ...LOG_LEVELS },
    level: config.log.level,
    format: jsonLogFormat(levelWanted(sinks, config.log.level)),
    transports: sinks,
    exitOnError: false,
  };
}

/** A winston logger for `config`; see createLoggerOptions. */
export function createLogger(
  config: AppConfig,
  extra: LogSink | LogSink[] = [],
  output: LoggerOutputOptions = {},
): Logger {
  return reportSinkFailures(createWinstonLogger(createLoggerOptions(config, extra, output)));
}

/**
 * Reports a sink that fails after the boot (a log file that cannot be
 * written, a full disk) once, on stderr; winston would otherwise re-emit its
 * error with no listener and end the process. The other sinks carry on.
 */
export function reportSinkFailures(logger: Logger): Logger {
  const failed = new WeakSet<object>();
  logger.on('error', (err: Error, sink?: object) => {
    const key = sink ?? logger;
    if (failed.has(key)) return;
    failed.add(key);
    const line = {
      timestamp: new Date().toISOString(),
      level: 'error',
      context: 'Logger',
      message: `A log sink failed (${redactString(err?.message ?? String(err))}); the other sinks carry on`,
    };
    process.stderr.write(`${JSON.stringify(line)}\n`);
  });
  return logger;
}

/**
 * The logger Nest uses while the application is being built, before the
 * app's own logger takes over, and for a boot that fails before it does:
 * the same JSON lines and redaction on stdout, no files or Elasticsearch
 * (the app's logger owns those; two writers must not rotate one file).
 */
export function createBootstrapLogger(config: AppConfig): LoggerService {
  const stdoutOnly = { ...config, log: { ...config.log, files: false, elasticsearchUrl: undefined } };
  return withQuietFrameworkBoot(WinstonModule.createLogger(createLoggerOptions(stdoutOnly)));
}

/** Nest's per-module and per-route lines at boot (about 50 of them): detail, not news. */
const FRAMEWORK_BOOT_CONTEXTS = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer']);

/**
 * `inner`, with Nest's boot inventory (modules initialised, routes mapped)
 * logged at debug instead of info: an operator's log starts with what the
 * server says about itself, and `LOG_LEVEL=debug` still shows every route.
 * Likewise the stack Nest logs when the boot fails (`ExceptionHandler`): the
 * failure itself is the one error line main.ts writes ("failed to start:
 * ..."), after the module that failed has said why.
 */
export function withQuietFrameworkBoot(inner: LoggerService): LoggerService {
  return {
    log: (message: unknown, ...rest: unknown[]) => {
      const context = rest[rest.length - 1];
      if (typeof context === 'string' && FRAMEWORK_BOOT_CONTEXTS.has(context))
        inner.debug?.(message, ...rest);
      else inner.log(message, ...rest);
    },
    error: (message: unknown, ...rest: unknown[]) => {
      if (rest[rest.length - 1] === 'ExceptionHandler') inner.debug?.(message, ...rest);
      else inner.error(message, ...rest);
    },
    warn: (message: unknown, ...rest: unknown[]) => inner.warn(message, ...rest),
    debug: (message: unknown, ...rest: unknown[]) => inner.debug?.(message, ...rest),
    verbose: (message: unknown, ...rest: unknown[]) => inner.verbose?.(message, ...rest),
    fatal: (message: unknown, ...rest: unknown[]) =>
      (inner.fatal ?? inner.error).call(inner, message, ...rest),
  };
}
