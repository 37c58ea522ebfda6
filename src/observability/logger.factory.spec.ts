import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { WinstonLogger } from 'nest-winston';
import { transports } from 'winston';
import Transport from 'winston-transport';
import type { AppConfig } from '../config/config.types';
import { loadConfig } from '../config/load-config';
import { LogCapture } from './log-capture';
import { createLogger } from './logger.factory';
import { RequestContext } from './request-context';

const MESSAGE = Symbol.for('message');
const JWT =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJrZXlfMSIsIm9yZyI6Im9yZ18xIn0.c2lnbmF0dXJlLWJ5dGVzLWhlcmU';
/** Every secret in the realistic payload below; none may appear in any output. */
const SECRETS = [
  'sk-live-9f8e7d6c',
  'shpat_abcdef123456',
  'hunter2',
  'rt-0a1b2c3d',
  'dbpass42',
  'c2lnbmF0dXJlLWJ5dGVzLWhlcmU',
  'xero-client-secret-1',
];

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function realisticPayload() {
  const error = Object.assign(new Error(`upstream rejected Bearer sk-live-9f8e7d6c`), {
    response: { status: 401, headers: { 'set-cookie': ['session=hunter2'] } },
  });
  return {
    message: 'calling upstream',
    request: {
      method: 'POST',
      url: 'https://api.example.com/v1/orders?access_token=rt-0a1b2c3d',
      headers: {
        Authorization: `Bearer ${JWT}`,
        'X-Shopify-Access-Token': 'shpat_abcdef123456',
        Cookie: 'sid=hunter2',
        'content-type': 'application/json',
      },
      body: { user: 'ann', password: 'hunter2', refresh_token: 'rt-0a1b2c3d' },
    },
    databaseUrl: 'postgres://sentia:dbpass42@db.internal:5432/sentia',
    credentials: [{ service: 'xero', clientSecret: 'xero-client-secret-1' }],
    note: `retrying with token ${JWT}`,
    error,
  };
}

