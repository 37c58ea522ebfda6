import { BadGatewayException, Controller, Get, INestApplication, Res } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import type { Response } from 'express';
import { DatabaseError } from 'pg';
import request from 'supertest';
import { QueryFailedError } from 'typeorm';
import { DatabaseUnavailableFilter } from './database-unavailable.filter';

/** A statement PostgreSQL cancelled at statement_timeout, as TypeORM hands it on. */
function statementTimeout(): QueryFailedError {
  const driverError = new DatabaseError('canceling statement due to statement timeout', 0, 'error');
  driverError.code = '57014';
  return new QueryFailedError('SELECT secret FROM api_keys', [], driverError);
}

@Controller()
class FailingController {
  @Get('timeout')
  timeout(): never {
    throw statementTimeout();
  }

  @Get('bug')
  bug(): never {
    throw new TypeError('Cannot read properties of undefined');
  }

  /** An upstream's socket error carried in an HTTP exception's message: the upstream's, not the database's. */
  @Get('upstream')
  upstream(): never {
    throw new BadGatewayException('Connection terminated unexpectedly');
  }

  /** Fails after the answer began: too late for a status or a header. */
  @Get('streamed')
  async streamed(@Res() res: Response): Promise<void> {
    res.status(200).setHeader('content-type', 'text/plain');
    res.write('partial');
    await new Promise((r) => setImmediate(r));
    throw statementTimeout();
  }
}

describe('DatabaseUnavailableFilter', () => {
  let app: INestApplication;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      controllers: [FailingController],
      providers: [{ provide: APP_FILTER, useClass: DatabaseUnavailableFilter }],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });
  afterAll(() => app.close());

  it('answers a statement the database cancelled with 503 database_unavailable and Retry-After, naming nothing internal', async () => {
    const res = await request(app.getHttpServer()).get('/timeout');
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.body).toEqual({
      statusCode: 503,
      error: 'Service Unavailable',
      code: 'database_unavailable',
      message: 'The database is unavailable or did not answer in time; retry shortly',
    });
    expect(res.text).not.toMatch(/api_keys|canceling|SELECT|57014/);
  });

  it('leaves any other error to the default handling: a bug is a 500 without Retry-After', async () => {
    const res = await request(app.getHttpServer()).get('/bug');
    expect(res.status).toBe(500);
    expect(res.headers['retry-after']).toBeUndefined();
    expect(res.body).toEqual({ statusCode: 500, message: 'Internal server error' });
  });

  it("keeps an HTTP exception as it is, even when its message reads like a lost database connection's", async () => {
    const res = await request(app.getHttpServer()).get('/upstream');
    expect(res.status).toBe(502);
    expect(res.headers['retry-after']).toBeUndefined();
    expect(res.body).toMatchObject({ statusCode: 502, message: 'Connection terminated unexpectedly' });
  });

  it('ends an answer already under way instead of failing on its headers', async () => {
    const res = await request(app.getHttpServer()).get('/streamed');
    expect(res.status).toBe(200);
    expect(res.headers['retry-after']).toBeUndefined();
    expect(res.text).toBe('partial');
  });
});
