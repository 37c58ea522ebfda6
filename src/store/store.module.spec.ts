import { Test } from '@nestjs/testing';
import { ConfigModule } from '../config/config.module';
import type { AppConfig } from '../config/config.types';
import { KeyValueStore } from './key-value-store';
import { MemoryStore } from './memory.store';
import { RedisStore } from './redis.store';
import { StoreHealthIndicator } from './store.health';
import { StoreModule } from './store.module';

// The Redis-up wiring is covered in test/integration/store.contract.int-spec.ts.
async function boot(config: Partial<AppConfig>) {
  const moduleRef = await Test.createTestingModule({
    imports: [ConfigModule.forRoot(config as AppConfig), StoreModule.forRoot()],
  }).compile();
  moduleRef.enableShutdownHooks();
  return moduleRef;
}

describe('StoreModule', () => {
  it('provides a MemoryStore, reported up, without REDIS_URL', async () => {
    const moduleRef = await boot({});
    const store = moduleRef.get(KeyValueStore);
    expect(store).toBeInstanceOf(MemoryStore);
    await store.set('k', 'v');
    expect(await moduleRef.get(StoreHealthIndicator).check()).toEqual({
      store: { status: 'up', kind: 'memory' },
    });
    await moduleRef.close();
    expect(await store.get('k')).toBeNull(); // closed at shutdown
  });

  it('boots degraded when Redis is unreachable, and readiness says the store (redis) is down', async () => {
    const moduleRef = await boot({ redisUrl: 'redis://:secret-password@127.0.0.1:1' });
    const store = moduleRef.get(KeyValueStore);
    expect(store).toBeInstanceOf(RedisStore);
    const result = await moduleRef.get(StoreHealthIndicator).check();
    expect(result).toEqual({ store: { status: 'down', kind: 'redis', message: 'unreachable' } });
    expect(JSON.stringify(result)).not.toContain('secret-password');
    await moduleRef.close();
  }, 10_000);
});
