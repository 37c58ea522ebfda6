/**
 * Log shipping to Elasticsearch, against a local stand-in for the cluster's
 * `_bulk` endpoint (a node:http server that parses NDJSON and answers as
 * Elasticsearch does). Proves: lines arrive as bulk documents in daily
 * indices with the logger's fields; redaction covers this transport; retries
 * and backoff deliver every line once; an unreachable cluster never breaks
 * stdout, throws or leaves an unhandled rejection; shutdown flushes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, IncomingMessage, Server } from 'node:http';
import { createServer as createTcpServer, Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INestApplication, Logger, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { WINSTON_MODULE_NEST_PROVIDER, WINSTON_MODULE_PROVIDER, WinstonLogger } from 'nest-winston';
import type { Logger as Winston } from 'winston';
import { ConfigModule } from '../../src/config/config.module';
import { loadConfig } from '../../src/config/load-config';
import {
  ElasticsearchTransport,
  ElasticsearchTransportOptions,
} from '../../src/observability/elasticsearch.transport';
import { LogCapture } from '../../src/observability/log-capture';
import { createLogger } from '../../src/observability/logger.factory';
import { ObservabilityModule } from '../../src/observability/observability.module';
import { RequestContext } from '../../src/observability/request-context';

type Doc = Record<string, unknown>;
type Reply = { status: number; body?: unknown } | ((docs: Doc[]) => { status: number; body?: unknown });
const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJrZXlfMSJ9.c2lnLWJ5dGVzLW9mLWp3dA';
const INDEX = /^sentia-mcp-logs-\d{4}\.\d{2}\.\d{2}$/;

/** Answers `POST /_bulk` like Elasticsearch 8; `replies` are used first, in order, then 200 with every item created. */
class FakeElasticsearch {
  readonly bulkBodies: string[] = [];
  readonly docs: Array<{ index: string; doc: Doc }> = [];
  readonly authHeaders: Array<string | undefined> = [];
  readonly contentTypes: Array<string | undefined> = [];
  readonly replies: Reply[] = [];
  private server?: Server;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      void readBody(req).then((body) => {
        res.setHeader('x-elastic-product', 'Elasticsearch');
        res.setHeader('content-type', 'application/json');
        if (req.method !== 'POST' || req.url !== '/_bulk') {
          res.statusCode = req.method === 'GET' && req.url === '/' ? 200 : 404;
          return res.end(JSON.stringify({ version: { number: '8.15.0' }, tagline: 'You Know, for Search' }));
        }
        const { status, body: answer } = this.answer(req, body);
        res.statusCode = status;
        res.end(JSON.stringify(answer));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }

  private answer(req: IncomingMessage, body: string): { status: number; body?: unknown } {
    this.bulkBodies.push(body);
    this.authHeaders.push(req.headers.authorization);
    this.contentTypes.push(req.headers['content-type']);
    const lines = body.split('\n');
    expect(lines.pop()).toBe(''); // NDJSON ends with a newline
    const batch: Array<{ index: string; doc: Doc }> = [];
    for (let i = 0; i < lines.length; i += 2) {
      const action = JSON.parse(lines[i]) as Record<string, Record<string, unknown>>;
      expect(Object.keys(action)).toEqual(['index']); // ES 9 rejects extra keys on the action line
      expect(Object.keys(action.index)).toEqual(['_index']);
      batch.push({ index: action.index._index as string, doc: JSON.parse(lines[i + 1]) as Doc });
    }
    const reply = this.replies.shift() ?? { status: 200 };
    const result = typeof reply === 'function' ? reply(batch.map((b) => b.doc)) : reply;
    if (result.status === 200 && result.body === undefined) this.docs.push(...batch);
    const created = batch.map((b, i) => ({
      index: { _index: b.index, _id: `id${i}`, status: 201, result: 'created' },
    }));
    return { status: result.status, body: result.body ?? { took: 1, errors: false, items: created } };
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => resolve(body));
  });
}

