/**
 * Health probes in both shapes: liveness always 200 while serving; readiness
 * checks the database and (cluster shape) Redis, and names the failing check.
 */
import { Client } from 'pg';
import {
  describeWithPostgres,
  describeWithRedis,
  TEST_DATABASE_URL,
  TEST_REDIS_URL,
  uniqueName,
} from '../support/backends';
import { WINSTON_MODULE_PROVIDER } from 'nest-winston';
import { Logger as WinstonLogger, transports } from 'winston';
import { LogCapture } from '../../src/observability/log-capture';
import { startApp, StartedApp } from '../support/start-app';

type Checks = Record<string, { status: string; kind?: string }>;
const health = async (res: Response) => (await res.json()) as { status: string; info: Checks; error: Checks };

describe('health (embedded shape: SQLite + memory store)', () => {
  let started: StartedApp;
  beforeAll(async () => (started = await startApp()));
  afterAll(async () => started?.close());

  it('GET /health is 200 without a key', async () => {
    const res = await fetch(`${started.url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('GET /health/ready reports the database and the in-memory store up', async () => {
    const res = await fetch(`${started.url}/health/ready`);
    expect(res.status).toBe(200);
    const body = await health(res);
    expect(body.info.database).toMatchObject({ status: 'up' });
    expect(body.info.store).toMatchObject({ status: 'up', kind: 'memory' });
  });
});

describeWithPostgres('health (cluster shape: PostgreSQL + Redis)', () => {
  const schema = uniqueName('health');
  afterAll(async () => {
    const pg = new Client({ connectionString: TEST_DATABASE_URL });
    await pg.connect();
    await pg.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pg.end();
  });

  describeWithRedis('with Redis', () => {
    it('is ready when both answer', async () => {
      const started = await startApp({
        DATABASE_URL: TEST_DATABASE_URL,
        DATABASE_SCHEMA: schema,
        REDIS_URL: TEST_REDIS_URL,
      });
      try {
        const res = await fetch(`${started.url}/health/ready`);
        expect(res.status).toBe(200);
        const body = await health(res);
        expect(body.info.database.status).toBe('up');
        expect(body.info.store).toEqual({ status: 'up', kind: 'redis' });
      } finally {
        await started.close();
      }
    });
  });

  it('answers 503 naming the store (kind redis) when Redis is unreachable, and keeps serving', async () => {
    const started = await startApp({
      DATABASE_URL: TEST_DATABASE_URL,
      DATABASE_SCHEMA: schema,
      REDIS_URL: 'redis://127.0.0.1:1',
      LOG_LEVEL: 'warn',
    });
    const logs = new LogCapture();
    started.app
      .get<WinstonLogger>(WINSTON_MODULE_PROVIDER)
      .add(new transports.Stream({ stream: logs.stream }));
    try {
      const res = await fetch(`${started.url}/health/ready`);
      expect(res.status).toBe(503);
      const body = await health(res);
      expect(body.error.store).toEqual({ status: 'down', kind: 'redis', message: 'unreachable' });
      expect(body.info.database.status).toBe('up');
      expect((await fetch(`${started.url}/health`)).status).toBe(200);
      // Probes through an outage: the same answer is warned of once a minute, not at every probe.
      for (let i = 0; i < 2; i++) expect((await fetch(`${started.url}/health/ready`)).status).toBe(503);
      // A probe's 503 is a warning naming the failing store, with a context; not an error line.
      const lines = (await logs.lines()).filter((l) => String(l.message).includes('Health Check has failed'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({
        level: 'warn',
        context: 'Health',
        message: expect.stringContaining('store'),
      });
    } finally {
      await started.close();
    }
  });
});