describe('createLogger', () => {
  let dataDir: string;
  let config: AppConfig;

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'sentia-log-'));
    config = loadConfig({
      NODE_ENV: 'test',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
      LOG_DIR: join(dataDir, 'logs'),
    });
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  function nestLoggerWith(capture: LogCapture, cfg = config) {
    const winston = createLogger(cfg, capture.stream, { stdout: false });
    return { winston, nest: new WinstonLogger(winston) };
  }

  it('writes one JSON object per line with timestamp, level, context, message and structured fields', async () => {
    const capture = new LogCapture();
    const { nest } = nestLoggerWith(capture);
    nest.log('plain message', 'OrdersService');
    nest.warn({ message: 'slow upstream', durationMs: 812, service: 'xero' }, 'XeroClient');

    const lines = await capture.lines();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toEqual({
      timestamp: expect.stringMatching(ISO),
      level: 'info',
      context: 'OrdersService',
      message: 'plain message',
    });
    expect(Object.keys(lines[0])).toEqual(['timestamp', 'level', 'context', 'message']);
    expect(lines[1]).toMatchObject({
      level: 'warn',
      context: 'XeroClient',
      message: 'slow upstream',
      durationMs: 812,
      service: 'xero',
    });
  });

  it('filters by config.log.level', async () => {
    const capture = new LogCapture();
    const { nest } = nestLoggerWith(capture);
    nest.debug?.('too chatty', 'X');
    nest.verbose?.('also too chatty', 'X');
    nest.error('kept', undefined, 'X');
    nest.fatal?.('kept too', undefined, 'X');
    expect((await capture.lines()).map((l) => l.level)).toEqual(['error', 'fatal']);
  });

  it('does not format a line that no transport writes, and formats it once a transport wants its level', async () => {
    const capture = new LogCapture();
    const { winston, nest } = nestLoggerWith(capture);
    let formatted = 0;
    // Redaction walks every nested field of a line, so the getter runs exactly when the pipeline formats it.
    const payload = () => ({
      message: 'per-request detail',
      detail: {
        get value() {
          formatted++;
          return 'x';
        },
      },
    });
    nest.verbose?.(payload(), 'X');
    nest.debug?.(payload(), 'X');
    expect(formatted).toBe(0);

    // A transport turned more verbose while the logger runs (as the tests' log capture does).
    winston.transports[0].level = 'verbose';
    nest.verbose?.(payload(), 'X');
    nest.debug?.(payload(), 'X');
    nest.log('kept', 'X');
    const lines = await capture.lines();
    expect(lines.map((l) => [l.level, l.message, l.detail])).toEqual([
      ['verbose', 'per-request detail', { value: 'x' }],
      ['info', 'kept', undefined],
    ]);
    expect(formatted).toBeGreaterThan(0);
  });

  it('never writes a secret from a realistic payload, and keeps the useful parts', async () => {
    const capture = new LogCapture();
    const { nest } = nestLoggerWith(capture);
    nest.log(realisticPayload(), 'HttpClient');

    const text = await capture.text();
    for (const secret of SECRETS) expect(text).not.toContain(secret);
    expect(text).not.toContain('eyJ');
    const [line] = await capture.lines();
    expect(line).toMatchObject({
      context: 'HttpClient',
      message: 'calling upstream',
      request: {
        method: 'POST',
        url: 'https://api.example.com/v1/orders?access_token=[REDACTED]',
        headers: {
          Authorization: '[REDACTED]',
          'X-Shopify-Access-Token': '[REDACTED]',
          Cookie: '[REDACTED]',
          'content-type': 'application/json',
        },
        body: { user: 'ann', password: '[REDACTED]', refresh_token: '[REDACTED]' },
      },
      databaseUrl: 'postgres://sentia:[REDACTED]@db.internal:5432/sentia',
      credentials: '[REDACTED]',
      note: 'retrying with token [REDACTED_JWT]',
      error: {
        name: 'Error',
        message: 'upstream rejected Bearer [REDACTED]',
        stack: expect.stringContaining('Error: upstream rejected Bearer [REDACTED]\n    at '),
        response: { status: 401, headers: { 'set-cookie': '[REDACTED]' } },
      },
    });
  });

  it("routes Nest's Logger.error(message, stack) to one line with the stack in `stack`", async () => {
    const capture = new LogCapture();
    const { nest } = nestLoggerWith(capture);
    Logger.overrideLogger(nest);
    try {
      const error = new Error('database unreachable: postgres://app:dbpass42@db/x');
      new Logger('AuditWriter').error('audit flush failed', error.stack);
      new Logger('AuditWriter').error(error);
      Logger.error('static call without a stack', 'Bootstrap');
    } finally {
      Logger.overrideLogger(false);
    }

    const text = await capture.text();
    expect(text.trim().split('\n')).toHaveLength(3);
    expect(text).not.toContain('dbpass42');
    const [withStack, withError, staticCall] = await capture.lines();
    expect(withStack).toMatchObject({
      level: 'error',
      context: 'AuditWriter',
      message: 'audit flush failed',
    });
    expect(withStack.stack).toMatch(
      /^Error: database unreachable: postgres:\/\/app:\[REDACTED\]@db\/x\n\s+at /,
    );
    expect(Object.keys(withStack).at(-1)).toBe('stack');
    expect(withError).toMatchObject({
      context: 'AuditWriter',
      message: 'database unreachable: postgres://app:[REDACTED]@db/x',
      stack: expect.stringContaining('\n    at '),
    });
    expect(staticCall).toEqual({
      timestamp: expect.any(String),
      level: 'error',
      context: 'Bootstrap',
      message: 'static call without a stack',
    });
  });

  it('adds requestId and principal fields from the request context', async () => {
    const capture = new LogCapture();
    const { nest } = nestLoggerWith(capture);
    nest.log('outside', 'X');
    RequestContext.run({ requestId: 'req-1' }, () => {
      nest.log('before auth', 'X');
      RequestContext.setPrincipal({ keyId: 'key_1', organizationId: 'org_1' });
      nest.log('after auth', 'X');
    });

    const [outside, before, after] = await capture.lines();
    expect(outside).not.toHaveProperty('requestId');
    expect(before).toMatchObject({ requestId: 'req-1', message: 'before auth' });
    expect(before).not.toHaveProperty('keyId');
    expect(after).toMatchObject({ requestId: 'req-1', keyId: 'key_1', organizationId: 'org_1' });
    expect(Object.keys(after).slice(0, 7)).toEqual([
      'timestamp',
      'level',
      'context',
      'requestId',
      'keyId',
      'organizationId',
      'message',
    ]);
  });

  it("keeps a line's own requestId over the current request's, and its stack last after principal fields", async () => {
    const capture = new LogCapture();
    const { nest } = nestLoggerWith(capture);
    RequestContext.run({ requestId: 'req-1' }, () => {
      RequestContext.setPrincipal({ keyId: 'key_1', organizationId: 'org_1', userId: 'user_1' });
      nest.log({ message: 'about an earlier request', requestId: 'req-0' }, 'X');
      nest.error('failed', new Error('boom').stack, 'X');
    });
    const [explicit, failed] = await capture.lines();
    expect(explicit).toMatchObject({ requestId: 'req-0', keyId: 'key_1', userId: 'user_1' });
    expect(failed).toMatchObject({ requestId: 'req-1', userId: 'user_1' });
    expect(Object.keys(failed).at(-1)).toBe('stack');
  });

  it('moves a one-line "trace" that is not a stack to `details`', async () => {
    const capture = new LogCapture();
    const { nest } = nestLoggerWith(capture);
    nest.error('upstream refused', 'HTTP 503 from api.xero.com', 'XeroClient');
    const [line] = await capture.lines();
    expect(line).toMatchObject({ message: 'upstream refused', details: 'HTTP 503 from api.xero.com' });
    expect(line).not.toHaveProperty('stack');
  });

  it('keeps messages with printf-like tokens verbatim, with their context', async () => {
    const capture = new LogCapture();
    const { nest } = nestLoggerWith(capture);
    nest.log('quota at 100%s', 'Quota');
    expect(await capture.lines()).toEqual([
      expect.objectContaining({ message: 'quota at 100%s', context: 'Quota' }),
    ]);
  });

  it('redacts before every transport, including injected winston transports', async () => {
    const seen: string[] = [];
    // Any winston transport (a Console subclass here, so nothing reaches the real console).
    class Collect extends transports.Console {
      override log(info: Record<symbol, string>, next: () => void): void {
        seen.push(info[MESSAGE]);
        next();
      }
    }
    const capture = new LogCapture();
    const winston = createLogger(config, [capture.stream, new Collect()], { stdout: false });
    winston.info('login', { password: 'hunter2', headers: { authorization: 'Bearer sk-live-9f8e7d6c' } });

    await capture.text();
    expect(seen).toHaveLength(1);
    expect(JSON.parse(seen[0])).toMatchObject({
      password: '[REDACTED]',
      headers: { authorization: '[REDACTED]' },
    });
    expect(seen[0]).not.toMatch(/hunter2|sk-live/);
  });

  it('writes rotating error.log and combined.log when config.log.files is on', async () => {
    const logDir = join(dataDir, 'files');
    const cfg: AppConfig = { ...config, log: { ...config.log, files: true, dir: logDir } };
    const capture = new LogCapture();
    const winston = createLogger(cfg, capture.stream, { stdout: false });
    const files = winston.transports.filter((t) => 'filename' in t) as unknown as Array<{
      level?: string;
      maxsize: number;
      maxFiles: number;
    }>;
    expect(files.map((f) => [f.level, f.maxsize, f.maxFiles])).toEqual([
      ['error', 5 * 1024 * 1024, 5],
      [undefined, 5 * 1024 * 1024, 5],
    ]);

    winston.info('an info line', { token: 'sk-live-9f8e7d6c' });
    winston.error('an error line');
    await new Promise<void>((resolve) => {
      winston.on('finish', () => resolve());
      winston.end();
    });
    await waitFor(() => readFileSync(join(logDir, 'combined.log'), 'utf8').trim().split('\n').length === 2);

    const combined = readFileSync(join(logDir, 'combined.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const errors = readFileSync(join(logDir, 'error.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(combined.map((l) => l.message)).toEqual(['an info line', 'an error line']);
    expect(combined[0].token).toBe('[REDACTED]');
    expect(errors.map((l) => l.message)).toEqual(['an error line']);
    // Readable by the server's own user only.
    for (const file of ['combined.log', 'error.log'])
      expect([file, statSync(join(logDir, file)).mode & 0o777]).toEqual([file, 0o600]);
  });

  it('reports a sink that fails once on stderr and keeps logging to the others, instead of ending the process', async () => {
    const failing = new (class extends Transport {
      override log(_info: unknown, next: () => void): void {
        this.emit('error', new Error('EACCES: permission denied, open /var/log/sentia/combined.log'));
        next();
      }
    })();
    const capture = new LogCapture();
    const winston = createLogger(config, [capture.stream, failing], { stdout: false });
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      winston.info('first');
      winston.info('second');
      await new Promise((r) => setImmediate(r));
      const reports = stderr.mock.calls
        .map(([chunk]) => String(chunk))
        .filter((l) => l.includes('A log sink failed'));
      expect(reports).toHaveLength(1);
      expect(JSON.parse(reports[0])).toMatchObject({
        level: 'error',
        context: 'Logger',
        message:
          'A log sink failed (EACCES: permission denied, open /var/log/sentia/combined.log); the other sinks carry on',
      });
      expect((await capture.lines()).map((l) => l.message)).toEqual(['first', 'second']);
    } finally {
      stderr.mockRestore();
    }
  });

  it('names LOG_DIR when it cannot be created', () => {
    const cfg = { ...config, log: { ...config.log, files: true, dir: '/sys/sentia-cannot-be-here' } };
    expect(() => createLogger(cfg, [], { stdout: false })).toThrow(
      /^LOG_DIR: cannot create \/sys\/sentia-cannot-be-here \((EPERM|EACCES|ENOENT|EROFS)\)$/,
    );
  });
});

/** Polls until `check` passes (files are flushed asynchronously); fails after a generous bound. */
async function waitFor(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      if (check()) return;
    } catch {
      // not written yet
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('condition not met');
}
