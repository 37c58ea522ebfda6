import { ServiceUnavailableException } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TerminusModule } from '@nestjs/terminus';
import { DatabaseHealthIndicator } from '../database/database.health';
import { KeyValueStore } from '../store/key-value-store';
import { StoreHealthIndicator } from '../store/store.health';
import { HealthController } from './health.controller';

describe('HealthController readiness', () => {
  afterEach(() => jest.restoreAllMocks());

  it('asks Redis at most once a second, and reports it down once the second has passed', async () => {
    let clock = 1_000_000;
    jest.spyOn(Date, 'now').mockImplementation(() => clock);
    let redisUp = true;
    let pings = 0;
    const store = {
      kind: 'redis',
      ping: async () => {
        pings++;
        if (!redisUp) throw new Error('ECONNREFUSED');
      },
    };
    const moduleRef = await Test.createTestingModule({
      imports: [TerminusModule.forRoot({ logger: false })],
      controllers: [HealthController],
      providers: [
        StoreHealthIndicator,
        { provide: KeyValueStore, useValue: store },
        {
          provide: DatabaseHealthIndicator,
          useValue: { check: async () => ({ database: { status: 'up' } }) },
        },
      ],
    }).compile();
    const controller = moduleRef.get(HealthController);

    await expect(controller.ready()).resolves.toMatchObject({
      status: 'ok',
      info: { store: { status: 'up' } },
    });
    redisUp = false;
    clock += 999;
    // Within the second: the answer already given, without asking Redis again.
    await expect(controller.ready()).resolves.toMatchObject({ status: 'ok' });
    expect(pings).toBe(1);
    clock += 1;
    const down = await controller.ready().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(down).toBeInstanceOf(ServiceUnavailableException);
    expect((down as ServiceUnavailableException).getResponse()).toMatchObject({
      status: 'error',
      error: { store: { status: 'down', kind: 'redis', message: 'unreachable' } },
      info: { database: { status: 'up' } },
    });
    expect(pings).toBe(2);
    await moduleRef.close();
  });
});
