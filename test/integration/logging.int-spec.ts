/**
 * The observability module in a real (small) Nest app: nest-winston wiring via
 * useLogger, request ids on every route, and log lines written during a
 * request carrying that request's id, with secrets redacted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Controller, Get, INestApplication, Injectable, Logger, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { WINSTON_MODULE_NEST_PROVIDER } from 'nest-winston';
import request from 'supertest';
import { ConfigModule } from '../../src/config/config.module';
import { loadConfig } from '../../src/config/load-config';
import { LogCapture } from '../../src/observability/log-capture';
import { ObservabilityModule } from '../../src/observability/observability.module';
import { RequestContext } from '../../src/observability/request-context';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

@Injectable()
class OrdersService {
  private readonly logger = new Logger(OrdersService.name);

  async list(): Promise<string[]> {
    await new Promise((resolve) => setTimeout(resolve, 5));
    this.logger.log({
      message: 'listing orders',
      upstream: { headers: { authorization: 'Bearer sk-live-123456' } },
    });
    return ['o1'];
  }
}

@Controller('orders')
class OrdersController {
  private readonly logger = new Logger(OrdersController.name);

  constructor(private readonly orders: OrdersService) {}

  @Get()
  async list(): Promise<{ orders: string[] }> {
    this.logger.log('list requested');
    RequestContext.setPrincipal({ keyId: 'key_1', organizationId: 'org_1' });
    return { orders: await this.orders.list() };
  }

  @Get('boom')
  boom(): never {
    throw new Error('connect failed: postgres://app:dbpass42@db:5432/x');
  }
}

@Module({ controllers: [OrdersController], providers: [OrdersService] })
class OrdersModule {}

describe('logging in a Nest app', () => {
  let dataDir: string;
  let app: INestApplication;
  const capture = new LogCapture();

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'sentia-logging-'));
    const config = loadConfig({ NODE_ENV: 'test', DATA_DIR: dataDir, LOG_LEVEL: 'info' });
    @Module({
      imports: [
        ConfigModule.forRoot(config),
        ObservabilityModule.forRoot({ sinks: [capture.stream], stdout: false }),
        OrdersModule,
      ],
    })
    class TestAppModule {}
    app = await NestFactory.create(TestAppModule, { bufferLogs: true, abortOnError: false });
    app.useLogger(app.get(WINSTON_MODULE_NEST_PROVIDER));
    // As main.ts does: buffered boot logs are flushed through winston once the server listens.
    await app.listen(0, '127.0.0.1');
  });

  afterAll(async () => {
    await app?.close();
    Logger.overrideLogger(false);
    rmSync(dataDir, { recursive: true, force: true });
  });

  let bootLines: Array<Record<string, unknown>> = [];
  beforeEach(async () => {
    if (bootLines.length === 0) bootLines = await capture.lines();
    capture.clear();
  });

  it("routes Nest's own logs (buffered during boot) and plain Nest Loggers through winston as JSON", async () => {
    expect(bootLines).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          level: 'info',
          context: 'RoutesResolver',
          message: expect.stringContaining('OrdersController'),
        }),
      ]),
    );
    new Logger('Bootstrap').log('ready');
    expect(await capture.lines()).toEqual([
      expect.objectContaining({ level: 'info', context: 'Bootstrap', message: 'ready' }),
    ]);
  });

  it('honours a safe X-Request-Id and stamps every line of the request with it', async () => {
    const res = await request(app.getHttpServer())
      .get('/orders')
      .set('X-Request-Id', 'client-req-42')
      .expect(200);
    expect(res.headers['x-request-id']).toBe('client-req-42');
    expect(res.body).toEqual({ orders: ['o1'] });

    const lines = await capture.lines();
    const ours = lines.filter((l) => l.context === 'OrdersController' || l.context === 'OrdersService');
    expect(ours).toEqual([
      expect.objectContaining({
        context: 'OrdersController',
        requestId: 'client-req-42',
        message: 'list requested',
      }),
      expect.objectContaining({
        context: 'OrdersService',
        requestId: 'client-req-42',
        keyId: 'key_1',
        organizationId: 'org_1',
        message: 'listing orders',
        upstream: { headers: { authorization: '[REDACTED]' } },
      }),
    ]);
    expect(await capture.text()).not.toContain('sk-live-123456');
  });

  it('generates an id when the incoming one is unsafe, on any route including unknown ones', async () => {
    const bad = await request(app.getHttpServer()).get('/orders').set('X-Request-Id', 'a b\tc').expect(200);
    expect(bad.headers['x-request-id']).toMatch(UUID);
    const lines = await capture.lines();
    expect(lines.find((l) => l.message === 'list requested')?.requestId).toBe(bad.headers['x-request-id']);

    const missing = await request(app.getHttpServer()).get('/no-such-route').expect(404);
    expect(missing.headers['x-request-id']).toMatch(UUID);
  });

  it('logs an unhandled error once, with its stack in `stack`, the request id, and no secret', async () => {
    const res = await request(app.getHttpServer())
      .get('/orders/boom')
      .set('X-Request-Id', 'boom-1')
      .expect(500);
    expect(JSON.stringify(res.body)).not.toContain('dbpass42');

    const text = await capture.text();
    expect(text).not.toContain('dbpass42');
    const errors = (await capture.lines()).filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      context: 'ExceptionsHandler',
      requestId: 'boom-1',
      message: 'connect failed: postgres://app:[REDACTED]@db:5432/x',
      stack: expect.stringMatching(
        /^Error: connect failed: postgres:\/\/app:\[REDACTED\]@db:5432\/x\n\s+at /,
      ),
    });
    expect(errors[0].message).not.toContain('\n');
  });
});