async function eventually(check: () => boolean, what: string, timeoutMs = 4_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('Elasticsearch log shipping', () => {
  let dataDir: string;
  const es = new FakeElasticsearch();
  let esUrl: string;
  const loggers: Winston[] = [];
  const warnings: string[] = [];
  const warn = (message: string) => warnings.push(message);

  function configWith(url?: string) {
    const env = { NODE_ENV: 'test', DATA_DIR: dataDir, LOG_LEVEL: 'info' };
    return loadConfig(url ? { ...env, ELASTICSEARCH_URL: url } : env);
  }

  /** A logger with the application's format, a capture sink for stdout, and a fast transport to `url`. */
  function shipTo(url: string, options: Partial<ElasticsearchTransportOptions> = {}) {
    const capture = new LogCapture();
    const transport = new ElasticsearchTransport({
      url,
      flushIntervalMs: 20,
      backoffBaseMs: 10,
      warn,
      ...options,
    });
    const winston = createLogger(configWith(), [capture.stream, transport], { stdout: false });
    loggers.push(winston);
    return { capture, transport, winston, nest: new WinstonLogger(winston) };
  }

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'sentia-es-'));
    esUrl = await es.start();
  });
  beforeEach(() => {
    es.bulkBodies.length =
      es.docs.length =
      es.authHeaders.length =
      es.contentTypes.length =
      es.replies.length =
        0;
    warnings.length = 0;
  });
  afterAll(async () => {
    for (const logger of loggers) logger.close();
    await es.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('ships each line, as stdout gets it, to a daily index when ELASTICSEARCH_URL is set', async () => {
    const capture = new LogCapture();
    const winston = createLogger(configWith(esUrl), capture.stream, { stdout: false });
    loggers.push(winston);
    const nest = new WinstonLogger(winston);
    RequestContext.run({ requestId: 'req-es-1' }, () => {
      nest.log('orders listed', 'OrdersService');
      nest.warn({ message: 'slow upstream', durationMs: 812 }, 'XeroClient');
    });
    const transport = winston.transports.find((t) => t instanceof ElasticsearchTransport)!;
    expect(transport).toBeDefined();
    await transport.flush();

    expect(es.docs).toHaveLength(2);
    expect(es.contentTypes[0]).toBe('application/x-ndjson');
    const stdout = await capture.lines();
    es.docs.forEach(({ index, doc }, i) => {
      expect(index).toMatch(INDEX);
      expect(index).toBe(`sentia-mcp-logs-${(doc.timestamp as string).slice(0, 10).replace(/-/g, '.')}`);
      expect(doc).toEqual({ '@timestamp': doc.timestamp, ...stdout[i] });
    });
    expect(es.docs[0].doc).toMatchObject({
      timestamp: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
      level: 'info',
      message: 'orders listed',
      context: 'OrdersService',
      requestId: 'req-es-1',
    });
    expect(es.docs[1].doc).toMatchObject({
      level: 'warn',
      context: 'XeroClient',
      durationMs: 812,
      requestId: 'req-es-1',
    });
  });

  it('redacts bearer tokens, passwords and JWTs before they reach Elasticsearch', async () => {
    const { nest, transport } = shipTo(esUrl);
    nest.log(`calling upstream with Authorization: Bearer sk-live-9f8e7d6c and ${JWT}`, 'XeroClient');
    nest.error(
      {
        message: 'login failed',
        body: { user: 'ann', password: 'hunter2' },
        dsn: 'postgres://app:dbpass42@db/x',
      },
      undefined,
      'AuthService',
    );
    await transport.flush();

    expect(es.docs).toHaveLength(2);
    const wire = es.bulkBodies.join('');
    for (const secret of ['sk-live-9f8e7d6c', 'hunter2', 'dbpass42', JWT, JWT.split('.')[2]]) {
      expect(wire).not.toContain(secret);
    }
    expect(es.docs[0].doc.message).toBe(
      'calling upstream with Authorization: Bearer [REDACTED] and [REDACTED_JWT]',
    );
    expect(es.docs[1].doc).toMatchObject({
      body: { user: 'ann', password: '[REDACTED]' },
      dsn: '[REDACTED]',
    });
  });

  it('batches lines on its own timer, each line once and in order', async () => {
    const { nest, transport } = shipTo(esUrl, { batchSize: 10 });
    for (let i = 0; i < 25; i++) nest.log(`line ${i}`, 'Batch');
    await eventually(() => transport.stats().shipped >= 25, '25 lines shipped');
    expect(es.docs.map((d) => d.doc.message)).toEqual(Array.from({ length: 25 }, (_, i) => `line ${i}`));
    expect(es.bulkBodies.length).toBeGreaterThanOrEqual(3);
    for (const body of es.bulkBodies) expect(body.trim().split('\n').length).toBeLessThanOrEqual(20);
    expect(transport.stats()).toMatchObject({ shipped: 25, dropped: 0, buffered: 0, failing: false });
  });

  it('retries with backoff through 5xx answers, warning once when it fails and once when it recovers', async () => {
    es.replies.push({ status: 503, body: { error: 'unavailable' } }, { status: 502, body: {} });
    const { nest, transport } = shipTo(esUrl);
    for (let i = 0; i < 5; i++) nest.log(`retry ${i}`, 'Retry');
    await eventually(() => transport.stats().shipped >= 5, 'the lines shipped after the failures');
    expect(es.bulkBodies).toHaveLength(3); // two failures, then the same batch once more
    expect(es.docs.map((d) => d.doc.message)).toEqual([
      'retry 0',
      'retry 1',
      'retry 2',
      'retry 3',
      'retry 4',
    ]);
    expect(warnings).toEqual([
      expect.stringContaining('is failing (HTTP 503)'),
      expect.stringContaining('recovered; 0 line(s) dropped during the outage'),
    ]);
    expect(transport.stats()).toMatchObject({ shipped: 5, dropped: 0, failing: false });
  });

  it('resends items Elasticsearch throttled and counts the ones it refused', async () => {
    es.replies.push((docs) => ({
      status: 200,
      body: {
        took: 1,
        errors: true,
        items: docs.map((_, i) => ({
          index:
            i === 0
              ? { status: 429, error: { type: 'es_rejected_execution_exception' } }
              : i === 1
                ? { status: 400, error: { type: 'document_parsing_exception', reason: 'secret-free' } }
                : { status: 201, result: 'created' },
        })),
      },
    }));
    const { nest, transport } = shipTo(esUrl);
    for (const m of ['throttled', 'refused', 'fine']) nest.log(m, 'Items');
    await eventually(() => transport.stats().shipped >= 2, 'the throttled line resent');
    expect(es.docs.map((d) => d.doc.message)).toEqual(['throttled']);
    expect(transport.stats()).toMatchObject({ shipped: 2, rejected: 1, dropped: 0, buffered: 0 });
    expect(warnings).toEqual([expect.stringContaining('refused 1 log line(s) (document_parsing_exception)')]);
  });

  it('sends credentials from the URL as Basic auth, never in the URL or a message', async () => {
    const withAuth = esUrl.replace('http://', 'http://elastic:s3cret%40pw@');
    const { nest, transport } = shipTo(withAuth);
    nest.log('authenticated', 'Auth');
    await transport.flush();
    expect(es.authHeaders).toEqual([`Basic ${Buffer.from('elastic:s3cret@pw').toString('base64')}`]);
    expect(es.docs.map((d) => d.doc.message)).toEqual(['authenticated']);
  });

  it('keeps logging to stdout, bounded and without crashing, when Elasticsearch is unreachable', async () => {
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    // winston's Console transport writes to console._stdout: process.stdout, or jest's own stream
    // when it buffers console output. Watch whichever it is.
    const consoleStdout = (console as unknown as { _stdout?: NodeJS.WriteStream })._stdout;
    const streams = [...new Set([process.stdout, consoleStdout ?? process.stdout])];
    const spies = streams.map((stream) =>
      // Silences this test's (intentionally noisy) console output.
      jest.spyOn(stream, 'write').mockImplementation(() => true),
    );
    try {
      const port = await unusedPort();
      const capture = new LogCapture();
      const transport = new ElasticsearchTransport({
        url: `http://elastic:outage-pw-42@127.0.0.1:${port}`,
        flushIntervalMs: 10,
        backoffBaseMs: 5,
        backoffMaxMs: 20,
        maxAttempts: 2,
        maxBufferedLines: 5,
        batchSize: 2,
        warn,
      });
      const winston = createLogger(configWith(), [capture.stream, transport], { stdout: true });
      loggers.push(winston);
      const nest = new WinstonLogger(winston);

      for (let i = 0; i < 20; i++) nest.log(`during outage ${i}`, 'Outage');
      expect(transport.stats().buffered).toBeLessThanOrEqual(5 + 2); // the buffer plus the batch in flight
      await eventually(
        () => transport.stats().failing && transport.stats().buffered === 0,
        'the buffer to be given up',
      );
      for (let i = 20; i < 30; i++) nest.log(`during outage ${i}`, 'Outage');

      // Every other transport keeps every line (stdout is also watched, but under jest's
      // buffered console in parallel runs it is not reliably observable, so it is not asserted).
      expect((await capture.lines()).map((l) => l.message)).toHaveLength(30);
      const stats = await transport.flush(200);
      expect(stats.failing).toBe(true);
      expect(stats.shipped).toBe(0);
      expect(stats.dropped).toBeGreaterThanOrEqual(20); // everything logged before the buffer emptied is gone
      expect(stats.dropped + stats.buffered).toBe(30);
      expect(warnings).toEqual([
        expect.stringMatching(/to http:\/\/127\.0\.0\.1:\d+ is failing \(ECONNREFUSED\)/),
      ]);
      expect(warnings.join('\n')).not.toContain('outage-pw-42');
      expect(rejections).toEqual([]);
    } finally {
      for (const spy of spies) spy.mockRestore();
      process.off('unhandledRejection', onRejection);
    }
  });

  it('gives up a flush at its deadline when Elasticsearch accepts connections but never answers', async () => {
    const sockets: Socket[] = [];
    const silent = createTcpServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = silent.address() as AddressInfo;
      const { nest, transport } = shipTo(`http://127.0.0.1:${port}`, { requestTimeoutMs: 60_000 });
      nest.log('into the void', 'Hang');
      // Without the deadline this would wait for the 60 s request timeout (and jest's 5 s would fail it).
      expect(await transport.flush(100)).toMatchObject({ shipped: 0, buffered: 1 });
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  describe('in a Nest app', () => {
    let app: INestApplication;

    afterEach(async () => {
      await app?.close();
      Logger.overrideLogger(false);
    });

    it('sends what is still buffered when the app shuts down, then stops', async () => {
      @Module({
        imports: [ConfigModule.forRoot(configWith(esUrl)), ObservabilityModule.forRoot({ stdout: false })],
      })
      class TestAppModule {}
      app = await NestFactory.create(TestAppModule, { bufferLogs: true, abortOnError: false });
      app.useLogger(app.get(WINSTON_MODULE_NEST_PROVIDER));
      await app.init();
      app.flushLogs();
      const winston = app.get<Winston>(WINSTON_MODULE_PROVIDER);
      const transport = winston.transports.find((t) => t instanceof ElasticsearchTransport)!;
      await transport.flush(); // Nest's boot lines
      es.docs.length = 0;

      new Logger('Bootstrap').log('about to stop');
      expect(transport.stats().buffered).toBe(1); // the 1 s timer has not sent it
      await app.close();

      expect(es.docs.map((d) => d.doc)).toEqual([
        expect.objectContaining({ context: 'Bootstrap', message: 'about to stop', level: 'info' }),
      ]);
      winston.info('after shutdown', { context: 'Late' });
      expect(transport.stats()).toMatchObject({ buffered: 0, dropped: 1 });
    });
  });
});
