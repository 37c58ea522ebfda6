import { DynamicModule, Global, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { RedisModule, RedisModuleOptions, RedisService } from '@liaoliaots/nestjs-redis';
import { TerminusModule } from '@nestjs/terminus';
import { APP_CONFIG } from '../config/config.module';
import { AppConfig } from '../config/config.types';
import { KeyValueStore } from './key-value-store';
import { MemoryStore } from './memory.store';
import { RedisStore, redisStoreClientOptions } from './redis.store';
import { StoreHealthIndicator } from './store.health';

/** RedisModule namespaces of the two clients the store owns. */
export const STORE_COMMAND_CLIENT = 'store-command';
export const STORE_SUBSCRIBER_CLIENT = 'store-subscriber';

export interface StoreModuleOptions {
  /** Overrides config.redisKeyPrefix (REDIS_KEY_PREFIX) for every key and channel (tests). */
  keyPrefix?: string;
}

/**
 * The key-value store for the configured shape, global: `KeyValueStore` is a
 * RedisStore when `config.redisUrl` is set, else a MemoryStore. Inject it by
 * the abstract class. The Redis clients come from @liaoliaots/nestjs-redis
 * (kept private to this module) and are closed by the store at shutdown.
 */
@Global()
@Module({})
export class StoreModule implements OnApplicationShutdown {
  private readonly logger = new Logger(StoreModule.name);

  constructor(private readonly store: KeyValueStore) {}

  static forRoot(options: StoreModuleOptions = {}): DynamicModule {
    return {
      module: StoreModule,
      imports: [
        TerminusModule,
        RedisModule.forRootAsync(
          {
            inject: [APP_CONFIG],
            useFactory: (...args: unknown[]) => redisClientsFor(args[0] as AppConfig),
          },
          false,
        ),
      ],
      providers: [
        {
          provide: KeyValueStore,
          inject: [APP_CONFIG, RedisService],
          useFactory: async (config: AppConfig, redis: RedisService): Promise<KeyValueStore> => {
            if (!config.redisUrl) return new MemoryStore();
            const store = new RedisStore(
              {
                command: redis.getOrThrow(STORE_COMMAND_CLIENT),
                subscriber: redis.getOrThrow(STORE_SUBSCRIBER_CLIENT),
              },
              { keyPrefix: options.keyPrefix ?? config.redisKeyPrefix },
            );
            // Boot goes on without Redis (degraded, see the failure policy); it reconnects later.
            if (!(await store.waitUntilReady())) {
              new Logger(StoreModule.name).warn('Redis did not answer at boot; starting degraded');
            }
            return store;
          },
        },
        StoreHealthIndicator,
      ],
      exports: [KeyValueStore, StoreHealthIndicator],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    try {
      await this.store.close();
    } catch (err) {
      this.logger.warn(`Closing the store failed: ${(err as Error)?.message ?? 'error'}`);
    }
  }
}

function redisClientsFor(config: AppConfig): RedisModuleOptions {
  if (!config.redisUrl) return { config: [] };
  const url = config.redisUrl;
  return {
    // The store closes its clients itself (after dropping its subscriptions).
    closeClient: false,
    // RedisStore logs once per outage instead of once per reconnect attempt.
    errorLog: false,
    config: [
      { namespace: STORE_COMMAND_CLIENT, url, ...redisStoreClientOptions('command') },
      { namespace: STORE_SUBSCRIBER_CLIENT, url, ...redisStoreClientOptions('subscriber') },
    ],
  };
}
